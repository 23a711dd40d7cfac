//! The node-side protocol: POSIX `sh` scripts podfleet runs on a node, and parsers for
//! what they print. Pure text in, text out: unit-tested without a node.
//!
//! Only `sh` and coreutils (`stat`, `cat`, `wc`, `base64`, `sha256sum`, `mv`, `sync`) are
//! needed on the node. Every file is written as `.<name>.tmp` in the same directory
//! (the kubelet ignores dot files), fsynced, renamed over the target and the directory
//! fsynced: a reader sees the old or the new file, never a partial one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// File name of podfleet's record in the manifest directory.
pub const RECORD_FILE: &str = ".podfleet.json";
/// Directory used as the node lock (mkdir is atomic).
pub const LOCK_DIR: &str = ".podfleet.lock";
/// Exit status of the apply script when another push holds the lock.
pub const EXIT_LOCKED: i32 = 75;
/// Exit status of the apply script when the directory changed since it was read.
pub const EXIT_CHANGED: i32 = 76;

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
    /// Files a push was about to replace, with their previous SHA-256. Present only if
    /// a push was interrupted; such a file still holding the old content is not drift.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, String>,
}

/// Who holds a node lock.
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

/// Everything read from a node's manifest directory in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedDir {
    /// Whether the directory exists.
    pub exists: bool,
    /// Regular (non-dot) files, by name.
    pub files: BTreeMap<String, ObservedFile>,
    /// Non-dot entries that are not regular files (the kubelet skips them).
    pub others: Vec<String>,
    /// podfleet's record, if present and readable.
    pub record: Option<NodeRecord>,
    /// Raw record bytes (their hash is a precondition for writes).
    pub record_bytes: Option<Vec<u8>>,
    /// Current lock holder, if locked.
    pub lock: Option<LockInfo>,
    /// Problems worth a warning (unreadable record, odd names).
    pub warnings: Vec<String>,
}

/// Quote a string for `sh` with single quotes.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Script that prints the manifest directory (see [`parse_read`]).
pub fn read_script(dir: &str) -> String {
    format!(
        r#"d={dir}
echo 'PODFLEET 1'
if [ ! -d "$d" ]; then echo 'D 0'; echo END; exit 0; fi
cd "$d" || {{ echo "cannot enter $d" >&2; exit 3; }}
echo 'D 1'
nl='
'
for f in *; do
  case $f in *"$nl"*) echo 'X'; continue;; esac
  [ -e "$f" ] || [ -L "$f" ] || continue
  if [ -f "$f" ]; then
    set -- $(stat -L -c '%a %s' -- "$f") || exit 4
    l=0; [ -L "$f" ] && l=1
    printf 'F %s %s %s %s\n' "$1" "$2" "$l" "$f"
    cat -- "$f" || exit 4
    echo
  elif [ -d "$f" ]; then printf 'O dir %s\n' "$f"
  else printf 'O other %s\n' "$f"
  fi
done
if [ -f {record} ]; then printf 'R %s\n' $(wc -c < {record}); cat {record}; echo; fi
if [ -d {lock} ]; then printf 'K %s\n' $(cat {lock}/info 2>/dev/null | wc -c); cat {lock}/info 2>/dev/null; echo; fi
echo END
"#,
        dir = sh_quote(dir),
        record = RECORD_FILE,
        lock = LOCK_DIR,
    )
}

