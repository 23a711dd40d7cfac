//! Container probes: the threshold state machine (pure) and the three probe actions.
//!
//! Defaults and meaning follow the Kubernetes API: `periodSeconds` 10, `timeoutSeconds`
//! 1, `successThreshold` 1, `failureThreshold` 3. httpGet succeeds on 200–399 and, like
//! the kubelet, does not verify HTTPS certificates (`kube-apiserver`'s `/livez` is HTTPS).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerPort, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// Gates the other probes until it succeeds; failure restarts the container.
    Startup,
    /// Failure restarts the container.
    Liveness,
    /// Decides `ready`.
    Readiness,
}

impl ProbeKind {
    /// Name as in events ("Liveness probe failed: …").
    pub fn label(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// What a probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a command in the container; exit 0 is success.
    Exec(Vec<String>),
    /// HTTP GET; 200–399 is success.
    Http {
        /// Host header / address override.
        host: Option<String>,
        /// Port.
        port: u16,
        /// Path.
        path: String,
        /// HTTPS.
        https: bool,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// TCP connect succeeds.
    Tcp {
        /// Host override.
        host: Option<String>,
        /// Port.
        port: u16,
    },
    /// Not supported here (gRPC); always fails with this message.
    Unsupported(String),
}

/// A probe with its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Kind.
    pub kind: ProbeKind,
    /// Action.
    pub action: Action,
    /// Delay before the first probe.
    pub initial_delay: Duration,
    /// Interval.
    pub period: Duration,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Consecutive successes to flip to success.
    pub success_threshold: u32,
    /// Consecutive failures to flip to failure.
    pub failure_threshold: u32,
}

impl ProbeSpec {
    /// From the API type; named ports are resolved against the container's ports.
    pub fn from_api(kind: ProbeKind, p: &Probe, ports: &[ContainerPort]) -> ProbeSpec {
        let port = |v: &IntOrString| -> Result<u16, String> {
            match v {
                IntOrString::Int(i) => {
                    u16::try_from(*i).map_err(|_| format!("port {i} out of range"))
                }
                IntOrString::String(name) => ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .and_then(|p| u16::try_from(p.container_port).ok())
                    .ok_or_else(|| format!("named port {name:?} is not declared by the container")),
            }
        };
        let action = if let Some(e) = &p.exec {
            Action::Exec(e.command.clone().unwrap_or_default())
        } else if let Some(h) = &p.http_get {
            match port(&h.port) {
                Ok(port) => Action::Http {
                    host: h.host.clone(),
                    port,
                    path: h.path.clone().unwrap_or_else(|| "/".into()),
                    https: h.scheme.as_deref() == Some("HTTPS"),
                    headers: h
                        .http_headers
                        .iter()
                        .flatten()
                        .map(|x| (x.name.clone(), x.value.clone()))
                        .collect(),
                },
                Err(e) => Action::Unsupported(e),
            }
        } else if let Some(t) = &p.tcp_socket {
            match port(&t.port) {
                Ok(port) => Action::Tcp {
                    host: t.host.clone(),
                    port,
                },
                Err(e) => Action::Unsupported(e),
            }
        } else {
            Action::Unsupported(
                "grpc probes are not supported by podfleet; use exec, httpGet or tcpSocket".into(),
            )
        };
        let secs = |v: Option<i32>, d: i32| Duration::from_secs(v.unwrap_or(d).max(0) as u64);
        ProbeSpec {
            kind,
            action,
            initial_delay: secs(p.initial_delay_seconds, 0),
            period: secs(p.period_seconds, 10).max(Duration::from_secs(1)),
            timeout: secs(p.timeout_seconds, 1).max(Duration::from_secs(1)),
            success_threshold: p.success_threshold.unwrap_or(1).max(1) as u32,
            failure_threshold: p.failure_threshold.unwrap_or(3).max(1) as u32,
        }
    }

    /// Multiply every duration (test knob `PODFLEET_PROBE_SCALE`).
    pub fn scaled(mut self, f: f64) -> Self {
        let s = |d: Duration| Duration::from_secs_f64(d.as_secs_f64() * f);
        self.initial_delay = s(self.initial_delay);
        self.period = s(self.period);
        self.timeout = s(self.timeout).max(Duration::from_millis(200));
        self
    }
}

/// Consecutive-result thresholds. `result` is None until the first flip.
#[derive(Debug, Clone, Default)]
pub struct ProbeState {
    successes: u32,
    failures: u32,
    /// Current verdict.
    pub result: Option<bool>,
}

impl ProbeState {
    /// Record one attempt; returns the new verdict when it changes.
    pub fn observe(&mut self, spec: &ProbeSpec, ok: bool) -> Option<bool> {
        if ok {
            self.successes += 1;
            self.failures = 0;
            if self.successes >= spec.success_threshold && self.result != Some(true) {
                self.result = Some(true);
                return Some(true);
            }
        } else {
            self.failures += 1;
            self.successes = 0;
            if self.failures >= spec.failure_threshold && self.result != Some(false) {
                self.result = Some(false);
                return Some(false);
            }
        }
        None
    }

