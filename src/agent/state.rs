//! The agent's shared view of its pods, events and manifest problems. Workers and the
//! reconciler write it; the local API, metrics and the coordinator reporter read it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::phase::Phase;

/// Events kept in memory.
pub const MAX_EVENTS: usize = 1000;

/// One pod as the agent sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodView {
    /// Identity (`config.hash`).
    pub uid: String,
    /// Manifest path.
    pub file: String,
    /// SHA-256 of the manifest bytes.
    pub content_sha256: String,
    /// Canonical hash of the manifest.
    pub canonical_hash: String,
    /// Mirror name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Phase.
    pub phase: Phase,
    /// Ready containers.
    pub ready: usize,
    /// App containers.
    pub total: usize,
    /// Restarts summed over containers.
    pub restarts: u32,
    /// The most recent problem (image pull, probe, start error, invalid manifest).
    pub last_error: Option<String>,
    /// Being stopped.
    pub terminating: bool,
    /// kubectl's STATUS for the pod (`Running`, `CrashLoopBackOff`, `Terminating`, …).
    #[serde(default)]
    pub status: String,
    /// The mirror pod object, with status.
    pub mirror: Pod,
}

/// An event, aggregated like Kubernetes events (same pod, reason and message → count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEvent {
    /// Sequence number (increases with every new or repeated event).
    pub seq: u64,
    /// First occurrence (RFC 3339).
    pub first_time: String,
    /// Last occurrence.
    pub last_time: String,
    /// Occurrences.
    pub count: u32,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// `Started`, `Killing`, `BackOff`, `Unhealthy`, `Failed`, `InvalidManifest`, …
    pub reason: String,
    /// Human message.
    pub message: String,
    /// Mirror pod name (or the file name for manifest problems).
    pub object: String,
    /// Namespace.
    pub namespace: String,
    /// Pod identity, if any.
    pub uid: Option<String>,
}

/// A problem with a manifest file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIssue {
    /// File name.
    pub file: String,
    /// What is wrong.
    pub message: String,
    /// Whether the last good version of the pod keeps running.
    pub keeping_last_good: bool,
}

#[derive(Default)]
struct Inner {
    pods: BTreeMap<String, PodView>,
    events: VecDeque<AgentEvent>,
    issues: Vec<SourceIssue>,
    seq: u64,
    sources_ready: bool,
}

/// Shared agent state. Every change bumps a version others can wait on.
pub struct AgentState {
    /// Node name.
    pub node: String,
    /// Runtime name.
    pub runtime: String,
    /// Agent start time (RFC 3339).
    pub started_at: String,
    inner: Mutex<Inner>,
    version: watch::Sender<u64>,
}

/// A consistent copy of the state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// Node name.
    pub node: String,
    /// Runtime.
    pub runtime: String,
    /// Agent start time.
    pub started_at: String,
    /// Agent version.
    pub version: String,
    /// Whether the first full directory scan finished.
    pub sources_ready: bool,
    /// Pods.
    pub pods: Vec<PodView>,
    /// Events, oldest first.
    pub events: Vec<AgentEvent>,
    /// Manifest problems.
    pub issues: Vec<SourceIssue>,
}