/// Parse the output of [`read_script`].
pub fn parse_read(out: &[u8]) -> Result<ObservedDir, String> {
    let mut p = Cursor { buf: out, pos: 0 };
    if p.line()? != "PODFLEET 1" {
        return Err("unexpected output from the node (is `sh` a POSIX shell?)".into());
    }
    let mut obs = ObservedDir::default();
    loop {
        let line = p.line()?;
        let (tag, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match tag {
            "D" => obs.exists = rest == "1",
            "END" => return Ok(obs),
            "X" => obs
                .warnings
                .push("a file name with a newline was skipped".into()),
            "F" => {
                let mut parts = rest.splitn(4, ' ');
                let mode = parts.next().and_then(|m| u32::from_str_radix(m, 8).ok());
                let size = parts.next().and_then(|s| s.parse::<usize>().ok());
                let link = parts.next();
                let name = parts.next();
                let (Some(mode), Some(size), Some(link), Some(name)) = (mode, size, link, name)
                else {
                    return Err(format!("malformed file header {line:?}"));
                };
                let bytes = p.take(size)?;
                p.expect_newline()
                    .map_err(|_| format!("{name} changed while it was being read; run again"))?;
                obs.files.insert(
                    name.to_string(),
                    ObservedFile {
                        name: name.to_string(),
                        mode,
                        bytes,
                        symlink: link == "1",
                    },
                );
            }
            "O" => {
                let name = rest.split_once(' ').map(|(_, n)| n).unwrap_or(rest);
                obs.others.push(name.to_string());
            }
            "R" | "K" => {
                let size: usize = rest
                    .trim()
                    .parse()
                    .map_err(|_| format!("malformed header {line:?}"))?;
                let bytes = p.take(size)?;
                p.expect_newline()?;
                if tag == "R" {
                    match serde_json::from_slice::<NodeRecord>(&bytes) {
                        Ok(r) => obs.record = Some(r),
                        Err(e) => obs.warnings.push(format!(
                            "{RECORD_FILE} is unreadable ({e}); treating no file as managed"
                        )),
                    }
                    obs.record_bytes = Some(bytes);
                } else {
                    obs.lock = serde_json::from_slice(&bytes).ok().or_else(|| {
                        Some(LockInfo {
                            owner: "unknown".into(),
                            host: String::new(),
                            pid: 0,
                            since: String::new(),
                            run: String::new(),
                        })
                    });
                }
            }
            other => return Err(format!("unexpected line from the node: {other:?}")),
        }
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn line(&mut self) -> Result<String, String> {
        let rest = &self.buf[self.pos..];
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("output from the node ended early")?;
        self.pos += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end])
            .trim_end_matches('\r')
            .to_string())
    }
    fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        if self.pos + n > self.buf.len() {
            return Err("output from the node ended early".into());
        }
        let v = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(v)
    }
    fn expect_newline(&mut self) -> Result<(), String> {
        if self.buf.get(self.pos) == Some(&b'\n') {
            self.pos += 1;
            Ok(())
        } else {
            Err("malformed output".into())
        }
    }
}

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
    /// Preconditions: name → expected SHA-256, or `None` for "must not exist". The record
    /// file is included under [`RECORD_FILE`].
    pub expect: BTreeMap<String, Option<String>>,
    /// Lock holder description written into the lock.
    pub lock: LockInfo,
    /// Remove an existing lock first (`--break-lock`).
    pub break_lock: bool,
}

/// How an apply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Everything written, deleted and recorded.
    Done,
    /// Another push holds the lock.
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

/// Stage `bytes` as `.<name>.tmp`. Text goes through the shell's builtin `printf` (no process
/// spawn); anything else (NUL bytes, invalid UTF-8) through `base64 -d`.
fn stage(s: &mut String, name: &str, bytes: &[u8]) {
    let tmp = sh_quote(&format!(".{name}.tmp"));
    let q = sh_quote(name);
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.contains('\0') => {
            let _ = writeln!(s, "printf '%s' {} > {tmp} || fail {q}", sh_quote(text));
        }
        _ => {
            let _ = write!(
                s,
                "base64 -d > {tmp} <<'PODFLEET_EOF' || fail {q}\n{}PODFLEET_EOF\n",
                b64(bytes)
            );
        }
    }
}

/// Make staged files durable and rename them into place: one `chmod` per mode and one `sync`
/// for the whole group, then a `mv` per file (never a partial file under its real name).
fn commit(s: &mut String, files: &[(&str, u32)], echo: bool) {
    if files.is_empty() {
        return;
    }
    let tmp = |n: &str| sh_quote(&format!(".{n}.tmp"));
    let mut modes: Vec<u32> = files.iter().map(|f| f.1).collect();
    modes.sort_unstable();
    modes.dedup();
    for m in modes {
        let names: Vec<String> = files
            .iter()
            .filter(|f| f.1 == m)
            .map(|f| tmp(f.0))
            .collect();
        let _ = writeln!(s, "chmod {m:o} {} || fail chmod", names.join(" "));
    }
    let all: Vec<String> = files.iter().map(|f| tmp(f.0)).collect();
    let _ = writeln!(s, "sync -- {} 2>/dev/null || sync", all.join(" "));
    for (name, _) in files {
        let q = sh_quote(name);
        let _ = writeln!(s, "mv -f {} {q} || fail {q}", tmp(name));
        if echo {
            let _ = writeln!(s, "echo {}", sh_quote(&format!("W {name}")));
        }
    }
}

fn write_atomic(s: &mut String, name: &str, bytes: &[u8], mode: u32) {
    stage(s, name, bytes);
    commit(s, &[(name, mode)], false);
}

