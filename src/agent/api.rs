//! The agent's local view: HTTP over a unix socket (`<state-dir>/agent.sock`, mode 0600)
//! for `podfleet agent status`, `restart` and `logs`, plus Prometheus metrics (metrics and
//! health alone on `--metrics-listen`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::mpsc;

use super::logs::LogQuery;
use super::pod_logs::{self, LogError};
use super::reconciler::Request;
use super::runtime::Runtime;
use super::state::{AgentState, Snapshot};

#[derive(Clone)]
struct Api {
    state: Arc<AgentState>,
    requests: mpsc::UnboundedSender<Request>,
    runtime: Arc<dyn Runtime>,
}

/// Routes of the local API. Container logs only on the unix socket (mode 0600): the TCP
/// listener has no authentication and serves metrics and health only.
fn router(api: Api, local: bool) -> Router {
    let mut r = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }));
    if local {
        r = r
            .route("/v1/status", get(status))
            .route("/v1/pods/{namespace}/{name}/restart", post(restart))
            .route("/v1/pods/{namespace}/{name}/log", get(log));
    }
    r.with_state(api)
}

/// The kubelet's `pods/log` query parameters.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogParams {
    container: Option<String>,
    #[serde(default)]
    follow: bool,
    #[serde(default)]
    previous: bool,
    tail_lines: Option<usize>,
    since_seconds: Option<i64>,
    since_time: Option<String>,
    #[serde(default)]
    timestamps: bool,
    limit_bytes: Option<u64>,
}

impl LogParams {
    fn query(&self) -> Result<LogQuery, String> {
        let since = match (&self.since_seconds, &self.since_time) {
            (Some(_), Some(_)) => {
                return Err("at most one of sinceTime or sinceSeconds may be specified".into());
            }
            (Some(s), None) if *s < 1 => return Err("sinceSeconds must be greater than 0".into()),
            (Some(s), None) => Some(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(*s)),
            (None, Some(t)) => Some(
                t.parse::<jiff::Timestamp>()
                    .map_err(|e| format!("invalid sinceTime {t:?}: {e}"))?,
            ),
            (None, None) => None,
        };
        if self.limit_bytes == Some(0) {
            return Err("limitBytes must be greater than 0".into());
        }
        Ok(LogQuery {
            follow: self.follow,
            tail: self.tail_lines,
            since,
            timestamps: self.timestamps,
            limit_bytes: self.limit_bytes,
        })
    }
}

async fn log(
    State(api): State<Api>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
    Query(p): Query<LogParams>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let q = match p.query() {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, e + "\n").into_response(),
    };
    let snapshot = api.state.snapshot();
    let req = pod_logs::LogRequest {
        namespace: ns,
        pod: name,
        container: p.container.clone(),
        previous: p.previous,
    };
    let opened = pod_logs::open(&snapshot.pods, &snapshot.node, &api.runtime, &req, &q).await;
    match opened {
        Ok(stream) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            axum::body::Body::from_stream(stream),
        )
            .into_response(),
        Err(e) => {
            let code = match e {
                LogError::PodNotFound(_) | LogError::NotFound(_) => StatusCode::NOT_FOUND,
                LogError::BadRequest(_) => StatusCode::BAD_REQUEST,
                LogError::Runtime(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (code, format!("{e}\n")).into_response()
        }
    }
}

async fn status(State(api): State<Api>) -> Json<Snapshot> {
    Json(api.state.snapshot())
}

async fn restart(
    State(api): State<Api>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
) -> (StatusCode, String) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if api
        .requests
        .send(Request::Restart(format!("{ns}/{name}"), tx))
        .is_err()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "agent is shutting down".into(),
        );
    }
    match rx.await {
        Ok(Ok(())) => (StatusCode::OK, format!("pod {ns}/{name} restarting\n")),
        Ok(Err(e)) => (StatusCode::NOT_FOUND, e + "\n"),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "agent is shutting down".into(),
        ),
    }
}

