//! The node scripts run by the local `sh` against temp directories.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use super::*;
use crate::manifest::content_sha256;
use crate::nodedir::HolderState;

fn run_sh(script: &str) -> (i32, Vec<u8>, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("sh")
        .arg("-s")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A script that stops reading early (exit) must not fail the test.
    let _ = child.stdin.take().unwrap().write_all(script.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn apply(dir: &Path, batch: &ApplyBatch) -> Result<ApplyOutcome, ScriptError> {
    let (code, out, err) = run_sh(&apply_script(dir.to_str().unwrap(), batch).unwrap());
    parse_apply(code, &out, &err)
}

fn read(dir: &Path) -> ObservedDir {
    let (code, out, err) = run_sh(&read_script(dir.to_str().unwrap()));
    assert_eq!(code, 0, "{err}");
    parse_read(&out).unwrap()
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

fn write(name: &str, bytes: &[u8]) -> FileWrite {
    FileWrite {
        name: name.into(),
        bytes: bytes.to_vec(),
        mode: 0o600,
    }
}

/// A batch writing `files` into a directory read as `obs` (every file it read expected).
fn batch_for(obs: &ObservedDir, files: &[(&str, &[u8])]) -> ApplyBatch {
    let mut b = ApplyBatch {
        lock: lock(),
        ..Default::default()
    };
    for (n, f) in &obs.files {
        b.expect.insert(n.clone(), Some(content_sha256(&f.bytes)));
    }
    b.expect.insert(
        RECORD_FILE.into(),
        obs.record_bytes.as_ref().map(|r| content_sha256(r)),
    );
    for (n, bytes) in files {
        b.expect.entry(n.to_string()).or_insert(None);
        b.writes.push(write(n, bytes));
        b.record.files.insert(n.to_string(), content_sha256(bytes));
    }
    b
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Lock `dir` as a holder whose shell is `pid` (started at its real start time).
fn hold_lock(dir: &Path, pid: u32) {
    let l = dir.join(LOCK_DIR);
    std::fs::create_dir_all(&l).unwrap();
    std::fs::write(l.join("info"), serde_json::to_string(&lock()).unwrap()).unwrap();
    let (_, out, _) = run_sh(&format!(
        "{}printf '%s %s %s' {pid} \"$(pf_start {pid})\" \"$(pf_boot)\"",
        lock::functions()
    ));
    std::fs::write(l.join("shell"), out).unwrap();
}

#[test]
fn read_missing_dir() {
    let obs = read(Path::new("/nonexistent/podfleet/x"));
    assert!(!obs.exists);
}

#[test]
fn read_lists_regular_non_dot_files_with_content_and_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("a.yaml"), b"apiVersion: v1\n").unwrap();
    std::fs::write(p.join("no newline"), b"x").unwrap();
    std::fs::write(p.join("-n"), b"dash").unwrap();
    std::fs::write(p.join(".podfleet-3.tmp"), b"x").unwrap();
    std::fs::write(p.join(".a.yaml.tmp"), b"x").unwrap();
    std::fs::create_dir(p.join("sub")).unwrap();
    std::fs::write(
        p.join(RECORD_FILE),
        br#"{"podfleet":1,"files":{"a.yaml":"abc"}}"#,
    )
    .unwrap();
    let obs = read(p);
    assert!(obs.exists);
    assert_eq!(
        obs.files.keys().collect::<Vec<_>>(),
        vec!["-n", "a.yaml", "no newline"]
    );
    assert_eq!(obs.files["-n"].bytes, b"dash");
    assert_eq!(obs.files["no newline"].bytes, b"x");
    assert_eq!(obs.others, vec!["sub"]);
    assert_eq!(obs.leftover_tmp, vec![".a.yaml.tmp", ".podfleet-3.tmp"]);
    assert_eq!(obs.record.unwrap().files["a.yaml"], "abc");
    assert!(obs.lock.is_none());
}

#[test]
fn read_tells_a_live_holder_from_a_dead_one() {
    let dir = tempfile::tempdir().unwrap();
    let me = std::process::id();
    hold_lock(dir.path(), me);
    let obs = read(dir.path());
    let l = obs.lock.unwrap();
    assert_eq!(l.holder, HolderState::Live);
    assert_eq!(l.info, Some(lock()));
    // A pid that exited: dead.
    let gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    let _ = gone.wait_with_output();
    std::fs::remove_dir_all(dir.path().join(LOCK_DIR)).unwrap();
    hold_lock(dir.path(), pid);
    assert_eq!(read(dir.path()).lock.unwrap().holder, HolderState::Dead);
    // Same pid, other boot: dead (a reboot ended every holder).
    let shell = dir.path().join(LOCK_DIR).join("shell");
    let text = std::fs::read_to_string(&shell).unwrap();
    let mut parts: Vec<&str> = text.split_whitespace().collect();
    let me_s = me.to_string();
    parts[0] = &me_s;
    std::fs::write(&shell, format!("{} {} other-boot", parts[0], parts[1])).unwrap();
    assert_eq!(read(dir.path()).lock.unwrap().holder, HolderState::Dead);
}

#[test]
fn apply_writes_atomically_and_respects_lock_and_preconditions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("manifests");
    let obs = read(&d);
    let batch = batch_for(&obs, &[("it's.yaml", b"a: 1\n\x00binary")]);
    assert!(matches!(apply(&d, &batch), Ok(ApplyOutcome::Done(_))));
    assert_eq!(
        std::fs::read(d.join("it's.yaml")).unwrap(),
        b"a: 1\n\x00binary"
    );
    assert_eq!(mode(&d.join("it's.yaml")), 0o600);
    assert_eq!(mode(&d.join(RECORD_FILE)), 0o600);
    assert!(!d.join(LOCK_DIR).exists(), "lock released");
    let rec: NodeRecord =
        serde_json::from_slice(&std::fs::read(d.join(RECORD_FILE)).unwrap()).unwrap();
    assert!(rec.journal.is_none() && rec.pending.is_empty());
    // The file exists now, so the same precondition fails.
    assert_eq!(
        apply(&d, &batch),
        Ok(ApplyOutcome::Changed(RECORD_FILE.into()))
    );
    // A live holder's lock is reported with its holder and left alone.
    let obs = read(&d);
    let batch = batch_for(&obs, &[("b.yaml", b"b")]);
    hold_lock(&d, std::process::id());
    assert_eq!(apply(&d, &batch), Ok(ApplyOutcome::Locked(Some(lock()))));
    assert!(d.join(LOCK_DIR).join("shell").exists());
    // --break-lock removes it.
    let mut broken = batch.clone();
    broken.break_lock = true;
    let Ok(ApplyOutcome::Done(notes)) = apply(&d, &broken) else {
        panic!("break-lock apply failed")
    };
    assert!(
        notes[0].starts_with("broke the lock held by me@here"),
        "{notes:?}"
    );
    assert_eq!(std::fs::read(d.join("b.yaml")).unwrap(), b"b");
}

#[test]
fn a_dead_holders_lock_is_taken_over_without_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    let _ = gone.wait_with_output();
    hold_lock(d, pid);
    std::fs::write(d.join(".podfleet-7.tmp"), b"half").unwrap();
    let obs = read(d);
    let batch = batch_for(&obs, &[("a.yaml", b"a")]);
    let Ok(ApplyOutcome::Done(notes)) = apply(d, &batch) else {
        panic!("takeover failed")
    };
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("took over the node lock of me@here")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains(".podfleet-7.tmp")),
        "{notes:?}"
    );
    assert!(!d.join(".podfleet-7.tmp").exists());
    assert!(!d.join(LOCK_DIR).exists());
}

