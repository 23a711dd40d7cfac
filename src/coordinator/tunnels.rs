//! The coordinator's end of the agents' tunnels: which node has a tunnel, the log and exec
//! streams open on each, and the flow control that keeps memory bounded. A reader gets at most
//! [`WINDOW`] bytes ahead of what it consumed: the agent sends only against credit, and
//! credit is returned only as the reader takes data. See `docs/ARCHITECTURE.md`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::rpc::{self, tunnel_down, tunnel_up};

/// Why a tunnelled stream ended early (the agent's error, or the agent went away).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StreamBroken(pub String);

/// Bytes an agent may send on a stream before its reader consumed any.
pub const WINDOW: u64 = 1024 * 1024;
/// Consumed bytes are returned to the agent as credit once this many are owed.
const CREDIT_BATCH: u64 = WINDOW / 4;
/// Streams open to one node at once, through this coordinator.
pub const MAX_PER_NODE: usize = 32;
/// Streams one client (identity and address) may hold open at once.
pub const MAX_PER_CLIENT: usize = 16;
/// How long to wait for the agent to open a log.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// What an agent sent about one stream.
#[derive(Debug)]
enum Up {
    Opened,
    Data(u8, Bytes),
    End {
        code: u32,
        error: String,
        exit: Option<i32>,
    },
}

/// One piece of a stream: output on stdout (1; logs use it too) or stderr (2), or the exit
/// code an exec ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Output.
    Data(u8, Bytes),
    /// The command ended (exec only; the stream ends after it).
    Exit(i32),
}

struct NodeTunnel {
    /// Which attachment this is (a reconnect replaces the previous one).
    generation: u64,
    down: mpsc::UnboundedSender<rpc::TunnelDown>,
    streams: HashMap<u64, mpsc::UnboundedSender<Up>>,
}

#[derive(Default)]
struct Inner {
    nodes: HashMap<String, NodeTunnel>,
    next: u64,
    /// The latest usage report of each node with a tunnel.
    usage: HashMap<String, rpc::Usage>,
    /// Open streams per limited client.
    per_client: HashMap<String, usize>,
}

/// Every node's tunnel.
#[derive(Default)]
pub struct TunnelHub {
    inner: Mutex<Inner>,
}

/// Why a log could not be opened: an HTTP status and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError {
    /// 400, 404, 429, 500 or 503.
    pub code: u16,
    /// What went wrong.
    pub message: String,
}

/// An exec request for an agent.
#[derive(Debug, Clone, Default)]
pub struct ExecParams {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container (empty: the only one).
    pub container: String,
    /// The command.
    pub command: Vec<String>,
    /// Pass stdin.
    pub stdin: bool,
    /// Allocate a terminal.
    pub tty: bool,
}

/// A log request for an agent (the kubelet's `pods/log` parameters).
#[derive(Debug, Clone, Default)]
pub struct LogParams {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container (empty: the only one).
    pub container: String,
    /// The previous run.
    pub previous: bool,
    /// Stream until the container stops.
    pub follow: bool,
    /// Last N lines (-1: all).
    pub tail_lines: i64,
    /// RFC 3339 lower bound (empty: none).
    pub since_time: String,
    /// Timestamp each line.
    pub timestamps: bool,
    /// Stop after N bytes (0: no limit).
    pub limit_bytes: u64,
}

