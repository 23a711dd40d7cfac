//! `podfleet agent`: run the on-node agent, or talk to a running one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::agent::{self, AgentConfig, RuntimeKind, config};

/// Arguments: run flags, or a subcommand.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Agent subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Show this node's pods, phases, restarts and errors (from the running agent).
    Status(StatusArgs),
    /// Stop a pod and start it again with fresh restart counts.
    Restart(RestartArgs),
    /// Print a container's log (kubectl logs's flags: -c, -f, --tail, --since, -p, ...).
    Logs(super::agent_logs::LogsArgs),
    /// Install a client certificate from the coordinator's CA on each node (over SSH).
    Enroll(super::enroll::Args),
    /// Install the agent on each node over SSH: binary, systemd unit, certificate; start it.
    Install(super::install::InstallArgs),
}

/// Flags of the agent itself.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The static pod directory to reconcile (the kubelet's --pod-manifest-path).
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    pub pod_manifest_path: Option<PathBuf>,
    /// A kubelet KubeletConfiguration file; staticPodPath and fileCheckFrequency are used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Node name (default: the hostname, lowercased).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Node IP reported as status.hostIP (default: the address of the default route).
    #[arg(long)]
    pub node_ip: Option<String>,
    /// Container runtime.
    #[arg(long, value_enum, default_value = "docker")]
    pub runtime: RuntimeKind,
    #[command(flatten)]
    pub dir: super::common::AgentDir,
    /// Only read manifests with these extensions (e.g. yaml,yml,json) so backups like
    /// kube-apiserver.yaml.bak are not run. Default: every non-dot file, like the kubelet.
    #[arg(long, value_delimiter = ',', value_name = "EXT,...")]
    pub manifest_extensions: Option<Vec<String>>,
    /// Full re-list interval (Go duration; default 20s, or fileCheckFrequency from --config).
    #[arg(long, value_name = "DURATION")]
    pub file_check_frequency: Option<String>,
    /// Also serve /metrics and the local API on this TCP address.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Report to this coordinator: https://HOST:PORT (mutual TLS with the certificate from
    /// `agent enroll`), or http://127.0.0.1:PORT for a `serve --insecure-listen` demo.
    /// Default: the address `agent enroll` wrote to PKI_DIR/coordinator, if any.
    #[arg(
        long,
        value_name = "URL",
        env = "PODFLEET_COORDINATOR",
        hide_env_values = true
    )]
    pub coordinator: Option<String>,
    /// Where `agent enroll` installed ca.crt, node.crt, node.key and coordinator.
    #[arg(
        long,
        value_name = "DIR",
        env = "PODFLEET_PKI_DIR",
        hide_env_values = true,
        default_value = "/etc/podfleet"
    )]
    pub pki_dir: PathBuf,
    /// Seconds between heartbeats to the coordinator.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub heartbeat_interval: u64,
    /// Multiply back-off durations (testing only).
    #[arg(
        long,
        hide = true,
        env = "PODFLEET_BACKOFF_SCALE",
        hide_env_values = true,
        default_value_t = 1.0
    )]
    pub backoff_scale: f64,
    /// Multiply probe durations (testing only).
    #[arg(
        long,
        hide = true,
        env = "PODFLEET_PROBE_SCALE",
        hide_env_values = true,
        default_value_t = 1.0
    )]
    pub probe_scale: f64,
    /// Rotate a container's log at this size (the kubelet's containerLogMaxSize).
    #[arg(long, value_name = "SIZE", default_value = "10Mi", value_parser = agent::logs::parse_size)]
    pub container_log_max_size: u64,
    /// Log files kept per container run, the current one included (containerLogMaxFiles).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..))]
    pub container_log_max_files: u16,
}

/// `agent status` flags.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub dir: super::common::AgentDir,
    /// Output format.
    #[arg(short = 'o', long, value_parser = ["table", "json", "yaml"], default_value = "table")]
    pub output: String,
}

/// `agent restart` flags.
#[derive(Debug, clap::Args)]
pub struct RestartArgs {
    /// NAMESPACE/NAME of the pod (manifest name or mirror name).
    pub pod: String,
    #[command(flatten)]
    pub dir: super::common::AgentDir,
}

