//! Health-gated pushes: `push --wait [--rollback-on-failure] [--serial N] [--max-fail-percent P]`.
//!
//! Each batch is pushed, then podfleet asks the running coordinator until every pushed file's
//! pod on each node runs the new content, Running and Ready (SYNC InSync against what was
//! just written). A node that is not healthy in time fails, or with `--rollback-on-failure`
//! gets its previous revision's files back (atomically, same rules as push) and is reported
//! as rolled back. A batch whose failures exceed `--max-fail-percent` (default 0) stops the
//! rollout; the remaining nodes are skipped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::coordinator::client::{running, view_json_against};
use crate::coordinator::view::{FleetView, SyncState};
use crate::fleet::{DesiredState, Fleet};
use crate::push::{NodeResult, PushOptions, Reporter};
use crate::store::{FileRev, NodeOutcome, NodeRevision, Store};

use super::Globals;
use super::push::{ConnArgs, RunOutput, execute_state};

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
    #[arg(long, value_name = "PERCENT", requires = "wait")]
    pub max_fail_percent: Option<u32>,
}

/// The files pushed to each node that applied them, as the view's "desired".
fn pushed(out: &RunOutput) -> BTreeMap<String, NodeRevision> {
    let mut m = BTreeMap::new();
    for r in out.results.iter().filter(|r| r.outcome.applied()) {
        if let Some(Ok(d)) = out.state.get(&r.node) {
            let files = d
                .files
                .values()
                .map(|f| {
                    let rev = FileRev {
                        sha256: f.sha256.clone(),
                        template: f.template.clone(),
                        canonical_hash: f.pod.canonical_hash.clone(),
                        pod: f.pod.key(),
                        mode: d.settings.file_mode,
                    };
                    (f.name.clone(), rev)
                })
                .collect();
            m.insert(
                r.node.clone(),
                NodeRevision {
                    dir: r.dir.clone(),
                    files,
                    outcome: r.outcome,
                    message: None,
                    revision: 0,
                    groups: vec![],
                    roles: vec![],
                },
            );
        }
    }
    m
}

