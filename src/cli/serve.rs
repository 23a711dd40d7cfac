//! `podfleet serve`: run the coordinator.

use std::net::SocketAddr;
use std::time::Duration;

use crate::agent::config::parse_go_duration;
use crate::coordinator::server::{Listeners, ServeConfig, serve};
use crate::signals::terminated;
use crate::store::EventRetention;

use super::Globals;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// gRPC address for agents (mutual TLS with certificates from `agent enroll`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7443")]
    pub listen: SocketAddr,
    /// Also accept unauthenticated plaintext agents here; loopback addresses only (demos).
    #[arg(long, value_name = "ADDR")]
    pub insecure_listen: Option<SocketAddr>,
    /// A node is NotReady after this long without a heartbeat (Go duration).
    #[arg(
        long,
        value_name = "DURATION",
        env = "PODFLEET_NODE_GRACE",
        hide_env_values = true,
        default_value = "40s"
    )]
    pub node_grace: String,
    /// Most events kept.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub event_limit: usize,
    /// Events older than this are dropped (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub event_ttl: String,
    /// Extra DNS names or IPs for the serving certificate (the address agents dial).
    #[arg(long = "tls-san", value_name = "NAME")]
    pub tls_san: Vec<String>,
    /// Also serve /metrics on this TCP address.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Address of the read-only Kubernetes API for kubectl (`podfleet kubeconfig`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7444")]
    pub kube_listen: SocketAddr,
    /// Do not serve the Kubernetes API.
    #[arg(long)]
    pub no_kube_api: bool,
}

fn duration(flag: &str, s: &str) -> anyhow::Result<Duration> {
    parse_go_duration(s)
        .ok_or_else(|| anyhow::anyhow!("{flag} {s:?} is not a duration like 40s, 5m or 1h"))
}

/// Run until SIGTERM/SIGINT.
pub async fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let cfg = ServeConfig {
        listen: a.listen,
        insecure_listen: a.insecure_listen,
        state_dir: g.state_dir(),
        grace: duration("--node-grace", &a.node_grace)?,
        retention: EventRetention {
            max_count: a.event_limit,
            max_age: duration("--event-ttl", &a.event_ttl)?,
        },
        server_names: a.tls_san,
        metrics_listen: a.metrics_listen,
        kube_listen: (!a.no_kube_api).then_some(a.kube_listen),
    };
    let listeners = Listeners::bind(&cfg).await?;
    serve(cfg, listeners, terminated()).await?;
    Ok(0)
}
