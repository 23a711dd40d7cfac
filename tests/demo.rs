//! `podfleet up` / `down` end to end on the example fleet, with the process runtime.

mod common;

use std::path::Path;
use std::process::Command;

use common::podfleet;

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn up_runs_the_example_fleet_and_down_removes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("inventory"), tmp.path());
    copy_dir(&repo.join("manifests"), tmp.path());
    let r = podfleet(
        tmp.path(),
        &["up", "--runtime", "process", "--wait", "120"],
        &[],
    );
    let demo = tmp.path().join(".podfleet-demo");
    if r.code != 0 {
        let _ = podfleet(tmp.path(), &["down"], &[]);
        panic!("up failed ({}):\n{}\n{}", r.code, r.stdout, r.stderr);
    }
    assert!(r.stderr.contains("23/23 Running and Ready"), "{}", r.stderr);
    for pod in [
        "etcd-cp1",
        "kube-apiserver-cp3",
        "edge-proxy-edge2",
        "log-shipper-edge1",
    ] {
        assert!(r.stdout.contains(pod), "{pod} missing:\n{}", r.stdout);
    }
    assert!(
        !r.stdout.contains("log-shipper-edge2"),
        "edge2 excludes log-shipper"
    );
    // The printed view is the coordinator's: every node Ready, every pod InSync.
    assert_eq!(r.stdout.matches("InSync").count(), 23, "{}", r.stdout);
    assert_eq!(r.stdout.matches(" Ready ").count(), 5, "{}", r.stdout);
    let s = podfleet(
        tmp.path(),
        &[
            "--state-dir",
            ".podfleet-demo/state",
            "status",
            "-o",
            "json",
        ],
        &[],
    )
    .expect(0);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(v["pods"].as_array().unwrap().len(), 23, "{}", s.stdout);
    // The push was recorded in the demo's sled store.
    let h = podfleet(
        tmp.path(),
        &["--state-dir", ".podfleet-demo/state", "history"],
        &[],
    )
    .expect(0);
    assert!(h.stdout.contains('1'), "{}", h.stdout);
    // The printed diff and logs commands work as printed (both inventories: nothing to prune).
    let printed = |word: &str| -> Vec<String> {
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("podfleet ") && l.contains(word))
            .unwrap_or_else(|| panic!("no {word} hint in:\n{}", r.stdout));
        shlex::split(line.split('#').next().unwrap()).unwrap()
    };
    let diff = printed(" diff");
    let args: Vec<&str> = diff[1..].iter().map(String::as_str).collect();
    let d = podfleet(tmp.path(), &args, &[]).expect(0);
    assert!(!d.stdout.contains("delete"), "{}", d.stdout);
    let logs = printed(" logs ");
    let args: Vec<&str> = logs[1..].iter().map(String::as_str).collect();
    let l = podfleet(tmp.path(), &args, &[]).expect(0);
    assert!(
        l.stdout.contains("[edge1/edge-proxy-edge1/"),
        "{}",
        l.stdout
    );
    // Running `up` again is idempotent: same agents, nothing to change.
    let again = podfleet(
        tmp.path(),
        &["up", "--runtime", "process", "--wait", "60"],
        &[],
    )
    .expect(0);
    assert!(!again.stdout.contains("changed:"), "{}", again.stdout);

    podfleet(tmp.path(), &["down"], &[]).expect(0);
    assert!(!demo.exists(), "down removes the demo directory");
    let left = Command::new("pgrep")
        .args(["-f", demo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}
