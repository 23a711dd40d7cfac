//! `podfleet serve`: the gRPC report service behind mutual TLS, plus the local API.
//!
//! TLS is terminated here (tokio-rustls) rather than inside tonic so that every refused
//! handshake (no certificate, another CA, expired) gets a log line naming the peer.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::ingest::Ingest;
use super::pki::{self, Pki};
pub use super::shared::{Counters, Shared};
use crate::rpc::{self, coordinator_server};
use crate::store::{EventRetention, SledStore};

use crate::rpc::{H2_CONNECTION_WINDOW, H2_STREAM_WINDOW};

/// Settings of `podfleet serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// mTLS gRPC address.
    pub listen: SocketAddr,
    /// Plaintext gRPC address (loopback only; demos).
    pub insecure_listen: Option<SocketAddr>,
    /// State directory (store, CA, socket).
    pub state_dir: PathBuf,
    /// A node is NotReady after this long without a heartbeat.
    pub grace: Duration,
    /// Event retention.
    pub retention: EventRetention,
    /// Extra names/addresses for the serving certificate.
    pub server_names: Vec<String>,
    /// Also serve `/metrics` over TCP here.
    pub metrics_listen: Option<SocketAddr>,
    /// Serve the read-only Kubernetes API here.
    pub kube_listen: Option<SocketAddr>,
}

struct ReportService {
    shared: Arc<Shared>,
    /// Plaintext: the stream is bound to the node its first message names.
    insecure: bool,
}

type AckStream = Pin<Box<dyn Stream<Item = Result<rpc::Ack, Status>> + Send>>;
type DownStream = Pin<Box<dyn Stream<Item = Result<rpc::TunnelDown, Status>> + Send>>;

#[tonic::async_trait]
impl coordinator_server::Coordinator for ReportService {
    type ReportStream = AckStream;
    type TunnelStream = DownStream;

