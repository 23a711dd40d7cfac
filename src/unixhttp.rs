//! HTTP/1.1 over a unix socket (hyper): the CLI's client for the agent's and the
//! coordinator's local sockets — whole requests ([`request`]) and streaming GETs for logs
//! ([`get`]).

use std::path::Path;

use http_body_util::BodyExt as _;

/// A response whose body arrives in chunks.
pub struct Streaming {
    /// HTTP status.
    pub status: u16,
    body: hyper::body::Incoming,
}

impl Streaming {
    /// The next chunk of the body; None at its end; an error if the server broke it off.
    pub async fn chunk(&mut self) -> Option<Result<bytes::Bytes, hyper::Error>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The whole body as text (for error responses).
    pub async fn text(mut self) -> String {
        let mut out = Vec::new();
        while let Some(Ok(b)) = self.chunk().await {
            out.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&out).trim_end().to_string()
    }
}

/// Send `method path` with a JSON `body` to `socket`; the response as it starts. `what`
/// names the server in the error when it cannot be reached.
async fn send(
    socket: &Path,
    method: &str,
    path: &str,
    body: &[u8],
    what: &str,
) -> anyhow::Result<Streaming> {
    let stream = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach {}: {e} (is {what} running?)",
            socket.display()
        )
    })?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, "podfleet")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
            body,
        )))?;
    let resp = sender.send_request(req).await?;
    Ok(Streaming {
        status: resp.status().as_u16(),
        body: resp.into_body(),
    })
}

/// GET `path` on `socket`, its body streamed.
pub async fn get(socket: &Path, path: &str, what: &str) -> anyhow::Result<Streaming> {
    send(socket, "GET", path, b"", what).await
}

/// `method path` with `body` on `socket`: the status and the whole body.
pub async fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: &[u8],
    what: &str,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let resp = send(socket, method, path, body, what).await?;
    let status = resp.status;
    let body = resp.body.collect().await?.to_bytes().to_vec();
    Ok((status, body))
}
