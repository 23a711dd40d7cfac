//! The manifest directory as the kubelet reads it, and the pods it asks for.
//!
//! Kubelet rules: every regular file whose name does not start with `.` (symlinks to files
//! count), sorted, not recursive, at most 10 MiB. Where users suffer we do better:
//! * `--manifest-extensions yaml,yml,json` ignores backups like `kube-apiserver.yaml.bak`;
//! * a file that turns invalid keeps its last good pod running (and is reported) instead
//!   of the kubelet's kill on the next 20 s re-list;
//! * two files with the same namespace/name: the first in sorted order wins, and the
//!   conflict is reported instead of "last wins".
//!
//! Reading, hashing and parsing happen off the reconcile path (with background parsing on,
//! as the agent runs it): the reconciler only `stat`s a name; a file whose size, mtime or
//! inode changed is judged on the blocking pool and the verdict comes back as a [`Parsed`]
//! message. Small files have their own slots, so a large hostile file never delays an
//! ordinary one; until its verdict arrives a file keeps its previous one.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use crate::manifest::{self, ValidPod, content_sha256, pod_uid};

use super::state::SourceIssue;

/// What `stat` says about a file: if it is unchanged, so is the content we read (ctime
/// moves with every write and cannot be set back by tools like `touch -d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
            ino: m.ino(),
        }
    }
}

/// One file's parse result, remembered between reads.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// SHA-256 of the bytes last read.
    pub sha256: String,
    /// The file's stamp when those bytes were read.
    pub stamp: Option<Stamp>,
    /// The current content's verdict.
    pub current: Result<ValidPod, String>,
    /// The last valid version (content sha, pod), kept while the file is invalid.
    pub last_good: Option<(String, ValidPod)>,
}

/// A pod the directory asks for.
#[derive(Debug, Clone)]
pub struct DesiredPod {
    /// Identity.
    pub uid: String,
    /// Full path of the manifest.
    pub path: String,
    /// SHA-256 of the manifest bytes that define it.
    pub content_sha256: String,
    /// The pod.
    pub pod: ValidPod,
}

/// Files up to this size are judged in the small-file slots.
pub const SMALL_FILE: u64 = 256 * 1024;
/// Concurrent judgements of small files.
pub const SMALL_SLOTS: usize = 2;
/// Concurrent judgements of larger files (their parse takes the most memory).
pub const LARGE_SLOTS: usize = 1;

/// The verdict on one file's current bytes.
#[derive(Debug)]
pub enum Verdict {
    /// Same bytes as last time (only the stamp moved).
    Unchanged,
    /// Could not be read.
    Unreadable(String),
    /// New bytes, parsed and validated.
    Read {
        /// Their SHA-256.
        sha256: String,
        /// The pod, or why not.
        result: Box<Result<ValidPod, String>>,
    },
}

/// A background judgement, for [`Source::parsed`].
#[derive(Debug)]
pub struct Parsed {
    /// File name.
    pub name: String,
    generation: u64,
    stamp: Option<Stamp>,
    verdict: Verdict,
}

struct Background {
    results: mpsc::UnboundedSender<Parsed>,
    small: Arc<Semaphore>,
    large: Arc<Semaphore>,
}

struct Pending {
    generation: u64,
    /// The name changed again while it was being judged: look once more afterwards.
    again: bool,
}

/// The directory and what was last read from it.
pub struct Source {
    dir: PathBuf,
    node: String,
    extensions: Option<Vec<String>>,
    files: BTreeMap<String, FileEntry>,
    background: Option<Background>,
    pending: BTreeMap<String, Pending>,
    generation: u64,
}

/// Read, hash and (if the bytes are new) parse one file. Blocking.
fn judge(path: &Path, name: &str, known_sha: Option<&str>) -> (Option<Stamp>, Verdict) {
    let stamp = std::fs::metadata(path).ok().map(|m| Stamp::of(&m));
    let bytes = match read_capped(path) {
        Ok(b) => b,
        Err(e) => return (stamp, Verdict::Unreadable(format!("cannot read: {e}"))),
    };
    let sha256 = content_sha256(&bytes);
    if known_sha == Some(sha256.as_str()) {
        return (stamp, Verdict::Unchanged);
    }
    let result = manifest::check(name, &bytes).map_err(|d| {
        d.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    });
    (
        stamp,
        Verdict::Read {
            sha256,
            result: Box::new(result),
        },
    )
}

impl Source {
    /// Watch `dir` for `node`; optionally only names ending in one of `extensions`.
    pub fn new(dir: &Path, node: &str, extensions: Option<Vec<String>>) -> Self {
        Source {
            dir: dir.to_path_buf(),
            node: node.to_string(),
            extensions,
            files: BTreeMap::new(),
            background: None,
            pending: BTreeMap::new(),
            generation: 0,
        }
    }