/// Script that locks, checks preconditions, writes, deletes, records and unlocks.
pub fn apply_script(dir: &str, batch: &ApplyBatch) -> Result<String, String> {
    let lock_json = serde_json::to_string(&batch.lock).map_err(|e| e.to_string())?;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"d={dir}
umask 022
mkdir -p -- "$d" || exit 3
cd "$d" || exit 3
fail() {{ echo "cannot write $1" >&2; exit 5; }}
{break_lock}if ! mkdir {lock} 2>/dev/null; then echo LOCKED; cat {lock}/info 2>/dev/null; echo; exit {locked}; fi
trap 'rm -rf "$d"/{lock}' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
printf '%s\n' {info} > {lock}/info
check() {{
  if [ "$2" = - ]; then
    if [ -e "$1" ] || [ -L "$1" ]; then echo "CHANGED $1"; exit {changed}; fi
  else
    s=$(sha256sum < "$1" 2>/dev/null) || {{ echo "CHANGED $1"; exit {changed}; }}
    [ "${{s%% *}}" = "$2" ] || {{ echo "CHANGED $1"; exit {changed}; }}
  fi
}}
"#,
        dir = sh_quote(dir),
        lock = LOCK_DIR,
        locked = EXIT_LOCKED,
        changed = EXIT_CHANGED,
        info = sh_quote(&lock_json),
        break_lock = if batch.break_lock {
            format!("rm -rf {LOCK_DIR}\n")
        } else {
            String::new()
        },
    );
    for (name, sha) in &batch.expect {
        let _ = writeln!(
            s,
            "check {} {}",
            sh_quote(name),
            sha.as_deref().unwrap_or("-")
        );
    }
    // Record first, with the previous hashes of files about to change marked pending:
    // an interrupted push must not make its own half-done work look like drift.
    let mut during = batch.record.clone();
    for w in &batch.writes {
        if let Some(Some(old)) = batch.expect.get(&w.name) {
            during.pending.insert(w.name.clone(), old.clone());
        }
    }
    let during_json = serde_json::to_vec_pretty(&during).map_err(|e| e.to_string())?;
    if !batch.writes.is_empty() || !batch.deletes.is_empty() {
        write_atomic(&mut s, RECORD_FILE, &during_json, 0o600);
    }
    // Groups bound the number of staged temp files and the work lost to an interruption.
    for group in batch.writes.chunks(16) {
        for w in group {
            stage(&mut s, &w.name, &w.bytes);
        }
        let files: Vec<(&str, u32)> = group.iter().map(|w| (w.name.as_str(), w.mode)).collect();
        commit(&mut s, &files, true);
    }
    for (name, mode) in &batch.chmods {
        let _ = writeln!(s, "chmod {mode:o} {q} || fail {q}", q = sh_quote(name));
    }
    for name in &batch.deletes {
        let _ = writeln!(
            s,
            "rm -f -- {q} || fail {q}\necho {}",
            sh_quote(&format!("D {name}")),
            q = sh_quote(name)
        );
    }
    let mut final_json = serde_json::to_vec_pretty(&batch.record).map_err(|e| e.to_string())?;
    final_json.push(b'\n');
    write_atomic(&mut s, RECORD_FILE, &final_json, 0o600);
    s.push_str("sync -- . 2>/dev/null || sync\necho DONE\n");
    Ok(s)
}

/// Interpret the apply script's exit status and output.
pub fn parse_apply(status: i32, stdout: &[u8], stderr: &str) -> Result<ApplyOutcome, String> {
    let text = String::from_utf8_lossy(stdout);
    match status {
        0 if text.lines().any(|l| l == "DONE") => Ok(ApplyOutcome::Done),
        EXIT_LOCKED => {
            let info = text
                .lines()
                .skip_while(|l| *l != "LOCKED")
                .nth(1)
                .and_then(|l| serde_json::from_str(l).ok());
            Ok(ApplyOutcome::Locked(info))
        }
        EXIT_CHANGED => {
            let name = text
                .lines()
                .find_map(|l| l.strip_prefix("CHANGED "))
                .unwrap_or("?");
            Ok(ApplyOutcome::Changed(name.to_string()))
        }
        3 => Err(format!(
            "cannot create or enter the manifest directory: {stderr}"
        )),
        _ => Err(if stderr.is_empty() {
            format!("apply script exited with status {status}")
        } else {
            stderr.to_string()
        }),
    }
}

