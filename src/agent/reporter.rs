//! Reports the agent's state to the coordinator over one gRPC stream (mutual TLS).
//!
//! On every connect: a snapshot (node status and every pod; it replaces what the
//! coordinator knew) and the events it has not acked. Then changes as they happen (a pod's
//! status is resent only when it differs from what was sent), a heartbeat every
//! `heartbeat` and a fresh snapshot every `snapshot_every`. While disconnected nothing
//! piles up: the state itself is the buffer (newest pod state wins) and events are bounded
//! by `state::MAX_EVENTS`; reconnects back off from 1 s to 30 s.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::core::v1 as api;
use prost::Message as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::backoff::{Backoff, BackoffPolicy};
use super::state::{AgentState, PodView, Snapshot};
use crate::rpc::{self, agent_message::Body};

/// Client certificate, key and CA (PEM), as `agent enroll` installs them.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The fleet CA.
    pub ca: String,
    /// This node's certificate.
    pub cert: String,
    /// Its key.
    pub key: String,
}

impl ClientTls {
    /// Read `ca.crt`, `node.crt`, `node.key` from a directory (default `/etc/podfleet`).
    pub fn load(dir: &Path) -> anyhow::Result<ClientTls> {
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f)).with_context(|| {
                format!(
                    "cannot read {} (enrol the node with `podfleet agent enroll`)",
                    dir.join(f).display()
                )
            })
        };
        Ok(ClientTls {
            ca: read("ca.crt")?,
            cert: read("node.crt")?,
            key: read("node.key")?,
        })
    }
}

/// Where and how to report.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// `https://host:port` (mutual TLS) or `http://127.0.0.1:port` (an insecure demo listener).
    pub endpoint: String,
    /// Credentials for https.
    pub tls: Option<ClientTls>,
    /// Heartbeat interval (the kubelet's node status update frequency is 10 s).
    pub heartbeat: Duration,
    /// Full snapshot interval.
    pub snapshot_every: Duration,
    /// The node's IP.
    pub node_ip: String,
    /// Capacity and system info (filled in when the agent starts).
    pub node_info: rpc::NodeInfo,
}

/// Report until the process ends.
pub fn spawn(cfg: ReportConfig, state: Arc<AgentState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut acked_events = 0u64;
        let mut backoff = Backoff::new(BackoffPolicy::RECONNECT);
        loop {
            let started = std::time::Instant::now();
            let e = session(&cfg, &state, &mut acked_events).await;
            // A session that worked for a while starts the back-off over.
            if started.elapsed() > Duration::from_secs(30) {
                backoff.reset();
            }
            let delay = backoff.next_delay(std::time::Instant::now());
            tracing::warn!(
                endpoint = %cfg.endpoint,
                "coordinator: {e:#}; reconnecting in {}s",
                delay.as_secs_f32()
            );
            tokio::time::sleep(delay).await;
        }
    })
}

/// A channel to the coordinator with the node's credentials (shared by the report stream and
/// the log tunnel).
pub(crate) async fn connect(cfg: &ReportConfig) -> anyhow::Result<tonic::transport::Channel> {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let mut ep = Endpoint::from_shared(cfg.endpoint.clone())
        .with_context(|| format!("bad coordinator address {:?}", cfg.endpoint))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .initial_stream_window_size(crate::rpc::H2_STREAM_WINDOW)
        .initial_connection_window_size(crate::rpc::H2_CONNECTION_WINDOW)
        .keep_alive_timeout(Duration::from_secs(10));
    if cfg.endpoint.starts_with("https://") {
        let tls = cfg
            .tls
            .as_ref()
            .context("an https coordinator needs the node's certificate (podfleet agent enroll)")?;
        ep = ep.tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&tls.ca))
                .identity(Identity::from_pem(&tls.cert, &tls.key))
                .domain_name(crate::rpc::SERVER_NAME),
        )?;
    }
    Ok(ep.connect().await?)
}