impl AgentState {
    /// Empty state.
    pub fn new(node: &str, runtime: &str) -> Self {
        AgentState {
            node: node.to_string(),
            runtime: runtime.to_string(),
            started_at: jiff::Timestamp::now().to_string(),
            inner: Mutex::new(Inner::default()),
            version: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Wait for changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Insert or replace a pod view.
    pub fn set_pod(&self, view: PodView) {
        let mut g = self.lock();
        let changed = g
            .pods
            .get(&view.uid)
            .is_none_or(|old| serde_json::to_value(old).ok() != serde_json::to_value(&view).ok());
        if changed {
            g.pods.insert(view.uid.clone(), view);
            drop(g);
            self.bump();
        }
    }

    /// Forget a pod.
    /// Put `view` in place of the pod `old` in one step, so that no report sees neither
    /// (a replaced or restarted pod never reads as missing).
    pub fn replace_pod(&self, old: &str, view: PodView) {
        let mut g = self.lock();
        g.pods.remove(old);
        g.pods.insert(view.uid.clone(), view);
        drop(g);
        self.bump();
    }

    /// Forget a pod whose worker has stopped.
    pub fn remove_pod(&self, uid: &str) {
        if self.lock().pods.remove(uid).is_some() {
            self.bump();
        }
    }

    /// A pod view by uid.
    pub fn pod(&self, uid: &str) -> Option<PodView> {
        self.lock().pods.get(uid).cloned()
    }

    /// Record an event (aggregating repeats).
    pub fn event(
        &self,
        kind: &str,
        reason: &str,
        message: &str,
        object: &str,
        namespace: &str,
        uid: Option<&str>,
    ) {
        let now = jiff::Timestamp::now().to_string();
        let mut g = self.lock();
        g.seq += 1;
        let seq = g.seq;
        let existing = g.events.iter().position(|e| {
            e.reason == reason
                && e.message == message
                && e.object == object
                && e.namespace == namespace
        });
        match existing {
            Some(i) => {
                let mut e = g.events.remove(i).unwrap_or_else(|| unreachable!());
                e.count += 1;
                e.last_time = now;
                e.seq = seq;
                g.events.push_back(e);
            }
            None => {
                g.events.push_back(AgentEvent {
                    seq,
                    first_time: now.clone(),
                    last_time: now,
                    count: 1,
                    kind: kind.to_string(),
                    reason: reason.to_string(),
                    message: message.to_string(),
                    object: object.to_string(),
                    namespace: namespace.to_string(),
                    uid: uid.map(str::to_string),
                });
                while g.events.len() > MAX_EVENTS {
                    g.events.pop_front();
                }
            }
        }
        drop(g);
        match kind {
            "Warning" => tracing::warn!(object, reason, "{message}"),
            _ => tracing::info!(object, reason, "{message}"),
        }
        self.bump();
    }

    /// Replace the list of manifest problems.
    pub fn set_issues(&self, issues: Vec<SourceIssue>) {
        let mut g = self.lock();
        if g.issues != issues {
            g.issues = issues;
            drop(g);
            self.bump();
        }
    }

    /// Mark the first full scan as done.
    pub fn set_sources_ready(&self) {
        self.lock().sources_ready = true;
        self.bump();
    }

    /// A copy of everything.
    pub fn snapshot(&self) -> Snapshot {
        let g = self.lock();
        Snapshot {
            node: self.node.clone(),
            runtime: self.runtime.clone(),
            started_at: self.started_at.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            sources_ready: g.sources_ready,
            pods: g.pods.values().cloned().collect(),
            events: g.events.iter().cloned().collect(),
            issues: g.issues.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(uid: &str) -> PodView {
        PodView {
            uid: uid.into(),
            file: "/m/web.yaml".into(),
            content_sha256: String::new(),
            canonical_hash: String::new(),
            name: "web-n".into(),
            namespace: "default".into(),
            phase: Phase::Pending,
            ready: 0,
            total: 1,
            restarts: 0,
            last_error: None,
            terminating: false,
            status: "Pending".into(),
            mirror: Default::default(),
        }
    }

    /// A replaced (or restarted) pod's successor takes its place in one change: a report
    /// never sees the file without a pod (`status` showed `0/0 Missing` in between).
    #[test]
    fn a_replaced_pod_is_never_missing() {
        let s = AgentState::new("n", "process");
        s.set_pod(view("old"));
        let rx = s.subscribe();
        let before = *rx.borrow();
        s.replace_pod("old", view("new"));
        assert_eq!(
            *rx.borrow(),
            before + 1,
            "one change, not a removal and an addition"
        );
        let uids: Vec<String> = s.snapshot().pods.iter().map(|p| p.uid.clone()).collect();
        assert_eq!(uids, ["new"]);
        // A restart keeps the uid.
        s.replace_pod("new", view("new"));
        assert_eq!(s.snapshot().pods.len(), 1);
    }

    #[test]
    fn events_aggregate_and_are_bounded() {
        let s = AgentState::new("n", "process");
        s.event(
            "Warning",
            "BackOff",
            "back-off 10s",
            "web-n",
            "default",
            None,
        );
        s.event(
            "Warning",
            "BackOff",
            "back-off 10s",
            "web-n",
            "default",
            None,
        );
        s.event(
            "Normal",
            "Started",
            "Started container c",
            "web-n",
            "default",
            None,
        );
        let snap = s.snapshot();
        assert_eq!(snap.events.len(), 2);
        assert_eq!(snap.events[0].count, 2);
        for i in 0..(MAX_EVENTS + 10) {
            s.event("Normal", "X", &i.to_string(), "p", "default", None);
        }
        assert_eq!(s.snapshot().events.len(), MAX_EVENTS);
    }
}