impl TunnelHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A node's agent opened its tunnel: messages for it go to the returned receiver. A
    /// previous tunnel of the node is replaced (its streams end).
    pub fn attach(&self, node: &str) -> (u64, mpsc::UnboundedReceiver<rpc::TunnelDown>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut g = self.lock();
        g.next += 1;
        let generation = g.next;
        g.nodes.insert(
            node.to_string(),
            NodeTunnel {
                generation,
                down: tx,
                streams: HashMap::new(),
            },
        );
        (generation, rx)
    }

    /// The tunnel ended: its streams end with an error for their readers.
    pub fn detach(&self, node: &str, generation: u64) {
        let mut g = self.lock();
        if g.nodes
            .get(node)
            .is_some_and(|t| t.generation == generation)
        {
            g.nodes.remove(node);
            g.usage.remove(node);
        }
    }

    /// The latest usage reports, by node (nodes whose tunnel is open).
    pub fn usage(&self) -> HashMap<String, rpc::Usage> {
        self.lock().usage.clone()
    }

    /// Nodes with a tunnel.
    pub fn nodes(&self) -> Vec<String> {
        let mut n: Vec<String> = self.lock().nodes.keys().cloned().collect();
        n.sort();
        n
    }

    /// Deliver what an agent sent.
    pub fn route(&self, node: &str, generation: u64, up: tunnel_up::Body) {
        let (id, msg) = match up {
            tunnel_up::Body::Opened(o) => (o.id, Up::Opened),
            tunnel_up::Body::Data(d) => (d.id, Up::Data(d.stream.clamp(1, 2) as u8, d.data)),
            tunnel_up::Body::End(e) => (
                e.id,
                Up::End {
                    code: e.code,
                    error: e.error,
                    exit: e.exited.then_some(e.exit_code),
                },
            ),
            tunnel_up::Body::Hello(_) => return,
            tunnel_up::Body::Usage(u) => {
                let mut g = self.lock();
                if g.nodes
                    .get(node)
                    .is_some_and(|t| t.generation == generation)
                {
                    g.usage.insert(node.to_string(), u);
                }
                return;
            }
        };
        let mut g = self.lock();
        let Some(t) = g.nodes.get_mut(node).filter(|t| t.generation == generation) else {
            return;
        };
        let ended = matches!(msg, Up::End { .. });
        if let Some(s) = t.streams.get(&id) {
            let _ = s.send(msg);
        }
        if ended {
            t.streams.remove(&id);
        }
    }

    /// Ask `node`'s agent for a log; resolves once the agent opened it (or refused).
    pub async fn open_log(
        self: &Arc<Self>,
        node: &str,
        client: Option<&str>,
        p: &LogParams,
    ) -> Result<TunnelStream, OpenError> {
        let p = p.clone();
        self.open(node, client, move |id| {
            tunnel_down::Body::LogOpen(rpc::LogOpen {
                id,
                namespace: p.namespace,
                pod: p.pod,
                container: p.container,
                previous: p.previous,
                follow: p.follow,
                tail_lines: p.tail_lines,
                since_time: p.since_time,
                timestamps: p.timestamps,
                limit_bytes: p.limit_bytes,
                window: WINDOW,
            })
        })
        .await
    }

    /// Ask `node`'s agent to run a command in a container (`kubectl exec`).
    pub async fn open_exec(
        self: &Arc<Self>,
        node: &str,
        client: Option<&str>,
        p: &ExecParams,
    ) -> Result<TunnelStream, OpenError> {
        let p = p.clone();
        self.open(node, client, move |id| {
            tunnel_down::Body::ExecOpen(rpc::ExecOpen {
                id,
                namespace: p.namespace,
                pod: p.pod,
                container: p.container,
                command: p.command,
                stdin: p.stdin,
                tty: p.tty,
                window: WINDOW,
            })
        })
        .await
    }

    /// Open a stream to `node` for `client` (None: not limited per client, the local
    /// socket).
    async fn open(
        self: &Arc<Self>,
        node: &str,
        client: Option<&str>,
        request: impl FnOnce(u64) -> tunnel_down::Body,
    ) -> Result<TunnelStream, OpenError> {
        let (id, down, mut rx) = {
            let mut g = self.lock();
            if let Some(c) = client
                && g.per_client.get(c).copied().unwrap_or(0) >= MAX_PER_CLIENT
            {
                return Err(OpenError {
                    code: 429,
                    message: format!(
                        "too many streams open for {c} (at most {MAX_PER_CLIENT} at once)"
                    ),
                });
            }
            g.next += 1;
            let id = g.next;
            let Some(t) = g.nodes.get_mut(node) else {
                return Err(OpenError {
                    code: 503,
                    message: format!(
                        "node {node} has no open connection to this coordinator (is its agent running and enrolled?)"
                    ),
                });
            };
            if t.streams.len() >= MAX_PER_NODE {
                return Err(OpenError {
                    code: 429,
                    message: format!(
                        "too many streams open to node {node} (at most {MAX_PER_NODE})"
                    ),
                });
            }
            let (tx, rx) = mpsc::unbounded_channel();
            t.streams.insert(id, tx);
            let down = t.down.clone();
            if let Some(c) = client {
                *g.per_client.entry(c.to_string()).or_insert(0) += 1;
            }
            (id, down, rx)
        };
        let mut stream = TunnelStream {
            hub: self.clone(),
            node: node.to_string(),
            client: client.map(String::from),
            id,
            owed: 0,
            down,
            rx: mpsc::unbounded_channel().1,
            done: false,
        };
        stream.send(request(id));
        let first = tokio::time::timeout(OPEN_TIMEOUT, rx.recv()).await;
        stream.rx = rx;
        match first {
            Ok(Some(Up::Opened)) => Ok(stream),
            Ok(Some(Up::End { code, error, .. })) => {
                stream.done = true;
                Err(OpenError {
                    code: if code == 0 { 500 } else { code as u16 },
                    message: error,
                })
            }
            Ok(Some(Up::Data(..))) => Err(OpenError {
                code: 500,
                message: "the agent sent data before opening the stream".into(),
            }),
            Ok(None) => Err(OpenError {
                code: 503,
                message: format!("the agent on node {node} went away"),
            }),
            Err(_) => Err(OpenError {
                code: 504,
                message: format!(
                    "the agent on node {node} did not answer within {}s",
                    OPEN_TIMEOUT.as_secs()
                ),
            }),
        }
    }

    fn forget(&self, node: &str, client: Option<&str>, id: u64) {
        let mut g = self.lock();
        if let Some(t) = g.nodes.get_mut(node) {
            t.streams.remove(&id);
        }
        if let Some(c) = client
            && let Some(n) = g.per_client.get_mut(c)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                g.per_client.remove(c);
            }
        }
    }

    /// Streams open through this coordinator (all nodes).
    pub fn open_streams(&self) -> usize {
        self.lock().nodes.values().map(|t| t.streams.len()).sum()
    }
}

