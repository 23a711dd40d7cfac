//! `podfleet push`: write rendered manifests to every selected node.

use std::path::PathBuf;
use std::time::Duration;

use crate::fleet::{DesiredState, Fleet};
use crate::push::{self, NodeResult, PushOptions, Serial, report};
use crate::rollout::record::revision_of;
use crate::rollout::{Gate, Reporter, Rollout, RunOutput};
use crate::store::{NodeOutcome, Store};
use crate::transport::ssh::SshOptions;
use crate::transport::target::{TargetDefaults, truthy};

use super::Globals;
use super::common::{color, select_hosts};
use super::reporters::{self, err};

/// Connection options shared by diff and push.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnArgs {
    /// Nodes handled at once.
    #[arg(
        short = 'f',
        long,
        env = "ANSIBLE_FORKS",
        hide_env_values = true,
        default_value_t = 25
    )]
    pub forks: usize,
    /// SSH connect timeout in seconds (ansible_ssh_timeout per host wins).
    #[arg(
        short = 'T',
        long,
        env = "ANSIBLE_TIMEOUT",
        hide_env_values = true,
        default_value_t = 10
    )]
    pub timeout: u64,
    /// Record host keys of hosts not yet in known_hosts (StrictHostKeyChecking=accept-new).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// known_hosts file to use instead of ~/.ssh/known_hosts.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Ask for the privilege escalation (sudo/su) password.
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,
}

impl ConnArgs {
    /// Target defaults and ssh options from these flags and the environment.
    pub fn resolve(&self) -> anyhow::Result<(TargetDefaults, SshOptions)> {
        let become_password = if self.ask_become_pass {
            Some(crate::term::prompt_hidden("BECOME password: ")?)
        } else {
            None
        };
        let env_check = std::env::var("ANSIBLE_HOST_KEY_CHECKING")
            .ok()
            .map(|v| truthy(&serde_json::Value::from(v)));
        let defaults = TargetDefaults {
            timeout: Duration::from_secs(self.timeout),
            accept_new: self.accept_new_host_keys,
            env_host_key_checking: env_check,
            become_password,
        };
        let ssh = SshOptions {
            known_hosts: self.known_hosts.clone(),
            ..SshOptions::default()
        };
        Ok((defaults, ssh))
    }
}

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show what would change, write nothing (prints diffs).
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Print unified diffs of the changes.
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// Delete files podfleet wrote earlier that are no longer desired (never foreign files).
    #[arg(long)]
    pub prune: bool,
    /// Push in batches of N hosts or N% of hosts; stop after a batch with failures.
    #[arg(long, value_name = "N|N%")]
    pub serial: Option<Serial>,
    /// Remove a node lock left by another (e.g. killed) push.
    #[arg(long)]
    pub break_lock: bool,
    /// Seconds to wait for a node locked by another live push.
    #[arg(long, default_value_t = 60)]
    pub lock_timeout: u64,
    /// Output: `text` (Ansible-style) or `json` (one object per line and event).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[command(flatten)]
    pub gate: GateArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Health-gate flags of push (and rollback).
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// After writing, wait until each node runs the new pods Running and Ready, as its agent
    /// reports to the coordinator (default 120 s). Needs a running `podfleet serve`.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "120")]
    pub wait: Option<u64>,
    /// A node not healthy within --wait gets its previous revision's files back.
    #[arg(long, requires = "wait")]
    pub rollback_on_failure: bool,
    /// With --serial: stop after a batch in which more than this percentage of nodes failed
    /// (like Ansible's max_fail_percentage; default 0: any failure stops).
    #[arg(long, value_name = "PERCENT")]
    pub max_fail_percent: Option<u32>,
}

/// How a run is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Ansible-style host lines, diffs and the PLAY RECAP.
    Text,
    /// One JSON object per line and event, then a `recap` line (for scripts).
    Json,
}

