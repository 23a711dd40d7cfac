//! The fleet view: what `podfleet status` shows, computed from what agents reported and
//! what podfleet last pushed. Pure: no I/O, the clock is an argument.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::{NodeRecord, NodeRevision, PodRecord, Reported};

/// A node's condition, from its heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeCondition {
    /// Heard from within the grace period.
    Ready,
    /// Reported before, silent for longer than the grace period.
    NotReady,
    /// Never reported.
    Unknown,
}

/// Whether a pod runs what was pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SyncState {
    /// Runs the pushed content, running and ready.
    InSync,
    /// Pushed content, not yet running and ready (or the old pod is still being replaced).
    Pending,
    /// The node runs other content from that file (edited on the node).
    Drifted,
    /// Pushed, but no pod from that file.
    Missing,
    /// Running, but not declared (a file podfleet did not push).
    Unmanaged,
}

/// One node in the view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRow<'a> {
    /// Node name.
    pub name: Cow<'a, str>,
    /// Ready / NotReady / Unknown.
    pub condition: NodeCondition,
    /// Agent version ("" when never reported).
    pub agent_version: Cow<'a, str>,
    /// Runtime.
    pub runtime: Cow<'a, str>,
    /// Last heartbeat (RFC 3339).
    pub last_seen: Option<Cow<'a, str>>,
    /// Seconds since the last heartbeat.
    pub silent_secs: Option<u64>,
    /// Pods reported.
    pub pods: usize,
    /// Manifest problems reported by the agent.
    pub issues: Vec<String>,
}

/// One pod (or one desired file without a pod) in the view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodRow<'a> {
    /// Node.
    pub node: Cow<'a, str>,
    /// Namespace.
    pub namespace: Cow<'a, str>,
    /// Mirror name; for a missing pod, the desired pod's `<name>-<node>`.
    pub name: Cow<'a, str>,
    /// Manifest file name.
    pub file: Cow<'a, str>,
    /// Phase ("" when missing).
    pub phase: Cow<'a, str>,
    /// kubectl's STATUS (`CrashLoopBackOff`, `Init:0/1`, …; "" when missing).
    #[serde(default)]
    pub status: Cow<'a, str>,
    /// Ready app containers.
    pub ready: u32,
    /// App containers.
    pub total: u32,
    /// Restarts.
    pub restarts: u32,
    /// Start time (RFC 3339), if running.
    pub started: Option<Cow<'a, str>>,
    /// SYNC state.
    pub sync: SyncState,
    /// Latest problem.
    pub last_error: Cow<'a, str>,
    /// Pod IP.
    pub ip: Cow<'a, str>,
}

/// The whole view.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FleetView<'a> {
    /// Nodes, by name.
    pub nodes: Vec<NodeRow<'a>>,
    /// Pods, by node then name.
    pub pods: Vec<PodRow<'a>>,
}

/// Ready when heard from within `grace`.
pub fn node_condition(
    node: Option<&NodeRecord>,
    now: jiff::Timestamp,
    grace: Duration,
) -> NodeCondition {
    let Some(seen) = node.and_then(|n| n.last_seen.parse::<jiff::Timestamp>().ok()) else {
        return NodeCondition::Unknown;
    };
    let silent = now.duration_since(seen).unsigned_abs();
    if silent <= grace {
        NodeCondition::Ready
    } else {
        NodeCondition::NotReady
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// SYNC of a reported pod against the node's desired files.
pub fn pod_sync(pod: &PodRecord, desired: Option<&NodeRevision>) -> SyncState {
    let Some(want) = desired.and_then(|d| d.files.get(base_name(&pod.file))) else {
        return SyncState::Unmanaged;
    };
    if pod.content_sha256 != want.sha256 {
        return if pod.terminating {
            SyncState::Pending
        } else {
            SyncState::Drifted
        };
    }
    let healthy = (pod.phase == "Running" && pod.ready == pod.total) || pod.phase == "Succeeded";
    if healthy && !pod.terminating {
        SyncState::InSync
    } else {
        SyncState::Pending
    }
}

/// Reported state by node: what the view reads. Built from a [`Reported`] or kept
/// up to date in the coordinator's memory.
#[derive(Default)]
pub struct ByNode<'a> {
    /// Node records by name.
    pub nodes: BTreeMap<&'a str, &'a NodeRecord>,
    /// Each node's pods.
    pub pods: BTreeMap<&'a str, Vec<&'a PodRecord>>,
}

impl<'a> ByNode<'a> {
    /// Index a [`Reported`].
    pub fn of(r: &'a Reported) -> ByNode<'a> {
        let mut b = ByNode::default();
        for n in &r.nodes {
            b.nodes.insert(n.name.as_str(), n);
        }
        for p in &r.pods {
            b.pods.entry(p.node.as_str()).or_default().push(p);
        }
        b
    }
}

/// Build the view. `hosts`: the inventory's hosts (after `--limit`), so never-reporting
/// nodes show as Unknown; `None` shows every node that reported or was pushed to.
pub fn fleet_view<'a>(
    reported: &'a Reported,
    desired: &BTreeMap<String, NodeRevision>,
    hosts: Option<&[String]>,
    now: jiff::Timestamp,
    grace: Duration,
) -> FleetView<'a> {
    fleet_view_of(&ByNode::of(reported), desired, hosts, now, grace)
}