/// Script that installs files at absolute paths atomically (same dir temp + rename), creating
/// parent directories with mode 0755. Used for agent certificates and binaries.
pub fn install_files_script(files: &[(String, Vec<u8>, u32)]) -> String {
    let mut s = String::from("umask 022\nfail() { echo \"cannot write $1\" >&2; exit 5; }\n");
    for (path, bytes, mode) in files {
        let (dir, name) = path.rsplit_once('/').unwrap_or((".", path));
        let dir = if dir.is_empty() { "/" } else { dir };
        let _ = writeln!(
            s,
            "mkdir -p -- {} && cd {} || fail {}",
            sh_quote(dir),
            sh_quote(dir),
            sh_quote(dir)
        );
        write_atomic(&mut s, name, bytes, *mode);
        s.push_str("sync -- . 2>/dev/null || sync\n");
    }
    s.push_str("echo DONE\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_sh(script: &str) -> (i32, Vec<u8>, String) {
        use std::io::Write;
        let mut child = std::process::Command::new("sh")
            .arg("-s")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    fn lock() -> LockInfo {
        LockInfo {
            owner: "me@here".into(),
            host: "here".into(),
            pid: 1,
            since: "now".into(),
            run: "r".into(),
        }
    }

    #[test]
    fn read_missing_dir() {
        let (code, out, _) = run_sh(&read_script("/nonexistent/podfleet/x"));
        assert_eq!(code, 0);
        let obs = parse_read(&out).unwrap();
        assert!(!obs.exists);
    }

    #[test]
    fn read_lists_regular_non_dot_files_with_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("a.yaml"), b"apiVersion: v1\n").unwrap();
        std::fs::write(p.join("no newline"), b"x").unwrap();
        std::fs::write(p.join(".hidden.tmp"), b"x").unwrap();
        std::fs::create_dir(p.join("sub")).unwrap();
        std::fs::write(
            p.join(RECORD_FILE),
            br#"{"podfleet":1,"files":{"a.yaml":"abc"}}"#,
        )
        .unwrap();
        let (code, out, err) = run_sh(&read_script(p.to_str().unwrap()));
        assert_eq!(code, 0, "{err}");
        let obs = parse_read(&out).unwrap();
        assert!(obs.exists);
        assert_eq!(
            obs.files.keys().collect::<Vec<_>>(),
            vec!["a.yaml", "no newline"]
        );
        assert_eq!(obs.files["no newline"].bytes, b"x");
        assert_eq!(obs.others, vec!["sub"]);
        assert_eq!(obs.record.unwrap().files["a.yaml"], "abc");
    }

    #[test]
    fn apply_writes_atomically_and_respects_lock_and_preconditions() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("manifests");
        let ds = d.to_str().unwrap();
        let mut batch = ApplyBatch {
            writes: vec![FileWrite {
                name: "it's.yaml".into(),
                bytes: b"a: 1\n\x00binary".to_vec(),
                mode: 0o600,
            }],
            expect: [("it's.yaml".to_string(), None)].into(),
            lock: lock(),
            ..Default::default()
        };
        batch.record.files.insert("it's.yaml".into(), "h".into());
        let (code, out, err) = run_sh(&apply_script(ds, &batch).unwrap());
        assert_eq!(
            parse_apply(code, &out, &err),
            Ok(ApplyOutcome::Done),
            "{err}"
        );
        assert_eq!(
            std::fs::read(d.join("it's.yaml")).unwrap(),
            b"a: 1\n\x00binary"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(d.join("it's.yaml"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert!(!d.join(LOCK_DIR).exists(), "lock released");
        let rec: NodeRecord =
            serde_json::from_slice(&std::fs::read(d.join(RECORD_FILE)).unwrap()).unwrap();
        assert!(rec.pending.is_empty());
        // The file exists now, so the same precondition fails.
        let (code, out, err) = run_sh(&apply_script(ds, &batch).unwrap());
        assert_eq!(
            parse_apply(code, &out, &err),
            Ok(ApplyOutcome::Changed("it's.yaml".into()))
        );
        // A held lock is reported with its holder.
        std::fs::create_dir(d.join(LOCK_DIR)).unwrap();
        std::fs::write(
            d.join(LOCK_DIR).join("info"),
            serde_json::to_string(&lock()).unwrap(),
        )
        .unwrap();
        let (code, out, err) = run_sh(&apply_script(ds, &batch).unwrap());
        assert_eq!(
            parse_apply(code, &out, &err),
            Ok(ApplyOutcome::Locked(Some(lock())))
        );
        batch.break_lock = true;
        batch.expect.clear();
        let (code, out, err) = run_sh(&apply_script(ds, &batch).unwrap());
        assert_eq!(parse_apply(code, &out, &err), Ok(ApplyOutcome::Done));
    }

    #[test]
    fn parse_read_rejects_truncated_output() {
        assert!(parse_read(b"PODFLEET 1\nD 1\nF 644 10 0 a\nabc").is_err());
        assert!(parse_read(b"garbage").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a'b"), "'a'\\''b'");
    }
}