/// After a run: the recap, the revision (unless `--check`), the retry file; the exit code.
pub async fn finish(
    g: &Globals,
    store: Option<&dyn Store>,
    revision: u64,
    command: &str,
    out: &RunOutput,
    took: std::time::Duration,
    output: Output,
) -> anyhow::Result<i32> {
    if output == Output::Text {
        reporters::out(&report::recap(&out.results, color()));
    }
    if let Some(store) = store {
        let (mut rev, blobs) = revision_of(revision, command, g.limit.clone(), out);
        rev.duration_ms = took.as_millis() as u64;
        store.save_revision(&rev, &blobs).await?;
        err(&format!(
            "recorded as revision {revision} (podfleet history {revision})\n"
        ));
    }
    let retry = write_retry(g, &out.results);
    if let Some(p) = &retry {
        err(&format!(
            "to retry the failed hosts: podfleet {}push --limit @{}\n",
            same_inventory_args(g),
            p.display()
        ));
    }
    let code = report::exit_code(&out.results);
    if output == Output::Json {
        let count = |o: NodeOutcome| out.results.iter().filter(|r| r.outcome == o).count();
        let recap = serde_json::json!({
            "event": "recap",
            "revision": store.map(|_| revision),
            "ok": count(NodeOutcome::Ok),
            "changed": count(NodeOutcome::Changed),
            "failed": count(NodeOutcome::Failed),
            "unreachable": count(NodeOutcome::Unreachable),
            "rolled_back": count(NodeOutcome::RolledBack),
            "skipped": count(NodeOutcome::Skipped),
            "retry_file": retry,
            "exit_code": code,
            "duration_ms": took.as_millis() as u64,
        });
        reporters::out(&format!("{recap}\n"));
    }
    Ok(code)
}

/// Push options from arguments.
pub fn options(a: &Args) -> PushOptions {
    PushOptions {
        check: a.check,
        prune: a.prune,
        forks: a.conn.forks,
        serial: a.serial,
        break_lock: a.break_lock,
        lock_timeout: Duration::from_secs(a.lock_timeout),
        lock: push::lock_info(),
    }
}

/// The `-i` and `--state-dir` flags of this run, to repeat in a hint (shell-quoted).
fn same_inventory_args(g: &Globals) -> String {
    let mut out = String::new();
    let quote =
        |p: &std::path::Path| shlex::try_quote(&p.to_string_lossy()).map(|q| q.into_owned());
    for i in &g.inventory {
        if let Ok(q) = quote(i) {
            out.push_str(&format!("-i {q} "));
        }
    }
    if let Some(d) = &g.state_dir
        && let Ok(q) = quote(d)
    {
        out.push_str(&format!("--state-dir {q} "));
    }
    out
}

/// Write the names of failed hosts where `--limit @FILE` can use them; remove the file
/// when nothing failed.
pub fn write_retry(g: &Globals, results: &[NodeResult]) -> Option<PathBuf> {
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.outcome.applied() && r.outcome != crate::store::NodeOutcome::Skipped)
        .map(|r| r.node.as_str())
        .collect();
    let path = g.state_dir().join("last-push.retry");
    if failed.is_empty() {
        // A run with nothing to retry leaves no stale list behind (as Ansible's .retry).
        let _ = std::fs::remove_file(&path);
        return None;
    }
    std::fs::create_dir_all(g.state_dir()).ok()?;
    std::fs::write(&path, failed.join("\n") + "\n").ok()?;
    Some(path)
}

/// Run.
pub async fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    // Select and render before reserving a revision: a push that matches no host consumes
    // none. The store is still opened before any node is touched: a push must be recordable.
    let fleet = g.fleet()?;
    let hosts = select_hosts(g, &fleet)?;
    let state = fleet.desired_state(&hosts);
    let store: Option<Box<dyn Store>> = if a.check {
        None
    } else {
        Some(g.store().await?)
    };
    let mut command = "push".to_string();
    if a.prune {
        command.push_str(" --prune");
    }
    push_state(g, &fleet, state, &a, &command, store.as_deref()).await
}

/// Push `state` (rendered by push, or an earlier revision's files for rollback) as a new
/// revision recorded in `store` (None with `--check`), health-gated when `--wait` is given.
pub async fn push_state(
    g: &Globals,
    fleet: &Fleet,
    state: DesiredState,
    a: &Args,
    command: &str,
    store: Option<&dyn Store>,
) -> anyhow::Result<i32> {
    let opts = options(a);
    let revision = match store {
        Some(s) => s.next_revision_id().await?,
        None => 0,
    };
    if state.values().any(Result::is_err) {
        super::common::print_invalid(&state);
    }
    let lines = super::reporters::Lines::new(a.diff || a.check, a.prune, false);
    let reporter: &dyn Reporter = match a.output {
        Output::Text => &lines,
        Output::Json => &super::reporters::JsonLines,
    };
    let connect = a.conn.resolve()?;
    let started = std::time::Instant::now();
    let out = Rollout {
        fleet,
        state,
        opts: &opts,
        connect: &connect,
        gate: Gate {
            wait: a.gate.wait.map(Duration::from_secs),
            rollback_on_failure: a.gate.rollback_on_failure,
            max_fail_percent: a.gate.max_fail_percent.unwrap_or(0),
            coordinator: g.state_dir(),
        },
        revision,
        store,
    }
    .run(reporter)
    .await?;
    finish(
        g,
        store,
        revision,
        command,
        &out,
        started.elapsed(),
        a.output,
    )
    .await
}