/// Why a node is not healthy yet (None: healthy).
fn unhealthy(view: &FleetView<'_>, node: &str, want: &NodeRevision) -> Option<String> {
    let mut problems = Vec::new();
    for file in want.files.keys() {
        let rows: Vec<_> = view
            .pods
            .iter()
            .filter(|p| p.node == node && p.file == file.as_str())
            .collect();
        if !rows.iter().any(|p| p.sync == SyncState::InSync) {
            let shown = rows
                .iter()
                .map(|p| {
                    let err = if p.last_error.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", p.last_error)
                    };
                    format!(
                        "{} {:?} {}/{} {}{err}",
                        p.name, p.sync, p.ready, p.total, p.status
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            problems.push(if shown.is_empty() {
                format!("{file}: no pod yet")
            } else {
                shown
            });
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Wait until every node in `want` is healthy or `timeout` passes; the reasons of the rest.
async fn wait_healthy(
    g: &Globals,
    want: &BTreeMap<String, NodeRevision>,
    timeout: Duration,
) -> anyhow::Result<BTreeMap<String, String>> {
    let deadline = Instant::now() + timeout;
    let hosts: Vec<String> = want.keys().cloned().collect();
    let mut last = usize::MAX;
    loop {
        let json = view_json_against(&g.state_dir(), Some(&hosts), Some(want.clone()))
            .await?
            .ok_or_else(|| anyhow::anyhow!("the coordinator stopped answering"))?;
        let view: FleetView<'_> = serde_json::from_slice(&json)?;
        let bad: BTreeMap<String, String> = want
            .iter()
            .filter_map(|(n, w)| unhealthy(&view, n, w).map(|why| (n.clone(), why)))
            .collect();
        if bad.len() != last {
            eprintln!(
                "waiting for health: {}/{} nodes running the new pods Ready",
                want.len() - bad.len(),
                want.len()
            );
            last = bad.len();
        }
        if bad.is_empty() || Instant::now() >= deadline {
            return Ok(bad);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reports nothing (the rollback push of a node is reported as that node's outcome).
struct Silent;

impl Reporter for Silent {
    fn node_done(&self, _: &NodeResult) {}
    fn batch(&self, _: usize, _: usize, _: &[String]) {}
}

/// Everything a gated rollout needs.
pub struct Rollout<'a> {
    /// Global flags.
    pub g: &'a Globals,
    /// The loaded inventory.
    pub fleet: &'a Fleet,
    /// What to push, per selected host.
    pub state: DesiredState,
    /// Push options (`serial` is handled here).
    pub opts: &'a PushOptions,
    /// Connection flags.
    pub conn: &'a ConnArgs,
    /// Gate flags.
    pub gate: &'a GateArgs,
    /// The revision being written.
    pub revision: u64,
    /// Where the previous revision's files come from.
    pub store: &'a dyn Store,
    /// Progress output.
    pub reporter: &'a dyn Reporter,
}

impl Rollout<'_> {
    /// Push batch by batch, gating each on health.
    pub async fn run(self) -> anyhow::Result<RunOutput> {
        if running(&self.g.state_dir()).await.is_none() {
            anyhow::bail!(
                "--wait needs a running coordinator (podfleet serve with --state-dir {}): agents report pod health to it",
                self.g.state_dir().display()
            );
        }
        let timeout = Duration::from_secs(self.gate.wait.unwrap_or(120));
        let before = self.store.desired().await?;
        let hosts: Vec<String> = self.state.keys().cloned().collect();
        let size = self
            .opts
            .serial
            .map_or(hosts.len(), |s| s.batch_size(hosts.len()))
            .max(1);
        let batches: Vec<&[String]> = hosts.chunks(size).collect();
        let opts = PushOptions {
            serial: None,
            ..self.opts.clone()
        };
        let mut all = RunOutput {
            results: Vec::new(),
            state: DesiredState::new(),
            groups: BTreeMap::new(),
        };
        let mut stop = false;
        for (i, batch) in batches.iter().enumerate() {
            let state: DesiredState = batch
                .iter()
                .filter_map(|h| self.state.get(h).map(|s| (h.clone(), s.clone())))
                .collect();
            if stop {
                for h in batch.iter() {
                    let r = NodeResult::skipped(h, "not attempted: an earlier batch failed");
                    self.reporter.node_done(&r);
                    all.results.push(r);
                }
                all.state.extend(state);
                continue;
            }
            if batches.len() > 1 {
                self.reporter.batch(i + 1, batches.len(), batch);
            }
            let mut out = execute_state(
                self.fleet,
                state,
                &opts,
                self.conn,
                self.revision,
                self.reporter,
            )
            .await?;
            let want = pushed(&out);
            let bad = if want.is_empty() || opts.check {
                BTreeMap::new()
            } else {
                wait_healthy(self.g, &want, timeout).await?
            };
            for (node, why) in &bad {
                let why = format!("not healthy within {}s: {why}", timeout.as_secs());
                let back = self.roll_back(node, before.get(node), &opts).await;
                let r = out
                    .results
                    .iter_mut()
                    .find(|r| &r.node == node)
                    .expect("a pushed node has a result");
                match back {
                    Some(Ok(rev)) => {
                        r.outcome = NodeOutcome::RolledBack;
                        r.message = Some(format!("{why}; rolled back to revision {rev}"));
                    }
                    Some(Err(e)) => {
                        r.outcome = NodeOutcome::Failed;
                        r.message = Some(format!("{why}; rollback failed: {e:#}"));
                    }
                    None => {
                        r.outcome = NodeOutcome::Failed;
                        r.message = Some(why);
                    }
                }
                self.reporter.node_done(r);
            }
            let failed = out
                .results
                .iter()
                .filter(|r| !r.outcome.applied() && r.outcome != NodeOutcome::Skipped)
                .count();
            let limit = self.gate.max_fail_percent.unwrap_or(0) as usize;
            if failed * 100 > limit * batch.len() && i + 1 < batches.len() {
                eprintln!(
                    "stopping the rollout: {failed} of {} nodes in batch {} failed (--max-fail-percent {limit})",
                    batch.len(),
                    i + 1
                );
                stop = true;
            }
            all.results.extend(out.results);
            all.state.extend(out.state);
            all.groups.extend(out.groups);
        }
        Ok(all)
    }

    /// Put a node's previous files back; None when rollback is off or there is nothing to go
    /// back to. Returns the revision restored.
    async fn roll_back(
        &self,
        node: &str,
        previous: Option<&NodeRevision>,
        opts: &PushOptions,
    ) -> Option<anyhow::Result<u64>> {
        if !self.gate.rollback_on_failure {
            return None;
        }
        let previous = previous?;
        let result = async {
            let state = super::rollback::node_state(
                self.fleet,
                node,
                previous,
                previous.revision,
                self.store,
            )
            .await?;
            let state: DesiredState = [(node.to_string(), state)].into();
            let quiet = Silent;
            let opts = PushOptions {
                prune: true,
                ..opts.clone()
            };
            let out = execute_state(
                self.fleet,
                state,
                &opts,
                self.conn,
                previous.revision,
                &quiet,
            )
            .await?;
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