    async fn tunnel(
        &self,
        req: Request<Streaming<rpc::TunnelUp>>,
    ) -> Result<Response<DownStream>, Status> {
        let identity = req
            .peer_certs()
            .and_then(|certs| certs.first().and_then(|c| pki::identity_of(c)));
        if identity.is_none() && !self.insecure {
            self.shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Status::unauthenticated("a client certificate is required"));
        }
        let mut inbound = req.into_inner();
        let hello = match inbound.message().await? {
            Some(rpc::TunnelUp {
                body: Some(rpc::tunnel_up::Body::Hello(h)),
            }) => h,
            _ => return Err(Status::invalid_argument("a tunnel starts with hello")),
        };
        let node = match identity {
            Some(id) if id != hello.node => {
                self.shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(certificate = %id, claimed = %hello.node, "refused a log tunnel for another node");
                return Err(Status::permission_denied(format!(
                    "this certificate belongs to node {id}, not {}",
                    hello.node
                )));
            }
            Some(id) => id,
            None => hello.node,
        };
        let tunnels = self.shared.tunnels.clone();
        let (generation, down) = tunnels.attach(&node);
        tracing::debug!(%node, "log tunnel open");
        tokio::spawn(async move {
            let why = loop {
                match inbound.message().await {
                    Ok(Some(m)) => {
                        if let Some(body) = m.body {
                            tunnels.route(&node, generation, body);
                        }
                    }
                    Ok(None) => break "closed by the agent".to_string(),
                    Err(e) => break e.to_string(),
                }
            };
            tunnels.detach(&node, generation);
            tracing::info!(%node, "log tunnel closed: {why}");
        });
        let down = tokio_stream::wrappers::UnboundedReceiverStream::new(down);
        Ok(Response::new(Box::pin(futures::StreamExt::map(down, Ok))))
    }

    async fn report(
        &self,
        req: Request<Streaming<rpc::AgentMessage>>,
    ) -> Result<Response<AckStream>, Status> {
        let peer = req
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "?".into());
        let identity = req
            .peer_certs()
            .and_then(|certs| certs.first().and_then(|c| pki::identity_of(c)));
        if identity.is_none() && !self.insecure {
            self.shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, "refused a report stream without a client certificate");
            return Err(Status::unauthenticated("a client certificate is required"));
        }
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(256);
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let mut identity = identity;
            let mut bound = None;
            loop {
                let m = match inbound.message().await {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(%peer, "report stream ended: {e}");
                        break;
                    }
                };
                let node = identity.get_or_insert_with(|| m.node.clone()).clone();
                if bound.is_none() {
                    shared.connect(&node, 1);
                    tracing::info!(%node, %peer, "agent connected");
                    bound = Some(node.clone());
                }
                let ingest = Ingest {
                    store: &shared.store,
                    identity: &node,
                    hub: Some(&shared.hub),
                    index: Some(&shared.index),
                    grace: shared.grace,
                };
                match ingest.apply(&m) {
                    Ok(applied) => {
                        let c = &shared.counters;
                        c.reports.fetch_add(1, Ordering::Relaxed);
                        c.pod_updates
                            .fetch_add(applied.pods as u64, Ordering::Relaxed);
                        c.events.fetch_add(applied.events as u64, Ordering::Relaxed);
                        let ack = rpc::Ack {
                            seq: m.seq,
                            error: String::new(),
                        };
                        if tx.send(Ok(ack)).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%peer, "{e:#}");
                        let _ = tx.send(Err(Status::permission_denied(e.to_string()))).await;
                        break;
                    }
                }
            }
            if let Some(node) = bound {
                shared.connect(&node, -1);
                tracing::info!(%node, %peer, "agent disconnected");
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// The gRPC listener's TLS: clients must present a certificate from the fleet CA.
fn tls_config(pki: &Pki, names: &[String]) -> anyhow::Result<rustls::ServerConfig> {
    pki.server_tls(names, false, &[b"h2"])
}

/// The gRPC listener's accepted TLS clients, as tonic's incoming stream.
fn tls_incoming(
    listener: tokio::net::TcpListener,
    cfg: rustls::ServerConfig,
    shared: Arc<Shared>,
) -> impl tokio_stream::Stream<
    Item = std::io::Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>,
> {
    let refused = Arc::new(move || {
        shared.counters.refused.fetch_add(1, Ordering::Relaxed);
    });
    let rx = super::tls_accept::incoming(listener, Arc::new(cfg), "gRPC", refused);
    tokio_stream::StreamExt::map(ReceiverStream::new(rx), |(stream, _)| Ok(stream))
}

/// The coordinator's listeners, bound by the caller (port 0 works: tests run the
/// coordinator in-process).
pub struct Listeners {
    /// Agents, mutual TLS.
    pub grpc: tokio::net::TcpListener,
    /// Agents, plaintext (loopback only; demos).
    pub insecure: Option<tokio::net::TcpListener>,
    /// `/metrics` over TCP.
    pub metrics: Option<tokio::net::TcpListener>,
    /// The read-only Kubernetes API.
    pub kube: Option<tokio::net::TcpListener>,
}

impl Listeners {
    /// Bind the addresses `cfg` names.
    pub async fn bind(cfg: &ServeConfig) -> anyhow::Result<Listeners> {
        async fn bind(addr: SocketAddr, flag: &str) -> anyhow::Result<tokio::net::TcpListener> {
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} ({flag})"))
        }
        if let Some(addr) = cfg.insecure_listen
            && !addr.ip().is_loopback()
        {
            anyhow::bail!(
                "--insecure-listen {addr}: plaintext is only allowed on loopback addresses; agents elsewhere must use TLS (--listen)"
            );
        }
        Ok(Listeners {
            grpc: bind(cfg.listen, "--listen").await?,
            insecure: match cfg.insecure_listen {
                Some(a) => Some(bind(a, "--insecure-listen").await?),
                None => None,
            },
            metrics: match cfg.metrics_listen {
                Some(a) => Some(bind(a, "--metrics-listen").await?),
                None => None,
            },
            kube: match cfg.kube_listen {
                Some(a) => Some(bind(a, "--kube-listen").await?),
                None => None,
            },
        })
    }
}

