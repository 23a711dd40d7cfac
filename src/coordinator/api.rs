//! The coordinator's local API: HTTP over `<state-dir>/coordinator.sock` (mode 0600). While
//! `serve` holds sled's lock, the CLI reads the fleet and records pushes through it
//! (the `client` module is its other end). `/metrics` is also served here and on `--metrics-listen`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::shared::Shared;
use crate::store::{NodeRevision, Reported, Revision, RevisionSummary, Store};

/// Where the socket lives.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("coordinator.sock")
}

/// `GET /v1/fleet`: everything the status view needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FleetData {
    /// What agents reported.
    pub reported: Reported,
    /// Last pushed files per node.
    pub desired: BTreeMap<String, NodeRevision>,
    /// The coordinator's grace period (seconds); absent when read from the store directly.
    pub grace_secs: Option<u64>,
    /// Nodes with an open report stream (empty when no coordinator runs).
    pub connected: Vec<String>,
}

/// `POST /v1/store/revisions` body.
#[derive(Debug, Serialize, Deserialize)]
pub struct SaveRevision {
    /// The revision.
    pub revision: Revision,
    /// (sha256, base64 content).
    pub blobs: Vec<(String, String)>,
}

type ApiError = (StatusCode, String);

fn internal(e: anyhow::Error) -> ApiError {
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/fleet", get(fleet))
        .route("/v1/view", post(view))
        .route("/v1/store/next-revision", post(next_revision))
        .route("/v1/store/revisions", get(revisions).post(save_revision))
        .route("/v1/store/revisions/{id}", get(revision))
        .route("/v1/store/blobs/{sha}", get(blob))
        .route("/v1/store/desired", get(desired))
        .route("/v1/logs/targets", get(log_targets))
        .route("/v1/pods/{namespace}/{name}/log", get(pod_log))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(shared)
}

/// `GET /v1/logs/targets?namespace=&labelSelector=&pod=`: the pods `podfleet logs` reads.
async fn log_targets(
    State(s): State<Arc<Shared>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Vec<super::logs_api::LogTarget>>, ApiError> {
    let selector =
        super::selector::Selector::labels(q.get("labelSelector").map(String::as_str).unwrap_or(""))
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid selector: {e}")))?;
    let mirrors: Vec<serde_json::Value> = s
        .store
        .mirrors()
        .map_err(internal)?
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let ns = q
        .get("namespace")
        .map(String::as_str)
        .filter(|n| !n.is_empty());
    let pod = q.get("pod").map(String::as_str).filter(|n| !n.is_empty());
    Ok(Json(super::logs_api::targets(&mirrors, ns, pod, &selector)))
}

/// `GET /v1/pods/{ns}/{name}/log?...`: a container's log (the `pods/log` parameters), from
/// its node over the tunnel.
async fn pod_log(
    State(s): State<Arc<Shared>>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match super::logs_api::open(&s, None, &ns, &name, &q).await {
        Ok(reader) => axum::body::Body::from_stream(reader.into_stream()).into_response(),
        Err(e) => (
            StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.message,
        )
            .into_response(),
    }
}

async fn fleet(State(s): State<Arc<Shared>>) -> Result<Json<FleetData>, ApiError> {
    Ok(Json(FleetData {
        reported: s.store.reported().map_err(internal)?,
        desired: s.store.desired().await.map_err(internal)?,
        grace_secs: Some(s.grace.as_secs()),
        connected: s.connected_nodes(),
    }))
}

/// `POST /v1/view` body.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ViewRequest {
    /// The inventory's hosts after `--limit`, if the CLI has an inventory.
    pub hosts: Option<Vec<String>>,
    /// Compare with these files instead of the last recorded revision (push --wait asks
    /// about what it just wrote, before the revision is recorded).
    #[serde(default)]
    pub desired: Option<BTreeMap<String, NodeRevision>>,
}

/// The fleet view from memory, as the pretty JSON `status -o json` prints.
async fn view(
    State(s): State<Arc<Shared>>,
    Json(req): Json<ViewRequest>,
) -> Result<String, ApiError> {
    let desired = match req.desired {
        Some(d) => d,
        None => s.store.desired().await.map_err(internal)?,
    };
    let index = s.index.read().unwrap_or_else(|e| e.into_inner());
    let v = super::view::fleet_view_of(
        &index.by_node(),
        &desired,
        req.hosts.as_deref(),
        jiff::Timestamp::now(),
        s.grace,
    );
    // Serialised under the read lock (the rows borrow from the index), into a buffer sized
    // up front: growing a 40 MB buffer by doubling was a third of the time on 100k pods.
    let mut buf = Vec::with_capacity(512 * (v.pods.len() + v.nodes.len()) + 1024);
    serde_json::to_writer_pretty(&mut buf, &v).map_err(|e| internal(e.into()))?;
    drop(v);
    drop(index);
    buf.push(b'\n');
    String::from_utf8(buf).map_err(|e| internal(e.into()))
}

async fn next_revision(State(s): State<Arc<Shared>>) -> Result<Json<u64>, ApiError> {
    Ok(Json(s.store.next_revision_id().await.map_err(internal)?))
}

