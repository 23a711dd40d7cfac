//! Kubernetes objects built from what the coordinator stores: mirror pods (as the agents
//! made them), nodes (from heartbeats and inventory groups), namespaces in use and events.
//! Pure functions over store records; the clock and grace period are arguments. Their
//! resourceVersions come from [`super::synth::Tracker`], which versions them as they change.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1 as api;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::{Value, json};

use crate::coordinator::view::{NodeCondition, node_condition};
use crate::store::{EventRecord, NodeRecord, NodeRevision};

fn time(s: &str) -> Option<Time> {
    s.parse::<jiff::Timestamp>().ok().map(Time)
}

/// A Node object: Ready from heartbeats (its transition time from the start of the current
/// run of reports), addresses, capacity and system info as the agent reported them, the
/// kubelet's well-known labels, one label per inventory group (`podfleet.io/group-<name>=`)
/// and `node-role.kubernetes.io/<group>=` for the groups `podfleet_role_groups` names.
pub fn node(
    rec: &NodeRecord,
    desired: Option<&NodeRevision>,
    now: jiff::Timestamp,
    grace: Duration,
) -> Value {
    let info = &rec.info;
    let arch = if info.architecture.is_empty() {
        crate::rpc::go_arch(std::env::consts::ARCH).to_string()
    } else {
        info.architecture.clone()
    };
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), rec.name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch.clone()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), arch.clone()),
    ]);
    for g in desired.map(|d| d.groups.as_slice()).unwrap_or_default() {
        if g != "all" && g != "ungrouped" {
            labels.insert(format!("podfleet.io/group-{g}"), String::new());
        }
    }
    for r in desired.map(|d| d.roles.as_slice()).unwrap_or_default() {
        labels.insert(format!("node-role.kubernetes.io/{r}"), String::new());
    }
    let condition = node_condition(Some(rec), now, grace);
    let (status, reason, message) = match condition {
        NodeCondition::Ready => (
            "True",
            "AgentReady",
            "podfleet agent is posting ready status",
        ),
        NodeCondition::NotReady => (
            "Unknown",
            "NodeStatusUnknown",
            "podfleet agent stopped posting node status",
        ),
        NodeCondition::Unknown => ("Unknown", "NodeStatusNeverUpdated", "never reported"),
    };
    // The condition changes when the reports start (again) or stop; not with each heartbeat.
    let transition = match condition {
        NodeCondition::Ready if !rec.ready_since.is_empty() => time(&rec.ready_since),
        NodeCondition::NotReady => time(&rec.last_seen).map(|t| {
            Time(
                t.0.checked_add(jiff::SignedDuration::try_from(grace).unwrap_or_default())
                    .unwrap_or(t.0),
            )
        }),
        _ => time(&rec.first_seen),
    };
    let mut addresses = vec![api::NodeAddress {
        type_: "Hostname".into(),
        address: rec.name.clone(),
    }];
    if !rec.node_ip.is_empty() {
        addresses.insert(
            0,
            api::NodeAddress {
                type_: "InternalIP".into(),
                address: rec.node_ip.clone(),
            },
        );
    }
    let capacity = (info.cpus > 0).then(|| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(info.cpus.to_string())),
            ("memory".to_string(), Quantity(kibibytes(info.memory_bytes))),
            (
                "ephemeral-storage".to_string(),
                Quantity(kibibytes(info.ephemeral_storage_bytes)),
            ),
            ("pods".to_string(), Quantity(info.max_pods.to_string())),
        ])
    });
    let n = api::Node {
        metadata: ObjectMeta {
            name: Some(rec.name.clone()),
            uid: Some(crate::manifest::identity::object_uid(&rec.name)),
            labels: Some(labels),
            creation_timestamp: time(&rec.first_seen),
            ..Default::default()
        },
        spec: Some(api::NodeSpec::default()),
        status: Some(api::NodeStatus {
            // podfleet reserves nothing for the system: allocatable is capacity.
            allocatable: capacity.clone(),
            capacity,
            conditions: Some(vec![api::NodeCondition {
                type_: "Ready".into(),
                status: status.into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_heartbeat_time: time(&rec.last_seen),
                last_transition_time: transition,
            }]),
            addresses: Some(addresses),
            node_info: Some(api::NodeSystemInfo {
                kubelet_version: format!("podfleet-{}", rec.agent_version),
                container_runtime_version: if info.container_runtime_version.is_empty() {
                    format!("{}://", rec.runtime)
                } else {
                    info.container_runtime_version.clone()
                },
                operating_system: "linux".into(),
                architecture: arch,
                os_image: info.os_image.clone(),
                kernel_version: info.kernel_version.clone(),
                machine_id: info.machine_id.clone(),
                boot_id: info.boot_id.clone(),
                system_uuid: info.system_uuid.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    serde_json::to_value(n).unwrap_or(Value::Null)
}

/// Bytes as the kubelet writes capacity: whole kibibytes (`24575012Ki`).
fn kibibytes(bytes: u64) -> String {
    format!("{}Ki", bytes / 1024)
}

/// Namespace objects for the namespaces in use.
pub fn namespaces(pods: &[Value], events: &[EventRecord]) -> Vec<Value> {
    // A namespace is as old as the oldest pod or event in it.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = |ns: &str, t: &str| {
        if ns.is_empty() {
            return;
        }
        let e = names.entry(ns.to_string()).or_insert_with(|| t.to_string());
        if t < e.as_str() {
            *e = t.to_string();
        }
    };
    for p in pods {
        let m = &p["metadata"];
        seen(
            m["namespace"].as_str().unwrap_or_default(),
            m["creationTimestamp"].as_str().unwrap_or_default(),
        );
    }
    for e in events {
        seen(&e.namespace, &e.first_time);
    }
    names
        .into_iter()
        .map(|(n, created)| {
            let ns = api::Namespace {
                metadata: ObjectMeta {
                    name: Some(n.clone()),
                    uid: Some(crate::manifest::identity::object_uid(&format!(
                        "namespace/{n}"
                    ))),
                    labels: Some(BTreeMap::from([(
                        "kubernetes.io/metadata.name".to_string(),
                        n,
                    )])),
                    creation_timestamp: time(&created),
                    ..Default::default()
                },
                spec: None,
                status: Some(api::NamespaceStatus {
                    phase: Some("Active".into()),
                    ..Default::default()
                }),
            };
            serde_json::to_value(ns).unwrap_or(Value::Null)
        })
        .collect()
}

/// A core/v1 Event as the kubelet would post it. `uids` maps (namespace, pod) to the mirror
/// pod's uid, for events the agent recorded without one (describe selects by uid).
pub fn event(e: &EventRecord, uids: &BTreeMap<(String, String), String>) -> Value {
    let uid = if e.uid.is_empty() {
        uids.get(&(e.namespace.clone(), e.object.clone()))
            .cloned()
            .unwrap_or_default()
    } else {
        e.uid.clone()
    };
    let name = format!("{}.{}", e.object, &e.identity()[..16]);
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name,
            "namespace": e.namespace,
            "uid": crate::manifest::identity::object_uid(&format!("event/{name}")),
            "creationTimestamp": e.first_time,
        },
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": e.object,
            "namespace": e.namespace,
            "uid": uid,
        },
        "reason": e.reason,
        "message": e.message,
        "type": e.kind,
        "count": e.count,
        "firstTimestamp": e.first_time,
        "lastTimestamp": e.last_time,
        "source": {"component": "kubelet", "host": e.node},
        "reportingComponent": "kubelet",
        "reportingInstance": e.node,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_readiness_groups_and_version() {
        let rec = NodeRecord {
            name: "edge1".into(),
            agent_version: "0.1.0".into(),
            runtime: "docker".into(),
            node_ip: "10.0.0.5".into(),
            first_seen: "2026-11-28T10:00:00Z".into(),
            last_seen: "2026-11-28T11:59:50Z".into(),
            ready_since: "2026-11-28T11:00:00Z".into(),
            info: crate::store::NodeInfo {
                cpus: 2,
                memory_bytes: 2048 * 1024 * 1024,
                ephemeral_storage_bytes: 10 * 1024 * 1024 * 1024,
                max_pods: 110,
                architecture: "amd64".into(),
                os_image: "Debian GNU/Linux 12 (bookworm)".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let desired = NodeRevision {
            dir: "/m".into(),
            files: Default::default(),
            outcome: crate::store::NodeOutcome::Changed,
            message: None,
            revision: 1,
            groups: vec!["all".into(), "edge".into()],
            roles: vec!["edge".into()],
        };
        let now: jiff::Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        let n = node(&rec, Some(&desired), now, Duration::from_secs(40));
        assert_eq!(n["kind"], "Node");
        assert_eq!(n["metadata"]["labels"]["podfleet.io/group-edge"], "");
        assert!(
            n["metadata"]["labels"]
                .get("podfleet.io/group-all")
                .is_none()
        );
        assert_eq!(n["status"]["conditions"][0]["status"], "True");
        assert_eq!(n["status"]["nodeInfo"]["kubeletVersion"], "podfleet-0.1.0");
        assert_eq!(n["status"]["addresses"][0]["address"], "10.0.0.5");
        assert_eq!(n["metadata"]["labels"]["node-role.kubernetes.io/edge"], "");
        assert_eq!(n["metadata"]["labels"]["kubernetes.io/arch"], "amd64");
        assert_eq!(n["status"]["nodeInfo"]["architecture"], "amd64");
        assert_eq!(
            n["status"]["nodeInfo"]["osImage"],
            "Debian GNU/Linux 12 (bookworm)"
        );
        let cap = &n["status"]["capacity"];
        assert_eq!(cap["cpu"], "2");
        assert_eq!(cap["memory"], "2097152Ki");
        assert_eq!(cap["pods"], "110");
        assert_eq!(n["status"]["allocatable"], *cap);
        let ready = &n["status"]["conditions"][0];
        assert_eq!(ready["lastTransitionTime"], "2026-11-28T11:00:00Z");
        assert_eq!(ready["lastHeartbeatTime"], "2026-11-28T11:59:50Z");
        let later: jiff::Timestamp = "2026-11-28T12:05:00Z".parse().unwrap();
        let n = node(&rec, None, later, Duration::from_secs(40));
        let lost = &n["status"]["conditions"][0];
        assert_eq!(lost["status"], "Unknown");
        assert_eq!(
            lost["lastTransitionTime"], "2026-11-28T12:00:30Z",
            "NotReady since the grace period ran out"
        );
    }
}