/// [`fleet_view`] over an index.
pub fn fleet_view_of<'a>(
    by: &ByNode<'a>,
    desired: &BTreeMap<String, NodeRevision>,
    hosts: Option<&[String]>,
    now: jiff::Timestamp,
    grace: Duration,
) -> FleetView<'a> {
    let by_name = &by.nodes;
    let names: BTreeSet<String> = match hosts {
        Some(h) => h.iter().cloned().collect(),
        None => by_name
            .keys()
            .map(|s| s.to_string())
            .chain(desired.keys().cloned())
            .collect(),
    };
    let mut view = FleetView::default();
    for name in &names {
        let rec = by_name.get(name.as_str()).copied();
        let pods: &[&'a PodRecord] = by.pods.get(name.as_str()).map_or(&[], Vec::as_slice);
        let node_name: Cow<'a, str> = match rec {
            Some(r) => Cow::Borrowed(r.name.as_str()),
            None => Cow::Owned(name.clone()),
        };
        view.nodes.push(NodeRow {
            name: node_name.clone(),
            condition: node_condition(rec, now, grace),
            agent_version: rec.map_or(Cow::Borrowed(""), |r| Cow::Borrowed(&r.agent_version)),
            runtime: rec.map_or(Cow::Borrowed(""), |r| Cow::Borrowed(&r.runtime)),
            last_seen: rec.map(|r| Cow::Borrowed(r.last_seen.as_str())),
            silent_secs: rec
                .and_then(|r| r.last_seen.parse::<jiff::Timestamp>().ok())
                .map(|t| now.duration_since(t).as_secs().max(0) as u64),
            pods: pods.len(),
            issues: rec
                .map(|r| {
                    r.issues
                        .iter()
                        .map(|(f, m, _)| format!("{f}: {m}"))
                        .collect()
                })
                .unwrap_or_default(),
        });
        let want = desired.get(name);
        let mut files_with_pods = BTreeSet::new();
        for p in pods {
            files_with_pods.insert(base_name(&p.file));
            view.pods.push(PodRow {
                node: Cow::Borrowed(p.node.as_str()),
                namespace: Cow::Borrowed(p.namespace.as_str()),
                name: Cow::Borrowed(p.name.as_str()),
                file: Cow::Borrowed(base_name(&p.file)),
                phase: Cow::Borrowed(p.phase.as_str()),
                status: match (p.status.as_str(), p.terminating) {
                    (_, true) => Cow::Borrowed("Terminating"),
                    ("", false) => Cow::Borrowed(p.phase.as_str()),
                    (s, false) => Cow::Borrowed(s),
                },
                ready: p.ready,
                total: p.total,
                restarts: p.restarts,
                started: p.start_time.as_deref().map(Cow::Borrowed),
                sync: pod_sync(p, want),
                last_error: Cow::Borrowed(p.last_error.as_str()),
                ip: Cow::Borrowed(p.pod_ip.as_str()),
            });
        }
        for (file, f) in want.map(|w| &w.files).into_iter().flatten() {
            if files_with_pods.contains(file.as_str()) {
                continue;
            }
            let (ns, pod) = f.pod.split_once('/').unwrap_or(("default", f.pod.as_str()));
            let problem = rec
                .and_then(|r| r.issues.iter().find(|(fi, _, _)| base_name(fi) == file))
                .map(|(_, m, _)| m.clone())
                .unwrap_or_default();
            view.pods.push(PodRow {
                node: node_name.clone(),
                namespace: Cow::Owned(ns.to_string()),
                name: Cow::Owned(format!("{pod}-{name}")),
                file: Cow::Owned(file.clone()),
                phase: Cow::Borrowed(""),
                status: Cow::Borrowed(""),
                ready: 0,
                total: 0,
                restarts: 0,
                started: None,
                sync: SyncState::Missing,
                last_error: Cow::Owned(problem),
                ip: Cow::Borrowed(""),
            });
        }
    }
    view.pods
        .sort_by(|a, b| (&a.node, &a.namespace, &a.name).cmp(&(&b.node, &b.namespace, &b.name)));
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FileRev, NodeOutcome};

    fn desired(files: &[(&str, &str)]) -> NodeRevision {
        NodeRevision {
            dir: "/m".into(),
            files: files
                .iter()
                .map(|(f, sha)| {
                    (
                        f.to_string(),
                        FileRev {
                            sha256: sha.to_string(),
                            template: f.to_string(),
                            canonical_hash: String::new(),
                            pod: format!("kube-system/{}", f.trim_end_matches(".yaml")),
                            mode: 0o600,
                        },
                    )
                })
                .collect(),
            outcome: NodeOutcome::Changed,
            message: None,
            revision: 1,
            groups: vec![],
            roles: vec![],
        }
    }

    fn pod(file: &str, sha: &str, phase: &str, ready: u32) -> PodRecord {
        PodRecord {
            node: "n1".into(),
            uid: format!("{file}{sha}"),
            name: format!("{}-n1", file.trim_end_matches(".yaml")),
            namespace: "kube-system".into(),
            file: format!("/etc/kubernetes/manifests/{file}"),
            content_sha256: sha.into(),
            phase: phase.into(),
            ready,
            total: 1,
            ..Default::default()
        }
    }

    #[test]
    fn sync_states() {
        let d = desired(&[("a.yaml", "h1")]);
        assert_eq!(
            pod_sync(&pod("a.yaml", "h1", "Running", 1), Some(&d)),
            SyncState::InSync
        );
        assert_eq!(
            pod_sync(&pod("a.yaml", "h1", "Pending", 0), Some(&d)),
            SyncState::Pending
        );
        assert_eq!(
            pod_sync(&pod("a.yaml", "h1", "Running", 0), Some(&d)),
            SyncState::Pending
        );
        assert_eq!(
            pod_sync(&pod("a.yaml", "h2", "Running", 1), Some(&d)),
            SyncState::Drifted
        );
        let old = PodRecord {
            terminating: true,
            ..pod("a.yaml", "h0", "Running", 1)
        };
        assert_eq!(
            pod_sync(&old, Some(&d)),
            SyncState::Pending,
            "being replaced"
        );
        assert_eq!(
            pod_sync(&pod("b.yaml", "h", "Running", 1), Some(&d)),
            SyncState::Unmanaged
        );
        assert_eq!(
            pod_sync(&pod("a.yaml", "h1", "Running", 1), None),
            SyncState::Unmanaged
        );
    }

    #[test]
    fn nodes_by_heartbeat_and_missing_pods() {
        let now: jiff::Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        let node = |name: &str, seen: &str| NodeRecord {
            name: name.into(),
            last_seen: seen.into(),
            ..Default::default()
        };
        let reported = Reported {
            nodes: vec![
                node("n1", "2026-11-28T11:59:30Z"),
                node("n2", "2026-11-28T11:59:00Z"),
            ],
            pods: vec![pod("a.yaml", "h1", "Running", 1)],
            events: vec![],
        };
        let want: BTreeMap<String, NodeRevision> = [(
            "n1".to_string(),
            desired(&[("a.yaml", "h1"), ("b.yaml", "h2")]),
        )]
        .into();
        let hosts = ["n1".to_string(), "n2".to_string(), "n3".to_string()];
        let v = fleet_view(&reported, &want, Some(&hosts), now, Duration::from_secs(40));
        let cond: Vec<NodeCondition> = v.nodes.iter().map(|n| n.condition).collect();
        assert_eq!(
            cond,
            [
                NodeCondition::Ready,
                NodeCondition::NotReady,
                NodeCondition::Unknown
            ]
        );
        let rows: Vec<(&str, SyncState)> =
            v.pods.iter().map(|p| (p.name.as_ref(), p.sync)).collect();
        assert_eq!(
            rows,
            [("a-n1", SyncState::InSync), ("b-n1", SyncState::Missing)]
        );
    }
}