#[test]
fn every_file_read_is_checked_not_only_the_written_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.yaml"), b"a1").unwrap();
    std::fs::write(d.join("b.yaml"), b"b1").unwrap();
    let obs = read(d);
    // The plan only rewrites b.yaml; a.yaml changes meanwhile: the apply must refuse.
    let batch = batch_for(&obs, &[("b.yaml", b"b2")]);
    std::fs::write(d.join("a.yaml"), b"a-other").unwrap();
    assert_eq!(apply(d, &batch), Ok(ApplyOutcome::Changed("a.yaml".into())));
    assert_eq!(std::fs::read(d.join("b.yaml")).unwrap(), b"b1");
    assert!(!d.join(LOCK_DIR).exists());
}

#[test]
fn names_are_never_options_and_never_leave_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("m");
    let names = [
        "-t..",
        "--help.yaml",
        "-rf",
        "-",
        "a b.yaml",
        "*.yaml",
        "$(touch x).yaml",
    ];
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, n.as_bytes())).collect();
    let obs = read(&d);
    let batch = batch_for(&obs, &files);
    assert!(matches!(apply(&d, &batch), Ok(ApplyOutcome::Done(_))));
    for n in names {
        assert_eq!(std::fs::read(d.join(n)).unwrap(), n.as_bytes(), "{n}");
    }
    // Nothing landed beside the directory.
    let beside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec!["m"]);
    // And they read back (and delete) as themselves.
    let obs = read(&d);
    for n in names {
        assert!(obs.files.contains_key(n), "{n}");
    }
    let mut b = batch_for(&obs, &[]);
    b.deletes = names.iter().map(|n| n.to_string()).collect();
    assert!(matches!(apply(&d, &b), Ok(ApplyOutcome::Done(_))));
    assert!(read(&d).files.is_empty());
}