async fn save_revision(
    State(s): State<Arc<Shared>>,
    Json(body): Json<SaveRevision>,
) -> Result<StatusCode, ApiError> {
    let mut blobs = Vec::new();
    for (sha, b64) in body.blobs {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        blobs.push((sha, bytes));
    }
    s.store
        .save_revision(&body.revision, &blobs)
        .await
        .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revisions(State(s): State<Arc<Shared>>) -> Result<Json<Vec<RevisionSummary>>, ApiError> {
    Ok(Json(s.store.revisions().await.map_err(internal)?))
}

async fn revision(
    State(s): State<Arc<Shared>>,
    UrlPath(id): UrlPath<u64>,
) -> Result<Json<Option<Revision>>, ApiError> {
    Ok(Json(s.store.revision(id).await.map_err(internal)?))
}

async fn blob(
    State(s): State<Arc<Shared>>,
    UrlPath(sha): UrlPath<String>,
) -> Result<Bytes, ApiError> {
    match s.store.blob(&sha).await.map_err(internal)? {
        Some(b) => Ok(Bytes::from(b)),
        None => Err((StatusCode::NOT_FOUND, format!("no blob {sha}"))),
    }
}

async fn desired(
    State(s): State<Arc<Shared>>,
) -> Result<Json<BTreeMap<String, NodeRevision>>, ApiError> {
    Ok(Json(s.store.desired().await.map_err(internal)?))
}

async fn metrics(State(s): State<Arc<Shared>>) -> Result<String, ApiError> {
    prometheus(&s).await.map_err(internal)
}

/// The coordinator's metrics in Prometheus' text format (`/metrics` here and on the
/// Kubernetes API's listener).
pub async fn prometheus(s: &Shared) -> anyhow::Result<String> {
    let reported = s.store.reported()?;
    let revisions = s.store.revisions().await?;
    let last = match revisions.last() {
        Some(r) => s.store.revision(r.id).await?,
        None => None,
    };
    Ok(render_metrics(s, &reported, revisions.len(), last.as_ref()))
}

/// Prometheus text exposition of the coordinator's view.
fn render_metrics(s: &Shared, r: &Reported, revisions: usize, last: Option<&Revision>) -> String {
    let mut out = String::new();
    let mut by_phase: BTreeMap<&str, usize> = ["Pending", "Running", "Succeeded", "Failed"]
        .iter()
        .map(|p| (*p, 0))
        .collect();
    for p in &r.pods {
        *by_phase.entry(p.phase.as_str()).or_insert(0) += 1;
    }
    out.push_str("# HELP podfleet_fleet_pods Static pods reported by agents, by phase.\n# TYPE podfleet_fleet_pods gauge\n");
    for (phase, n) in by_phase {
        let _ = writeln!(out, "podfleet_fleet_pods{{phase=\"{phase}\"}} {n}");
    }
    out.push_str("# HELP podfleet_fleet_pod_restarts Container restarts of each reported pod.\n# TYPE podfleet_fleet_pod_restarts gauge\n");
    for p in &r.pods {
        let _ = writeln!(
            out,
            "podfleet_fleet_pod_restarts{{node=\"{}\",namespace=\"{}\",pod=\"{}\"}} {}",
            p.node, p.namespace, p.name, p.restarts
        );
    }
    let c = &s.counters;
    for (name, help, v) in [
        (
            "podfleet_coordinator_reports_total",
            "Agent messages ingested.",
            c.reports.load(Ordering::Relaxed),
        ),
        (
            "podfleet_coordinator_pod_updates_total",
            "Pod statuses written.",
            c.pod_updates.load(Ordering::Relaxed),
        ),
        (
            "podfleet_coordinator_events_total",
            "Events written.",
            c.events.load(Ordering::Relaxed),
        ),
        (
            "podfleet_coordinator_refused_total",
            "Refused TLS clients and reports.",
            c.refused.load(Ordering::Relaxed),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP podfleet_coordinator_connected_agents Agents with an open report stream.\n# TYPE podfleet_coordinator_connected_agents gauge\npodfleet_coordinator_connected_agents {}",
        s.connected_nodes().len()
    );
    let _ = writeln!(
        out,
        "# HELP podfleet_push_revisions Push revisions recorded.\n# TYPE podfleet_push_revisions gauge\npodfleet_push_revisions {revisions}"
    );
    if let Some(last) = last {
        let _ = writeln!(
            out,
            "# HELP podfleet_push_last_duration_seconds Wall time of the latest push.\n# TYPE podfleet_push_last_duration_seconds gauge\npodfleet_push_last_duration_seconds{{revision=\"{}\",nodes=\"{}\"}} {:.3}",
            last.id,
            last.nodes.len(),
            last.duration_ms as f64 / 1000.0
        );
    }
    out
}

/// Serve the local API on a unix socket (mode 0600).
pub async fn serve_unix(
    socket: &Path,
    shared: Arc<Shared>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let _ = std::fs::remove_file(socket);
    let listener = tokio::net::UnixListener::bind(socket)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    let app = router(shared);
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// Serve `/metrics` (and `/healthz`) on TCP.
pub async fn serve_tcp(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(shared);
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}
