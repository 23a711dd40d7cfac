//! The coordinator's certificate authority (rcgen): created at first `serve` in
//! `<state-dir>/pki/`, it signs the coordinator's serving certificate and one client
//! certificate per node (`agent enroll`), whose common name is the node name.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// The DNS name agents expect in the coordinator's certificate, whatever address they dial.
pub use crate::rpc::SERVER_NAME;

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct Pem {
    /// Certificate.
    pub cert: String,
    /// Private key.
    pub key: String,
}

/// The CA on disk.
pub struct Pki {
    dir: PathBuf,
    ca: Pem,
}

/// Write a file atomically with mode 0600 (keys and certificates).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

impl Pki {
    /// Directory of the CA under a state dir.
    pub fn dir_in(state_dir: &Path) -> PathBuf {
        state_dir.join("pki")
    }

    /// Load the CA from `<state-dir>/pki`, creating it (10 years) if absent.
    pub fn load_or_create(state_dir: &Path) -> anyhow::Result<Pki> {
        let dir = Self::dir_in(state_dir);
        if dir.join("ca.crt").exists() {
            return Self::load(state_dir);
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name("podfleet CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = years_from_now(10);
        let cert = params.self_signed(&key)?;
        let ca = Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        };
        write_private(&dir.join("ca.key"), ca.key.as_bytes())?;
        write_private(&dir.join("ca.crt"), ca.cert.as_bytes())?;
        tracing::info!(dir = %dir.display(), "created the fleet certificate authority");
        Ok(Pki { dir, ca })
    }

    /// Load an existing CA; a clear error when `serve` never ran with this state dir.
    pub fn load(state_dir: &Path) -> anyhow::Result<Pki> {
        let dir = Self::dir_in(state_dir);
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f)).with_context(|| {
                format!(
                    "cannot read {} (run `podfleet serve` once with this --state-dir to create the CA)",
                    dir.join(f).display()
                )
            })
        };
        Ok(Pki {
            ca: Pem {
                cert: read("ca.crt")?,
                key: read("ca.key")?,
            },
            dir,
        })
    }

    /// The CA certificate (PEM).
    pub fn ca_cert(&self) -> &str {
        &self.ca.cert
    }

    /// Where the CA lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn issuer(&self) -> anyhow::Result<Issuer<'static, KeyPair>> {
        let key = KeyPair::from_pem(&self.ca.key).context("the CA key is unreadable")?;
        Ok(Issuer::from_ca_cert_pem(&self.ca.cert, key)?)
    }

    /// A serving certificate for the coordinator: valid for [`SERVER_NAME`], `localhost`,
    /// loopback and the given extra names/addresses.
    pub fn server_cert(&self, extra: &[String]) -> anyhow::Result<Pem> {
        let mut names = vec![SERVER_NAME.to_string(), "localhost".to_string()];
        names.extend(extra.iter().cloned());
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        for n in names {
            let san = match n.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(n.as_str().try_into()?),
            };
            if !params.subject_alt_names.contains(&san) {
                params.subject_alt_names.push(san);
            }
        }
        for ip in ["127.0.0.1", "::1"] {
            let san = SanType::IpAddress(ip.parse()?);
            if !params.subject_alt_names.contains(&san) {
                params.subject_alt_names.push(san);
            }
        }
        params.distinguished_name = name(SERVER_NAME);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = days_from_now(-1);
        params.not_after = years_from_now(1);
        self.sign(params)
    }

    /// A client certificate whose common name is `identity` (a node name, or `admin`).
    pub fn client_cert(&self, identity: &str, valid_days: i64) -> anyhow::Result<Pem> {
        self.client_cert_between(identity, days_from_now(-1), days_from_now(valid_days))
    }

    /// A node's (agent's) client certificate. Refuses the administrator's identity: a
    /// node by that name would read the whole fleet.
    pub fn node_cert(&self, node: &str, valid_days: i64) -> anyhow::Result<Pem> {
        if node == ADMIN_IDENTITY {
            anyhow::bail!(
                "a node cannot be called {ADMIN_IDENTITY:?}: that is the administrator's certificate name; rename the host (or set its node name)"
            );
        }
        self.client_cert(node, valid_days)
    }

    /// A client certificate with an explicit validity window (tests use an expired one).
    pub fn client_cert_between(
        &self,
        identity: &str,
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> anyhow::Result<Pem> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(identity);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = not_before;
        params.not_after = not_after;
        self.sign(params)
    }

    /// A rustls server configuration with a fresh serving certificate for `names`. Client
    /// certificates must come from this CA; with `clients_optional`, a client may also
    /// present none (the Kubernetes API then wants a bearer token).
    pub fn server_tls(
        &self,
        names: &[String],
        clients_optional: bool,
        alpn: &[&[u8]],
    ) -> anyhow::Result<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let serving = self.server_cert(names)?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca_cert().as_bytes())?)?;
        let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            provider.clone(),
        );
        if clients_optional {
            verifier = verifier.allow_unauthenticated();
        }
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier.build()?)
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(serving.cert.as_bytes())?],
                PrivateKeyDer::from_pem_slice(serving.key.as_bytes())?,
            )?;
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(cfg)
    }

    fn sign(&self, params: CertificateParams) -> anyhow::Result<Pem> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "podfleet");
    dn
}

/// A time `days` from now (negative: in the past).
pub fn days_from_now(days: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(days)
}

fn years_from_now(years: i64) -> time::OffsetDateTime {
    days_from_now(365 * years)
}

/// The common name of the administrator's client certificate (`podfleet kubeconfig`). No
/// node may be called this (`agent enroll` refuses it).
pub const ADMIN_IDENTITY: &str = "podfleet-admin";

/// The identity (common name) of a client certificate.
pub fn identity_of(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_persists_and_signs_client_certs_naming_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path()).unwrap();
        let again = Pki::load_or_create(dir.path()).unwrap();
        assert_eq!(pki.ca_cert(), again.ca_cert(), "the CA is created once");
        let mode = std::fs::metadata(dir.path().join("pki/ca.key")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        let c = pki.client_cert("edge-7", 30).unwrap();
        let der = rustls_pki_der(&c.cert);
        assert_eq!(identity_of(&der).as_deref(), Some("edge-7"));
    }

    fn rustls_pki_der(pem: &str) -> Vec<u8> {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        p.contents
    }
}
