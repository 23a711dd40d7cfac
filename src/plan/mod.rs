//! Plan = diff(desired, observed) for one node. Pure: no I/O.
//!
//! Ownership rules: podfleet only rewrites or deletes files its on-node record says it
//! wrote. Other files in the directory are *unmanaged*: reported, never removed. A
//! managed file whose content differs from what podfleet recorded was edited on the node
//! (*drift*): reported, and overwritten by a push. A desired file that already exists
//! without being managed is taken over (called out in the diff).

pub mod diff;

use std::collections::BTreeMap;

use crate::manifest::content_sha256;
use crate::nodedir::{self, NodeRecord, ObservedDir, RECORD_FILE};

/// A file podfleet wants on the node.
#[derive(Debug, Clone)]
pub struct WantedFile {
    /// File name in the manifest directory.
    pub name: String,
    /// Content.
    pub bytes: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

/// One change a push would make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new file.
    Create {
        /// File name.
        name: String,
        /// New content.
        after: Vec<u8>,
        /// Mode.
        mode: u32,
    },
    /// Replace an existing file's content.
    Update {
        /// File name.
        name: String,
        /// Current content on the node.
        before: Vec<u8>,
        /// New content.
        after: Vec<u8>,
        /// Mode.
        mode: u32,
        /// The file was edited on the node since podfleet wrote it.
        drifted: bool,
        /// The file exists but podfleet did not write it.
        takeover: bool,
    },
    /// Only the mode differs.
    Chmod {
        /// File name.
        name: String,
        /// Current mode.
        from: u32,
        /// Wanted mode.
        to: u32,
    },
    /// Remove a managed file that is no longer wanted (`--prune`).
    Delete {
        /// File name.
        name: String,
        /// Current content.
        before: Vec<u8>,
    },
}

impl Change {
    /// The file the change is about.
    pub fn name(&self) -> &str {
        match self {
            Change::Create { name, .. }
            | Change::Update { name, .. }
            | Change::Chmod { name, .. }
            | Change::Delete { name, .. } => name,
        }
    }
}

/// What a push would do on one node, plus what it noticed and leaves alone.
#[derive(Debug, Clone, Default)]
pub struct NodePlan {
    /// Changes, sorted by file name.
    pub changes: Vec<Change>,
    /// Desired files already in place.
    pub unchanged: Vec<String>,
    /// Files podfleet did not write and does not want: left alone.
    pub unmanaged: Vec<String>,
    /// Managed files edited on the node since podfleet wrote them.
    pub drifted: Vec<String>,
    /// Managed files no longer desired, kept because `--prune` was not given.
    pub stale: Vec<String>,
    /// Managed files that were deleted on the node (the push recreates them).
    pub vanished: Vec<String>,
    /// Non-regular entries in the directory (the kubelet skips them too).
    pub others: Vec<String>,
    /// The record to leave on the node.
    pub record: NodeRecord,
    /// Whether the record needs writing even without file changes.
    pub record_changed: bool,
    /// Preconditions for the apply: every file read, name → expected SHA-256 (None =
    /// absent). The apply refuses (and the push reads again) if anything moved since.
    pub expect: BTreeMap<String, Option<String>>,
    /// podfleet's temporary files an interrupted push left behind (removed by a push).
    pub leftover_tmp: Vec<String>,
    /// What an interrupted push left: which file is at which revision.
    pub interrupted: Option<String>,
    /// Why this node cannot be pushed as planned (e.g. a directory where a file goes).
    pub blocked: Vec<String>,
}

impl NodePlan {
    /// True when a push would write anything.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || self.record_changed || !self.leftover_tmp.is_empty()
    }

    /// Legacy temp names (`.<name>.tmp`) among the leftovers, which the apply removes by
    /// name (it always removes `.podfleet-*.tmp`).
    pub fn legacy_tmp(&self) -> Vec<String> {
        self.leftover_tmp
            .iter()
            .filter(|n| !nodedir::is_tmp_name(n))
            .cloned()
            .collect()
    }
}

