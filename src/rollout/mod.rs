//! The rollout engine behind `push`, `rollback` and `diff`: the one host runner.
//!
//! It pushes the desired state in batches (`--serial`; one batch otherwise), each batch's
//! nodes `forks` at a time (`crate::push`); with a health gate (`--wait`) it waits until each
//! node runs the new pods Running and Ready, and with `--rollback-on-failure` puts a node
//! that did not get there back to its previous revision's files. A batch in which more than
//! `max_fail_percent` of the nodes failed stops the rollout; the remaining nodes are skipped.
//!
//! The engine never prints: it emits [`Event`]s to a [`Reporter`] (the Ansible-style lines,
//! JSON lines, a progress bar are reporters in `cli`).

pub mod gate;
pub mod jobs;
pub mod record;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::fleet::{DesiredState, Fleet};
use crate::push::{self, NodeResult, PushOptions};
use crate::store::{NodeOutcome, NodeRevision, Store};
use crate::transport::ssh::SshOptions;
use crate::transport::target::TargetDefaults;

/// What happens during a rollout, in order.
#[derive(Debug)]
pub enum Event<'a> {
    /// The rollout starts, over this many nodes.
    Started {
        /// Nodes selected.
        nodes: usize,
    },
    /// A batch starts (only when there are several).
    Batch {
        /// 1-based.
        index: usize,
        /// Number of batches.
        count: usize,
        /// Its nodes.
        nodes: &'a [String],
    },
    /// A node's result: pushed, checked, failed, rolled back, or skipped.
    NodeDone(&'a NodeResult),
    /// The health gate's progress: `ready` of `total` nodes run the new pods Ready.
    Waiting {
        /// Healthy nodes.
        ready: usize,
        /// Nodes waited for.
        total: usize,
    },
    /// The rollout stops after a batch with too many failures.
    Stopping {
        /// Failed nodes in the batch.
        failed: usize,
        /// Nodes in the batch.
        of: usize,
        /// 1-based batch.
        batch: usize,
        /// `--max-fail-percent`.
        limit: u32,
    },
    /// The rollout is over (results follow from the caller: recap, revision).
    Finished,
}

/// Receives a rollout's events (for printing; the engine never prints).
pub trait Reporter: Send + Sync {
    /// One event.
    fn event(&self, e: Event<'_>);
}

/// Reports nothing.
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _: Event<'_>) {}
}

/// The health gate's settings.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    /// Wait this long for each batch's nodes to be healthy (None: no gate).
    pub wait: Option<Duration>,
    /// Put an unhealthy node back to its previous revision's files.
    pub rollback_on_failure: bool,
    /// Stop after a batch in which more than this percentage of nodes failed.
    pub max_fail_percent: u32,
    /// The state directory of the running coordinator the agents report health to.
    pub coordinator: PathBuf,
}

/// Everything a rollout produced.
pub struct RunOutput {
    /// Per node results.
    pub results: Vec<NodeResult>,
    /// The desired state that was pushed.
    pub state: DesiredState,
    /// Each node's inventory groups.
    pub groups: BTreeMap<String, Vec<String>>,
}

/// A rollout to run.
pub struct Rollout<'a> {
    /// The loaded inventory.
    pub fleet: &'a Fleet,
    /// What to push, per selected host.
    pub state: DesiredState,
    /// Push options (`serial` makes the batches).
    pub opts: &'a PushOptions,
    /// How to reach nodes.
    pub connect: &'a (TargetDefaults, SshOptions),
    /// The health gate.
    pub gate: Gate,
    /// The revision being written (0 for `--check`).
    pub revision: u64,
    /// The store, where a rollback finds the previous files (needed with a gate).
    pub store: Option<&'a dyn Store>,
}

/// Failed nodes of `results` (not applied, not skipped).
fn failures(results: &[NodeResult]) -> usize {
    results
        .iter()
        .filter(|r| !r.outcome.applied() && r.outcome != NodeOutcome::Skipped)
        .count()
}

/// Whether a batch with `failed` of `size` nodes failing stops the rollout.
pub fn stops(failed: usize, size: usize, max_fail_percent: u32) -> bool {
    failed * 100 > max_fail_percent as usize * size
}

