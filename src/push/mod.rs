//! Run a plan over many nodes in parallel: forks, serial batches, progress, results.

pub mod node;
pub mod report;

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Semaphore;

use crate::nodedir::LockInfo;
use crate::plan::WantedFile;
use crate::store::NodeOutcome;
use crate::transport::Target;
use crate::transport::ssh::SshOptions;
pub use node::NodeResult;

/// Options of a push or check run.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Compute and report, write nothing.
    pub check: bool,
    /// Delete managed files that are no longer desired.
    pub prune: bool,
    /// Nodes handled at once.
    pub forks: usize,
    /// Batch size for rolling pushes.
    pub serial: Option<Serial>,
    /// Remove an existing node lock.
    pub break_lock: bool,
    /// How long to wait for a node lock held by a live push.
    pub lock_timeout: Duration,
    /// Who we are, written into node locks.
    pub lock: LockInfo,
}

/// `--serial N` or `--serial N%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serial {
    /// Batches of N hosts.
    Count(usize),
    /// Batches of N percent of the hosts (at least one).
    Percent(u32),
}

impl std::str::FromStr for Serial {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("--serial takes a number or a percentage like 25%, got {s:?}");
        match s.strip_suffix('%') {
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p > 0 && *p <= 100)
                .map(Serial::Percent)
                .ok_or_else(bad),
            None => s
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .map(Serial::Count)
                .ok_or_else(bad),
        }
    }
}

impl Serial {
    /// Batch size for `total` hosts.
    pub fn batch_size(self, total: usize) -> usize {
        match self {
            Serial::Count(n) => n.max(1),
            Serial::Percent(p) => ((total * p as usize) / 100).max(1),
        }
    }
}

/// One node's work: where to connect, which directory, which files (or why not).
#[derive(Debug, Clone)]
pub struct NodeJob {
    /// Inventory name.
    pub node: String,
    /// Connection settings, or why they are invalid.
    pub target: Result<Target, String>,
    /// Manifest directory.
    pub dir: String,
    /// Desired files, or the validation errors that keep this node from being pushed.
    pub wanted: Result<Vec<WantedFile>, Vec<String>>,
}

/// Who this run is, for locks and history.
pub fn lock_info() -> LockInfo {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    let mut run = [0u8; 8];
    let _ = getrandom::fill(&mut run);
    LockInfo {
        owner: format!("{}@{}", crate::transport::target::local_user(), host),
        host,
        pid: std::process::id(),
        since: jiff::Timestamp::now().to_string(),
        run: hex::encode(run),
    }
}

/// Callbacks for output as nodes finish.
pub trait Reporter: Send + Sync {
    /// A node finished.
    fn node_done(&self, result: &NodeResult);
    /// A batch of a serial run is starting.
    fn batch(&self, _index: usize, _count: usize, _nodes: &[String]) {}
}

/// Run jobs with at most `forks` at once, in serial batches if requested. A failing node
/// never stops the others; a failing serial batch stops the batches after it.
pub async fn run_all(
    jobs: Vec<NodeJob>,
    revision: u64,
    opts: &PushOptions,
    ssh: &SshOptions,
    reporter: &dyn Reporter,
) -> Vec<NodeResult> {
    let batch_size = opts
        .serial
        .map(|s| s.batch_size(jobs.len()))
        .unwrap_or(jobs.len().max(1));
    let batches: Vec<Vec<NodeJob>> = jobs.chunks(batch_size).map(|c| c.to_vec()).collect();
    let progress = if crate::term::stderr_is_tty() && jobs.len() > 1 {
        let pb = ProgressBar::new(jobs.len() as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} nodes {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    } else {
        ProgressBar::hidden()
    };
    let sem = Arc::new(Semaphore::new(opts.forks.max(1)));
    let mut results = Vec::new();
    let count = batches.len();
    let mut stop = false;
    for (i, batch) in batches.into_iter().enumerate() {
        if stop {
            for job in batch {
                results.push(NodeResult {
                    node: job.node,
                    outcome: NodeOutcome::Skipped,
                    plan: None,
                    dir: job.dir,
                    message: Some("not attempted: an earlier batch failed".into()),
                    notices: vec![],
                    duration: Duration::ZERO,
                });
            }
            continue;
        }
        if opts.serial.is_some() {
            let names: Vec<String> = batch.iter().map(|j| j.node.clone()).collect();
            progress.suspend(|| reporter.batch(i + 1, count, &names));
        }
        let mut set = tokio::task::JoinSet::new();
        // Which node each task pushes, so a task that panics is still reported by name.
        let mut names = std::collections::HashMap::new();
        for job in batch {
            let sem = sem.clone();
            let opts = opts.clone();
            let ssh = ssh.clone();
            let node = job.node.clone();
            let handle = set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                run_job(job, revision, &opts, &ssh).await
            });
            names.insert(handle.id(), node);
        }
        let mut batch_failed = false;
        while let Some(r) = set.join_next().await {
            let r = match r {
                Ok(r) => r,
                Err(e) => NodeResult {
                    node: names.remove(&e.id()).unwrap_or_default(),
                    outcome: NodeOutcome::Failed,
                    plan: None,
                    dir: String::new(),
                    message: Some(format!("internal error: {e}")),
                    notices: vec![],
                    duration: Duration::ZERO,
                },
            };
            batch_failed |= matches!(r.outcome, NodeOutcome::Failed | NodeOutcome::Unreachable);
            progress.inc(1);
            progress.suspend(|| reporter.node_done(&r));
            results.push(r);
        }
        if batch_failed && opts.serial.is_some() {
            stop = true;
        }
    }
    progress.finish_and_clear();
    results
}

async fn run_job(job: NodeJob, revision: u64, opts: &PushOptions, ssh: &SshOptions) -> NodeResult {
    let fail = |msg: String| NodeResult {
        node: job.node.clone(),
        outcome: NodeOutcome::Failed,
        plan: None,
        dir: job.dir.clone(),
        message: Some(msg),
        notices: vec![],
        duration: Duration::ZERO,
    };
    let target = match &job.target {
        Ok(t) => t,
        Err(e) => return fail(e.clone()),
    };
    let wanted = match &job.wanted {
        Ok(w) => w,
        // The errors themselves were listed once, before any node ran.
        Err(errors) => {
            return fail(format!(
                "{} invalid manifest error(s), nothing changed on this node (`podfleet validate -l {}` lists them)",
                errors.len(),
                job.node
            ));
        }
    };
    node::push_node(&job.node, target, &job.dir, wanted, revision, opts, ssh).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_batches() {
        assert_eq!("2".parse::<Serial>().unwrap().batch_size(5), 2);
        assert_eq!("25%".parse::<Serial>().unwrap().batch_size(10), 2);
        assert_eq!("10%".parse::<Serial>().unwrap().batch_size(3), 1);
        assert!("0".parse::<Serial>().is_err());
        assert!("x%".parse::<Serial>().is_err());
    }
}
