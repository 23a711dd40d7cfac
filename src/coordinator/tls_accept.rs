//! Accepting TLS clients, the same way on every coordinator listener (gRPC for agents, the
//! Kubernetes API for kubectl): each handshake runs in its own task and must finish within
//! [`HANDSHAKE_TIMEOUT`], so a client that opens TCP and never speaks TLS cannot hold a task
//! (or a file descriptor) for ever. Refused handshakes are logged and counted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A client that finished the handshake.
pub type Accepted = (TlsStream<TcpStream>, SocketAddr);

/// Accept on `listener` until the returned receiver is dropped. `listener_name` names the
/// listener in logs; `on_refused` is called for each failed or timed-out handshake.
pub fn incoming(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    listener_name: &'static str,
    on_refused: Arc<dyn Fn() + Send + Sync>,
) -> mpsc::Receiver<Accepted> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                _ = tx.closed() => return,
                accepted = listener.accept() => match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors, typically: do not spin.
                        tracing::warn!("{listener_name}: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let (acceptor, tx, on_refused) = (acceptor.clone(), tx.clone(), on_refused.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send((stream, peer)).await;
                    }
                    Ok(Err(e)) => {
                        on_refused();
                        tracing::warn!(%peer, "{listener_name}: refused TLS client: {e}");
                    }
                    Err(_) => {
                        on_refused();
                        tracing::warn!(
                            %peer,
                            "{listener_name}: refused TLS client: no handshake within {}s",
                            HANDSHAKE_TIMEOUT.as_secs()
                        );
                    }
                }
            });
        }
    });
    rx
}