/// One open stream (a log or an exec). Dropping it cancels the stream on the agent.
pub struct TunnelStream {
    hub: Arc<TunnelHub>,
    node: String,
    client: Option<String>,
    id: u64,
    /// Consumed bytes not yet returned to the agent as credit.
    owed: u64,
    down: mpsc::UnboundedSender<rpc::TunnelDown>,
    rx: mpsc::UnboundedReceiver<Up>,
    done: bool,
}

impl TunnelStream {
    fn send(&self, body: tunnel_down::Body) {
        let _ = self.down.send(rpc::TunnelDown { body: Some(body) });
    }

    /// The next frame; None at the end; an error when the stream broke off.
    pub async fn frame(&mut self) -> Option<Result<Frame, StreamBroken>> {
        if self.done {
            return None;
        }
        loop {
            match self.rx.recv().await {
                Some(Up::Opened) => continue,
                Some(Up::Data(stream, b)) => {
                    // Consumed: the agent may send as much again. Returned in quarters of
                    // the window, not per chunk, to keep control messages few.
                    self.owed += b.len() as u64;
                    if self.owed >= CREDIT_BATCH {
                        let bytes = std::mem::take(&mut self.owed);
                        self.send(tunnel_down::Body::Credit(rpc::Credit {
                            id: self.id,
                            bytes,
                        }));
                    }
                    return Some(Ok(Frame::Data(stream, b)));
                }
                Some(Up::End { error, exit, .. }) => {
                    self.done = true;
                    if !error.is_empty() {
                        tracing::warn!(node = %self.node, "stream {} ended with an error: {error}", self.id);
                    }
                    return match (exit, error.is_empty()) {
                        (Some(code), _) => Some(Ok(Frame::Exit(code))),
                        (None, true) => None,
                        (None, false) => Some(Err(StreamBroken(error))),
                    };
                }
                None => {
                    self.done = true;
                    return Some(Err(StreamBroken(format!(
                        "the stream broke off: the agent on node {} went away",
                        self.node
                    ))));
                }
            }
        }
    }

