//! `kubectl exec` on the node: run a command in a pod's container through the runtime and
//! carry its input and output over the tunnel (output only against credit), ending with its
//! exit code.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use super::super::pod_logs::{self, LogError};
use super::super::runtime::Runtime;
use super::super::runtime::exec::{ExecInput, ExecSpec};
use super::super::state::AgentState;
use super::{MAX_CHUNK, end};
use crate::rpc::{self, tunnel_up};

/// What an exec stream talks to.
pub struct Ends {
    /// Pods on this node.
    pub state: Arc<AgentState>,
    /// The runtime the command runs in.
    pub runtime: Arc<dyn Runtime>,
    /// To the coordinator.
    pub up: mpsc::Sender<rpc::TunnelUp>,
    /// Bytes the coordinator's reader has room for.
    pub credit: Arc<Semaphore>,
    /// Stdin and resizes from the coordinator.
    pub input: mpsc::Receiver<ExecInput>,
    /// Tells the tunnel the stream is over.
    pub done: mpsc::UnboundedSender<u64>,
}

/// Serve one exec stream.
pub async fn serve(open: rpc::ExecOpen, mut e: Ends) {
    let id = open.id;
    let _counted = super::Counted::new();
    let result = run(&open, &mut e).await;
    let last = match result {
        Ok(code) => Some(rpc::TunnelUp {
            body: Some(tunnel_up::Body::End(rpc::StreamEnd {
                id,
                exited: true,
                exit_code: code,
                ..Default::default()
            })),
        }),
        Err((0, _)) => None,
        Err((code, msg)) => Some(end(id, code, msg)),
    };
    if let Some(m) = last {
        let _ = e.up.send(m).await;
    }
    let _ = e.done.send(id);
}

async fn run(open: &rpc::ExecOpen, e: &mut Ends) -> Result<i32, (u32, String)> {
    let id = open.id;
    let snap = e.state.snapshot();
    let pod = pod_logs::find_pod(&snap.pods, &snap.node, &open.namespace, &open.pod)
        .ok_or_else(|| (404, format!("pods \"{}\" not found", open.pod)))?;
    let list = e
        .runtime
        .list()
        .await
        .map_err(|err| (500, err.to_string()))?;
    let container = (!open.container.is_empty()).then_some(open.container.as_str());
    let (name, cid) = pod_logs::target(pod, container, false, &list).map_err(|err| match err {
        LogError::PodNotFound(m) | LogError::NotFound(m) => (404, m),
        LogError::BadRequest(m) => (400, m),
        LogError::Runtime(m) => (500, m),
    })?;
    if !list.iter().any(|c| c.id == cid && c.running) {
        return Err((
            400,
            format!(
                "unable to upgrade connection: container not found (\"{name}\") or not running"
            ),
        ));
    }
    let spec = ExecSpec {
        command: open.command.clone(),
        stdin: open.stdin,
        tty: open.tty,
    };
    let mut session = e
        .runtime
        .exec_session(&cid, &spec)
        .await
        .map_err(|err| (500, err.to_string()))?;
    let opened = tunnel_up::Body::Opened(rpc::StreamOpened { id });
    e.up.send(rpc::TunnelUp { body: Some(opened) })
        .await
        .map_err(|_| (0, String::new()))?;
    let mut input_open = true;
    // A chunk of the other stream read while coalescing, sent next.
    let mut held: Option<(u8, bytes::Bytes)> = None;
    loop {
        tokio::select! {
            out = async { match held.take() { Some(h) => Some(h), None => session.output.recv().await } } => {
                let Some((stream, first)) = out else { break };
                // Coalesce what is ready on the same stream (few, large DATA frames).
                let mut data = first.to_vec();
                while data.len() < MAX_CHUNK {
                    match session.output.try_recv() {
                        Ok((s, more)) if s == stream => data.extend_from_slice(&more),
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                for piece in data.chunks(MAX_CHUNK) {
                    let Ok(permit) = e.credit.acquire_many(piece.len() as u32).await else {
                        return Err((0, String::new()));
                    };
                    permit.forget();
                    let body = tunnel_up::Body::Data(rpc::StreamData {
                        id,
                        data: bytes::Bytes::copy_from_slice(piece),
                        stream: u32::from(stream),
                    });
                    e.up.send(rpc::TunnelUp { body: Some(body) })
                        .await
                        .map_err(|_| (0, String::new()))?;
                }
            }
            i = e.input.recv(), if input_open => match i {
                Some(i) => { let _ = session.input.send(i).await; }
                None => input_open = false,
            },
        }
    }
    let code = (&mut session.exit).await.unwrap_or(1);
    session.stop = None;
    Ok(code)
}
