//! `podfleet push`: write rendered manifests to every selected node.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::fleet::{DesiredState, Fleet};
use crate::push::{self, NodeResult, PushOptions, Reporter, Serial, report};
use crate::store::{FileRev, NodeRevision, Revision, Store};
use crate::transport::ssh::SshOptions;
use crate::transport::target::{TargetDefaults, truthy};

use super::Globals;
use super::common::{color, jobs, print_invalid, select_hosts};

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
    #[command(flatten)]
    pub gate: super::rollout::GateArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Prints host lines (and diffs) as nodes finish.
pub struct PrintReporter {
    /// Print diffs.
    pub diff: bool,
    /// Pruning (changes the stale-file note).
    pub prune: bool,
}

impl Reporter for PrintReporter {
    fn node_done(&self, r: &NodeResult) {
        let c = color();
        if self.diff {
            print!("{}", report::node_diff(r, c));
        }
        println!("{}", report::status_line(r, c));
        for n in report::notes(r, self.prune) {
            eprintln!("{n}");
        }
    }
    fn batch(&self, index: usize, count: usize, nodes: &[String]) {
        println!(
            "\nBATCH {index}/{count} [{}] {}",
            nodes.join(", "),
            "*".repeat(20)
        );
    }
}

/// Everything a push run produced.
pub struct RunOutput {
    /// Per node results.
    pub results: Vec<NodeResult>,
    /// The desired state that was pushed.
    pub state: DesiredState,
    /// Each node's inventory groups.
    pub groups: BTreeMap<String, Vec<String>>,
}

/// Load, render, validate and run (push or check) over the selected hosts.
pub async fn execute(
    g: &Globals,
    opts: &PushOptions,
    conn: &ConnArgs,
    revision: u64,
    reporter: &dyn Reporter,
) -> anyhow::Result<(Fleet, RunOutput)> {
    let fleet = g.fleet()?;
    let hosts = select_hosts(g, &fleet)?;
    let state = fleet.desired_state(&hosts);
    let out = execute_state(&fleet, state, opts, conn, revision, reporter).await?;
    Ok((fleet, out))
}

/// Run (push or check) a given desired state: rendered, or taken from a revision.
pub async fn execute_state(
    fleet: &Fleet,
    state: DesiredState,
    opts: &PushOptions,
    conn: &ConnArgs,
    revision: u64,
    reporter: &dyn Reporter,
) -> anyhow::Result<RunOutput> {
    if state.values().any(|r| r.is_err()) {
        print_invalid(&state);
    }
    let (defaults, ssh) = conn.resolve()?;
    let jobs = jobs(fleet, &state, &defaults);
    let results = push::run_all(jobs, revision, opts, &ssh, reporter).await;
    let groups = state
        .keys()
        .map(|h| (h.clone(), fleet.inventory.host_group_names(h)))
        .collect();
    Ok(RunOutput {
        results,
        state,
        groups,
    })
}

/// After a run: the recap, the revision (unless `--check`), the retry file; the exit code.
pub async fn finish(
    g: &Globals,
    store: Option<&dyn Store>,
    revision: u64,
    command: &str,
    out: &RunOutput,
    took: std::time::Duration,
) -> anyhow::Result<i32> {
    print!("{}", report::recap(&out.results, color()));
    if let Some(store) = store {
        let (mut rev, blobs) = revision_of(revision, command, g.limit.clone(), out);
        rev.duration_ms = took.as_millis() as u64;
        store.save_revision(&rev, &blobs).await?;
        eprintln!("recorded as revision {revision} (podfleet history {revision})");
    }
    if let Some(p) = write_retry(g, &out.results) {
        eprintln!(
            "to retry the failed hosts: podfleet {}push --limit @{}",
            same_inventory_args(g),
            p.display()
        );
    }
    Ok(report::exit_code(&out.results))
}

/// Build the history entry of a run.
pub fn revision_of(
    id: u64,
    command: &str,
    limit: Option<String>,
    out: &RunOutput,
) -> (Revision, Vec<(String, Vec<u8>)>) {
    let mut nodes = BTreeMap::new();
    let mut blobs = Vec::new();
    for r in &out.results {
        let mut files = BTreeMap::new();
        if let Some(Ok(d)) = out.state.get(&r.node) {
            for f in d.files.values() {
                files.insert(
                    f.name.clone(),
                    FileRev {
                        sha256: f.sha256.clone(),
                        template: f.template.clone(),
                        canonical_hash: f.pod.canonical_hash.clone(),
                        pod: f.pod.key(),
                        mode: d.settings.file_mode,
                    },
                );
                blobs.push((f.sha256.clone(), f.bytes.clone()));
            }
        }
        nodes.insert(
            r.node.clone(),
            NodeRevision {
                dir: r.dir.clone(),
                files,
                outcome: r.outcome,
                message: r.message.clone(),
                revision: id,
                groups: out.groups.get(&r.node).cloned().unwrap_or_default(),
                roles: match out.state.get(&r.node) {
                    Some(Ok(d)) => d.settings.roles.clone(),
                    _ => Vec::new(),
                },
            },
        );
    }
    let rev = Revision {
        id,
        time: jiff::Timestamp::now().to_string(),
        user: push::lock_info().owner,
        command: command.to_string(),
        limit,
        nodes,
        duration_ms: 0,
    };
    (rev, blobs)
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
    let reporter = PrintReporter {
        diff: a.diff || a.check,
        prune: a.prune,
    };
    let started = std::time::Instant::now();
    let out = match (store, a.gate.wait) {
        (Some(store), Some(_)) => {
            super::rollout::Rollout {
                g,
                fleet,
                state,
                opts: &opts,
                conn: &a.conn,
                gate: &a.gate,
                revision,
                store,
                reporter: &reporter,
            }
            .run()
            .await?
        }
        _ => execute_state(fleet, state, &opts, &a.conn, revision, &reporter).await?,
    };
    finish(g, store, revision, command, &out, started.elapsed()).await
}
