//! The apply script: lock, check that the directory is exactly as read, journal, write,
//! delete, record, unlock. One shell function, so nothing runs unless all of it arrived.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;

use crate::manifest::content_sha256;
use crate::nodedir::{Journal, JournalEntry, LockInfo, NodeRecord, RECORD_FILE};

use super::errors::{IoCause, ScriptError, op_words};
use super::{EXIT_CHANGED, EXIT_FAILED, EXIT_LOCKED, here, lock, sh_quote};

/// One file to write atomically.
#[derive(Debug, Clone)]
pub struct FileWrite {
    /// File name in the directory.
    pub name: String,
    /// New content.
    pub bytes: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

/// A batch of changes for one manifest directory, applied under the node lock.
#[derive(Debug, Clone, Default)]
pub struct ApplyBatch {
    /// Files to write.
    pub writes: Vec<FileWrite>,
    /// Mode-only changes (name, mode).
    pub chmods: Vec<(String, u32)>,
    /// Files to delete.
    pub deletes: Vec<String>,
    /// The record to leave behind.
    pub record: NodeRecord,
    /// Preconditions: every file the plan read, name → expected SHA-256, or `None` for
    /// "must not exist". The record file is included under [`RECORD_FILE`].
    pub expect: BTreeMap<String, Option<String>>,
    /// Leftover temp files of earlier pushes to remove (legacy `.<name>.tmp` names; the
    /// script always removes `.podfleet-*.tmp`).
    pub cleanup: Vec<String>,
    /// Revision the node's record had when it was read (for the journal).
    pub from_revision: u64,
    /// Lock holder description written into the lock.
    pub lock: LockInfo,
    /// Remove an existing lock first (`--break-lock`).
    pub break_lock: bool,
}

/// How an apply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Everything written, deleted and recorded; notes say what else happened (a dead
    /// holder's lock taken over, leftovers removed).
    Done(Vec<String>),
    /// A live push holds the lock.
    Locked(Option<LockInfo>),
    /// The directory changed since it was read (this file); read again and re-plan.
    Changed(String),
}

fn b64(bytes: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(enc.len() + enc.len() / 76 + 1);
    for chunk in enc.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// `sh` helpers: `pf_fail OP PATH` reports a failure; `pf_put TMP NAME CONTENT` writes a
/// temp file exclusively (builtin printf, no process; on failure `cat` repeats the write to
/// learn why, since dash's printf does not say); `pf_chk NAME SHA|-` checks one file.
pub(super) fn helpers() -> String {
    format!(
        r#"pf_fail() {{ echo "FAIL $1 $2"; exit {failed}; }}
pf_put() {{
  rm -f -- "$1" || pf_fail write "$2"
  if printf '%s' "$3" > "$1"; then return 0; fi
  rm -f -- "$1"; {{ printf '%s' "$3" | cat > "$1"; }} 2>&1 | tail -n 3 >&2
  rm -f -- "$1"; pf_fail write "$2"
}}
pf_chk() {{
  if [ "$2" = - ]; then
    if [ -e "./$1" ] || [ -L "./$1" ]; then echo "CHANGED $1"; exit {changed}; fi
  else
    s=$(sha256sum < "./$1" 2>/dev/null) || {{ echo "CHANGED $1"; exit {changed}; }}
    [ "${{s%% *}}" = "$2" ] || {{ echo "CHANGED $1"; exit {changed}; }}
  fi
}}
"#,
        failed = EXIT_FAILED,
        changed = EXIT_CHANGED,
    )
}

fn tmp_name(n: usize) -> String {
    format!("./.podfleet-{n}.tmp")
}

/// The umask that makes a new file get `mode` (as far as a umask can).
fn umask_for(mode: u32) -> u32 {
    !mode & 0o777
}

/// Stage `bytes` as temp file `n`, created exclusively with its final mode.
pub(super) fn stage(s: &mut String, n: usize, name: &str, bytes: &[u8], mode: u32) {
    let tmp = sh_quote(&tmp_name(n));
    let _ = writeln!(s, "umask {:03o}", umask_for(mode));
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.contains('\0') => {
            let _ = writeln!(s, "pf_put {tmp} {} {}", sh_quote(name), sh_quote(text));
        }
        _ => {
            let _ = write!(
                s,
                "rm -f -- {tmp}; base64 -d > {tmp} <<'PODFLEET_EOF' || {{ rm -f -- {tmp}; pf_fail write {q}; }}\n{}PODFLEET_EOF\n",
                b64(bytes),
                q = sh_quote(name),
            );
        }
    }
}

