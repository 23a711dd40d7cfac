//! The agent's end of the tunnel: a second gRPC stream to the coordinator, opened by the
//! agent (nodes need no inbound port), over which the coordinator asks for container logs
//! and runs commands in containers (`exec`).
//! Each log is sent in chunks of at most [`MAX_CHUNK`] bytes and only as far as the credit the
//! coordinator granted (its reader's consumption), so a paused client stops the file reading
//! here instead of filling memory anywhere. See `docs/ARCHITECTURE.md`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;

pub mod exec;
pub mod usage;

use super::backoff::{Backoff, BackoffPolicy};
use super::logs::LogQuery;
use super::pod_logs::{self, LogError, LogRequest};
use super::reporter::{ReportConfig, connect};
use super::runtime::Runtime;
use super::runtime::exec::ExecInput;
use super::state::AgentState;
use crate::rpc::{self, tunnel_down, tunnel_up};

/// Log and exec streams being served right now (the agent's `/metrics`).
static OPEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Log and exec streams this agent is serving now.
pub fn open_streams() -> usize {
    OPEN.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts a stream as open for as long as it lives (an aborted task drops it too).
pub(super) struct Counted;

impl Counted {
    pub(super) fn new() -> Counted {
        OPEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Counted
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Largest data message.
pub const MAX_CHUNK: usize = 32 * 1024;
/// Concurrent log streams served per node.
pub const MAX_STREAMS: usize = 32;

/// Keep the tunnel open (reconnecting with back-off) until the process ends.
pub fn spawn(
    cfg: ReportConfig,
    state: Arc<AgentState>,
    runtime: Arc<dyn Runtime>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Backoff::new(BackoffPolicy::TUNNEL);
        loop {
            let started = std::time::Instant::now();
            if let Err(e) = session(&cfg, &state, &runtime).await {
                tracing::info!("log tunnel to the coordinator ended: {e:#}");
            }
            if started.elapsed() > Duration::from_secs(30) {
                backoff.reset();
            }
            tokio::time::sleep(backoff.next_delay(std::time::Instant::now())).await;
        }
    })
}

/// A stream being served: its credit, its task, and (exec) its input.
struct Served {
    credit: Arc<Semaphore>,
    task: tokio::task::AbortHandle,
    input: Option<mpsc::Sender<ExecInput>>,
}

/// Streams being served on one tunnel; aborted when the tunnel ends.
#[derive(Default)]
struct Streams(HashMap<u64, Served>);

impl Drop for Streams {
    fn drop(&mut self) {
        for (_, s) in self.0.drain() {
            s.task.abort();
        }
    }
}

async fn session(
    cfg: &ReportConfig,
    state: &Arc<AgentState>,
    runtime: &Arc<dyn Runtime>,
) -> anyhow::Result<()> {
    let channel = connect(cfg).await?;
    let mut client = rpc::coordinator_client::CoordinatorClient::new(channel);
    let (tx, rx) = mpsc::channel::<rpc::TunnelUp>(64);
    let hello = tunnel_up::Body::Hello(rpc::TunnelHello {
        node: state.node.clone(),
    });
    tx.send(rpc::TunnelUp { body: Some(hello) }).await?;
    let mut down = client.tunnel(ReceiverStream::new(rx)).await?.into_inner();
    let mut streams = Streams::default();
    // Usage reports for kubectl top, for as long as this tunnel lasts.
    let sampler = tokio::spawn(usage::run(runtime.clone(), tx.clone()));
    streams.0.insert(
        0,
        Served {
            credit: Arc::new(Semaphore::new(0)),
            task: sampler.abort_handle(),
            input: None,
        },
    );
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<u64>();
    loop {
        tokio::select! {
            m = down.message() => {
                let Some(m) = m? else { return Ok(()) };
                let (id, opening) = match &m.body {
                    Some(tunnel_down::Body::LogOpen(o)) => (o.id, true),
                    Some(tunnel_down::Body::ExecOpen(o)) => (o.id, true),
                    _ => (0, false),
                };
                if opening && streams.0.len() >= MAX_STREAMS {
                    let msg = format!(
                        "too many streams on node {} (at most {MAX_STREAMS})",
                        state.node
                    );
                    let _ = tx.send(end(id, 429, msg)).await;
                    continue;
                }
                match m.body {
                    Some(tunnel_down::Body::LogOpen(open)) => {
                        let credit = Arc::new(Semaphore::new(open.window as usize));
                        let task = tokio::spawn(serve_log(
                            open,
                            state.clone(),
                            runtime.clone(),
                            tx.clone(),
                            credit.clone(),
                            done_tx.clone(),
                        ));
                        let task = task.abort_handle();
                        streams.0.insert(id, Served { credit, task, input: None });
                    }
                    Some(tunnel_down::Body::ExecOpen(open)) => {
                        let credit = Arc::new(Semaphore::new(open.window as usize));
                        let (in_tx, in_rx) = mpsc::channel(64);
                        let task = tokio::spawn(exec::serve(
                            open,
                            exec::Ends {
                                state: state.clone(),
                                runtime: runtime.clone(),
                                up: tx.clone(),
                                credit: credit.clone(),
                                input: in_rx,
                                done: done_tx.clone(),
                            },
                        ));
                        let task = task.abort_handle();
                        streams.0.insert(id, Served { credit, task, input: Some(in_tx) });
                    }
                    Some(tunnel_down::Body::Credit(c)) => {
                        if let Some(s) = streams.0.get(&c.id) {
                            s.credit.add_permits(c.bytes as usize);
                        }
                    }
                    Some(tunnel_down::Body::Cancel(c)) => {
                        if let Some(s) = streams.0.remove(&c.id) {
                            s.task.abort();
                        }
                    }
                    Some(tunnel_down::Body::Stdin(i)) => {
                        if let Some(input) = streams.0.get(&i.id).and_then(|s| s.input.clone()) {
                            if !i.data.is_empty() {
                                let _ = input.send(ExecInput::Stdin(i.data)).await;
                            }
                            if i.close {
                                let _ = input.send(ExecInput::CloseStdin).await;
                            }
                        }
                    }
                    Some(tunnel_down::Body::Resize(r)) => {
                        if let Some(input) = streams.0.get(&r.id).and_then(|s| s.input.clone()) {
                            let size = ExecInput::Resize {
                                width: r.width.min(u32::from(u16::MAX)) as u16,
                                height: r.height.min(u32::from(u16::MAX)) as u16,
                            };
                            let _ = input.send(size).await;
                        }
                    }
                    None => {}
                }
            }
            Some(id) = done_rx.recv() => {
                streams.0.remove(&id);
            }
        }
    }
}

/// The end of a stream: an error (code, message) or a clean end (0, "").
pub(super) fn end(id: u64, code: u32, error: String) -> rpc::TunnelUp {
    rpc::TunnelUp {
        body: Some(tunnel_up::Body::End(rpc::StreamEnd {
            id,
            error,
            code,
            ..Default::default()
        })),
    }
}

/// The query and request a LogOpen carries.
fn request(o: &rpc::LogOpen) -> Result<(LogRequest, LogQuery), String> {
    let since = if o.since_time.is_empty() {
        None
    } else {
        Some(
            o.since_time
                .parse()
                .map_err(|e| format!("invalid sinceTime {:?}: {e}", o.since_time))?,
        )
    };
    let req = LogRequest {
        namespace: o.namespace.clone(),
        pod: o.pod.clone(),
        container: (!o.container.is_empty()).then(|| o.container.clone()),
        previous: o.previous,
    };
    let q = LogQuery {
        follow: o.follow,
        tail: usize::try_from(o.tail_lines).ok(),
        since,
        timestamps: o.timestamps,
        limit_bytes: (o.limit_bytes > 0).then_some(o.limit_bytes),
    };
    Ok((req, q))
}

async fn serve_log(
    open: rpc::LogOpen,
    state: Arc<AgentState>,
    runtime: Arc<dyn Runtime>,
    tx: mpsc::Sender<rpc::TunnelUp>,
    credit: Arc<Semaphore>,
    done: mpsc::UnboundedSender<u64>,
) {
    let id = open.id;
    let _counted = Counted::new();
    let result = async {
        let (req, q) = request(&open).map_err(|e| (400, e))?;
        let snap = state.snapshot();
        let mut log = pod_logs::open(&snap.pods, &snap.node, &runtime, &req, &q)
            .await
            .map_err(|e| {
                let code = match e {
                    LogError::PodNotFound(_) | LogError::NotFound(_) => 404,
                    LogError::BadRequest(_) => 400,
                    LogError::Runtime(_) => 500,
                };
                (code, e.to_string())
            })?;
        let opened = tunnel_up::Body::Opened(rpc::StreamOpened { id });
        tx.send(rpc::TunnelUp { body: Some(opened) })
            .await
            .map_err(|_| (0, String::new()))?;
        while let Some(chunk) = log.next().await {
            let mut chunk = chunk
                .map_err(|e| (500, format!("reading the log: {e}")))?
                .to_vec();
            // Coalesce what is ready into one message: a flood of tiny DATA frames is
            // what h2 treats as an attack (GOAWAY "too_many_data_frames").
            while chunk.len() < MAX_CHUNK {
                match futures::FutureExt::now_or_never(log.next()) {
                    Some(Some(Ok(more))) => chunk.extend_from_slice(&more),
                    Some(Some(Err(e))) => return Err((500, format!("reading the log: {e}"))),
                    Some(None) | None => break,
                }
            }
            for piece in chunk.chunks(MAX_CHUNK) {
                // Wait for the coordinator's reader to make room.
                let Ok(permit) = credit.acquire_many(piece.len() as u32).await else {
                    return Err((0, String::new()));
                };
                permit.forget();
                let data = tunnel_up::Body::Data(rpc::StreamData {
                    id,
                    data: bytes::Bytes::copy_from_slice(piece),
                    stream: 1,
                });
                tx.send(rpc::TunnelUp { body: Some(data) })
                    .await
                    .map_err(|_| (0, String::new()))?;
            }
        }
        Ok(())
    }
    .await;
    let last = match result {
        Ok(()) => Some(end(id, 0, String::new())),
        Err((0, _)) => None,
        Err((code, msg)) => {
            if code >= 500 {
                tracing::warn!("log stream {id}: {msg}");
            }
            Some(end(id, code, msg))
        }
    };
    if let Some(m) = last {
        let _ = tx.send(m).await;
    }
    let _ = done.send(id);
}
