//! The on-node agent: reconciles a manifest directory into running pods with kubelet
//! semantics and reports their state.
//!
//! watcher (notify + periodic re-list) → source (parse, validate, identity) → reconciler
//! (desired vs running) → one worker per pod → runtime (docker | process). Workers publish
//! into [`state::AgentState`], which the local API, metrics and the coordinator reporter read.

pub mod api;
pub mod backoff;
pub mod config;
pub mod logs;
pub mod node_info;
pub mod phase;
pub mod pod;
pub mod pod_logs;
pub mod probe;
pub mod reconciler;
pub mod reporter;
pub mod runtime;
pub mod source;
pub mod state;
pub mod status;
pub mod tunnel;
pub mod usage;
pub mod watcher;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;

use backoff::BackoffPolicy;
pub use config::{AgentConfig, RuntimeKind};
use runtime::Runtime;
use state::AgentState;

/// Open the configured runtime.
pub async fn open_runtime(
    kind: RuntimeKind,
    node: &str,
    state_dir: &std::path::Path,
) -> anyhow::Result<Arc<dyn Runtime>> {
    Ok(match kind {
        RuntimeKind::Docker => Arc::new(runtime::docker::DockerRuntime::connect(node).await?),
        RuntimeKind::Process => {
            let exe = std::env::current_exe()
                .context("cannot find the podfleet binary for the process shim")?;
            Arc::new(runtime::process::ProcessRuntime::new(state_dir, exe)?)
        }
    })
}

/// Run the agent until `shutdown` resolves (the CLI passes SIGTERM/SIGINT). Pods keep
/// running after it returns.
pub async fn run(
    cfg: AgentConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("cannot create state dir {}", cfg.state_dir.display()))?;
    let rt = open_runtime(cfg.runtime, &cfg.node_name, &cfg.state_dir).await?;
    let state = Arc::new(AgentState::new(&cfg.node_name, rt.name()));
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let socket = cfg.state_dir.join("agent.sock");
    // Background tasks, stopped when the agent stops (in-process runs leave nothing behind).
    let mut tasks = vec![
        api::serve_unix(&socket, state.clone(), req_tx.clone(), rt.clone())
            .await
            .with_context(|| format!("cannot listen on {}", socket.display()))?,
    ];
    if let Some(addr) = cfg.metrics_listen {
        tasks.push(
            api::serve_tcp(addr, state.clone(), req_tx.clone(), rt.clone())
                .await
                .with_context(|| format!("cannot listen on {addr}"))?,
        );
    }
    let node_info = node_info::gather(&cfg.state_dir, rt.version().await);
    if let Some(mut r) = cfg.report.clone() {
        r.node_info = node_info;
        tasks.push(reporter::spawn(r.clone(), state.clone()));
        tasks.push(tunnel::spawn(r, state.clone(), rt.clone()));
    }
    let existing = loop {
        match rt.list().await {
            Ok(l) => break l,
            Err(e) => {
                tracing::warn!("cannot list containers yet: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let ctx = worker::WorkerCtx {
        runtime: rt.clone(),
        state: state.clone(),
        crash_backoff: BackoffPolicy::CRASH_LOOP.scaled(cfg.backoff_scale),
        image_backoff: BackoffPolicy::IMAGE_PULL.scaled(cfg.backoff_scale),
        volumes_root: cfg.state_dir.join("volumes"),
        logs_root: cfg.state_dir.clone(),
        log_limits: cfg.container_logs,
        host_ip: Some(cfg.node_ip.clone()),
        done: done_tx,
    };
    let (parsed_tx, parsed_rx) = mpsc::unbounded_channel();
    let source = source::Source::new(&cfg.manifest_dir, &cfg.node_name, cfg.extensions.clone())
        .with_background_parsing(parsed_tx);
    for skipped in source.skipped_by_extension() {
        tracing::info!(file = %skipped, "not a manifest by --manifest-extensions; ignored (the kubelet would read it)");
    }
    let reconciler = reconciler::Reconciler::new(
        source,
        &cfg.node_name,
        ctx,
        existing,
        &cfg.state_dir,
        cfg.probe_scale,
    );
    let (watch_tx, watch_rx) = mpsc::unbounded_channel();
    tasks.push(watcher::spawn(cfg.manifest_dir.clone(), watch_tx));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    tracing::info!(node = %cfg.node_name, dir = %cfg.manifest_dir.display(), runtime = rt.name(), "agent started");
    reconciler
        .run(watch_rx, parsed_rx, done_rx, req_rx, cfg.resync, stop_rx)
        .await;
    for t in tasks {
        t.abort();
    }
    let _ = std::fs::remove_file(&socket);
    tracing::info!("agent stopped; pods keep running");
    Ok(())
}

/// Default state directory of the agent.
pub fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/podfleet-agent")
}