/// Make staged files durable and rename them into place: one `chmod` per mode and one
/// `sync` for the group, then a `mv` per file (never a partial file under its real name).
pub(super) fn commit(s: &mut String, files: &[(usize, &str, u32)], echo: bool) {
    if files.is_empty() {
        return;
    }
    let mut modes: Vec<u32> = files.iter().map(|f| f.2).collect();
    modes.sort_unstable();
    modes.dedup();
    for m in modes {
        let names: Vec<String> = files
            .iter()
            .filter(|f| f.2 == m)
            .map(|f| sh_quote(&tmp_name(f.0)))
            .collect();
        let _ = writeln!(s, "chmod {m:o} -- {} || pf_fail chmod .", names.join(" "));
    }
    let all: Vec<String> = files.iter().map(|f| sh_quote(&tmp_name(f.0))).collect();
    let _ = writeln!(s, "sync -- {} 2>/dev/null || sync", all.join(" "));
    for (n, name, _) in files {
        let q = sh_quote(name);
        let _ = writeln!(
            s,
            "mv -f -- {} {} || pf_fail mv {q}",
            sh_quote(&tmp_name(*n)),
            here(name)
        );
        if echo {
            let _ = writeln!(s, "echo {}", sh_quote(&format!("W {name}")));
        }
    }
}

/// The checks that the directory is exactly as read: one `sha256sum` for every file that
/// should exist (compared as a whole), per-file checks to name the culprit.
fn checks(s: &mut String, expect: &BTreeMap<String, Option<String>>) {
    let present: Vec<(&String, &String)> = expect
        .iter()
        .filter_map(|(n, sha)| sha.as_ref().map(|sha| (n, sha)))
        .collect();
    if !present.is_empty() {
        let args: Vec<String> = present.iter().map(|(n, _)| here(n)).collect();
        let want: Vec<String> = present
            .iter()
            .map(|(n, sha)| format!("{sha}  ./{n}"))
            .collect();
        let _ = writeln!(
            s,
            "got=$(sha256sum -- {} 2>/dev/null)\n[ \"$got\" = {} ] || {{",
            args.join(" "),
            sh_quote(&want.join("\n"))
        );
        for (n, sha) in &present {
            let _ = writeln!(s, "  pf_chk {} {sha}", sh_quote(n));
        }
        s.push_str("}\n");
    }
    for (n, sha) in expect {
        if sha.is_none() {
            let _ = writeln!(s, "pf_chk {} -", sh_quote(n));
        }
    }
}

/// The record written before any file changes: the old managed files plus the new ones,
/// and the journal of what is about to change.
fn journaled(batch: &ApplyBatch) -> NodeRecord {
    let mut during = batch.record.clone();
    let mut files = BTreeMap::new();
    for w in &batch.writes {
        files.insert(
            w.name.clone(),
            JournalEntry {
                from: batch.expect.get(&w.name).cloned().flatten(),
                to: Some(content_sha256(&w.bytes)),
            },
        );
        during
            .files
            .insert(w.name.clone(), content_sha256(&w.bytes));
    }
    for d in &batch.deletes {
        let from = batch.expect.get(d).cloned().flatten();
        if let Some(sha) = &from {
            during.files.insert(d.clone(), sha.clone());
        }
        files.insert(d.clone(), JournalEntry { from, to: None });
    }
    during.journal = Some(Journal {
        revision: batch.record.revision,
        from_revision: batch.from_revision,
        by: batch.record.pushed_by.clone(),
        started: batch.record.pushed_at.clone(),
        files,
    });
    during
}