/// Run the coordinator on `listeners` until `shutdown` resolves (the caller owns signals),
/// then flush the store and remove the local socket.
pub async fn serve(
    cfg: ServeConfig,
    listeners: Listeners,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("cannot create {}", cfg.state_dir.display()))?;
    let pki = Pki::load_or_create(&cfg.state_dir)?;
    let store = SledStore::open(&cfg.state_dir)?;
    let index = super::index::FleetIndex::load(store.reported()?);
    // Watches from a resourceVersion before this start are expired (410): the history is new.
    let hub = super::feed::WatchHub::starting_at(store.next_id()?);
    let shared = Arc::new(Shared {
        store,
        grace: cfg.grace,
        counters: Counters::default(),
        connected: Default::default(),
        hub,
        index: std::sync::RwLock::new(index),
        tunnels: Default::default(),
    });
    let listen = listeners.grpc.local_addr()?;
    let mut names = cfg.server_names.clone();
    names.push(listen.ip().to_string());
    let tls = tls_config(&pki, &names)?;
    let socket = super::api::socket_path(&cfg.state_dir);
    let mut tasks = vec![
        super::api::serve_unix(&socket, shared.clone())
            .await
            .with_context(|| format!("cannot listen on {}", socket.display()))?,
    ];
    if let Some(l) = listeners.metrics {
        tasks.push(super::api::serve_tcp(l, shared.clone()).await?);
    }
    if let Some(l) = listeners.kube {
        let addr = l.local_addr()?;
        tasks.push(
            super::kube::serve(l, &cfg.state_dir, &pki, &cfg.server_names, shared.clone()).await?,
        );
        tracing::info!(%addr, "Kubernetes API (read-only) listening; `podfleet kubeconfig` prints a kubeconfig");
    }
    let svc = || ReportService {
        shared: shared.clone(),
        insecure: false,
    };
    let secure = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .initial_stream_window_size(Some(H2_STREAM_WINDOW))
        .initial_connection_window_size(Some(H2_CONNECTION_WINDOW))
        .add_service(coordinator_server::CoordinatorServer::new(svc()))
        .serve_with_incoming(tls_incoming(listeners.grpc, tls, shared.clone()));
    let insecure = async {
        match listeners.insecure {
            Some(l) => {
                tracing::warn!(addr = ?l.local_addr().ok(), "plaintext listener: agents are NOT authenticated on it");
                tonic::transport::Server::builder()
                    .initial_stream_window_size(Some(H2_STREAM_WINDOW))
                    .initial_connection_window_size(Some(H2_CONNECTION_WINDOW))
                    .add_service(coordinator_server::CoordinatorServer::new(ReportService {
                        shared: shared.clone(),
                        insecure: true,
                    }))
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(l))
                    .await
            }
            None => std::future::pending().await,
        }
    };
    let prune = async {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            match shared
                .store
                .prune_events(cfg.retention, jiff::Timestamp::now())
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!("pruned {n} events"),
                Err(e) => tracing::warn!("cannot prune events: {e:#}"),
            }
        }
    };
    tracing::info!(%listen, state_dir = %cfg.state_dir.display(), "coordinator started");
    let result = tokio::select! {
        r = secure => r.context("gRPC server failed"),
        r = insecure => r.context("plaintext gRPC server failed"),
        _ = prune => Ok(()),
        _ = shutdown => Ok(()),
    };
    for t in tasks {
        t.abort();
    }
    shared.store.flush().await?;
    let _ = std::fs::remove_file(&socket);
    tracing::info!("coordinator stopped");
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    /// Handshake a client holding `client` (or no certificate) against the coordinator's
    /// TLS config; the server side's result.
    async fn handshake(pki: &Pki, client: Option<&pki::Pem>) -> Result<(), String> {
        let server = tls_config(pki, &[]).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pki.ca_cert().as_bytes()).unwrap())
            .unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let cfg = match client {
            Some(c) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(c.cert.as_bytes()).unwrap()],
                    PrivateKeyDer::from_pem_slice(c.key.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        let (a, b) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let name = rustls::pki_types::ServerName::try_from(pki::SERVER_NAME).unwrap();
        let client_side = async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            // TLS 1.3 reports a refused client certificate on the first read.
            let mut s = connector.connect(name, a).await?;
            s.write_all(b"x").await?;
            let mut buf = [0u8; 1];
            let _ = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await;
            Ok::<(), std::io::Error>(())
        };
        let (server_result, _) = tokio::join!(acceptor.accept(b), client_side);
        server_result.map(|_| ()).map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn only_current_certificates_from_our_ca_pass_the_handshake() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path()).unwrap();
        let good = pki.client_cert("n1", 30).unwrap();
        handshake(&pki, Some(&good))
            .await
            .expect("a fresh certificate");
        let expired = pki
            .client_cert_between("n1", pki::days_from_now(-30), pki::days_from_now(-1))
            .unwrap();
        let e = handshake(&pki, Some(&expired)).await.unwrap_err();
        assert!(e.contains("expired"), "{e}");
        let other_dir = tempfile::tempdir().unwrap();
        let other = Pki::load_or_create(other_dir.path()).unwrap();
        let foreign = other.client_cert("n1", 30).unwrap();
        let e = handshake(&pki, Some(&foreign)).await.unwrap_err();
        assert!(
            e.contains("UnknownIssuer") || e.contains("BadSignature"),
            "{e}"
        );
        let e = handshake(&pki, None).await.unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
    }
}
