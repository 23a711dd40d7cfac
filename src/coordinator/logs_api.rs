//! Container logs through the coordinator: the Kubernetes `pods/log` parameters, finding the
//! node a mirror pod runs on, and opening the log over that node's tunnel. Used by the kube
//! API (`kubectl logs`) and the local socket (`podfleet logs`).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bad_request::BadRequest;
use super::shared::Shared;
use super::tunnels::{LogParams, OpenError, TunnelStream};

/// The `pods/log` query parameters as kube-apiserver validates them.
pub fn params(
    namespace: &str,
    pod: &str,
    q: &HashMap<String, String>,
) -> Result<LogParams, BadRequest> {
    parse_params(namespace, pod, q).map_err(BadRequest)
}

fn parse_params(
    namespace: &str,
    pod: &str,
    q: &HashMap<String, String>,
) -> Result<LogParams, String> {
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
    let number = |k: &str| -> Result<Option<i64>, String> {
        q.get(k)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| format!("{k}: invalid value {v:?}: must be an integer"))
            })
            .transpose()
    };
    let tail = number("tailLines")?;
    if tail.is_some_and(|t| t < 0) {
        return Err("tailLines: Invalid value: must be greater than or equal to 0".into());
    }
    let limit = number("limitBytes")?;
    if limit.is_some_and(|l| l < 1) {
        return Err("limitBytes: Invalid value: must be greater than 0".into());
    }
    let since_seconds = number("sinceSeconds")?;
    let since_time = q.get("sinceTime").filter(|s| !s.is_empty());
    let since = match (since_seconds, since_time) {
        (Some(_), Some(_)) => {
            return Err("at most one of sinceTime or sinceSeconds may be specified".into());
        }
        (Some(s), None) if s < 1 => {
            return Err("sinceSeconds: Invalid value: must be greater than 0".into());
        }
        (Some(s), None) => {
            (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(s)).to_string()
        }
        (None, Some(t)) => {
            t.parse::<jiff::Timestamp>()
                .map_err(|e| format!("sinceTime: invalid value {t:?}: {e}"))?;
            t.clone()
        }
        (None, None) => String::new(),
    };
    Ok(LogParams {
        namespace: namespace.to_string(),
        pod: pod.to_string(),
        container: q.get("container").cloned().unwrap_or_default(),
        previous: flag("previous"),
        follow: flag("follow"),
        tail_lines: tail.unwrap_or(-1),
        since_time: since,
        timestamps: flag("timestamps"),
        limit_bytes: limit.unwrap_or(0) as u64,
    })
}

/// A mirror pod by namespace and name.
pub fn mirror(shared: &Shared, namespace: &str, name: &str) -> anyhow::Result<Option<Value>> {
    Ok(shared
        .store
        .mirrors()?
        .into_iter()
        .map(|(_, m)| m)
        .find(|m| m["metadata"]["namespace"] == namespace && m["metadata"]["name"] == name))
}

/// Open `namespace/pod`'s log on the node it runs on, for `client` (limited per client;
/// None: the local socket).
pub async fn open(
    shared: &Arc<Shared>,
    client: Option<&str>,
    namespace: &str,
    pod: &str,
    q: &HashMap<String, String>,
) -> Result<TunnelStream, OpenError> {
    let bad = |code, message| OpenError { code, message };
    let p = params(namespace, pod, q).map_err(|m| bad(400, m.0))?;
    let found = mirror(shared, namespace, pod).map_err(|e| bad(500, format!("{e:#}")))?;
    let Some(m) = found else {
        return Err(bad(404, format!("pods \"{pod}\" not found")));
    };
    let node = m["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    shared.tunnels.open_log(&node, client, &p).await
}

/// A pod whose logs `podfleet logs` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTarget {
    /// Node.
    pub node: String,
    /// Namespace.
    pub namespace: String,
    /// Mirror pod name.
    pub pod: String,
    /// App containers, in order.
    pub containers: Vec<String>,
}

/// The pods in `namespace` (None: all) matching `selector` (and `name`, if given).
pub fn targets(
    mirrors: &[Value],
    namespace: Option<&str>,
    name: Option<&str>,
    selector: &super::selector::Selector,
) -> Vec<LogTarget> {
    let mut out: Vec<LogTarget> = mirrors
        .iter()
        .filter(|m| namespace.is_none_or(|ns| m["metadata"]["namespace"] == ns))
        .filter(|m| name.is_none_or(|n| m["metadata"]["name"] == n))
        .filter(|m| selector.matches_labels(m))
        .map(|m| LogTarget {
            node: m["spec"]["nodeName"].as_str().unwrap_or_default().into(),
            namespace: m["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .into(),
            pod: m["metadata"]["name"].as_str().unwrap_or_default().into(),
            containers: m["spec"]["containers"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| c["name"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    out.sort_by(|a, b| (&a.namespace, &a.pod).cmp(&(&b.namespace, &b.pod)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parameters_are_validated_like_the_api_server() {
        let p = params(
            "ns",
            "p",
            &q(&[("follow", "true"), ("tailLines", "5"), ("container", "c")]),
        )
        .unwrap();
        assert!(p.follow && !p.previous);
        assert_eq!((p.tail_lines, p.container.as_str()), (5, "c"));
        assert_eq!(params("ns", "p", &q(&[])).unwrap().tail_lines, -1);
        let since = params("ns", "p", &q(&[("sinceSeconds", "60")])).unwrap();
        assert!(since.since_time.parse::<jiff::Timestamp>().is_ok());
        for bad in [
            q(&[("tailLines", "-1")]),
            q(&[("tailLines", "x")]),
            q(&[("limitBytes", "0")]),
            q(&[("sinceSeconds", "0")]),
            q(&[("sinceSeconds", "5"), ("sinceTime", "2026-01-01T00:00:00Z")]),
            q(&[("sinceTime", "yesterday")]),
        ] {
            assert!(params("ns", "p", &bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets_follow_namespace_name_and_labels() {
        let pod = |ns: &str, name: &str, app: &str| {
            serde_json::json!({
                "metadata": {"namespace": ns, "name": name, "labels": {"app": app}},
                "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            })
        };
        let all = [pod("x", "web-n1", "web"), pod("y", "db-n1", "db")];
        let sel = super::super::selector::Selector::labels("app=web").unwrap();
        let t = targets(&all, None, None, &sel);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].containers, ["a", "b"]);
        let none = super::super::selector::Selector::default();
        assert_eq!(targets(&all, Some("y"), None, &none)[0].pod, "db-n1");
        assert!(targets(&all, Some("x"), Some("db-n1"), &none).is_empty());
    }
}