async fn metrics(State(api): State<Api>) -> String {
    render_metrics(&api.state.snapshot())
}

/// Prometheus text exposition of a snapshot.
pub fn render_metrics(s: &Snapshot) -> String {
    let mut by_phase: BTreeMap<&str, usize> = ["Pending", "Running", "Succeeded", "Failed"]
        .iter()
        .map(|p| (*p, 0))
        .collect();
    for p in &s.pods {
        *by_phase.entry(p.phase.as_str()).or_insert(0) += 1;
    }
    let mut out = String::new();
    out.push_str("# HELP podfleet_agent_pods Static pods on this node by phase.\n# TYPE podfleet_agent_pods gauge\n");
    for (phase, n) in by_phase {
        out.push_str(&format!(
            "podfleet_agent_pods{{node=\"{}\",phase=\"{phase}\"}} {n}\n",
            s.node
        ));
    }
    out.push_str("# HELP podfleet_agent_container_restarts_total Container restarts per pod.\n# TYPE podfleet_agent_container_restarts_total counter\n");
    for p in &s.pods {
        out.push_str(&format!(
            "podfleet_agent_container_restarts_total{{node=\"{}\",namespace=\"{}\",pod=\"{}\"}} {}\n",
            s.node, p.namespace, p.name, p.restarts
        ));
    }
    out.push_str("# HELP podfleet_agent_pods_ready Pods with all containers ready.\n# TYPE podfleet_agent_pods_ready gauge\n");
    out.push_str(&format!(
        "podfleet_agent_pods_ready{{node=\"{}\"}} {}\n",
        s.node,
        s.pods
            .iter()
            .filter(|p| p.ready == p.total && p.total > 0)
            .count()
    ));
    out.push_str("# HELP podfleet_agent_manifest_errors Manifest files with problems.\n# TYPE podfleet_agent_manifest_errors gauge\n");
    out.push_str(&format!(
        "podfleet_agent_manifest_errors{{node=\"{}\"}} {}\n",
        s.node,
        s.issues.len()
    ));
    out.push_str("# HELP podfleet_agent_tunnel_streams Log and exec streams served to the coordinator now.\n# TYPE podfleet_agent_tunnel_streams gauge\n");
    out.push_str(&format!(
        "podfleet_agent_tunnel_streams{{node=\"{}\"}} {}\n",
        s.node,
        super::tunnel::open_streams()
    ));
    out.push_str("# HELP podfleet_agent_events_total Events recorded since start.\n# TYPE podfleet_agent_events_total counter\n");
    out.push_str(&format!(
        "podfleet_agent_events_total{{node=\"{}\"}} {}\n",
        s.node,
        s.events.last().map(|e| e.seq).unwrap_or(0)
    ));
    out
}

/// Serve the local API on `socket` until the task is dropped.
pub async fn serve_unix(
    socket: &Path,
    state: Arc<AgentState>,
    requests: mpsc::UnboundedSender<Request>,
    runtime: Arc<dyn Runtime>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let _ = std::fs::remove_file(socket);
    let listener = tokio::net::UnixListener::bind(socket)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    let app = router(
        Api {
            state,
            requests,
            runtime,
        },
        true,
    );
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// Serve metrics and health (nothing else: no authentication) on a TCP address.
pub async fn serve_tcp(
    addr: std::net::SocketAddr,
    state: Arc<AgentState>,
    requests: mpsc::UnboundedSender<Request>,
    runtime: Arc<dyn Runtime>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = router(
        Api {
            state,
            requests,
            runtime,
        },
        false,
    );
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// `method path` on the agent's socket (for `podfleet agent status`, `restart`).
pub async fn unix_request(
    socket: &Path,
    method: &str,
    path: &str,
) -> anyhow::Result<(u16, Vec<u8>)> {
    crate::unixhttp::request(
        socket,
        method,
        path,
        b"",
        "`podfleet agent` with this --agent-dir",
    )
    .await
}
