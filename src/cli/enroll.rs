//! `podfleet agent enroll`: give each node a client certificate from the fleet CA over SSH
//! (the channel already trusted), with the CA and the coordinator's address.

use crate::coordinator::pki::Pki;
use crate::transport::{self, nodefs};

use super::Globals;
use super::common::{coordinator_url, on_node, print_host_results, run_jobs, select_hosts};
use super::push::ConnArgs;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Coordinator address the agents dial (HOST:PORT; must match --listen/--tls-san of serve).
    #[arg(long, value_name = "HOST:PORT")]
    pub coordinator: String,
    /// Certificate lifetime in days.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub valid_days: i64,
    /// Show what would be installed, change nothing.
    #[arg(short = 'C', long)]
    pub check: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// The node directory for the agent's credentials: `podfleet_config_dir`, else /etc/podfleet.
pub fn config_dir(vars: &serde_json::Map<String, serde_json::Value>) -> String {
    vars.get("podfleet_config_dir")
        .and_then(|v| v.as_str())
        .unwrap_or("/etc/podfleet")
        .trim_end_matches('/')
        .to_string()
}

/// The files enrolment installs in `dir`: CA, certificate, key and coordinator address, 0600.
pub fn credentials(
    dir: &str,
    pki: &Pki,
    coordinator: &str,
    cert: String,
    key: String,
) -> Vec<(String, Vec<u8>, u32)> {
    vec![
        (
            format!("{dir}/ca.crt"),
            pki.ca_cert().as_bytes().to_vec(),
            0o600,
        ),
        (format!("{dir}/node.crt"), cert.into_bytes(), 0o600),
        (format!("{dir}/node.key"), key.into_bytes(), 0o600),
        (
            format!("{dir}/coordinator"),
            format!("{coordinator}\n").into_bytes(),
            0o600,
        ),
    ]
}

/// Run.
pub async fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let fleet = g.fleet()?;
    let hosts = select_hosts(g, &fleet)?;
    let pki = Pki::load(&g.state_dir())?;
    let (defaults, ssh) = a.conn.resolve()?;
    let coordinator = coordinator_url(&a.coordinator);
    let jobs = hosts.iter().map(|host| {
        let (vars, target) = crate::rollout::jobs::host_target(&fleet, host, &defaults);
        let dir = config_dir(&vars);
        let (pki, ssh, coordinator) = (&pki, &ssh, &coordinator);
        let work = async move {
            if a.check {
                let msg =
                    format!("would install ca.crt, node.crt, node.key, coordinator into {dir}");
                return Ok((false, msg));
            }
            on_node(target, ssh, async |t| {
                let pem = pki
                    .node_cert(host, a.valid_days)
                    .map_err(|e| transport::TransportError::Failed(e.to_string()))?;
                let files = credentials(&dir, pki, coordinator, pem.cert, pem.key);
                nodefs::install_files(t, &files).await?;
                Ok((true, format!("certificate for {host} installed in {dir}")))
            })
            .await
        };
        (host.clone(), work)
    });
    let results = run_jobs(jobs, a.conn.forks).await;
    Ok(print_host_results(results))
}
