//! Push one batch of nodes in parallel (forks): plan, lock, apply each node; its results.
//! Batches, the health gate and rollback belong to the rollout engine (the `rollout` module).

pub mod node;
pub mod report;

use std::time::Duration;

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
    pub target: Result<Target, crate::transport::target::InvalidTarget>,
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

/// Run one batch of jobs, at most `forks` at once; `on_done` sees each result as it comes.
/// A failing node never stops the others. A job that panics is reported by its node's name.
pub async fn run_batch(
    jobs: Vec<NodeJob>,
    revision: u64,
    opts: &PushOptions,
    ssh: &SshOptions,
    on_done: &(dyn Fn(&NodeResult) + Sync),
) -> Vec<NodeResult> {
    // Each node's push is its own task (SSH crypto and planning use every core); a panic
    // inside it is resumed here so the runner names the node.
    let work = jobs.into_iter().map(|job| {
        let (opts, ssh) = (opts.clone(), ssh.clone());
        let node = job.node.clone();
        let task = async move {
            let task = tokio::spawn(async move { run_job(job, revision, &opts, &ssh).await });
            match task.await {
                Ok(r) => r,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("{e}"),
            }
        };
        (node, task)
    });
    let as_result = |node: &str, r: &Result<NodeResult, crate::fanout::JobPanicked>| match r {
        Ok(r) => r.clone(),
        Err(why) => NodeResult {
            node: node.to_string(),
            outcome: NodeOutcome::Failed,
            plan: None,
            dir: String::new(),
            message: Some(why.to_string()),
            notices: vec![],
            duration: Duration::ZERO,
        },
    };
    crate::fanout::for_each_host(work, opts.forks, &|node, r| on_done(&as_result(node, r)))
        .await
        .into_iter()
        .map(|(node, r)| as_result(&node, &r))
        .collect()
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
        Err(e) => return fail(e.to_string()),
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
