//! The health gate: a node passed when, as its agent reports to the coordinator, every file
//! just pushed runs as a pod with the new content, Running and Ready (SYNC InSync against
//! what was written). `unhealthy` decides from a fleet view (pure); `wait_healthy` asks the
//! running coordinator until all pass or time runs out.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::coordinator::client::view_json_against;
use crate::coordinator::view::{FleetView, SyncState};
use crate::store::NodeRevision;

use super::{Event, Reporter};

/// Why a node is not healthy yet (None: healthy).
pub fn unhealthy(view: &FleetView<'_>, node: &str, want: &NodeRevision) -> Option<String> {
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
pub async fn wait_healthy(
    coordinator: &Path,
    want: &BTreeMap<String, NodeRevision>,
    timeout: Duration,
    reporter: &dyn Reporter,
) -> anyhow::Result<BTreeMap<String, String>> {
    let deadline = Instant::now() + timeout;
    let hosts: Vec<String> = want.keys().cloned().collect();
    let mut last = usize::MAX;
    loop {
        let json = view_json_against(coordinator, Some(&hosts), Some(want.clone()))
            .await?
            .ok_or_else(|| anyhow::anyhow!("the coordinator stopped answering"))?;
        let view: FleetView<'_> = serde_json::from_slice(&json)?;
        let bad: BTreeMap<String, String> = want
            .iter()
            .filter_map(|(n, w)| unhealthy(&view, n, w).map(|why| (n.clone(), why)))
            .collect();
        if bad.len() != last {
            reporter.event(Event::Waiting {
                ready: want.len() - bad.len(),
                total: want.len(),
            });
            last = bad.len();
        }
        if bad.is_empty() || Instant::now() >= deadline {
            return Ok(bad);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