#[test]
fn a_planted_temp_symlink_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("m");
    std::fs::create_dir(&d).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    for n in 0..4 {
        std::os::unix::fs::symlink(&victim, d.join(format!(".podfleet-{n}.tmp"))).unwrap();
    }
    std::os::unix::fs::symlink(&victim, d.join(".etcd.yaml.tmp")).unwrap();
    let obs = read(&d);
    let mut batch = batch_for(&obs, &[("etcd.yaml", b"etcd manifest")]);
    batch.cleanup = vec![".etcd.yaml.tmp".into()];
    assert!(matches!(apply(&d, &batch), Ok(ApplyOutcome::Done(_))));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(mode(&victim), 0o644);
    assert!(!d.join("etcd.yaml").is_symlink());
    assert_eq!(
        std::fs::read(d.join("etcd.yaml")).unwrap(),
        b"etcd manifest"
    );
    let left: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_script_cut_off_in_transit_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("m");
    let obs = read(&d);
    let batch = batch_for(&obs, &[("a.yaml", &[b'x'; 5000]), ("b.yaml", b"b")]);
    let script = apply_script(d.to_str().unwrap(), &batch).unwrap();
    for cut in [script.len() / 3, script.len() / 2, script.len() - 16] {
        let (_, out, _) = run_sh(&script[..cut]);
        assert!(!String::from_utf8_lossy(&out).contains("DONE"));
        assert!(!d.exists(), "cut at {cut} ran part of the script");
    }
}

#[test]
fn an_interrupted_push_leaves_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.yaml"), b"a1").unwrap();
    let obs = read(d);
    let mut batch = batch_for(&obs, &[("a.yaml", b"a2"), ("b.yaml", b"b2")]);
    batch.record.revision = 7;
    batch.from_revision = 6;
    let script = apply_script(d.to_str().unwrap(), &batch).unwrap();
    // Kill the shell (TERM) right after the first manifest was renamed into place.
    let script = script.replacen("echo 'W a.yaml'\n", "echo 'W a.yaml'\nkill -TERM $$\n", 1);
    let (code, _, _) = run_sh(&script);
    assert_eq!(code, 143);
    let rec: NodeRecord =
        serde_json::from_slice(&std::fs::read(d.join(RECORD_FILE)).unwrap()).unwrap();
    let j = rec.journal.expect("journal left behind");
    assert_eq!((j.revision, j.from_revision), (7, 6));
    assert_eq!(j.files["a.yaml"].from, Some(content_sha256(b"a1")));
    assert_eq!(j.files["a.yaml"].to, Some(content_sha256(b"a2")));
    assert_eq!(j.files["b.yaml"].from, None);
    assert_eq!(std::fs::read(d.join("a.yaml")).unwrap(), b"a2");
    assert!(!d.join("b.yaml").exists());
    assert!(!d.join(LOCK_DIR).exists(), "TERM releases the lock");
    let tmps: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(tmps.is_empty(), "{tmps:?}");
}

#[test]
fn install_writes_files_at_absolute_paths_with_modes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("etc/podfleet/node.key");
    let b = dir.path().join("bin/podfleet");
    let script = install_files_script(&[
        (a.to_str().unwrap().into(), b"key".to_vec(), 0o600),
        (b.to_str().unwrap().into(), b"\x7fELF\x00".to_vec(), 0o755),
    ]);
    let (code, out, err) = run_sh(&script);
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("DONE"));
    assert_eq!(std::fs::read(&a).unwrap(), b"key");
    assert_eq!(mode(&a), 0o600);
    assert_eq!(std::fs::read(&b).unwrap(), b"\x7fELF\x00");
    assert_eq!(mode(&b), 0o755);
}

#[test]
fn parse_read_rejects_truncated_output() {
    assert!(parse_read(b"PODFLEET 2\nD 1\nF 644 10 0 a\nabc").is_err());
    assert!(parse_read(b"PODFLEET 2\nD 1\nF 644 99999999999999999999 0 a\n").is_err());
    assert!(parse_read(b"garbage").is_err());
}

#[test]
fn quoting() {
    assert_eq!(sh_quote("a'b"), "'a'\\''b'");
    assert_eq!(here("-x"), "'./-x'");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Whatever a node (or a man in the middle of a broken shell) prints, the parser
        /// answers without panicking.
        #[test]
        fn parse_read_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_read(&bytes);
        }

        #[test]
        fn parse_read_never_panics_on_plausible_output(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("D 1".to_string()),
                    "F [0-7]{3} [0-9]{1,3} [01] [a-z.]{1,8}",
                    "R [0-9]{1,3}",
                    "K (live|dead)",
                    "T [.a-z]{1,8}",
                    "O dir [a-z]{1,4}",
                    "[ -~]{0,20}",
                ],
                0..12,
            )
        ) {
            let text = format!("PODFLEET 2\n{}\nEND\n", lines.join("\n"));
            let _ = parse_read(text.as_bytes());
        }

        #[test]
        fn parse_apply_never_panics(status in -2i32..200, out in "[ -~\n]{0,200}", err in "[ -~\n]{0,80}") {
            let _ = parse_apply(status, out.as_bytes(), &err);
        }
    }
}