    /// Forget failures after an action (a restart) was taken on them.
    pub fn reset(&mut self) {
        *self = ProbeState::default();
    }
}

/// Why a probe failed, as the kubelet words it in the `Unhealthy` event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProbeFailure(pub String);

/// Run an HTTP(S) GET or TCP probe against `ip`. Exec probes go through the runtime.
pub async fn run_network(
    action: &Action,
    ip: IpAddr,
    timeout: Duration,
) -> Result<(), ProbeFailure> {
    network_probe(action, ip, timeout)
        .await
        .map_err(ProbeFailure)
}

async fn network_probe(action: &Action, ip: IpAddr, timeout: Duration) -> Result<(), String> {
    let attempt = async {
        match action {
            Action::Tcp { host, port } => {
                let addr = host.clone().unwrap_or_else(|| ip.to_string());
                tokio::net::TcpStream::connect((addr.as_str(), *port))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("dial tcp {addr}:{port}: {e}"))
            }
            Action::Http {
                host,
                port,
                path,
                https,
                headers,
            } => {
                let addr = host.clone().unwrap_or_else(|| ip.to_string());
                let stream = tokio::net::TcpStream::connect((addr.as_str(), *port))
                    .await
                    .map_err(|e| format!("Get \"http://{addr}:{port}{path}\": dial tcp: {e}"))?;
                let mut req = format!(
                    "GET {path} HTTP/1.1\r\nHost: {addr}:{port}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n"
                );
                for (k, v) in headers {
                    req.push_str(&format!("{k}: {v}\r\n"));
                }
                req.push_str("\r\n");
                let status = if *https {
                    let connector = tokio_rustls::TlsConnector::from(insecure_tls());
                    let name = rustls::pki_types::ServerName::try_from(addr.clone())
                        .map_err(|e| e.to_string())?;
                    let mut tls = connector
                        .connect(name, stream)
                        .await
                        .map_err(|e| format!("TLS handshake: {e}"))?;
                    http_exchange(&mut tls, &req).await?
                } else {
                    let mut s = stream;
                    http_exchange(&mut s, &req).await?
                };
                if (200..400).contains(&status) {
                    Ok(())
                } else {
                    Err(format!("HTTP probe failed with statuscode: {status}"))
                }
            }
            Action::Exec(_) => Err("exec probes run in the runtime".into()),
            Action::Unsupported(m) => Err(m.clone()),
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("probe timed out after {}s", timeout.as_secs_f32())),
    }
}

async fn http_exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    req: &str,
) -> Result<u16, String> {
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 256];
    let mut n = 0;
    while n < 12 {
        let r = s.read(&mut buf[n..]).await.map_err(|e| e.to_string())?;
        if r == 0 {
            break;
        }
        n += r;
    }
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "malformed HTTP response".to_string())
}

fn insecure_tls() -> Arc<rustls::ClientConfig> {
    #[derive(Debug)]
    struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &rustls::pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("tls versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    Arc::new(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(success: u32, failure: u32) -> ProbeSpec {
        ProbeSpec {
            kind: ProbeKind::Liveness,
            action: Action::Tcp {
                host: None,
                port: 1,
            },
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            success_threshold: success,
            failure_threshold: failure,
        }
    }

    #[test]
    fn thresholds() {
        let s = spec(2, 3);
        let mut st = ProbeState::default();
        assert_eq!(st.observe(&s, true), None);
        assert_eq!(st.observe(&s, true), Some(true));
        assert_eq!(st.observe(&s, false), None);
        assert_eq!(st.observe(&s, false), None);
        assert_eq!(
            st.observe(&s, true),
            None,
            "a success resets the failure count"
        );
        assert_eq!(st.observe(&s, false), None);
        assert_eq!(st.observe(&s, false), None);
        assert_eq!(st.observe(&s, false), Some(false));
        assert_eq!(st.observe(&s, false), None, "no repeated flips");
    }

    #[test]
    fn defaults_and_named_ports() {
        let p: Probe = serde_json::from_value(
            serde_json::json!({"httpGet": {"port": "http", "path": "/healthz"}}),
        )
        .unwrap();
        let ports: Vec<ContainerPort> =
            serde_json::from_value(serde_json::json!([{"name": "http", "containerPort": 8080}]))
                .unwrap();
        let s = ProbeSpec::from_api(ProbeKind::Readiness, &p, &ports);
        assert_eq!(s.period, Duration::from_secs(10));
        assert_eq!(s.failure_threshold, 3);
        assert!(matches!(s.action, Action::Http { port: 8080, .. }));
        let s = ProbeSpec::from_api(
            ProbeKind::Readiness,
            &serde_json::from_value(serde_json::json!({"httpGet": {"port": "nope"}})).unwrap(),
            &ports,
        );
        assert!(matches!(s.action, Action::Unsupported(_)));
    }

    #[tokio::test]
    async fn tcp_and_http_probes() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 512];
                let _ = s.read(&mut b).await;
                let _ = s
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(
            run_network(
                &Action::Tcp { host: None, port },
                ip,
                Duration::from_secs(2)
            )
            .await
            .is_ok()
        );
        let http = Action::Http {
            host: None,
            port,
            path: "/".into(),
            https: false,
            headers: vec![],
        };
        let e = run_network(&http, ip, Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(e.0.contains("503"), "{e}");
    }
}