    /// The next chunk of a log; None at the end; an error when the log broke off.
    pub async fn next(&mut self) -> Option<Result<Bytes, StreamBroken>> {
        loop {
            match self.frame().await? {
                Ok(Frame::Data(_, b)) => return Some(Ok(b)),
                Ok(Frame::Exit(_)) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Input for an exec's stdin; `close` ends it.
    pub fn stdin(&self, data: Bytes, close: bool) {
        self.send(tunnel_down::Body::Stdin(rpc::Stdin {
            id: self.id,
            data,
            close,
        }));
    }

    /// An exec terminal's new size.
    pub fn resize(&self, width: u16, height: u16) {
        self.send(tunnel_down::Body::Resize(rpc::Resize {
            id: self.id,
            width: u32::from(width),
            height: u32::from(height),
        }));
    }

    /// As a byte stream (for an HTTP body).
    pub fn into_stream(self) -> futures::stream::BoxStream<'static, std::io::Result<Bytes>> {
        Box::pin(futures::stream::unfold(self, |mut r| async move {
            r.next()
                .await
                .map(|item| (item.map_err(std::io::Error::other), r))
        }))
    }
}

impl Drop for TunnelStream {
    fn drop(&mut self) {
        if !self.done {
            self.send(tunnel_down::Body::Cancel(rpc::Cancel { id: self.id }));
        }
        self.hub.forget(&self.node, self.client.as_deref(), self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next_down(down: &mut mpsc::UnboundedReceiver<rpc::TunnelDown>) -> tunnel_down::Body {
        down.recv()
            .await
            .and_then(|m| m.body)
            .expect("a message to the agent")
    }

    /// Start opening a log on n1; the LogOpen the agent gets.
    async fn start_open(
        hub: &Arc<TunnelHub>,
        down: &mut mpsc::UnboundedReceiver<rpc::TunnelDown>,
    ) -> (
        tokio::task::JoinHandle<Result<TunnelStream, OpenError>>,
        rpc::LogOpen,
    ) {
        let h = hub.clone();
        let opener =
            tokio::spawn(async move { h.open_log("n1", None, &LogParams::default()).await });
        let tunnel_down::Body::LogOpen(open) = next_down(down).await else {
            panic!("expected LogOpen")
        };
        (opener, open)
    }

    fn data(id: u64, s: &str) -> tunnel_up::Body {
        tunnel_up::Body::Data(rpc::StreamData {
            id,
            data: Bytes::from(s.to_string()),
            stream: 1,
        })
    }

    #[tokio::test]
    async fn streams_open_carry_data_return_credit_and_cancel_on_drop() {
        let hub = Arc::new(TunnelHub::default());
        let (generation, mut down) = hub.attach("n1");
        let (opener, open) = start_open(&hub, &mut down).await;
        assert_eq!(open.window, WINDOW);
        hub.route(
            "n1",
            generation,
            tunnel_up::Body::Opened(rpc::StreamOpened { id: open.id }),
        );
        let mut reader = opener.await.unwrap().unwrap();
        hub.route("n1", generation, data(open.id, "hello"));
        assert_eq!(reader.next().await.unwrap().unwrap(), "hello");
        // Credit goes back in batches of a quarter window.
        let big = "x".repeat(CREDIT_BATCH as usize);
        hub.route("n1", generation, data(open.id, &big));
        assert_eq!(reader.next().await.unwrap().unwrap().len(), big.len());
        let tunnel_down::Body::Credit(c) = next_down(&mut down).await else {
            panic!("expected Credit")
        };
        assert_eq!((c.id, c.bytes), (open.id, CREDIT_BATCH + 5));
        drop(reader);
        let tunnel_down::Body::Cancel(c) = next_down(&mut down).await else {
            panic!("expected Cancel")
        };
        assert_eq!(c.id, open.id);
    }

    #[tokio::test]
    async fn errors_name_the_cause() {
        let hub = Arc::new(TunnelHub::default());
        let e = hub
            .open_log("n9", None, &LogParams::default())
            .await
            .err()
            .unwrap();
        assert_eq!(e.code, 503);
        let (generation, mut down) = hub.attach("n1");
        let (opener, open) = start_open(&hub, &mut down).await;
        hub.route(
            "n1",
            generation,
            tunnel_up::Body::End(rpc::StreamEnd {
                id: open.id,
                error: "pods \"x\" not found".into(),
                code: 404,
                ..Default::default()
            }),
        );
        let e = opener.await.unwrap().err().unwrap();
        assert_eq!(e.code, 404);
        // A reader whose agent goes away gets an error, not a hang.
        let (opener, open) = start_open(&hub, &mut down).await;
        hub.route(
            "n1",
            generation,
            tunnel_up::Body::Opened(rpc::StreamOpened { id: open.id }),
        );
        let mut reader = opener.await.unwrap().unwrap();
        hub.detach("n1", generation);
        let err = reader.next().await.unwrap().unwrap_err();
        assert!(err.0.contains("went away"), "{err}");
    }
}
