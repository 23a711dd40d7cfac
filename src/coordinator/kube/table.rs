//! The server-side Table format (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`):
//! the columns `kubectl get` prints, computed the way the API server's printers do.

use serde_json::{Value, json};

use crate::coordinator::bad_request::BadRequest;

fn age(t: &Value, now: jiff::Timestamp) -> String {
    crate::age::since(t.as_str(), now)
}

fn col(name: &str, kind: &str, priority: u8, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "format": if name == "Name" { "name" } else { "" },
        "description": description,
        "priority": priority,
    })
}

/// The columns for a resource.
pub fn columns(resource: &str) -> Vec<Value> {
    match resource {
        "pods" => vec![
            col(
                "Name",
                "string",
                0,
                "Name must be unique within a namespace.",
            ),
            col(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted.",
            ),
            col("Age", "string", 0, "CreationTimestamp of the pod."),
            col("IP", "string", 1, "IP address allocated to the pod."),
            col("Node", "string", 1, "Name of the node this pod runs on."),
            col(
                "Nominated Node",
                "string",
                1,
                "Nominated node (always none for static pods).",
            ),
            col("Readiness Gates", "string", 1, "Pod readiness gates."),
        ],
        "nodes" => vec![
            col("Name", "string", 0, "Name of the node."),
            col("Status", "string", 0, "The status of the node."),
            col("Roles", "string", 0, "The roles of the node."),
            col("Age", "string", 0, "CreationTimestamp of the node."),
            col(
                "Version",
                "string",
                0,
                "Agent version (as the kubelet version).",
            ),
            col("Internal-IP", "string", 1, "Internal IP of the node."),
            col("External-IP", "string", 1, "External IP of the node."),
            col("OS-Image", "string", 1, "OS image."),
            col("Kernel-Version", "string", 1, "Kernel version."),
            col("Container-Runtime", "string", 1, "Container runtime."),
        ],
        "services" => vec![
            col("Name", "string", 0, "Name of the service."),
            col("Type", "string", 0, "The type of the service."),
            col("Cluster-IP", "string", 0, "The cluster IP of the service."),
            col(
                "External-IP",
                "string",
                0,
                "The external IPs of the service.",
            ),
            col("Port(s)", "string", 0, "The ports of the service."),
            col("Age", "string", 0, "CreationTimestamp of the service."),
        ],
        "namespaces" => vec![
            col("Name", "string", 0, "Name of the namespace."),
            col("Status", "string", 0, "The status of the namespace."),
            col("Age", "string", 0, "CreationTimestamp of the namespace."),
        ],
        _ => vec![
            col(
                "Last Seen",
                "string",
                0,
                "Time since the event was last seen.",
            ),
            col("Type", "string", 0, "Type of the event."),
            col("Reason", "string", 0, "Reason of the event."),
            col("Object", "string", 0, "The object the event is about."),
            col("Message", "string", 0, "Message of the event."),
        ],
    }
}

fn cells(resource: &str, o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let m = &o["metadata"];
    let created = age(&m["creationTimestamp"], now);
    match resource {
        "pods" => {
            let cs = o["status"]["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = o["spec"]["containers"]
                .as_array()
                .map_or(cs.len(), Vec::len);
            let ready = cs.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = cs.iter().filter_map(|c| c["restartCount"].as_i64()).sum();
            vec![
                m["name"].clone(),
                format!("{ready}/{total}").into(),
                crate::pod_status::text(o).into(),
                restarts.to_string().into(),
                created.into(),
                o["status"]["podIP"].as_str().unwrap_or("<none>").into(),
                o["spec"]["nodeName"].as_str().unwrap_or("<none>").into(),
                "<none>".into(),
                "<none>".into(),
            ]
        }
        "nodes" => {
            let ready = o["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"] == "True")
                .unwrap_or(false);
            let ip = |kind: &str| {
                o["status"]["addresses"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["type"] == kind))
                    .and_then(|x| x["address"].as_str())
                    .unwrap_or("<none>")
                    .to_string()
            };
            let info = &o["status"]["nodeInfo"];
            let or_unknown = |v: &Value| match v.as_str() {
                Some(s) if !s.is_empty() => s.to_string(),
                _ => "<unknown>".to_string(),
            };
            vec![
                m["name"].clone(),
                (if ready { "Ready" } else { "NotReady" }).into(),
                node_roles(o).into(),
                created.into(),
                info["kubeletVersion"].clone(),
                ip("InternalIP").into(),
                ip("ExternalIP").into(),
                or_unknown(&info["osImage"]).into(),
                or_unknown(&info["kernelVersion"]).into(),
                info["containerRuntimeVersion"].clone(),
            ]
        }
        "namespaces" => vec![
            m["name"].clone(),
            o["status"]["phase"].clone(),
            created.into(),
        ],
        _ => vec![
            age(&o["lastTimestamp"], now).into(),
            o["type"].clone(),
            o["reason"].clone(),
            format!(
                "pod/{}",
                o["involvedObject"]["name"].as_str().unwrap_or_default()
            )
            .into(),
            o["message"].clone(),
        ],
    }
}

