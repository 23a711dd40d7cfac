//! Push (or check) one node: connect, read, plan, apply under the lock.

use std::time::{Duration, Instant};

use crate::nodedir::{HolderState, LOCK_DIR, ObservedDir, describe_lock};
use crate::plan::{self, NodePlan, WantedFile};
use crate::store::NodeOutcome;
use crate::transport::nodefs::NodeFs;
use crate::transport::scripts::{ApplyBatch, ApplyOutcome, FileWrite};
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

/// How often a push reads again after the directory changed under it before giving up.
const MAX_REPLANS: u32 = 20;

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
    let mut replans = 0;
    loop {
        let mut planned = None;
        let read = {
            let mut decide = |observed: &ObservedDir| -> Option<ApplyBatch> {
                let plan = plan::plan(wanted, observed, opts.prune);
                let batch = (!opts.check && plan.has_changes() && plan.blocked.is_empty())
                    .then(|| build_batch(&plan, observed, revision, opts, break_lock));
                planned = Some(plan);
                batch
            };
            fs.read_then_apply(&mut decide).await
        };
        let (observed, applied) = match read {
            Ok(x) => x,
            Err(e) => {
                let mut r = NodeResult::error(node, dir, e, started);
                r.notices = notices;
                return r;
            }
        };
        notices.extend(observed.warnings.iter().cloned());
        let plan = planned.unwrap_or_else(|| plan::plan(wanted, &observed, opts.prune));
        if let Some(text) = &plan.interrupted
            && !notices.contains(text)
        {
            notices.push(text.clone());
        }
        let done = |outcome, plan, notices: Vec<String>| NodeResult {
            node: node.to_string(),
            outcome,
            plan: Some(plan),
            dir: dir.to_string(),
            message: None,
            notices,
            duration: started.elapsed(),
        };
        let changed_or_ok = |plan: &plan::NodePlan| {
            if plan.changes.is_empty() {
                NodeOutcome::Ok
            } else {
                NodeOutcome::Changed
            }
        };
        if !plan.blocked.is_empty() {
            return NodeResult {
                message: Some(format!("nothing written: {}", plan.blocked.join("; "))),
                ..done(NodeOutcome::Failed, plan, notices)
            };
        }
        if opts.check || !plan.has_changes() {
            notices.dedup();
            let outcome = changed_or_ok(&plan);
            return done(outcome, plan, notices);
        }
        let Some(applied) = applied else {
            // The combined read failed and a plain read succeeded: go round again.
            replans += 1;
            if replans > 5 {
                return NodeResult {
                    message: Some("cannot read and write the manifest directory in one go".into()),
                    ..done(NodeOutcome::Failed, plan, notices)
                };
            }
            continue;
        };
        match applied {
            ApplyOutcome::Done(notes) => {
                notices.extend(notes);
                let outcome = changed_or_ok(&plan);
                return done(outcome, plan, notices);
            }
            ApplyOutcome::Changed(file) => {
                // Someone else changed the directory since we read it: read and plan again.
                replans += 1;
                if replans > MAX_REPLANS {
                    return NodeResult {
                        message: Some(format!(
                            "the manifest directory keeps changing under us ({file} changed {MAX_REPLANS} times while we planned); giving up"
                        )),
                        ..done(NodeOutcome::Failed, plan, notices)
                    };
                }
                tokio::time::sleep(jitter(replans)).await;
            }
            ApplyOutcome::Locked(info) => {
                let holder = describe_lock(&info);
                let dead = observed
                    .lock
                    .as_ref()
                    .is_some_and(|l| l.holder == HolderState::Dead);
                if started.elapsed() > opts.lock_timeout {
                    return NodeResult {
                        message: Some(format!(
                            "{dir}/{LOCK_DIR} is held by {holder}{}; gave up after {}s. If that push is hung, stop it or run again with --break-lock",
                            if dead {
                                ""
                            } else {
                                ", whose shell on the node is still running"
                            },
                            opts.lock_timeout.as_secs()
                        )),
                        ..done(NodeOutcome::Failed, plan, notices)
                    };
                }
                break_lock = false;
                tokio::time::sleep(Duration::from_millis(300) + jitter(1)).await;
            }
        }
    }
}

/// A short random pause, so two pushes racing for one node do not stay in step.
fn jitter(round: u32) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    Duration::from_millis(u64::from(u16::from_le_bytes(b)) % (20 * u64::from(round.min(10)) + 1))
}

/// The node-side batch for a plan: writes, mode changes, deletes and the new record.
fn build_batch(
    plan: &NodePlan,
    observed: &ObservedDir,
    revision: u64,
    opts: &PushOptions,
    break_lock: bool,
) -> ApplyBatch {
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
        cleanup: plan.legacy_tmp(),
        from_revision: observed.record.as_ref().map_or(0, |r| r.revision),
        lock: opts.lock.clone(),
        break_lock,
    }
}
