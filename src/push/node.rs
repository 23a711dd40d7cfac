//! Push (or check) one node: connect, read, plan, apply under the lock.

use std::time::{Duration, Instant};

use crate::plan::{self, NodePlan, WantedFile};
use crate::store::NodeOutcome;
use crate::transport::nodefs::NodeFs;
use crate::transport::scripts::{ApplyBatch, ApplyOutcome, FileWrite, LockInfo, ObservedDir};
use crate::transport::ssh::SshOptions;
use crate::transport::{self, Target, TransportError};

use super::PushOptions;

/// The result of one node.
#[derive(Debug, Clone)]
pub struct NodeResult {
    /// Inventory name.
    pub node: String,
    /// ok / changed / failed / unreachable.
    pub outcome: NodeOutcome,
    /// The plan that was (or would be) applied, if the node was read.
    pub plan: Option<NodePlan>,
    /// Manifest directory.
    pub dir: String,
    /// Error message for failed/unreachable nodes.
    pub message: Option<String>,
    /// Warnings (host key recorded, stale lock broken, odd files).
    pub notices: Vec<String>,
    /// Wall time for this node.
    pub duration: Duration,
}

impl NodeResult {
    /// A node not attempted.
    pub fn skipped(node: &str, why: &str) -> Self {
        NodeResult {
            node: node.to_string(),
            outcome: NodeOutcome::Skipped,
            plan: None,
            dir: String::new(),
            message: Some(why.to_string()),
            notices: vec![],
            duration: Duration::ZERO,
        }
    }

    fn error(node: &str, dir: &str, e: TransportError, started: Instant) -> Self {
        NodeResult {
            node: node.to_string(),
            outcome: if e.is_unreachable() {
                NodeOutcome::Unreachable
            } else {
                NodeOutcome::Failed
            },
            plan: None,
            dir: dir.to_string(),
            message: Some(e.to_string()),
            notices: vec![],
            duration: started.elapsed(),
        }
    }
}

/// Whether a lock holder is gone: same controller and its process has exited, or older
/// than `stale_after`.
pub fn lock_is_stale(lock: &LockInfo, my_host: &str, stale_after: Duration) -> bool {
    if lock.host == my_host && lock.pid != 0 && !pid_alive(lock.pid) {
        return true;
    }
    match lock.since.parse::<jiff::Timestamp>() {
        Ok(t) => jiff::Timestamp::now().duration_since(t).as_secs() as u64 > stale_after.as_secs(),
        Err(_) => true,
    }
}

