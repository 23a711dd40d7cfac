//! Which container run a log request means, kubelet-style: the pod by manifest or mirror
//! name, the container (or the pod's only one), the current run or `--previous`; then the
//! runtime's log of it. The error texts are the kubelet's and API server's.

use std::sync::Arc;

use super::logs::{LogQuery, LogStream};
use super::runtime::{ContainerInfo, Runtime, labels};
use super::state::PodView;

/// Why a log cannot be served; the texts are the kubelet's and API server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// No such pod on this node.
    #[error("pods \"{0}\" not found")]
    PodNotFound(String),
    /// The request is ambiguous or names a container the pod does not have.
    #[error("{0}")]
    BadRequest(String),
    /// The container has not run (yet), or has no previous run.
    #[error("{0}")]
    NotFound(String),
    /// The runtime failed.
    #[error("{0}")]
    Runtime(String),
}

/// Find a pod by namespace and name; the name may be the mirror name (`etcd-node1`) or the
/// manifest's own (`etcd`). A running pod wins over one being stopped.
pub fn find_pod<'a>(
    pods: &'a [PodView],
    node: &str,
    namespace: &str,
    name: &str,
) -> Option<&'a PodView> {
    let mirror = format!("{name}-{node}");
    let mut found: Vec<&PodView> = pods
        .iter()
        .filter(|p| p.namespace == namespace && (p.name == name || p.name == mirror))
        .collect();
    found.sort_by_key(|p| (p.terminating, p.name != name));
    found.first().copied()
}

/// The container a request means: `container` (or the pod's only container), its current
/// run or, with `previous`, the run before it. Returns the container name and runtime id.
pub fn target(
    pod: &PodView,
    container: Option<&str>,
    previous: bool,
    runtime_containers: &[ContainerInfo],
) -> Result<(String, String), LogError> {
    let spec = pod.mirror.spec.clone().unwrap_or_default();
    let names: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    let inits: Vec<String> = spec
        .init_containers
        .unwrap_or_default()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let name = match container {
        Some(c) if names.iter().chain(&inits).any(|n| n == c) => c.to_string(),
        Some(c) => {
            return Err(LogError::BadRequest(format!(
                "container {c} is not valid for pod {}",
                pod.name
            )));
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {}, choose one of: [{}]",
                pod.name,
                names.join(" ")
            );
            if !inits.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    inits.join(" ")
                ));
            }
            return Err(LogError::BadRequest(msg));
        }
    };
    // Every run of this container the runtime still has, newest first.
    let mut runs: Vec<&ContainerInfo> = runtime_containers
        .iter()
        .filter(|c| c.label(labels::UID) == pod.uid && c.label(labels::CONTAINER) == name)
        .collect();
    runs.sort_by_key(|c| std::cmp::Reverse(c.attempt()));
    let pick = if previous { runs.get(1) } else { runs.first() };
    match pick {
        Some(c) => Ok((name, c.id.clone())),
        None if previous => Err(LogError::BadRequest(format!(
            "previous terminated container \"{name}\" in pod \"{}\" not found",
            pod.name
        ))),
        None => Err(LogError::BadRequest(format!(
            "container \"{name}\" in pod \"{}\" is waiting to start: ContainerCreating",
            pod.name
        ))),
    }
}

/// Which log a request asks for.
#[derive(Debug, Clone, Default)]
pub struct LogRequest {
    /// Namespace.
    pub namespace: String,
    /// Pod (manifest or mirror name).
    pub pod: String,
    /// Container (optional when the pod has one).
    pub container: Option<String>,
    /// The previous run.
    pub previous: bool,
}

/// Open the log `req` names on this node (`node`, whose pods are `pods`).
pub async fn open(
    pods: &[PodView],
    node: &str,
    runtime: &Arc<dyn Runtime>,
    req: &LogRequest,
    q: &LogQuery,
) -> Result<LogStream, LogError> {
    let view = find_pod(pods, node, &req.namespace, &req.pod)
        .ok_or_else(|| LogError::PodNotFound(req.pod.clone()))?;
    let list = runtime
        .list()
        .await
        .map_err(|e| LogError::Runtime(e.to_string()))?;
    let (_, id) = target(view, req.container.as_deref(), req.previous, &list)?;
    runtime
        .logs(&id, q)
        .await
        .map_err(|e| LogError::Runtime(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn view(name: &str, containers: &[&str]) -> PodView {
        let cs: Vec<serde_json::Value> = containers
            .iter()
            .map(|c| serde_json::json!({"name": c, "image": "busybox"}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "uid": "u1", "file": "f.yaml", "content_sha256": "", "canonical_hash": "",
            "name": name, "namespace": "default", "phase": "Running", "ready": 1, "total": 1,
            "restarts": 0, "last_error": null, "terminating": false,
            "mirror": {"metadata": {"name": name}, "spec": {"containers": cs}},
        }))
        .unwrap()
    }

    fn run(container: &str, attempt: u32) -> ContainerInfo {
        let labels: BTreeMap<String, String> = [
            (labels::UID, "u1"),
            (labels::CONTAINER, container),
            (labels::ATTEMPT, &attempt.to_string()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        ContainerInfo {
            id: format!("{container}-{attempt}"),
            labels,
            running: false,
            started_at: None,
            finished_at: None,
            exit_code: None,
            oom_killed: false,
        }
    }

    #[test]
    fn a_request_means_the_current_or_previous_run_of_one_container() {
        let one = view("web-n1", &["main"]);
        let runs = [run("main", 1), run("main", 2), run("main", 0)];
        assert_eq!(
            target(&one, None, false, &runs).unwrap(),
            ("main".into(), "main-2".into())
        );
        assert_eq!(target(&one, None, true, &runs).unwrap().1, "main-1");
        let err = target(&one, None, true, &runs[1..2]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("previous terminated container \"main\"")
        );
        let two = view("web-n1", &["a", "b"]);
        assert_eq!(
            target(&two, None, false, &[]).unwrap_err().to_string(),
            "a container name must be specified for pod web-n1, choose one of: [a b]"
        );
        assert_eq!(
            target(&two, Some("c"), false, &[]).unwrap_err().to_string(),
            "container c is not valid for pod web-n1"
        );
    }

    #[test]
    fn pods_are_found_by_manifest_or_mirror_name() {
        let pods = [view("web-n1", &["main"])];
        assert!(find_pod(&pods, "n1", "default", "web").is_some());
        assert!(find_pod(&pods, "n1", "default", "web-n1").is_some());
        assert!(find_pod(&pods, "n1", "other", "web").is_none());
        assert!(find_pod(&pods, "n2", "default", "web").is_none());
    }
}
