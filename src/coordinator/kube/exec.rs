//! `kubectl exec` over the WebSocket remote-command protocol (`v5.channel.k8s.io`, and
//! `v4.channel.k8s.io` for older clients): each binary message starts with its channel,
//! 0 stdin, 1 stdout, 2 stderr, 3 the final `Status` (exit code), 4 terminal resizes, and in
//! v5, 255 to close a stream (stdin's end). The command runs on the pod's node, reached over
//! the agent's tunnel.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::super::shared::Shared;
use super::super::tunnels::{ExecParams, Frame, TunnelStream};
use super::status;

/// Channels of the remote-command protocol.
const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// The protocols we speak, preferred first.
pub const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// Who may exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exec<'a> {
    /// The admin certificate: allowed.
    Admin(&'a str),
    /// The read-only bearer token.
    Token,
    /// A node's certificate.
    Node(&'a str),
}

/// The exec request in the query string (`command` repeats).
fn params(namespace: &str, pod: &str, raw_query: &str) -> Result<ExecParams, String> {
    let mut p = ExecParams {
        namespace: namespace.into(),
        pod: pod.into(),
        ..Default::default()
    };
    let truthy = |v: &str| v == "true" || v == "1";
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        match k.as_ref() {
            "command" => p.command.push(v.into_owned()),
            "container" => p.container = v.into_owned(),
            "stdin" => p.stdin = truthy(&v),
            "tty" => p.tty = truthy(&v),
            _ => {}
        }
    }
    if p.command.is_empty() {
        return Err("you must specify at least 1 command".into());
    }
    Ok(p)
}

/// Serve one exec request.
pub(super) async fn serve(
    shared: &Arc<Shared>,
    client: &str,
    who: Exec<'_>,
    namespace: &str,
    name: &str,
    raw_query: &str,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let user = match who {
        Exec::Admin(u) => u.to_string(),
        Exec::Token => {
            return status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!(
                    "pods \"{name}\" is forbidden: the bearer token reads the fleet but cannot create resource \"pods/exec\" in the namespace \"{namespace}\": exec needs the admin certificate (podfleet kubeconfig)"
                ),
            );
        }
        Exec::Node(node) => {
            return status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!(
                    "pods \"{name}\" is forbidden: User \"system:node:{node}\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"{namespace}\""
                ),
            );
        }
    };
    let p = match params(namespace, name, raw_query) {
        Ok(p) => p,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e),
    };
    let Ok(ws) = ws else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Upgrade request required: exec speaks the WebSocket remote-command protocol (v5.channel.k8s.io)",
        );
    };
    let mirror = match super::super::logs_api::mirror(shared, namespace, name) {
        Ok(Some(m)) => m,
        Ok(None) => {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("pods \"{name}\" not found"),
            );
        }
        Err(e) => {
            return status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &e.to_string(),
            );
        }
    };
    let node = mirror["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    tracing::info!(%user, %namespace, pod = %name, container = %p.container, command = ?p.command, %node, "exec");
    record(shared, &node, &mirror, &user, &p);
    let stream = match shared.tunnels.open_exec(&node, Some(client), &p).await {
        Ok(s) => s,
        Err(e) => {
            let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = if e.code == 404 {
                "NotFound"
            } else {
                "BadRequest"
            };
            return status(code, reason, &e.message);
        }
    };
    let ws = ws.protocols(PROTOCOLS);
    let v5 = ws
        .selected_protocol()
        .is_some_and(|p| p.as_bytes() == PROTOCOLS[0].as_bytes());
    let command = p.command.join(" ");
    ws.on_upgrade(move |socket| pump(socket, stream, v5, p.tty, command))
}

/// Record the exec as an event on the pod (who, container, command).
fn record(shared: &Shared, node: &str, mirror: &serde_json::Value, user: &str, p: &ExecParams) {
    let now = jiff::Timestamp::now().to_string();
    let e = crate::store::EventRecord {
        node: node.to_string(),
        first_time: now.clone(),
        last_time: now,
        count: 1,
        kind: "Normal".into(),
        reason: "Exec".into(),
        message: format!(
            "{user} ran {:?} in container {:?}",
            p.command,
            if p.container.is_empty() {
                "(default)"
            } else {
                &p.container
            }
        ),
        object: p.pod.clone(),
        namespace: p.namespace.clone(),
        uid: mirror["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .into(),
    };
    if let Err(err) = shared.store.put_event(&e) {
        tracing::warn!("cannot record the exec event: {err:#}");
    }
}

/// A message on `channel`.
fn frame(channel: u8, data: &[u8]) -> Message {
    let mut b = Vec::with_capacity(data.len() + 1);
    b.push(channel);
    b.extend_from_slice(data);
    Message::Binary(b.into())
}

/// The final status kubectl turns into its exit code.
fn exit_status(code: i32, command: &str) -> serde_json::Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: error executing command [{command}], exit code {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

async fn pump(
    mut socket: WebSocket,
    mut stream: TunnelStream,
    v5: bool,
    tty: bool,
    command: String,
) {
    // Like the kubelet: an empty message on each output channel says it is ready.
    for ch in [STDOUT, STDERR] {
        if socket.send(frame(ch, &[])).await.is_err() {
            return;
        }
    }
    let status = loop {
        tokio::select! {
            m = socket.recv() => match m {
                Some(Ok(Message::Binary(b))) if !b.is_empty() => match b[0] {
                    STDIN => stream.stdin(b.slice(1..), false),
                    RESIZE => {
                        let size: serde_json::Value =
                            serde_json::from_slice(&b[1..]).unwrap_or_default();
                        let dim = |k: &str| size[k].as_u64().unwrap_or(0).min(u64::from(u16::MAX)) as u16;
                        stream.resize(dim("Width"), dim("Height"));
                    }
                    CLOSE if v5 && b.get(1) == Some(&STDIN) => {
                        stream.stdin(bytes::Bytes::new(), true);
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            f = stream.frame() => match f {
                Some(Ok(Frame::Data(ch, data))) => {
                    let ch = if tty { STDOUT } else { ch };
                    if socket.send(frame(ch, &data)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Frame::Exit(code))) => break exit_status(code, &command),
                None => break exit_status(0, &command),
                Some(Err(e)) => break json!({
                    "metadata": {},
                    "status": "Failure",
                    "message": e.0,
                    "reason": "InternalError",
                }),
            },
        }
    };
    let _ = socket
        .send(frame(ERROR, status.to_string().as_bytes()))
        .await;
    let _ = socket
        .send(Message::Close(Some(axum::extract::ws::CloseFrame {
            code: axum::extract::ws::close_code::NORMAL,
            reason: "".into(),
        })))
        .await;
    // Finish the closing handshake, reading what the client still sent (stdin, resizes):
    // closing with unread data would reset the connection before kubectl read the status.
    let drain = async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_carries_every_command_word() {
        let p = params(
            "ns",
            "web",
            "command=sh&command=-c&command=echo%20hi&container=main&stdin=true&stdout=true&tty=false",
        )
        .unwrap();
        assert_eq!(p.command, ["sh", "-c", "echo hi"]);
        assert_eq!(p.container, "main");
        assert!(p.stdin && !p.tty);
        assert!(params("ns", "web", "container=main").is_err());
    }

    #[test]
    fn the_final_status_carries_the_exit_code_as_kubectl_reads_it() {
        assert_eq!(exit_status(0, "true")["status"], "Success");
        let s = exit_status(3, "sh -c exit 3");
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(s["details"]["causes"][0]["message"], "3");
    }
}