    /// Judge files in the background, sending verdicts to `results` (feed them to
    /// [`Source::parsed`]). Without this, files are judged in place (tests).
    pub fn with_background_parsing(mut self, results: mpsc::UnboundedSender<Parsed>) -> Self {
        self.background = Some(Background {
            results,
            small: Arc::new(Semaphore::new(SMALL_SLOTS)),
            large: Arc::new(Semaphore::new(LARGE_SLOTS)),
        });
        self
    }

    /// How many files are still being judged.
    pub fn parsing(&self) -> usize {
        self.pending.len()
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a name is a manifest candidate (not a dot file; extension allowed).
    pub fn wanted_name(&self, name: &str) -> bool {
        if name.starts_with('.') || name.is_empty() {
            return false;
        }
        match &self.extensions {
            None => true,
            Some(exts) => exts
                .iter()
                .any(|e| name.rsplit_once('.').is_some_and(|(_, x)| x == e)),
        }
    }

    /// Names in the directory that the kubelet would read but our extension filter skips.
    pub fn skipped_by_extension(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return vec![];
        };
        let mut out: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !n.starts_with('.') && !self.wanted_name(n))
            .collect();
        out.sort();
        out
    }

    /// Re-list the whole directory. A missing directory is an empty set.
    pub fn refresh_all(&mut self) {
        let names: BTreeSet<String> = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| self.wanted_name(n))
                .collect(),
            Err(_) => BTreeSet::new(),
        };
        let gone: Vec<String> = self
            .files
            .keys()
            .chain(self.pending.keys())
            .filter(|k| !names.contains(*k))
            .cloned()
            .collect();
        for g in gone {
            self.forget(&g);
        }
        for n in names {
            self.refresh_one(&n);
        }
    }

    /// Re-read some names (from watch events): changed, created or deleted.
    pub fn refresh(&mut self, names: &BTreeSet<String>) {
        for n in names {
            if self.wanted_name(n) {
                self.refresh_one(n);
            }
        }
    }

    fn forget(&mut self, name: &str) {
        self.files.remove(name);
        self.pending.remove(name);
    }

    fn refresh_one(&mut self, name: &str) {
        let path = self.dir.join(name);
        // stat follows symlinks, like the kubelet; directories and sockets are skipped.
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            _ => return self.forget(name),
        };
        if let Some(p) = self.pending.get_mut(name) {
            p.again = true;
            return;
        }
        if self
            .files
            .get(name)
            .is_some_and(|e| e.stamp == Some(Stamp::of(&meta)))
        {
            return;
        }
        let known = self.files.get(name).map(|e| e.sha256.clone());
        let Some(bg) = &self.background else {
            let (stamp, verdict) = judge(&path, name, known.as_deref());
            self.take_verdict(name, stamp, verdict);
            return;
        };
        self.generation += 1;
        let generation = self.generation;
        self.pending.insert(
            name.to_string(),
            Pending {
                generation,
                again: false,
            },
        );
        let slots = if meta.len() > SMALL_FILE {
            bg.large.clone()
        } else {
            bg.small.clone()
        };
        let (tx, name) = (bg.results.clone(), name.to_string());
        tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            let file = name.clone();
            let (stamp, verdict) =
                tokio::task::spawn_blocking(move || judge(&path, &file, known.as_deref()))
                    .await
                    .unwrap_or_else(|e| {
                        (None, Verdict::Unreadable(format!("the parser failed: {e}")))
                    });
            let _ = tx.send(Parsed {
                name,
                generation,
                stamp,
                verdict,
            });
        });
    }

    /// Take a background verdict. Returns whether the desired pods may have changed (a
    /// verdict on bytes that have changed again since is dropped and the file looked at
    /// once more).
    pub fn parsed(&mut self, p: Parsed) -> bool {
        match self.pending.get(&p.name) {
            Some(pending) if pending.generation == p.generation => {}
            _ => return false,
        }
        let again = self.pending.remove(&p.name).is_some_and(|x| x.again);
        let changed = self.take_verdict(&p.name, p.stamp, p.verdict);
        if again {
            self.refresh_one(&p.name);
        }
        changed
    }

    fn take_verdict(&mut self, name: &str, stamp: Option<Stamp>, verdict: Verdict) -> bool {
        let prev = self.files.remove(name);
        let (sha256, current, last_good) = match verdict {
            Verdict::Unchanged => match prev {
                Some(mut e) => {
                    e.stamp = stamp;
                    self.files.insert(name.to_string(), e);
                    return false;
                }
                None => return false,
            },
            Verdict::Unreadable(e) => (String::new(), Err(e), prev.and_then(last_good_of)),
            Verdict::Read { sha256, result } => {
                let result = *result;
                let last_good = match &result {
                    Ok(v) => Some((sha256.clone(), v.clone())),
                    Err(_) => prev.and_then(last_good_of),
                };
                (sha256, result, last_good)
            }
        };
        self.files.insert(
            name.to_string(),
            FileEntry {
                sha256,
                stamp,
                current,
                last_good,
            },
        );
        true
    }

    /// The pods the directory asks for, and its problems. Pure over the cached reads.
    pub fn desired(&self) -> (Vec<DesiredPod>, Vec<SourceIssue>) {
        desired_from(&self.files, &self.dir, &self.node)
    }
}