impl Rollout<'_> {
    /// Run the rollout to the end (or the batch that stops it).
    pub async fn run(self, reporter: &dyn Reporter) -> anyhow::Result<RunOutput> {
        let gating = self.gate.wait.is_some() && !self.opts.check;
        let before = match (gating, self.store) {
            (true, Some(store)) => store.desired().await?,
            (true, None) => anyhow::bail!("a health-gated push needs the store"),
            (false, _) => BTreeMap::new(),
        };
        if gating
            && crate::coordinator::client::running(&self.gate.coordinator)
                .await
                .is_none()
        {
            anyhow::bail!(
                "--wait needs a running coordinator (podfleet serve with --state-dir {}): agents report pod health to it",
                self.gate.coordinator.display()
            );
        }
        let hosts: Vec<String> = self.state.keys().cloned().collect();
        let size = self
            .opts
            .serial
            .map_or(hosts.len(), |s| s.batch_size(hosts.len()))
            .max(1);
        let batches: Vec<&[String]> = hosts.chunks(size).collect();
        let mut all = RunOutput {
            results: Vec::new(),
            state: DesiredState::new(),
            groups: BTreeMap::new(),
        };
        let mut stop = false;
        reporter.event(Event::Started { nodes: hosts.len() });
        for (i, batch) in batches.iter().enumerate() {
            let state: DesiredState = batch
                .iter()
                .filter_map(|h| self.state.get(h).map(|s| (h.clone(), s.clone())))
                .collect();
            if stop {
                for h in batch.iter() {
                    let r = NodeResult::skipped(h, "not attempted: an earlier batch failed");
                    reporter.event(Event::NodeDone(&r));
                    all.results.push(r);
                }
                all.state.extend(state);
                continue;
            }
            if batches.len() > 1 {
                reporter.event(Event::Batch {
                    index: i + 1,
                    count: batches.len(),
                    nodes: batch,
                });
            }
            let mut out = self
                .push(state, self.opts, &|r| reporter.event(Event::NodeDone(r)))
                .await;
            if gating {
                self.gate_batch(&mut out, &before, reporter).await?;
            }
            let failed = failures(&out.results);
            if stops(failed, batch.len(), self.gate.max_fail_percent) && i + 1 < batches.len() {
                reporter.event(Event::Stopping {
                    failed,
                    of: batch.len(),
                    batch: i + 1,
                    limit: self.gate.max_fail_percent,
                });
                stop = true;
            }
            all.results.extend(out.results);
            all.state.extend(out.state);
            all.groups.extend(out.groups);
        }
        reporter.event(Event::Finished);
        Ok(all)
    }

    /// Push one batch.
    async fn push(
        &self,
        state: DesiredState,
        opts: &PushOptions,
        on_done: &(dyn Fn(&NodeResult) + Sync),
    ) -> RunOutput {
        let (defaults, ssh) = self.connect;
        let jobs = jobs::jobs(self.fleet, &state, defaults);
        let results = push::run_batch(jobs, self.revision, opts, ssh, on_done).await;
        let groups = state
            .keys()
            .map(|h| (h.clone(), self.fleet.inventory.host_group_names(h)))
            .collect();
        RunOutput {
            results,
            state,
            groups,
        }
    }

    /// Wait for the batch's pushed nodes to be healthy; fail (or roll back) the others and
    /// report them again with their final outcome (as a second task would in Ansible).
    async fn gate_batch(
        &self,
        out: &mut RunOutput,
        before: &BTreeMap<String, NodeRevision>,
        reporter: &dyn Reporter,
    ) -> anyhow::Result<()> {
        let timeout = self.gate.wait.unwrap_or_default();
        let want = record::pushed(out);
        let bad = if want.is_empty() {
            BTreeMap::new()
        } else {
            gate::wait_healthy(&self.gate.coordinator, &want, timeout, reporter).await?
        };
        for r in out.results.iter_mut() {
            let Some(why) = bad.get(&r.node) else {
                continue;
            };
            let why = format!("not healthy within {}s: {why}", timeout.as_secs());
            (r.outcome, r.message) = match self.roll_back(&r.node, before.get(&r.node)).await {
                Some(Ok(rev)) => (
                    NodeOutcome::RolledBack,
                    Some(format!("{why}; rolled back to revision {rev}")),
                ),
                Some(Err(e)) => (
                    NodeOutcome::Failed,
                    Some(format!("{why}; rollback failed: {e:#}")),
                ),
                None => (NodeOutcome::Failed, Some(why)),
            };
            reporter.event(Event::NodeDone(r));
        }
        Ok(())
    }

    /// Put a node's previous files back; None when rollback is off or there is nothing to go
    /// back to. Returns the revision restored.
    async fn roll_back(
        &self,
        node: &str,
        previous: Option<&NodeRevision>,
    ) -> Option<anyhow::Result<u64>> {
        if !self.gate.rollback_on_failure {
            return None;
        }
        let (previous, store) = (previous?, self.store?);
        let result = async {
            let state =
                record::node_state(self.fleet, node, previous, previous.revision, store).await?;
            let state: DesiredState = [(node.to_string(), state)].into();
            let opts = PushOptions {
                prune: true,
                ..self.opts.clone()
            };
            let back = Rollout {
                fleet: self.fleet,
                state: DesiredState::new(),
                opts: self.opts,
                connect: self.connect,
                gate: Gate::default(),
                revision: previous.revision,
                store: self.store,
            };
            let out = back.push(state, &opts, &|_| {}).await;
            match out.results.first() {
                Some(r) if r.outcome.applied() => Ok(previous.revision),
                Some(r) => Err(anyhow::anyhow!(
                    "{}",
                    r.message.clone().unwrap_or_else(|| "push failed".into())
                )),
                None => Err(anyhow::anyhow!("nothing pushed")),
            }
        }
        .await;
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_stops_the_rollout_past_the_failure_budget() {
        assert!(!stops(0, 4, 0));
        assert!(stops(1, 4, 0), "any failure stops by default");
        assert!(!stops(1, 4, 25), "25% of 4 is one node");
        assert!(stops(2, 4, 25));
        assert!(!stops(4, 4, 100));
    }
}