fn pid_alive(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

fn describe_lock(l: &LockInfo) -> String {
    format!(
        "{} (pid {} on {}) since {}",
        l.owner, l.pid, l.host, l.since
    )
}

/// Push one node. `wanted` are the desired files; `revision` goes into the node record.
pub async fn push_node(
    node: &str,
    target: &Target,
    dir: &str,
    wanted: &[WantedFile],
    revision: u64,
    opts: &PushOptions,
    ssh: &SshOptions,
) -> NodeResult {
    let started = Instant::now();
    let t = match transport::connect(target, ssh).await {
        Ok(t) => t,
        Err(e) => return NodeResult::error(node, dir, e, started),
    };
    let result = run(node, &*t, dir, wanted, revision, opts, started).await;
    t.close().await;
    result
}

async fn run(
    node: &str,
    t: &dyn transport::Transport,
    dir: &str,
    wanted: &[WantedFile],
    revision: u64,
    opts: &PushOptions,
    started: Instant,
) -> NodeResult {
    let fs = NodeFs::new(t, dir);
    let mut notices = t.notices();
    let mut break_lock = opts.break_lock;
    let mut changed_retries = 0;
    loop {
        let mut planned = None;
        let read = {
            let mut decide = |observed: &ObservedDir| -> Option<ApplyBatch> {
                let plan = plan::plan(wanted, observed, opts.prune);
                let stale = observed.lock.as_ref().is_some_and(|l| {
                    !break_lock && lock_is_stale(l, &opts.lock.host, opts.stale_lock_after)
                });
                let batch = (!opts.check && plan.has_changes() && !stale)
                    .then(|| build_batch(&plan, revision, opts, break_lock));
                planned = Some(plan);
                batch
            };
            fs.read_then_apply(&mut decide).await
        };
        let (observed, applied) = match read {
            Ok(x) => x,
            Err(e) => return NodeResult::error(node, dir, e, started),
        };
        notices.extend(observed.warnings.iter().cloned());
        let plan = planned.unwrap_or_else(|| plan::plan(wanted, &observed, opts.prune));
        let done = |outcome, plan, notices: Vec<String>| NodeResult {
            node: node.to_string(),
            outcome,
            plan: Some(plan),
            dir: dir.to_string(),
            message: None,
            notices,
            duration: started.elapsed(),
        };
        if opts.check || !plan.has_changes() {
            let outcome = if plan.changes.is_empty() {
                NodeOutcome::Ok
            } else {
                NodeOutcome::Changed
            };
            notices.dedup();
            return done(outcome, plan, notices);
        }
        if let Some(lock) = &observed.lock
            && !break_lock
            && lock_is_stale(lock, &opts.lock.host, opts.stale_lock_after)
        {
            return NodeResult {
                message: Some(format!(
                    "stale lock {}/{} held by {}; the holder is gone. Run again with --break-lock to clear it",
                    dir,
                    crate::transport::scripts::LOCK_DIR,
                    describe_lock(lock)
                )),
                ..done(NodeOutcome::Failed, plan, notices)
            };
        }
        let Some(applied) = applied else {
            // The combined read failed and a plain read succeeded: go round again.
            changed_retries += 1;
            if changed_retries > 5 {
                return NodeResult {
                    message: Some("cannot read and write the manifest directory in one go".into()),
                    ..done(NodeOutcome::Failed, plan, notices)
                };
            }
            continue;
        };
        match applied {
            ApplyOutcome::Done => {
                if break_lock && observed.lock.is_some() {
                    notices.push(format!(
                        "broke the lock held by {}",
                        observed
                            .lock
                            .as_ref()
                            .map(describe_lock)
                            .unwrap_or_default()
                    ));
                }
                let outcome = if plan.changes.is_empty() {
                    NodeOutcome::Ok
                } else {
                    NodeOutcome::Changed
                };
                return done(outcome, plan, notices);
            }
            ApplyOutcome::Changed(_) => {
                // Someone else changed the directory since we read it: read and plan again.
                changed_retries += 1;
                if changed_retries > 5 {
                    return NodeResult {
                        message: Some(
                            "the manifest directory keeps changing under us; giving up".into(),
                        ),
                        ..done(NodeOutcome::Failed, plan, notices)
                    };
                }
            }
            ApplyOutcome::Locked(info) => {
                let holder = info
                    .as_ref()
                    .map(describe_lock)
                    .unwrap_or_else(|| "an unknown holder".into());
                if let Some(l) = &info
                    && lock_is_stale(l, &opts.lock.host, opts.stale_lock_after)
                {
                    return NodeResult {
                        message: Some(format!(
                            "stale lock {}/{} held by {holder}; the holder is gone. Run again with --break-lock to clear it",
                            dir,
                            crate::transport::scripts::LOCK_DIR
                        )),
                        ..done(NodeOutcome::Failed, plan, notices)
                    };
                }
                if started.elapsed() > opts.lock_timeout {
                    return NodeResult {
                        message: Some(format!(
                            "node is locked by {holder}; gave up after {}s",
                            opts.lock_timeout.as_secs()
                        )),
                        ..done(NodeOutcome::Failed, plan, notices)
                    };
                }
                break_lock = false;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}

/// The node-side batch for a plan: writes, mode changes, deletes and the new record.
fn build_batch(plan: &NodePlan, revision: u64, opts: &PushOptions, break_lock: bool) -> ApplyBatch {
    let mut record = plan.record.clone();
    record.revision = revision;
    record.pushed_by = opts.lock.owner.clone();
    record.pushed_at = jiff::Timestamp::now().to_string();
    ApplyBatch {
        writes: plan
            .changes
            .iter()
            .filter_map(|c| match c {
                plan::Change::Create { name, after, mode }
                | plan::Change::Update {
                    name, after, mode, ..
                } => Some(FileWrite {
                    name: name.clone(),
                    bytes: after.clone(),
                    mode: *mode,
                }),
                _ => None,
            })
            .collect(),
        chmods: plan
            .changes
            .iter()
            .filter_map(|c| match c {
                plan::Change::Chmod { name, to, .. } => Some((name.clone(), *to)),
                _ => None,
            })
            .collect(),
        deletes: plan
            .changes
            .iter()
            .filter_map(|c| match c {
                plan::Change::Delete { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect(),
        record,
        expect: plan.expect.clone(),
        lock: opts.lock.clone(),
        break_lock,
    }
}