fn last_good_of(e: FileEntry) -> Option<(String, ValidPod)> {
    e.last_good
}

fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(manifest::MAX_MANIFEST_BYTES as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// The desired pods of a set of file entries (sorted by name).
pub fn desired_from(
    files: &BTreeMap<String, FileEntry>,
    dir: &Path,
    node: &str,
) -> (Vec<DesiredPod>, Vec<SourceIssue>) {
    let mut pods: Vec<DesiredPod> = Vec::new();
    let mut issues = Vec::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for (name, e) in files {
        let (pod, sha) = match (&e.current, &e.last_good) {
            (Ok(v), _) => (v, e.sha256.clone()),
            (Err(msg), Some((sha, v))) => {
                issues.push(SourceIssue {
                    file: name.clone(),
                    message: format!("{msg} (the last valid version keeps running)"),
                    keeping_last_good: true,
                });
                (v, sha.clone())
            }
            (Err(msg), None) => {
                issues.push(SourceIssue {
                    file: name.clone(),
                    message: msg.clone(),
                    keeping_last_good: false,
                });
                continue;
            }
        };
        let key = pod.key();
        if let Some(first) = owners.get(&key) {
            issues.push(SourceIssue {
                file: name.clone(),
                message: format!("pod {key} is already defined by {first}, which wins (first in sorted order); this file is ignored"),
                keeping_last_good: false,
            });
            continue;
        }
        owners.insert(key, name.clone());
        let path = dir.join(name).display().to_string();
        pods.push(DesiredPod {
            uid: pod_uid(&pod.canonical_hash, node, &path),
            path,
            content_sha256: sha,
            pod: pod.clone(),
        });
    }
    (pods, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: NAME}\nspec:\n  containers: [{name: c, image: 'i:1', command: [sleep, '100']}]\n";

    fn pod(name: &str) -> String {
        POD.replace("NAME", name)
    }

    #[test]
    fn kubelet_rules_and_better_ones() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::write(p.join("a.yaml"), pod("a")).unwrap();
        std::fs::write(p.join("a.yaml.bak"), pod("a")).unwrap();
        std::fs::write(p.join(".a.yaml.swp"), "garbage").unwrap();
        std::fs::write(p.join("4913"), "").unwrap();
        std::fs::write(p.join("b.yaml"), pod("b")).unwrap();
        std::fs::create_dir(p.join("sub")).unwrap();
        std::fs::write(p.join("sub/c.yaml"), pod("c")).unwrap();
        // Without a filter: the kubelet's view. The backup duplicates pod a (first wins).
        let mut s = Source::new(p, "n1", None);
        s.refresh_all();
        let (pods, issues) = s.desired();
        assert_eq!(
            pods.iter().map(|p| p.pod.name.as_str()).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        assert!(
            issues
                .iter()
                .any(|i| i.file == "a.yaml.bak" && i.message.contains("already defined by a.yaml")),
            "{issues:?}"
        );
        assert!(
            issues.iter().any(|i| i.file == "4913"),
            "the empty vim probe file is invalid: {issues:?}"
        );
        // With the extension filter, backups and probes are not read at all.
        let mut s = Source::new(
            p,
            "n1",
            Some(vec!["yaml".into(), "yml".into(), "json".into()]),
        );
        s.refresh_all();
        let (pods, issues) = s.desired();
        assert_eq!(pods.len(), 2);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(s.skipped_by_extension(), vec!["4913", "a.yaml.bak", "sub"]);
    }

    #[test]
    fn invalid_file_keeps_last_good_pod() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.yaml");
        std::fs::write(&f, pod("a")).unwrap();
        let mut s = Source::new(d.path(), "n1", None);
        s.refresh_all();
        let uid = s.desired().0[0].uid.clone();
        std::fs::write(&f, "kind: Pod\nspec: [").unwrap();
        s.refresh_all();
        let (pods, issues) = s.desired();
        assert_eq!(pods[0].uid, uid, "same pod keeps running");
        assert!(issues[0].keeping_last_good);
        // Removing the file removes the pod.
        std::fs::remove_file(&f).unwrap();
        s.refresh(&["a.yaml".to_string()].into());
        assert!(s.desired().0.is_empty());
    }

    #[test]
    fn identity_follows_content_and_ignores_formatting() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.yaml");
        std::fs::write(&f, pod("a")).unwrap();
        let mut s = Source::new(d.path(), "n1", None);
        s.refresh_all();
        let uid = s.desired().0[0].uid.clone();
        std::fs::write(&f, format!("# a comment\n{}", pod("a"))).unwrap();
        s.refresh_all();
        assert_eq!(s.desired().0[0].uid, uid, "comments do not restart a pod");
        std::fs::write(&f, pod("a").replace("'100'", "'200'")).unwrap();
        s.refresh_all();
        assert_ne!(s.desired().0[0].uid, uid);
    }
}