/// The ROLES column: the `node-role.kubernetes.io/<role>` labels (and the older
/// `kubernetes.io/role`), comma-separated, as kubectl's node printer finds them.
fn node_roles(o: &Value) -> String {
    let mut roles: Vec<&str> = o["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(r) if !r.is_empty() => Some(r),
            _ if k == "kubernetes.io/role" => v.as_str().filter(|s| !s.is_empty()),
            _ => None,
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

/// What each Table row carries in `object` (`?includeObject=`), as kube-apiserver does:
/// `Metadata` (the default) a `PartialObjectMetadata`, `Object` the full object (kubectl asks
/// for it with `--sort-by` outside metadata), `None` nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object in the rows.
    None,
    /// `PartialObjectMetadata` (kind, apiVersion, metadata).
    #[default]
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parse `?includeObject=`; `Err` is kube-apiserver's 400 message.
    pub fn parse(v: Option<&str>) -> Result<IncludeObject, BadRequest> {
        Self::parse_text(v).map_err(BadRequest)
    }

    fn parse_text(v: Option<&str>) -> Result<IncludeObject, String> {
        match v {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("Object") => Ok(IncludeObject::Object),
            Some("None") => Ok(IncludeObject::None),
            // apimachinery's ValidateTableOptions.
            Some(other) => Err(format!(
                "includeObject: Invalid value: \"{other}\": must be 'Metadata', 'Object', 'None', or empty"
            )),
        }
    }

    fn row_object(self, o: &Value) -> Value {
        match self {
            IncludeObject::None => Value::Null,
            IncludeObject::Metadata => json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o["metadata"],
            }),
            IncludeObject::Object => o.clone(),
        }
    }
}

/// A Table of `objects`; each row carries what `include` asks for (kubectl needs at least
/// the metadata: the namespace for `-A`, the name for `-o name`).
pub fn table(
    resource: &str,
    objects: &[Value],
    resource_version: &str,
    now: jiff::Timestamp,
    include: IncludeObject,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": cells(resource, o, now)});
            let object = include.row_object(o);
            if !object.is_null() {
                row["object"] = object;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns(resource),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_rows() {
        let pod = json!({
            "metadata": {"name": "web-n1", "namespace": "edge", "creationTimestamp": "2026-11-28T11:59:00Z"},
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]}
        });
        let now: jiff::Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        let t = table(
            "pods",
            std::slice::from_ref(&pod),
            "7",
            now,
            IncludeObject::Metadata,
        );
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "web-n1");
        assert_eq!(cells[1], "1/2");
        assert_eq!(cells[2], "CrashLoopBackOff");
        assert_eq!(cells[3], "5");
        assert_eq!(cells[4], "60s");
        assert_eq!(cells[6], "n1");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "edge");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert!(t["rows"][0]["object"].get("spec").is_none());
    }

    #[test]
    fn include_object_picks_what_rows_carry() {
        let pod = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "spec": {"nodeName": "n1"}});
        let now: jiff::Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        let full = table(
            "pods",
            std::slice::from_ref(&pod),
            "1",
            now,
            IncludeObject::Object,
        );
        assert_eq!(full["rows"][0]["object"], pod);
        let none = table("pods", &[pod], "1", now, IncludeObject::None);
        assert!(none["rows"][0].get("object").is_none());
        assert_eq!(IncludeObject::parse(None), Ok(IncludeObject::Metadata));
        assert_eq!(
            IncludeObject::parse(Some("Object")),
            Ok(IncludeObject::Object)
        );
        assert_eq!(IncludeObject::parse(Some("None")), Ok(IncludeObject::None));
        let err = IncludeObject::parse(Some("All")).unwrap_err();
        assert!(err.0.contains("Invalid value: \"All\""), "{err}");
    }
}
