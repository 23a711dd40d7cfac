//! `podfleet kubeconfig`: a kubeconfig for the coordinator's read-only Kubernetes API.

use base64::Engine as _;

use crate::coordinator::pki::Pki;

use super::Globals;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// API server address (default: the --kube-listen of the running coordinator).
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// Authenticate with the bearer token instead of a client certificate.
    #[arg(long)]
    pub token: bool,
    /// Client certificate lifetime in days.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub valid_days: i64,
}

/// Print the kubeconfig.
pub fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let state = g.state_dir();
    let pki = Pki::load(&state)?;
    let server = match a.server {
        Some(s) => s,
        None => std::fs::read_to_string(state.join("kube-addr"))
            .map(|s| s.trim().to_string())
            .map_err(|_| {
                anyhow::anyhow!(
                    "no Kubernetes API address known in {} (start `podfleet serve`, or give --server HOST:PORT)",
                    state.display()
                )
            })?,
    };
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let user = if a.token {
        format!("    token: {}\n", crate::coordinator::kube::token(&state)?)
    } else {
        let pem = pki.client_cert(crate::coordinator::pki::ADMIN_IDENTITY, a.valid_days)?;
        format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&pem.cert),
            b64(&pem.key)
        )
    };
    print!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: podfleet\n  cluster:\n    server: https://{server}\n    certificate-authority-data: {}\n    tls-server-name: {}\nusers:\n- name: podfleet-admin\n  user:\n{user}contexts:\n- name: podfleet\n  context:\n    cluster: podfleet\n    user: podfleet-admin\ncurrent-context: podfleet\n",
        b64(pki.ca_cert()),
        crate::rpc::SERVER_NAME,
    );
    Ok(0)
}