/// Run.
pub async fn run(g: &super::Globals, a: Args) -> anyhow::Result<i32> {
    match a.action {
        Some(Action::Enroll(e)) => super::enroll::run(g, e).await,
        Some(Action::Install(i)) => super::install::run(g, i).await,
        Some(Action::Status(s)) => status(s).await,
        Some(Action::Logs(l)) => super::agent_logs::run(l).await,
        Some(Action::Restart(r)) => {
            let sock = r.dir.socket();
            let (ns, name) = r.pod.split_once('/').unwrap_or(("default", r.pod.as_str()));
            let (code, body) =
                agent::api::unix_request(&sock, "POST", &format!("/v1/pods/{ns}/{name}/restart"))
                    .await?;
            print!("{}", String::from_utf8_lossy(&body));
            Ok(if code == 200 { 0 } else { 1 })
        }
        None => run_agent(a.run).await,
    }
}

async fn run_agent(r: RunArgs) -> anyhow::Result<i32> {
    let (dir, freq) = match (&r.pod_manifest_path, &r.config) {
        (Some(d), _) => (d.clone(), None),
        (None, Some(f)) => config::kubelet_config(f)?,
        (None, None) => {
            anyhow::bail!("give --pod-manifest-path DIR or --config KUBELET_CONFIG_FILE")
        }
    };
    let resync = match &r.file_check_frequency {
        Some(s) => config::parse_go_duration(s).ok_or_else(|| {
            anyhow::anyhow!("--file-check-frequency {s:?} is not a duration like 20s")
        })?,
        None => freq.unwrap_or(Duration::from_secs(20)),
    };
    let node_ip = r.node_ip.clone().unwrap_or_else(config::default_node_ip);
    let coordinator = match r.coordinator.clone() {
        Some(c) => Some(c),
        None => std::fs::read_to_string(r.pki_dir.join("coordinator"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
    };
    let report = match coordinator {
        None => None,
        Some(endpoint) => {
            let endpoint = super::common::coordinator_url(&endpoint);
            let tls = if endpoint.starts_with("https://") {
                Some(agent::reporter::ClientTls::load(&r.pki_dir)?)
            } else {
                None
            };
            Some(agent::reporter::ReportConfig {
                endpoint,
                tls,
                heartbeat: Duration::from_secs(r.heartbeat_interval.max(1)),
                snapshot_every: Duration::from_secs(300),
                node_ip: node_ip.clone(),
                node_info: Default::default(),
            })
        }
    };
    let cfg = AgentConfig {
        manifest_dir: dir,
        node_name: r
            .node_name
            .map(|n| n.to_lowercase())
            .unwrap_or_else(config::default_node_name),
        node_ip,
        runtime: r.runtime,
        state_dir: r.dir.path(),
        extensions: r.manifest_extensions.map(|v| {
            v.into_iter()
                .map(|e| e.trim_start_matches('.').to_string())
                .collect()
        }),
        resync: resync.max(Duration::from_millis(100)),
        metrics_listen: r.metrics_listen,
        backoff_scale: r.backoff_scale,
        probe_scale: r.probe_scale,
        report,
        container_logs: agent::logs::LogLimits {
            max_size: r.container_log_max_size,
            max_files: usize::from(r.container_log_max_files),
        },
    };
    agent::run(cfg, crate::signals::terminated()).await?;
    Ok(0)
}

async fn status(s: StatusArgs) -> anyhow::Result<i32> {
    let sock = s.dir.socket();
    let (code, body) = agent::api::unix_request(&sock, "GET", "/v1/status").await?;
    if code != 200 {
        anyhow::bail!("agent answered {code}: {}", String::from_utf8_lossy(&body));
    }
    let snap: agent::state::Snapshot = serde_json::from_slice(&body)?;
    match s.output.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&snap)?),
        "yaml" => print!("{}", serde_yaml::to_string(&snap)?),
        _ => {
            println!(
                "node {}  runtime {}  agent {}  up since {}",
                snap.node, snap.runtime, snap.version, snap.started_at
            );
            let mut t = super::table::new();
            t.set_header([
                "NAMESPACE",
                "NAME",
                "READY",
                "STATUS",
                "RESTARTS",
                "FILE",
                "LAST ERROR",
            ]);
            for p in &snap.pods {
                let status = p.status.clone();
                t.add_row([
                    p.namespace.clone(),
                    p.name.clone(),
                    format!("{}/{}", p.ready, p.total),
                    status,
                    p.restarts.to_string(),
                    p.file.rsplit('/').next().unwrap_or(&p.file).to_string(),
                    p.last_error.clone().unwrap_or_default(),
                ]);
            }
            println!("{}", super::table::render(t));
            for i in &snap.issues {
                println!("manifest {}: {}", i.file, i.message);
            }
        }
    }
    Ok(0)
}
