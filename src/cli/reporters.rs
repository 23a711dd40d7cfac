//! How a rollout is shown: Ansible-style host lines with a progress bar on a terminal, or
//! JSON lines for scripts (`-o json`). The engine (`crate::rollout`) emits the events.
//!
//! Output never panics or kills the run: a push piped into `head` keeps going when the reader
//! leaves, so every node's result is still recorded ([`out`], [`err`]).

use std::io::Write as _;

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::plan::Change;
use crate::push::{NodeResult, report};
use crate::rollout::{Event, Reporter};

use super::common::color;

/// Write `text` to stdout; a closed pipe is ignored (the run goes on and is recorded).
pub fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Write `text` to stderr; a closed pipe is ignored.
pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Ansible-style: `changed: [n1]`, diffs, notes, `BATCH 1/3`; a progress bar on stderr when
/// it is a terminal.
pub struct Lines {
    /// Print diffs.
    pub diff: bool,
    /// Pruning (changes the stale-file note).
    pub prune: bool,
    /// Notes go to stdout (diff) or stderr (push).
    pub notes_to_stdout: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Lines {
    /// A reporter with these settings; the bar appears for runs of several nodes.
    pub fn new(diff: bool, prune: bool, notes_to_stdout: bool) -> Lines {
        Lines {
            diff,
            prune,
            notes_to_stdout,
            bar: Mutex::new(None),
        }
    }

    fn print(&self, f: impl FnOnce()) {
        match self.bar.lock().ok().and_then(|b| b.clone()) {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn node(&self, r: &NodeResult) {
        let c = color();
        if self.diff {
            out(&report::node_diff(r, c));
        }
        out(&format!("{}\n", report::status_line(r, c)));
        for n in report::notes(r, self.prune) {
            if self.notes_to_stdout {
                out(&format!("{n}\n"));
            } else {
                err(&format!("{n}\n"));
            }
        }
    }
}

impl Reporter for Lines {
    fn event(&self, e: Event<'_>) {
        match e {
            Event::Started { nodes } => {
                if crate::term::stderr_is_tty() && nodes > 1 {
                    let bar = ProgressBar::new(nodes as u64);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} nodes {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.enable_steady_tick(Duration::from_millis(120));
                    if let Ok(mut b) = self.bar.lock() {
                        *b = Some(bar);
                    }
                }
            }
            Event::Batch {
                index,
                count,
                nodes,
            } => self.print(|| {
                out(&format!(
                    "\nBATCH {index}/{count} [{}] {}\n",
                    nodes.join(", "),
                    "*".repeat(20)
                ))
            }),
            Event::NodeDone(r) => {
                self.print(|| self.node(r));
                if let Ok(Some(bar)) = self.bar.lock().as_deref() {
                    bar.inc(1);
                }
            }
            Event::Waiting { ready, total } => self.print(|| {
                err(&format!(
                    "waiting for health: {ready}/{total} nodes running the new pods Ready\n"
                ))
            }),
            Event::Stopping {
                failed,
                of,
                batch,
                limit,
            } => self.print(|| {
                err(&format!(
                    "stopping the rollout: {failed} of {of} nodes in batch {batch} failed (--max-fail-percent {limit})\n"
                ))
            }),
            Event::Finished => {
                if let Ok(mut b) = self.bar.lock()
                    && let Some(bar) = b.take()
                {
                    bar.finish_and_clear();
                }
            }
        }
    }
}

/// One JSON object per line and event, for scripts: `{"event": "node", "node": "n1",
/// "outcome": "changed", …}`; the run ends with a `recap` line (see `recap_json`).
pub struct JsonLines;

/// A node's result as JSON.
pub fn node_json(r: &NodeResult) -> serde_json::Value {
    let changes: Vec<serde_json::Value> = r
        .plan
        .as_ref()
        .map(|p| {
            p.changes
                .iter()
                .map(|c| {
                    let action = match c {
                        Change::Create { .. } => "create",
                        Change::Update { .. } => "update",
                        Change::Chmod { .. } => "chmod",
                        Change::Delete { .. } => "delete",
                    };
                    json!({"file": c.name(), "action": action})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "event": "node",
        "node": r.node,
        "outcome": r.outcome,
        "dir": r.dir,
        "message": r.message,
        "changes": changes,
        "notices": r.notices,
        "duration_ms": r.duration.as_millis() as u64,
    })
}

impl Reporter for JsonLines {
    fn event(&self, e: Event<'_>) {
        let line = match e {
            Event::Started { nodes } => json!({"event": "start", "nodes": nodes}),
            Event::Batch {
                index,
                count,
                nodes,
            } => json!({"event": "batch", "index": index, "count": count, "nodes": nodes}),
            Event::NodeDone(r) => node_json(r),
            Event::Waiting { ready, total } => {
                json!({"event": "waiting", "ready": ready, "total": total})
            }
            Event::Stopping {
                failed,
                of,
                batch,
                limit,
            } => {
                json!({"event": "stopping", "failed": failed, "of": of, "batch": batch, "max_fail_percent": limit})
            }
            Event::Finished => return,
        };
        out(&format!("{line}\n"));
    }
}
