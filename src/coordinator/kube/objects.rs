//! Kubernetes objects built from what the coordinator stores: mirror pods (as the agents
//! made them), nodes (from heartbeats and inventory groups), namespaces in use and events.
//! Pure functions over store records; the clock and grace period are arguments. Their
//! resourceVersions come from [`super::synth::Tracker`], which versions them as they change.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1 as api;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::{Value, json};

use crate::coordinator::view::{NodeCondition, node_condition};
use crate::store::{EventRecord, NodeRecord, NodeRevision};

fn time(s: &str) -> Option<Time> {
    s.parse::<jiff::Timestamp>().ok().map(Time)
}

/// A Node object: Ready from heartbeats, addresses, agent version as kubelet version, one
/// label per inventory group (`podfleet.io/group-<name>=`).
pub fn node(
    rec: &NodeRecord,
    desired: Option<&NodeRevision>,
    now: jiff::Timestamp,
    grace: Duration,
) -> Value {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), rec.name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
    ]);
    for g in desired.map(|d| d.groups.as_slice()).unwrap_or_default() {
        if g != "all" && g != "ungrouped" {
            labels.insert(format!("podfleet.io/group-{g}"), String::new());
        }
    }
    let (status, reason, message) = match node_condition(Some(rec), now, grace) {
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
    let n = api::Node {
        metadata: ObjectMeta {
            name: Some(rec.name.clone()),
            uid: Some(crate::agent::status::node_uid(&rec.name)),
            labels: Some(labels),
            creation_timestamp: time(&rec.first_seen),
            ..Default::default()
        },
        spec: Some(api::NodeSpec::default()),
        status: Some(api::NodeStatus {
            conditions: Some(vec![api::NodeCondition {
                type_: "Ready".into(),
                status: status.into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_heartbeat_time: time(&rec.last_seen),
                last_transition_time: time(&rec.last_seen),
            }]),
            addresses: Some(addresses),
            node_info: Some(api::NodeSystemInfo {
                kubelet_version: format!("podfleet-{}", rec.agent_version),
                container_runtime_version: format!("{}://", rec.runtime),
                operating_system: "linux".into(),
                architecture: std::env::consts::ARCH.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    serde_json::to_value(n).unwrap_or(Value::Null)
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
                    uid: Some(crate::agent::status::node_uid(&format!("namespace/{n}"))),
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
            "uid": crate::agent::status::node_uid(&format!("event/{name}")),
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
            ..Default::default()
        };
        let desired = NodeRevision {
            dir: "/m".into(),
            files: Default::default(),
            outcome: crate::store::NodeOutcome::Changed,
            message: None,
            revision: 1,
            groups: vec!["all".into(), "edge".into()],
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
        let later: jiff::Timestamp = "2026-11-28T12:05:00Z".parse().unwrap();
        let n = node(&rec, None, later, Duration::from_secs(40));
        assert_eq!(n["status"]["conditions"][0]["status"], "Unknown");
    }
}
