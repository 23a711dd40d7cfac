//! The model of a node's manifest directory as podfleet sees it: the files in it, podfleet's
//! record of what it wrote (with the journal of an unfinished push), and the node lock.
//!
//! Plain data shared by the planner (pure) and the node protocol (`transport::scripts`),
//! so neither depends on the other. See `docs/ARCHITECTURE.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// File name of podfleet's record in the manifest directory.
pub const RECORD_FILE: &str = ".podfleet.json";
/// Directory used as the node lock (mkdir is atomic).
pub const LOCK_DIR: &str = ".podfleet.lock";
/// Prefix of podfleet's temporary files (`.podfleet-<n>.tmp`); dot files, so the kubelet
/// never reads them.
pub const TMP_PREFIX: &str = ".podfleet-";
/// Suffix of podfleet's temporary files.
pub const TMP_SUFFIX: &str = ".tmp";

/// Longest node-side file name (NAME_MAX on Linux).
pub const MAX_NAME_BYTES: usize = 255;
/// Extensions a node-side manifest name may have: what the kubelet's decoder reads as a
/// Pod and what the agent's `--manifest-extensions` default accepts.
pub const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Why a node-side file name is refused, or `None` if it is fine. Checked before anything
/// is sent to a node, so no name can be read as an option or escape the directory.
pub fn file_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the file name is empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Some(format!(
            "the file name is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
            name.len()
        ));
    }
    if name.starts_with('-') {
        return Some("the file name starts with '-' (it would be read as an option)".into());
    }
    if name.starts_with('.') {
        return Some(
            "the file name starts with '.': the kubelet ignores dot files, so it would never run"
                .into(),
        );
    }
    if name.contains('/') {
        return Some("the file name contains '/'".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(format!(
            "the file name contains the control character {:?}",
            c
        ));
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if !MANIFEST_EXTENSIONS.contains(&ext) {
        return Some(
            "the file name must end in .yaml, .yml or .json (what `podfleet agent \
             --manifest-extensions yaml,yml,json` reads; other names look like backups)"
                .into(),
        );
    }
    None
}

/// Whether `name` is one of podfleet's temporary files.
pub fn is_tmp_name(name: &str) -> bool {
    name.strip_prefix(TMP_PREFIX)
        .and_then(|r| r.strip_suffix(TMP_SUFFIX))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A regular file found in the manifest directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedFile {
    /// File name.
    pub name: String,
    /// Permission bits.
    pub mode: u32,
    /// Content.
    pub bytes: Vec<u8>,
    /// Whether the name is a symlink (to a regular file).
    pub symlink: bool,
}

/// One file of an unfinished push: its content before and after (SHA-256; `None` = absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Content before the push.
    #[serde(default)]
    pub from: Option<String>,
    /// Content the push writes (`None`: the push deletes the file).
    #[serde(default)]
    pub to: Option<String>,
}

/// Written into the record before a push changes any file and removed when it has changed
/// them all: if it is still there, that push was interrupted and each listed file holds
/// either its `from` or its `to` content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Revision of the interrupted push.
    pub revision: u64,
    /// Revision the node was at before it.
    #[serde(default)]
    pub from_revision: u64,
    /// `user@host` of the interrupted push.
    #[serde(default)]
    pub by: String,
    /// When it started (RFC 3339).
    #[serde(default)]
    pub started: String,
    /// Files it was changing.
    #[serde(default)]
    pub files: BTreeMap<String, JournalEntry>,
}

/// What podfleet keeps on the node: which files it wrote, with which content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Format version.
    pub podfleet: u32,
    /// Revision of the last push.
    #[serde(default)]
    pub revision: u64,
    /// `user@host` of the last push.
    #[serde(default)]
    pub pushed_by: String,
    /// RFC 3339 time of the last push.
    #[serde(default)]
    pub pushed_at: String,
    /// Managed file name → SHA-256 of the content podfleet wrote.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Files an earlier version's interrupted push was about to replace, with their previous
    /// SHA-256 (read for compatibility; new pushes write [`Journal`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, String>,
    /// Present only while a push is changing files (or if it was interrupted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<Journal>,
}

