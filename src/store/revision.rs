//! What a push recorded: one revision per run, per node the files and the outcome.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a node fared in a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeOutcome {
    /// Already in the desired state.
    Ok,
    /// Files were written.
    Changed,
    /// Reached, but the push failed (nothing or only part written).
    Failed,
    /// Could not be reached.
    Unreachable,
    /// Not attempted (e.g. an earlier serial batch failed).
    Skipped,
    /// Health gate failed and the previous files were put back.
    RolledBack,
}

impl NodeOutcome {
    /// True when the node now runs this revision's files.
    pub fn applied(self) -> bool {
        matches!(self, NodeOutcome::Ok | NodeOutcome::Changed)
    }
}

/// One file of a node in a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRev {
    /// SHA-256 of the content (the content itself is in the blob store).
    pub sha256: String,
    /// Template it was rendered from.
    #[serde(default)]
    pub template: String,
    /// Canonical hash of the pod (identity independent of formatting).
    #[serde(default)]
    pub canonical_hash: String,
    /// `namespace/name` of the pod.
    #[serde(default)]
    pub pod: String,
    /// Permission bits.
    #[serde(default)]
    pub mode: u32,
}

/// One node's part of a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRevision {
    /// Manifest directory.
    pub dir: String,
    /// Desired files.
    pub files: BTreeMap<String, FileRev>,
    /// Outcome of the push on this node.
    pub outcome: NodeOutcome,
    /// Error or notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Revision this node's files come from (itself, unless it was rolled back).
    #[serde(default)]
    pub revision: u64,
    /// The node's inventory groups at push time (node labels in the Kubernetes API view).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The groups that `podfleet_role_groups` makes node roles (`node-role.kubernetes.io/…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// A push run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// Monotonic id.
    pub id: u64,
    /// RFC 3339 time the push started.
    pub time: String,
    /// `user@host` that ran it.
    pub user: String,
    /// The command (`push`, `push --prune`, `rollback 3`).
    pub command: String,
    /// `--limit`, if any.
    #[serde(default)]
    pub limit: Option<String>,
    /// Per node.
    pub nodes: BTreeMap<String, NodeRevision>,
    /// Wall time of the push in milliseconds (0 when not measured).
    #[serde(default)]
    pub duration_ms: u64,
}

/// A line of `podfleet history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionSummary {
    /// Revision id.
    pub id: u64,
    /// Time.
    pub time: String,
    /// Who.
    pub user: String,
    /// What.
    pub command: String,
    /// Limit.
    pub limit: Option<String>,
    /// Count of nodes per outcome.
    pub outcomes: BTreeMap<String, usize>,
}

impl Revision {
    /// Summary line data.
    pub fn summary(&self) -> RevisionSummary {
        let mut outcomes = BTreeMap::new();
        for n in self.nodes.values() {
            let k = serde_json::to_value(n.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            *outcomes.entry(k).or_insert(0) += 1;
        }
        RevisionSummary {
            id: self.id,
            time: self.time.clone(),
            user: self.user.clone(),
            command: self.command.clone(),
            limit: self.limit.clone(),
            outcomes,
        }
    }
}