/// Script that locks, checks preconditions, writes, deletes, records and unlocks.
pub fn apply_script(dir: &str, batch: &ApplyBatch) -> Result<String, ScriptError> {
    let lock_json =
        serde_json::to_string(&batch.lock).map_err(|e| ScriptError::Other(e.to_string()))?;
    let mut s = String::with_capacity(
        4096 + batch
            .writes
            .iter()
            .map(|w| w.bytes.len() * 4 / 3 + 128)
            .sum::<usize>(),
    );
    let _ = write!(
        s,
        r#"podfleet_apply() {{
set -C
trap '' PIPE HUP
d={dir}
e=$(mkdir -p -- "$d" 2>&1) || {{ printf '%s\n' "$e" >&2; pf_fail mkdir "$d"; }}
cd -- "$d" 2>/dev/null || {{ e=$(cd -- "$d" 2>&1); printf '%s\n' "$e" >&2; pf_fail cd "$d"; }}
{acquire}{hold}for f in ./.podfleet-*.tmp{legacy}; do
  if [ -e "$f" ] || [ -L "$f" ]; then rm -f -- "$f" && printf 'C %s\n' "${{f#./}}"; fi
done
"#,
        dir = sh_quote(dir),
        acquire = lock::acquire(batch.break_lock, EXIT_LOCKED, EXIT_FAILED),
        hold = lock::hold(&lock_json),
        legacy = batch
            .cleanup
            .iter()
            .map(|n| format!(" {}", here(n)))
            .collect::<String>(),
    );
    checks(&mut s, &batch.expect);
    let mut n = 0;
    if !batch.writes.is_empty() || !batch.deletes.is_empty() {
        let during = serde_json::to_vec_pretty(&journaled(batch))
            .map_err(|e| ScriptError::Other(e.to_string()))?;
        stage(&mut s, n, RECORD_FILE, &during, 0o600);
        commit(&mut s, &[(n, RECORD_FILE, 0o600)], false);
        n += 1;
    }
    // Groups bound the number of staged temp files and the work lost to an interruption.
    for group in batch.writes.chunks(16) {
        let mut files = Vec::new();
        for w in group {
            stage(&mut s, n, &w.name, &w.bytes, w.mode);
            files.push((n, w.name.as_str(), w.mode));
            n += 1;
        }
        commit(&mut s, &files, true);
    }
    for (name, mode) in &batch.chmods {
        let _ = writeln!(
            s,
            "chmod {mode:o} -- {} || pf_fail chmod {}",
            here(name),
            sh_quote(name)
        );
    }
    for name in &batch.deletes {
        let _ = writeln!(
            s,
            "rm -f -- {} || pf_fail rm {q}\necho {}",
            here(name),
            sh_quote(&format!("D {name}")),
            q = sh_quote(name)
        );
    }
    let mut record = batch.record.clone();
    record.journal = None;
    record.pending.clear();
    let mut final_json =
        serde_json::to_vec_pretty(&record).map_err(|e| ScriptError::Other(e.to_string()))?;
    final_json.push(b'\n');
    stage(&mut s, n, RECORD_FILE, &final_json, 0o600);
    commit(&mut s, &[(n, RECORD_FILE, 0o600)], false);
    s.push_str("sync -- . 2>/dev/null || sync\necho DONE\n}\n");
    let mut script = lock::functions();
    script.push_str(&helpers());
    script.push_str(&s);
    script.push_str("podfleet_apply\n");
    Ok(script)
}

/// Interpret the apply script's exit status and output.
pub fn parse_apply(status: i32, stdout: &[u8], stderr: &str) -> Result<ApplyOutcome, ScriptError> {
    let text = String::from_utf8_lossy(stdout);
    let lines: Vec<&str> = text.lines().collect();
    let info_after = |tag: &str| -> Option<Option<LockInfo>> {
        let i = lines.iter().position(|l| *l == tag)?;
        Some(lines.get(i + 1).and_then(|l| serde_json::from_str(l).ok()))
    };
    let mut notes = Vec::new();
    if let Some(info) = info_after("TOOK") {
        notes.push(format!(
            "took over the node lock of {}: its shell on the node is gone (killed or disconnected push)",
            crate::nodedir::describe_lock(&info)
        ));
    }
    if let Some(info) = info_after("BROKE") {
        notes.push(format!(
            "broke the lock held by {}",
            crate::nodedir::describe_lock(&info)
        ));
    }
    let cleaned: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("C ")).collect();
    if !cleaned.is_empty() {
        notes.push(format!(
            "removed temporary files an interrupted push left behind: {}",
            cleaned.join(", ")
        ));
    }
    if let Some(fail) = lines.iter().find_map(|l| l.strip_prefix("FAIL ")) {
        let (op, path) = fail.split_once(' ').unwrap_or((fail, ""));
        return Err(ScriptError::Io {
            op: op_words(op).into(),
            path: path.to_string(),
            cause: IoCause::classify(stderr),
        });
    }
    match status {
        0 if lines.contains(&"DONE") => Ok(ApplyOutcome::Done(notes)),
        EXIT_LOCKED => Ok(ApplyOutcome::Locked(info_after("LOCKED").flatten())),
        EXIT_CHANGED => {
            let name = lines
                .iter()
                .find_map(|l| l.strip_prefix("CHANGED "))
                .unwrap_or("?");
            Ok(ApplyOutcome::Changed(name.to_string()))
        }
        _ => Err(ScriptError::Other(if stderr.trim().is_empty() {
            format!("the apply script exited with status {status}")
        } else {
            stderr.trim().to_string()
        })),
    }
}