impl NodeRecord {
    /// Whether `sha` in `name` is content an unfinished push may legitimately have left
    /// (its old or its new version), so it is not drift.
    pub fn in_flight(&self, name: &str, sha: &str) -> bool {
        self.pending.get(name).is_some_and(|p| p == sha)
            || self.journal.as_ref().is_some_and(|j| {
                j.files
                    .get(name)
                    .is_some_and(|e| e.from.as_deref() == Some(sha) || e.to.as_deref() == Some(sha))
            })
    }
}

/// Who holds a node lock (written by the controller into the lock).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// `user@host` of the holder.
    pub owner: String,
    /// Controller host name of the holder.
    pub host: String,
    /// Process id of the holder on its controller.
    pub pid: u32,
    /// When the lock was taken (RFC 3339).
    pub since: String,
    /// Random id of the holding run.
    pub run: String,
}

/// What the node itself says about the lock's holder (its shell process on the node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolderState {
    /// The holder's shell is running.
    Live,
    /// The holder's shell is gone (or the node rebooted): the next apply takes the lock over.
    Dead,
}

/// The lock as read from the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedLock {
    /// The holder's description (`None` if unreadable, e.g. written by something else).
    pub info: Option<LockInfo>,
    /// The node's verdict on the holder.
    pub holder: HolderState,
}

/// Everything read from a node's manifest directory in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedDir {
    /// Whether the directory exists.
    pub exists: bool,
    /// Regular (non-dot) files, by name.
    pub files: BTreeMap<String, ObservedFile>,
    /// Non-dot entries that are not regular files (the kubelet skips them).
    pub others: Vec<String>,
    /// podfleet's temporary files left behind by an interrupted push.
    pub leftover_tmp: Vec<String>,
    /// podfleet's record, if present and readable.
    pub record: Option<NodeRecord>,
    /// Raw record bytes (their hash is a precondition for writes).
    pub record_bytes: Option<Vec<u8>>,
    /// The lock, if the directory is locked.
    pub lock: Option<ObservedLock>,
    /// Problems worth a warning (unreadable record, odd names).
    pub warnings: Vec<String>,
}

/// Describe a lock holder for messages.
pub fn describe_lock(l: &Option<LockInfo>) -> String {
    match l {
        Some(l) => format!(
            "{} (pid {} on {}) since {}",
            l.owner, l.pid, l.host, l.since
        ),
        None => "an unknown holder".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "",
            "-t..",
            "--help.yaml",
            ".hidden.yaml",
            "a/b.yaml",
            "new\nline.yaml",
            "tab\t.yaml",
            "del\u{7f}.yaml",
            "etcd.yaml.bak",
            "etcd",
        ] {
            assert!(file_name_problem(bad).is_some(), "{bad:?} accepted");
        }
        let long = format!("{}.yaml", "a".repeat(251));
        assert_eq!(long.len(), 256);
        assert!(file_name_problem(&long).is_some());
        for good in [
            "etcd.yaml",
            "kube-apiserver.yml",
            "pod.json",
            "a b.yaml",
            "it's.yaml",
            "ünï.yaml",
        ] {
            assert_eq!(file_name_problem(good), None, "{good:?}");
        }
        assert_eq!(
            file_name_problem(&format!("{}.yaml", "a".repeat(250))),
            None
        );
    }

    #[test]
    fn tmp_names() {
        assert!(is_tmp_name(".podfleet-0.tmp"));
        assert!(is_tmp_name(".podfleet-12.tmp"));
        assert!(!is_tmp_name(".podfleet-.tmp"));
        assert!(!is_tmp_name(".podfleet-x.tmp"));
        assert!(!is_tmp_name(".etcd.yaml.tmp"));
    }

    #[test]
    fn in_flight_content_is_not_drift() {
        let r = NodeRecord {
            journal: Some(Journal {
                files: [(
                    "a.yaml".to_string(),
                    JournalEntry {
                        from: Some("old".into()),
                        to: Some("new".into()),
                    },
                )]
                .into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(r.in_flight("a.yaml", "old"));
        assert!(r.in_flight("a.yaml", "new"));
        assert!(!r.in_flight("a.yaml", "other"));
        assert!(!r.in_flight("b.yaml", "old"));
    }
}