/// One connection: returns why it ended.
async fn session(cfg: &ReportConfig, state: &AgentState, acked_events: &mut u64) -> anyhow::Error {
    match session_inner(cfg, state, acked_events).await {
        Ok(()) => anyhow::anyhow!("stream closed by the coordinator"),
        Err(e) => anyhow::anyhow!("{}", readable(&e)),
    }
}

/// An error chain without the repetitions tonic's transport errors carry, and a gRPC
/// status as just its message.
fn readable(e: &anyhow::Error) -> String {
    if let Some(s) = e.downcast_ref::<tonic::Status>() {
        return s.message().to_string();
    }
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

struct Outbox {
    tx: mpsc::Sender<rpc::AgentMessage>,
    node: String,
    seq: u64,
    /// Message seq → the newest event seq it carried.
    event_of: HashMap<u64, u64>,
    /// Pod uid → encoded status last sent.
    sent_pods: BTreeMap<String, Vec<u8>>,
    /// Newest event seq sent.
    sent_events: u64,
}

impl Outbox {
    async fn send(&mut self, body: Body) -> anyhow::Result<u64> {
        self.seq += 1;
        let m = rpc::AgentMessage {
            seq: self.seq,
            node: self.node.clone(),
            body: Some(body),
        };
        self.tx
            .send(m)
            .await
            .map_err(|_| anyhow::anyhow!("stream closed"))?;
        Ok(self.seq)
    }

    async fn snapshot(
        &mut self,
        snap: &Snapshot,
        node_ip: &str,
        info: &rpc::NodeInfo,
    ) -> anyhow::Result<()> {
        let pods: Vec<rpc::PodStatus> = snap.pods.iter().map(pod_status).collect();
        self.sent_pods = pods
            .iter()
            .map(|p| (p.uid.clone(), p.encode_to_vec()))
            .collect();
        let body = Body::Snapshot(rpc::Snapshot {
            node: Some(node_status(snap, node_ip, info)),
            pods,
        });
        self.send(body).await?;
        Ok(())
    }

    /// Send what changed since the last send: pods, removals, new events.
    async fn changes(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        // Removals first: a replaced pod reads as the old one going, then the new one coming.
        let current: BTreeMap<&str, rpc::PodStatus> = snap
            .pods
            .iter()
            .map(|p| (p.uid.as_str(), pod_status(p)))
            .collect();
        let gone: Vec<String> = self
            .sent_pods
            .keys()
            .filter(|uid| !current.contains_key(uid.as_str()))
            .cloned()
            .collect();
        for uid in gone {
            self.send(Body::PodRemoved(rpc::PodRemoved { uid })).await?;
        }
        let mut seen = BTreeMap::new();
        for (uid, status) in current {
            let bytes = status.encode_to_vec();
            if self.sent_pods.get(uid) != Some(&bytes) {
                self.send(Body::Pod(status)).await?;
            }
            seen.insert(uid.to_string(), bytes);
        }
        self.sent_pods = seen;
        let after = self.sent_events;
        for e in snap.events.iter().filter(|e| e.seq > after) {
            let seq = self
                .send(Body::Event(rpc::Event {
                    agent_seq: e.seq,
                    first_time: e.first_time.clone(),
                    last_time: e.last_time.clone(),
                    count: e.count,
                    r#type: e.kind.clone(),
                    reason: e.reason.clone(),
                    message: e.message.clone(),
                    object: e.object.clone(),
                    namespace: e.namespace.clone(),
                    uid: e.uid.clone().unwrap_or_default(),
                }))
                .await?;
            self.event_of.insert(seq, e.seq);
            self.sent_events = self.sent_events.max(e.seq);
        }
        Ok(())
    }
}

async fn session_inner(
    cfg: &ReportConfig,
    state: &AgentState,
    acked_events: &mut u64,
) -> anyhow::Result<()> {
    let channel = connect(cfg).await?;
    let mut client = rpc::coordinator_client::CoordinatorClient::new(channel);
    let (tx, rx) = mpsc::channel(1024);
    let mut out = Outbox {
        tx,
        node: state.node.clone(),
        seq: 0,
        event_of: HashMap::new(),
        sent_pods: BTreeMap::new(),
        sent_events: *acked_events,
    };
    let mut changes = state.subscribe();
    let snap = state.snapshot();
    out.snapshot(&snap, &cfg.node_ip, &cfg.node_info).await?;
    out.changes(&snap).await?;
    let mut acks = client.report(ReceiverStream::new(rx)).await?.into_inner();
    tracing::info!(endpoint = %cfg.endpoint, "reporting to the coordinator");
    let mut heartbeat = tokio::time::interval(cfg.heartbeat);
    let mut full = tokio::time::interval(cfg.snapshot_every);
    heartbeat.tick().await;
    full.tick().await;
    loop {
        tokio::select! {
            ack = acks.message() => {
                let ack = ack?.context("stream closed by the coordinator")?;
                if !ack.error.is_empty() {
                    anyhow::bail!("the coordinator refused a report: {}", ack.error);
                }
                if let Some(ev) = out.event_of.remove(&ack.seq) {
                    *acked_events = (*acked_events).max(ev);
                }
            }
            r = changes.changed() => {
                r.context("agent state closed")?;
                // Coalesce a burst (a pod start touches status several times).
                tokio::time::sleep(Duration::from_millis(50)).await;
                changes.borrow_and_update();
                out.changes(&state.snapshot()).await?;
            }
            _ = heartbeat.tick() => {
                let snap = state.snapshot();
                out.send(Body::Heartbeat(node_status(&snap, &cfg.node_ip, &cfg.node_info))).await?;
            }
            _ = full.tick() => {
                let snap = state.snapshot();
                out.snapshot(&snap, &cfg.node_ip, &cfg.node_info).await?;
            }
        }
    }
}

/// The node part of a report.
pub fn node_status(s: &Snapshot, node_ip: &str, info: &rpc::NodeInfo) -> rpc::NodeStatus {
    rpc::NodeStatus {
        info: Some(info.clone()),
        agent_version: s.version.clone(),
        runtime: s.runtime.clone(),
        started_at: s.started_at.clone(),
        sources_ready: s.sources_ready,
        node_ip: node_ip.to_string(),
        issues: s
            .issues
            .iter()
            .map(|i| rpc::ManifestIssue {
                file: i.file.clone(),
                message: i.message.clone(),
                keeping_last_good: i.keeping_last_good,
            })
            .collect(),
    }
}

fn container(c: &api::ContainerStatus) -> rpc::ContainerStatus {
    let (state, reason) = match &c.state {
        Some(api::ContainerState {
            running: Some(_), ..
        }) => ("running", String::new()),
        Some(api::ContainerState {
            terminated: Some(t),
            ..
        }) => ("terminated", t.reason.clone().unwrap_or_default()),
        Some(api::ContainerState {
            waiting: Some(w), ..
        }) => ("waiting", w.reason.clone().unwrap_or_default()),
        _ => ("waiting", String::new()),
    };
    rpc::ContainerStatus {
        name: c.name.clone(),
        state: state.to_string(),
        reason,
        ready: c.ready,
        restarts: c.restart_count.max(0) as u32,
    }
}

/// One pod as reported.
pub fn pod_status(p: &PodView) -> rpc::PodStatus {
    let status = p.mirror.status.as_ref();
    rpc::PodStatus {
        uid: p.uid.clone(),
        name: p.name.clone(),
        namespace: p.namespace.clone(),
        file: p.file.clone(),
        content_sha256: p.content_sha256.clone(),
        phase: p.phase.as_str().to_string(),
        ready: p.ready as u32,
        total: p.total as u32,
        restarts: p.restarts,
        last_error: p.last_error.clone().unwrap_or_default(),
        terminating: p.terminating,
        status: p.status.clone(),
        containers: status
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| cs.iter().map(container).collect())
            .unwrap_or_default(),
        conditions: status
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .map(|c| rpc::PodCondition {
                        r#type: c.type_.clone(),
                        status: c.status.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        mirror_json: serde_json::to_vec(&p.mirror).unwrap_or_default(),
    }
}