/// Compute the plan for one node.
pub fn plan(wanted: &[WantedFile], observed: &ObservedDir, prune: bool) -> NodePlan {
    let old = observed.record.clone().unwrap_or_default();
    let mut p = NodePlan {
        others: observed.others.clone(),
        ..Default::default()
    };
    let mut record_files = BTreeMap::new();
    let current_sha: BTreeMap<&str, String> = observed
        .files
        .iter()
        .map(|(n, f)| (n.as_str(), content_sha256(&f.bytes)))
        .collect();
    let is_drifted = |name: &str, cur: &str| {
        old.files
            .get(name)
            .is_some_and(|recorded| recorded != cur && !old.in_flight(name, cur))
    };
    // Every file read is a precondition, written or not: a push validates under the lock
    // that the directory is still exactly what it planned from.
    for name in observed.files.keys() {
        p.expect
            .insert(name.clone(), Some(current_sha[name.as_str()].clone()));
    }
    for name in &observed.others {
        if wanted.iter().any(|w| &w.name == name) {
            p.blocked.push(format!(
                "{name} exists on the node but is not a regular file (a directory?); remove it or rename the template"
            ));
        }
    }
    p.leftover_tmp = observed
        .leftover_tmp
        .iter()
        .filter(|t| {
            nodedir::is_tmp_name(t)
                || t.strip_prefix('.')
                    .and_then(|r| r.strip_suffix(".tmp"))
                    .is_some_and(|n| {
                        old.files.contains_key(n) || wanted.iter().any(|w| w.name == n)
                    })
        })
        .cloned()
        .collect();
    p.interrupted = interrupted(observed);

    for w in wanted {
        let want_sha = content_sha256(&w.bytes);
        record_files.insert(w.name.clone(), want_sha.clone());
        match observed.files.get(&w.name) {
            None => {
                if old.files.contains_key(&w.name) {
                    p.vanished.push(w.name.clone());
                }
                p.expect.insert(w.name.clone(), None);
                p.changes.push(Change::Create {
                    name: w.name.clone(),
                    after: w.bytes.clone(),
                    mode: w.mode,
                });
            }
            Some(f) => {
                let cur = &current_sha[w.name.as_str()];
                let drifted = is_drifted(&w.name, cur);
                if drifted && *cur != want_sha {
                    p.drifted.push(w.name.clone());
                }
                // A symlink whose mode differs is replaced, not chmodded: chmod would follow
                // the link out of the directory.
                if *cur != want_sha || (f.mode != w.mode && f.symlink) {
                    p.expect.insert(w.name.clone(), Some(cur.clone()));
                    p.changes.push(Change::Update {
                        name: w.name.clone(),
                        before: f.bytes.clone(),
                        after: w.bytes.clone(),
                        mode: w.mode,
                        drifted,
                        takeover: !old.files.contains_key(&w.name),
                    });
                } else if f.mode != w.mode {
                    p.expect.insert(w.name.clone(), Some(cur.clone()));
                    p.changes.push(Change::Chmod {
                        name: w.name.clone(),
                        from: f.mode,
                        to: w.mode,
                    });
                } else {
                    p.unchanged.push(w.name.clone());
                }
            }
        }
    }

    for (name, f) in &observed.files {
        if wanted.iter().any(|w| &w.name == name) {
            continue;
        }
        match old.files.get(name) {
            None => p.unmanaged.push(name.clone()),
            Some(recorded) => {
                let cur = &current_sha[name.as_str()];
                if is_drifted(name, cur) {
                    p.drifted.push(name.clone());
                }
                if prune {
                    p.expect.insert(name.clone(), Some(cur.clone()));
                    p.changes.push(Change::Delete {
                        name: name.clone(),
                        before: f.bytes.clone(),
                    });
                } else {
                    p.stale.push(name.clone());
                    record_files.insert(name.clone(), recorded.clone());
                }
            }
        }
    }
    p.changes.sort_by(|a, b| a.name().cmp(b.name()));
    p.drifted.sort();

    p.record = NodeRecord {
        podfleet: 1,
        files: record_files,
        ..old.clone()
    };
    p.record.pending.clear();
    p.record.journal = None;
    p.record_changed = p.record.files != old.files
        || !old.pending.is_empty()
        || old.journal.is_some()
        || observed.record.is_none() && !p.record.files.is_empty();
    p.expect.insert(
        RECORD_FILE.to_string(),
        observed.record_bytes.as_ref().map(|b| content_sha256(b)),
    );
    p
}

