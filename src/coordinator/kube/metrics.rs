//! The Metrics API (`metrics.k8s.io/v1beta1`, as metrics-server serves it) for `kubectl top
//! pods` and `kubectl top nodes`: the latest usage each agent sent up its tunnel.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::super::selector::Selector;
use super::super::shared::Shared;
use super::{ok_json, status};
use crate::rpc;

const GROUP: &str = "metrics.k8s.io";
const VERSION: &str = "v1beta1";

/// `/apis`: the API groups (only the Metrics API).
fn groups() -> Value {
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [group()],
    })
}

pub(super) fn group() -> Value {
    let gv = json!({"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION});
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [gv.clone()],
        "preferredVersion": gv,
    })
}

fn resources() -> Value {
    let res = |name: &str, kind: &str, namespaced: bool| json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]});
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{GROUP}/{VERSION}"),
        "resources": [res("nodes", "NodeMetrics", false), res("pods", "PodMetrics", true)],
    })
}

/// CPU as the Metrics API writes it (nanocores, `123456n`).
fn cpu(nanocores: u64) -> String {
    format!("{nanocores}n")
}

/// Memory in KiB (`2048Ki`), as metrics-server writes it.
fn memory(bytes: u64) -> String {
    format!("{}Ki", bytes / 1024)
}

/// NodeMetrics of every reporting node.
fn node_metrics(usage: &HashMap<String, rpc::Usage>) -> Vec<Value> {
    let mut nodes: Vec<Value> = usage
        .iter()
        .map(|(node, u)| {
            json!({
                "kind": "NodeMetrics",
                "apiVersion": format!("{GROUP}/{VERSION}"),
                "metadata": {"name": node, "creationTimestamp": u.timestamp},
                "timestamp": u.timestamp,
                "window": format!("{}s", u.window_seconds),
                "usage": {"cpu": cpu(u.node_cpu_nanocores), "memory": memory(u.node_memory_bytes)},
            })
        })
        .collect();
    nodes.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    nodes
}

/// PodMetrics of every pod with a running container, grouped from container usage.
fn pod_metrics(usage: &HashMap<String, rpc::Usage>) -> Vec<Value> {
    let mut pods: std::collections::BTreeMap<(String, String), (Value, Vec<Value>)> =
        Default::default();
    for u in usage.values() {
        for c in &u.containers {
            let entry = pods
                .entry((c.namespace.clone(), c.pod.clone()))
                .or_insert_with(|| {
                    (
                        json!({"timestamp": u.timestamp, "window": format!("{}s", u.window_seconds)}),
                        Vec::new(),
                    )
                });
            entry.1.push(json!({
                "name": c.container,
                "usage": {"cpu": cpu(c.cpu_nanocores), "memory": memory(c.memory_bytes)},
            }));
        }
    }
    pods.into_iter()
        .map(|((ns, name), (when, containers))| {
            json!({
                "kind": "PodMetrics",
                "apiVersion": format!("{GROUP}/{VERSION}"),
                "metadata": {"name": name, "namespace": ns, "creationTimestamp": when["timestamp"]},
                "timestamp": when["timestamp"],
                "window": when["window"],
                "containers": containers,
            })
        })
        .collect()
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({
        "kind": kind,
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": {},
        "items": items,
    })
}

/// Serve `/apis…`; None for other paths. A node's certificate gets 403 for metrics.
pub(super) fn serve(
    shared: &Shared,
    node_caller: Option<&str>,
    path: &[&str],
    q: &HashMap<String, String>,
) -> Option<Response> {
    let rest = match path {
        ["apis"] => return Some(ok_json(&groups())),
        ["apis", GROUP] => return Some(ok_json(&group())),
        ["apis", GROUP, VERSION] => return Some(ok_json(&resources())),
        ["apis", GROUP, VERSION, rest @ ..] => rest,
        _ => return None,
    };
    if let Some(node) = node_caller {
        return Some(status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!(
                "User \"system:node:{node}\" cannot list resource in API group \"{GROUP}\": use the admin kubeconfig"
            ),
        ));
    }
    let usage = shared.tunnels.usage();
    let not_found = |what: &str, name: &str| {
        Some(status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{what}.{GROUP} \"{name}\" not found"),
        ))
    };
    let selector = match q
        .get("labelSelector")
        .map(|s| Selector::labels(s))
        .transpose()
    {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return Some(status(StatusCode::BAD_REQUEST, "BadRequest", &e.0)),
    };
    // Pod labels live on the mirror pods: read them once, only when a selector needs them.
    let mut labels: HashMap<(String, String), Value> = HashMap::new();
    if selector != Selector::default() {
        let mirrors = match shared.store.mirrors() {
            Ok(m) => m,
            Err(e) => {
                return Some(status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    &format!("{e:#}"),
                ));
            }
        };
        for (_, m) in mirrors {
            let key = (
                m["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                m["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            labels.insert(key, m);
        }
    }
    let labels_of = |ns: &str, name: &str| -> Value {
        labels
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let pods_in = |ns: Option<&str>| -> Vec<Value> {
        pod_metrics(&usage)
            .into_iter()
            .filter(|p| ns.is_none_or(|ns| p["metadata"]["namespace"] == ns))
            .filter(|p| {
                selector == Selector::default()
                    || selector.matches_labels(&labels_of(
                        p["metadata"]["namespace"].as_str().unwrap_or_default(),
                        p["metadata"]["name"].as_str().unwrap_or_default(),
                    ))
            })
            .collect()
    };
    Some(match rest {
        ["nodes"] => ok_json(&list("NodeMetricsList", node_metrics(&usage))),
        ["nodes", name] => match node_metrics(&usage)
            .into_iter()
            .find(|n| n["metadata"]["name"] == *name)
        {
            Some(n) => ok_json(&n),
            None => return not_found("nodemetrics", name),
        },
        ["pods"] => ok_json(&list("PodMetricsList", pods_in(None))),
        ["namespaces", ns, "pods"] => ok_json(&list("PodMetricsList", pods_in(Some(ns)))),
        ["namespaces", ns, "pods", name] => match pods_in(Some(ns))
            .into_iter()
            .find(|p| p["metadata"]["name"] == *name)
        {
            Some(p) => ok_json(&p),
            None => return not_found("podmetrics", name),
        },
        _ => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_becomes_node_and_pod_metrics() {
        let u = rpc::Usage {
            timestamp: "2026-11-30T10:00:00Z".into(),
            window_seconds: 5,
            node_cpu_nanocores: 250_000_000,
            node_memory_bytes: 2 << 30,
            containers: vec![
                rpc::ContainerUsage {
                    namespace: "edge".into(),
                    pod: "web-n1".into(),
                    container: "main".into(),
                    cpu_nanocores: 1_000,
                    memory_bytes: 4096,
                },
                rpc::ContainerUsage {
                    namespace: "edge".into(),
                    pod: "web-n1".into(),
                    container: "side".into(),
                    cpu_nanocores: 2_000,
                    memory_bytes: 8192,
                },
            ],
        };
        let usage = HashMap::from([("n1".to_string(), u)]);
        let nodes = node_metrics(&usage);
        assert_eq!(nodes[0]["usage"]["cpu"], "250000000n");
        assert_eq!(nodes[0]["usage"]["memory"], "2097152Ki");
        let pods = pod_metrics(&usage);
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0]["containers"].as_array().unwrap().len(), 2);
        assert_eq!(pods[0]["window"], "5s");
    }
}