/// If a push was interrupted on this node, say which file is from which revision.
pub fn interrupted(observed: &ObservedDir) -> Option<String> {
    let rec = observed.record.as_ref()?;
    let j = rec.journal.as_ref()?;
    let (new, old) = (j.revision, j.from_revision);
    let mut parts = Vec::new();
    for (name, e) in &j.files {
        let cur = observed.files.get(name).map(|f| content_sha256(&f.bytes));
        let state = if cur == e.to {
            if e.to.is_none() {
                format!("{name} deleted (revision {new})")
            } else {
                format!("{name} from revision {new}")
            }
        } else if cur == e.from {
            if e.from.is_none() {
                format!("{name} not yet created (revision {old})")
            } else {
                format!("{name} still from revision {old}")
            }
        } else {
            format!("{name} changed on the node since")
        };
        parts.push(state);
    }
    Some(format!(
        "an interrupted push (revision {new} by {}, started {}) left this node part-way: {}",
        if j.by.is_empty() { "?" } else { &j.by },
        if j.started.is_empty() {
            "?"
        } else {
            &j.started
        },
        parts.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodedir::ObservedFile;

    fn obs(files: &[(&str, &str)], record: &[(&str, &str)]) -> ObservedDir {
        let mut o = ObservedDir {
            exists: true,
            ..Default::default()
        };
        for (n, c) in files {
            o.files.insert(
                n.to_string(),
                ObservedFile {
                    name: n.to_string(),
                    mode: 0o600,
                    bytes: c.as_bytes().to_vec(),
                    symlink: false,
                },
            );
        }
        if !record.is_empty() {
            let mut r = NodeRecord {
                podfleet: 1,
                ..Default::default()
            };
            for (n, c) in record {
                r.files.insert(n.to_string(), content_sha256(c.as_bytes()));
            }
            o.record_bytes = Some(serde_json::to_vec(&r).unwrap());
            o.record = Some(r);
        }
        o
    }

    fn want(files: &[(&str, &str)]) -> Vec<WantedFile> {
        files
            .iter()
            .map(|(n, c)| WantedFile {
                name: n.to_string(),
                bytes: c.as_bytes().to_vec(),
                mode: 0o600,
            })
            .collect()
    }

    #[test]
    fn first_push_creates_and_leaves_foreign_files() {
        let p = plan(
            &want(&[("a.yaml", "A")]),
            &obs(&[("kube-apiserver.yaml", "K")], &[]),
            true,
        );
        assert_eq!(p.changes.len(), 1);
        assert!(matches!(&p.changes[0], Change::Create { name, .. } if name == "a.yaml"));
        assert_eq!(p.unmanaged, vec!["kube-apiserver.yaml"]);
        assert_eq!(p.expect.get("a.yaml"), Some(&None));
    }

    #[test]
    fn no_op_when_everything_matches() {
        let p = plan(
            &want(&[("a.yaml", "A")]),
            &obs(&[("a.yaml", "A")], &[("a.yaml", "A")]),
            false,
        );
        assert!(!p.has_changes());
        assert_eq!(p.unchanged, vec!["a.yaml"]);
    }

    #[test]
    fn identical_unmanaged_file_is_adopted_without_rewrite() {
        let p = plan(
            &want(&[("a.yaml", "A")]),
            &obs(&[("a.yaml", "A")], &[]),
            false,
        );
        assert!(p.changes.is_empty());
        assert!(p.record_changed, "the record must now claim the file");
    }

    #[test]
    fn drift_is_detected_and_overwritten() {
        let p = plan(
            &want(&[("a.yaml", "A2")]),
            &obs(&[("a.yaml", "edited")], &[("a.yaml", "A1")]),
            false,
        );
        assert_eq!(p.drifted, vec!["a.yaml"]);
        assert!(matches!(
            &p.changes[0],
            Change::Update {
                drifted: true,
                takeover: false,
                ..
            }
        ));
        // Drift of a file podfleet would not change is still reported.
        let p = plan(
            &want(&[]),
            &obs(&[("a.yaml", "edited")], &[("a.yaml", "A1")]),
            false,
        );
        assert_eq!(p.drifted, vec!["a.yaml"]);
        assert_eq!(p.stale, vec!["a.yaml"]);
    }

    #[test]
    fn prune_only_deletes_managed_files() {
        let p = plan(
            &want(&[]),
            &obs(
                &[("old.yaml", "O"), ("foreign.yaml", "F")],
                &[("old.yaml", "O")],
            ),
            true,
        );
        assert_eq!(
            p.changes,
            vec![Change::Delete {
                name: "old.yaml".into(),
                before: b"O".to_vec()
            }]
        );
        assert_eq!(p.unmanaged, vec!["foreign.yaml"]);
        assert!(!p.record.files.contains_key("old.yaml"));
        // Without --prune the file stays managed.
        let p = plan(
            &want(&[]),
            &obs(&[("old.yaml", "O")], &[("old.yaml", "O")]),
            false,
        );
        assert!(p.changes.is_empty());
        assert!(p.record.files.contains_key("old.yaml"));
    }

    #[test]
    fn takeover_and_mode_changes() {
        let p = plan(
            &want(&[("a.yaml", "new")]),
            &obs(&[("a.yaml", "kubeadm's")], &[]),
            false,
        );
        assert!(matches!(
            &p.changes[0],
            Change::Update { takeover: true, .. }
        ));
        let mut o = obs(&[("a.yaml", "A")], &[("a.yaml", "A")]);
        o.files.get_mut("a.yaml").unwrap().mode = 0o644;
        let p = plan(&want(&[("a.yaml", "A")]), &o, false);
        assert_eq!(
            p.changes,
            vec![Change::Chmod {
                name: "a.yaml".into(),
                from: 0o644,
                to: 0o600
            }]
        );
    }

    #[test]
    fn interrupted_push_is_not_drift() {
        let mut o = obs(&[("a.yaml", "old")], &[("a.yaml", "new")]);
        o.record
            .as_mut()
            .unwrap()
            .pending
            .insert("a.yaml".into(), content_sha256(b"old"));
        let p = plan(&want(&[("a.yaml", "new")]), &o, false);
        assert!(p.drifted.is_empty());
        assert_eq!(p.changes.len(), 1);
    }

    #[test]
    fn every_file_read_is_a_precondition() {
        let p = plan(
            &want(&[("a.yaml", "A"), ("b.yaml", "B2")]),
            &obs(
                &[("a.yaml", "A"), ("b.yaml", "B1"), ("foreign.yaml", "F")],
                &[("a.yaml", "A"), ("b.yaml", "B1")],
            ),
            false,
        );
        for (name, content) in [("a.yaml", "A"), ("b.yaml", "B1"), ("foreign.yaml", "F")] {
            assert_eq!(
                p.expect.get(name),
                Some(&Some(content_sha256(content.as_bytes()))),
                "{name}"
            );
        }
        assert!(p.expect.contains_key(RECORD_FILE));
    }

    #[test]
    fn an_interrupted_push_is_described_file_by_file() {
        use crate::nodedir::{Journal, JournalEntry};
        let mut o = obs(&[("a.yaml", "new"), ("b.yaml", "old")], &[("a.yaml", "x")]);
        let sha = |s: &str| Some(content_sha256(s.as_bytes()));
        o.record.as_mut().unwrap().journal = Some(Journal {
            revision: 9,
            from_revision: 8,
            by: "me@ctl".into(),
            started: "T".into(),
            files: [
                (
                    "a.yaml".to_string(),
                    JournalEntry {
                        from: sha("old"),
                        to: sha("new"),
                    },
                ),
                (
                    "b.yaml".to_string(),
                    JournalEntry {
                        from: sha("old"),
                        to: sha("new"),
                    },
                ),
                (
                    "c.yaml".to_string(),
                    JournalEntry {
                        from: None,
                        to: sha("new"),
                    },
                ),
            ]
            .into(),
        });
        let text = interrupted(&o).unwrap();
        assert_eq!(
            text,
            "an interrupted push (revision 9 by me@ctl, started T) left this node part-way: \
             a.yaml from revision 9; b.yaml still from revision 8; c.yaml not yet created (revision 8)"
        );
        let p = plan(&want(&[("a.yaml", "new"), ("b.yaml", "new")]), &o, false);
        assert!(p.drifted.is_empty(), "in-flight content is not drift");
        assert!(p.record_changed, "the journal is cleared by the next push");
        assert!(p.record.journal.is_none());
    }

    #[test]
    fn leftovers_and_blocking_entries() {
        let mut o = obs(&[], &[("a.yaml", "A")]);
        o.leftover_tmp = vec![
            ".podfleet-3.tmp".into(),
            ".a.yaml.tmp".into(),
            ".vim-swap.tmp".into(),
        ];
        o.others = vec!["b.yaml".into()];
        let p = plan(&want(&[("a.yaml", "A"), ("b.yaml", "B")]), &o, false);
        assert_eq!(p.leftover_tmp, vec![".podfleet-3.tmp", ".a.yaml.tmp"]);
        assert_eq!(p.legacy_tmp(), vec![".a.yaml.tmp"]);
        assert!(p.has_changes());
        assert_eq!(p.blocked.len(), 1);
        assert!(p.blocked[0].starts_with("b.yaml exists on the node but is not a regular file"));
    }

    #[test]
    fn a_symlinked_file_is_replaced_not_chmodded() {
        let mut o = obs(&[("a.yaml", "A")], &[("a.yaml", "A")]);
        let f = o.files.get_mut("a.yaml").unwrap();
        f.symlink = true;
        f.mode = 0o644;
        let p = plan(&want(&[("a.yaml", "A")]), &o, false);
        assert!(matches!(&p.changes[0], Change::Update { .. }));
    }

    #[test]
    fn vanished_managed_file_is_recreated() {
        let p = plan(
            &want(&[("a.yaml", "A")]),
            &obs(&[], &[("a.yaml", "A")]),
            false,
        );
        assert_eq!(p.vanished, vec!["a.yaml"]);
        assert!(matches!(&p.changes[0], Change::Create { .. }));
    }
}
