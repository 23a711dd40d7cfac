//! diff and push over real OpenSSH: sshd per fake node on 127.0.1.N:2222.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use common::project::{Project, pod};
use common::ssh::SshLab;
use common::{podfleet, write};

const SUBNET: u8 = 1;

fn mtime(p: &Path) -> i64 {
    std::fs::metadata(p).unwrap().mtime_nsec()
        + std::fs::metadata(p).unwrap().mtime() * 1_000_000_000
}

#[test]
fn push_noop_change_drift_prune_and_foreign_files() {
    let lab = SshLab::start(3, SUBNET);
    let p = Project::new(&lab, &["etcd.yaml.j2", "exporter.yaml"], "");
    // kubeadm's own manifest on n1: podfleet must never touch it.
    write(
        &lab.nodes[0].dir.join("kube-apiserver.yaml"),
        &pod("kube-apiserver", "apiserver:1"),
    );

    let r = p.run(&lab, &["push"]).expect(0);
    assert!(
        r.stdout.contains("changed: [n1]") && r.stdout.contains("changed: [n3]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "n2                         : ok=1    changed=1    unreachable=0    failed=0"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("unmanaged (left alone): kube-apiserver.yaml"),
        "{}",
        r.stderr
    );
    for n in &lab.nodes {
        let etcd = std::fs::read_to_string(n.dir.join("etcd.yaml")).unwrap();
        assert!(
            etcd.contains(&format!("--name={}", n.name)),
            "rendered per host: {etcd}"
        );
        assert_eq!(
            std::fs::metadata(n.dir.join("etcd.yaml"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert!(n.dir.join(".podfleet.json").exists());
        let leftovers: Vec<_> = std::fs::read_dir(&n.dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".tmp") || n == ".podfleet.lock")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    // No-op: nothing rewritten (the kubelet sees no event).
    let before: Vec<i64> = lab
        .nodes
        .iter()
        .map(|n| mtime(&n.dir.join("etcd.yaml")))
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    let r = p.run(&lab, &["push"]).expect(0);
    assert!(
        r.stdout.contains("ok: [n1]") && !r.stdout.contains("changed: ["),
        "{}",
        r.stdout
    );
    let after: Vec<i64> = lab
        .nodes
        .iter()
        .map(|n| mtime(&n.dir.join("etcd.yaml")))
        .collect();
    assert_eq!(before, after);

    // A change rewrites only what changed.
    let exporter_mtime = mtime(&lab.nodes[0].dir.join("exporter.yaml"));
    write(
        &p.path().join("inventory.yaml"),
        &lab.inventory(
            &["etcd.yaml.j2", "exporter.yaml"],
            "          etcd_version: 3.5.12\n",
        ),
    );
    let r = p.run(&lab, &["diff"]).expect(0);
    assert!(
        r.stdout.contains(&format!(
            "--- before: {}/etcd.yaml",
            lab.nodes[0].dir.display()
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("-    image: etcd:3.5.9\n+    image: etcd:3.5.12"),
        "{}",
        r.stdout
    );
    p.run(&lab, &["diff", "--exit-code"]).expect(2);
    p.run(&lab, &["push"]).expect(0);
    assert!(
        std::fs::read_to_string(lab.nodes[0].dir.join("etcd.yaml"))
            .unwrap()
            .contains("3.5.12")
    );
    assert_eq!(
        mtime(&lab.nodes[0].dir.join("exporter.yaml")),
        exporter_mtime
    );
    p.run(&lab, &["diff", "--exit-code"]).expect(0);

    // Drift: someone edits a managed file on n2.
    write(
        &lab.nodes[1].dir.join("exporter.yaml"),
        &pod("exporter", "exporter:hotfix"),
    );
    let r = p.run(&lab, &["diff"]).expect(0);
    assert!(
        r.stdout.contains("[n2] drift:")
            && r.stdout.contains("exporter.yaml was edited on the node"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("-    image: exporter:hotfix\n+    image: exporter:1"),
        "{}",
        r.stdout
    );

    // exporter.yaml leaves the inventory: kept without --prune, removed with it; foreign file stays.
    write(
        &p.path().join("inventory.yaml"),
        &lab.inventory(&["etcd.yaml.j2"], "          etcd_version: 3.5.12\n"),
    );
    let r = p.run(&lab, &["push"]).expect(0);
    assert!(
        r.stderr
            .contains("no longer desired (removed with --prune): exporter.yaml"),
        "{}",
        r.stderr
    );
    assert!(lab.nodes[0].dir.join("exporter.yaml").exists());
    let r = p.run(&lab, &["push", "--prune", "--diff"]).expect(0);
    assert!(
        r.stdout.contains(&format!(
            "--- before: {}/exporter.yaml\n+++ after\n",
            lab.nodes[0].dir.display()
        )),
        "{}",
        r.stdout
    );
    for n in &lab.nodes {
        assert!(!n.dir.join("exporter.yaml").exists());
    }
    assert!(
        lab.nodes[0].dir.join("kube-apiserver.yaml").exists(),
        "foreign files are never removed"
    );

    // History recorded every push.
    let r = p.run(&lab, &["history"]).expect(0);
    assert!(r.stdout.lines().count() >= 6, "{}", r.stdout);
    let r = p.run(&lab, &["history", "1", "-o", "json"]).expect(0);
    let rev: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rev["nodes"]["n1"]["outcome"], "changed");
    assert!(
        rev["nodes"]["n1"]["files"]["etcd.yaml"]["sha256"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );
}

#[test]
fn unknown_changed_and_accepted_host_keys() {
    let mut lab = SshLab::start(2, SUBNET);
    let p = Project::new(&lab, &["exporter.yaml"], "");
    let empty_kh = p.path().join("empty_known_hosts");
    std::fs::write(&empty_kh, "").unwrap();
    let kh = empty_kh.to_str().unwrap();

    // Unknown key: refused, nothing written, OpenSSH-like advice.
    let r = p.run(&lab, &["push", "--known-hosts", kh]).expect(2);
    assert!(
        r.stdout.contains("Host key verification failed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("ssh-keyscan -p 2222 {}", lab.nodes[0].ip)),
        "{}",
        r.stdout
    );
    assert!(!lab.nodes[0].dir.exists(), "0 bytes written");

    // accept-new records the keys and proceeds.
    let r = p
        .run(
            &lab,
            &["push", "--known-hosts", kh, "--accept-new-host-keys"],
        )
        .expect(0);
    assert!(r.stderr.contains("Permanently added"), "{}", r.stderr);
    let recorded = std::fs::read_to_string(&empty_kh).unwrap();
    assert!(
        recorded.contains(&format!("[{}]:2222 ssh-ed25519 ", lab.nodes[0].ip)),
        "{recorded}"
    );
    p.run(&lab, &["push", "--known-hosts", kh]).expect(0);

    // A changed key always fails loudly, even with accept-new.
    lab.nodes[0].rotate_host_key();
    std::fs::remove_file(lab.nodes[0].dir.join("exporter.yaml")).unwrap();
    let r = p
        .run(
            &lab,
            &["push", "--known-hosts", kh, "--accept-new-host-keys"],
        )
        .expect(2);
    assert!(
        r.stdout.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "ssh-keygen -f '{kh}' -R '[{}]:2222'",
            lab.nodes[0].ip
        )),
        "{}",
        r.stdout
    );
    assert!(
        !lab.nodes[0].dir.join("exporter.yaml").exists(),
        "nothing written to the impostor"
    );
    assert!(
        r.stdout.contains("ok: [n2]"),
        "the other node still converges: {}",
        r.stdout
    );

    // With host key checking off (OpenSSH's StrictHostKeyChecking=no), the changed key is
    // reported loudly and the push goes on, as ssh itself would.
    let out = p
        .command(&lab, &["push", "--known-hosts", kh])
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .output()
        .unwrap();
    let r = common::Run::from(out).expect(0);
    assert!(
        r.stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            && r.stderr
                .contains("connecting anyway because host key checking is off"),
        "{}",
        r.stderr
    );
    assert!(lab.nodes[0].dir.join("exporter.yaml").exists());
}

#[test]
fn rollback_puts_an_earlier_revision_back() {
    let lab = SshLab::start(2, SUBNET);
    let p = Project::new(&lab, &["exporter.yaml"], "");
    p.run(&lab, &["push"]).expect(0);
    let v1 = std::fs::read_to_string(lab.nodes[0].dir.join("exporter.yaml")).unwrap();
    write(
        &p.path().join("manifests/exporter.yaml"),
        &pod("exporter", "exporter:2"),
    );
    p.run(&lab, &["push"]).expect(0);
    assert!(
        std::fs::read_to_string(lab.nodes[0].dir.join("exporter.yaml"))
            .unwrap()
            .contains("exporter:2")
    );

    // --check shows the way back and writes nothing.
    let check = p
        .run(
            &lab,
            &[
                "rollback",
                "1",
                "--check",
                "--known-hosts",
                lab.known_hosts.to_str().unwrap(),
            ],
        )
        .expect(0);
    assert!(
        check.stdout.contains("-    image: exporter:2")
            && check.stdout.contains("+    image: exporter:1"),
        "{}",
        check.stdout
    );
    assert!(
        std::fs::read_to_string(lab.nodes[0].dir.join("exporter.yaml"))
            .unwrap()
            .contains("exporter:2")
    );

    let r = p
        .run(
            &lab,
            &[
                "rollback",
                "1",
                "-l",
                "n1",
                "--known-hosts",
                lab.known_hosts.to_str().unwrap(),
            ],
        )
        .expect(0);
    assert!(r.stdout.contains("changed: [n1]"), "{}", r.stdout);
    assert!(r.stderr.contains("recorded as revision 3"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(lab.nodes[0].dir.join("exporter.yaml")).unwrap(),
        v1,
        "n1 has revision 1's bytes again"
    );
    assert!(
        std::fs::read_to_string(lab.nodes[1].dir.join("exporter.yaml"))
            .unwrap()
            .contains("exporter:2"),
        "--limit is honoured"
    );
    let h = p.run(&lab, &["history"]).expect(0);
    assert!(h.stdout.contains("rollback 1"), "{}", h.stdout);
    let missing = p.run(&lab, &["rollback", "99"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("there is no revision 99"),
        "{}",
        missing.stderr
    );
}

#[test]
fn agent_install_copies_binary_unit_and_certificate_and_explains_without_systemd() {
    let lab = SshLab::start(2, SUBNET);
    let p = Project::new(&lab, &["exporter.yaml"], "");
    // Per-node layout through host_vars (inline vars are the same for every host here).
    for n in &lab.nodes {
        let root = n.root.display();
        write(
            &p.path().join(format!("host_vars/{}.yaml", n.name)),
            &format!(
                "podfleet_bin_dir: {root}/bin\npodfleet_unit_dir: {root}/systemd\npodfleet_config_dir: {root}/etc-podfleet\n"
            ),
        );
    }
    podfleet::coordinator::pki::Pki::load_or_create(&p.path().join("state")).unwrap();
    // A small stand-in binary keeps the transfer quick in a debug build.
    let binary = p.path().join("podfleet-bin");
    std::fs::write(&binary, b"#!/bin/sh\necho podfleet stand-in\n").unwrap();
    let kh = lab.known_hosts.display().to_string();
    let args = |extra: &[&'static str]| {
        let mut v: Vec<String> = [
            "agent",
            "install",
            "--coordinator",
            "127.0.0.1:7443",
            "--known-hosts",
            &kh,
            "--binary",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push(binary.display().to_string());
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        p.run(&lab, &refs)
    };

    let check = run(&["--check"]).expect(0);
    assert!(
        check
            .stdout
            .contains("changed: [n1] => would copy the binary"),
        "{}",
        check.stdout
    );
    assert!(
        !lab.nodes[0].root.join("bin/podfleet").exists(),
        "--check writes nothing"
    );

    // No systemd in the test nodes: files land, the message says how to start the agent.
    let r = run(&[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("fatal: [n1]: FAILED! => no systemd on this node")
            && r.stdout.contains("agent --pod-manifest-path"),
        "{}",
        r.stdout
    );
    for n in &lab.nodes {
        let bin = n.root.join("bin/podfleet");
        assert_eq!(
            std::fs::read(&bin).unwrap(),
            std::fs::read(&binary).unwrap()
        );
        assert_eq!(
            std::fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
            0o755
        );
        let unit = std::fs::read_to_string(n.root.join("systemd/podfleet-agent.service")).unwrap();
        assert!(
            unit.contains(&format!(
                "ExecStart={} agent --pod-manifest-path {}",
                bin.display(),
                n.dir.display()
            )) && unit.contains("KillMode=process"),
            "{unit}"
        );
        assert!(n.root.join("etc-podfleet/node.crt").exists());
    }
    // Again: nothing to copy, still the systemd message.
    let again = run(&["--check"]).expect(0);
    assert!(again.stdout.contains("ok: [n1]"), "{}", again.stdout);
}

#[test]
fn a_node_down_does_not_stop_the_others() {
    let mut lab = SshLab::start(3, SUBNET);
    let p = Project::new(&lab, &["exporter.yaml"], "");
    lab.nodes[1].stop();
    let r = p.run(&lab, &["push", "--timeout", "3"]).expect(4);
    assert!(
        r.stdout.contains("fatal: [n2]: UNREACHABLE!"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Connection refused"), "{}", r.stdout);
    assert!(
        lab.nodes[0].dir.join("exporter.yaml").exists()
            && lab.nodes[2].dir.join("exporter.yaml").exists(),
        "the reachable nodes converge: {}",
        r.stdout
    );
    // The hint repeats this run's inventory and state dir, so it can be pasted as is.
    assert!(
        r.stderr
            .contains("podfleet -i inventory.yaml --state-dir state push --limit @"),
        "{}",
        r.stderr
    );
    let retry = p.path().join("state/last-push.retry");
    assert_eq!(std::fs::read_to_string(&retry).unwrap(), "n2\n");
    lab.nodes[1].start();
    let r = p
        .run(&lab, &["push", "--limit", &format!("@{}", retry.display())])
        .expect(0);
    assert!(
        r.stdout.contains("changed: [n2]") && !r.stdout.contains("[n1]"),
        "{}",
        r.stdout
    );
    assert!(
        !retry.exists(),
        "a run without failures leaves no stale retry list"
    );
    // A limit that matches nothing is Ansible's usage error.
    let r = p.run(&lab, &["push", "--limit", "nope"]).expect(1);
    assert!(r.stderr.contains("no hosts to target"), "{}", r.stderr);
}

#[test]
fn become_root_via_sudo_from_a_login_user() {
    common::ensure_login_user("pfdeploy");
    let lab = SshLab::start(1, SUBNET);
    // A root-only manifest directory, like kubeadm's.
    std::fs::create_dir_all(&lab.nodes[0].dir).unwrap();
    std::fs::set_permissions(&lab.nodes[0].dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(lab.root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&lab.nodes[0].root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key_copy = lab.root.path().join("deploy_key");
    std::fs::copy(&lab.client_key, &key_copy).unwrap();
    let inv = lab
        .inventory(&["exporter.yaml"], "")
        .replace("ansible_user: root", "ansible_user: pfdeploy");
    let p = Project::new(&lab, &["exporter.yaml"], "");
    write(&p.path().join("inventory.yaml"), &inv);
    let r = p.run(&lab, &["push"]).expect(2);
    assert!(
        r.stdout.contains("Permission denied") || r.stdout.contains("cannot"),
        "{}",
        r.stdout
    );
    write(
        &p.path().join("inventory.yaml"),
        &inv.replace(
            "ansible_user: pfdeploy",
            "ansible_user: pfdeploy\n          ansible_become: true",
        ),
    );
    p.run(&lab, &["push"]).expect(0);
    let meta = std::fs::metadata(lab.nodes[0].dir.join("exporter.yaml")).unwrap();
    assert_eq!(meta.uid(), 0, "written as root");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn local_connection_needs_no_ssh() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node/manifests");
    write(
        &tmp.path().join("inventory.ini"),
        &format!(
            "[edge]\nlocalnode ansible_connection=local static_pod_path={}\n\n[edge:vars]\nstatic_pods=['web.yaml']\n",
            dir.display()
        ),
    );
    write(&tmp.path().join("manifests/web.yaml"), &pod("web", "web:1"));
    let r = podfleet(
        tmp.path(),
        &["-i", "inventory.ini", "--state-dir", "state", "push"],
        &[],
    )
    .expect(0);
    assert!(r.stdout.contains("changed: [localnode]"), "{}", r.stdout);
    assert_eq!(
        std::fs::read_to_string(dir.join("web.yaml")).unwrap(),
        pod("web", "web:1")
    );
    let r = podfleet(
        tmp.path(),
        &[
            "-i",
            "inventory.ini",
            "--state-dir",
            "state",
            "diff",
            "--exit-code",
        ],
        &[],
    )
    .expect(0);
    assert!(r.stdout.contains("ok: [localnode]"), "{}", r.stdout);
}

/// `push -o json`: one JSON object per line and event (scripts parse it), ending with the
/// recap; nothing else on stdout.
#[test]
fn push_reports_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let (good, bad) = (tmp.path().join("good"), tmp.path().join("file-not-dir"));
    std::fs::write(&bad, "").unwrap();
    write(
        &tmp.path().join("inventory.ini"),
        &format!(
            "[edge]\nn1 ansible_connection=local static_pod_path={}\nn2 ansible_connection=local static_pod_path={}/sub\n\n[edge:vars]\nstatic_pods=['web.yaml']\n",
            good.display(),
            bad.display()
        ),
    );
    write(&tmp.path().join("manifests/web.yaml"), &pod("web", "web:1"));
    let push = |code| {
        let r = podfleet(
            tmp.path(),
            &[
                "-i",
                "inventory.ini",
                "--state-dir",
                "state",
                "push",
                "-o",
                "json",
            ],
            &[],
        )
        .expect(code);
        r.stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{l}: {e}"))
            })
            .collect::<Vec<_>>()
    };
    let events = push(2);
    let node = |n: &str| {
        events
            .iter()
            .find(|e| e["event"] == "node" && e["node"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{events:#?}"))
    };
    assert_eq!(events[0]["event"], "start");
    assert_eq!(events[0]["nodes"], 2);
    assert_eq!(node("n1")["outcome"], "changed");
    assert_eq!(node("n1")["changes"][0]["file"], "web.yaml");
    assert_eq!(node("n1")["changes"][0]["action"], "create");
    assert_eq!(node("n2")["outcome"], "failed");
    assert!(
        node("n2")["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let recap = events.last().unwrap();
    assert_eq!(recap["event"], "recap", "{events:#?}");
    assert_eq!(recap["changed"], 1);
    assert_eq!(recap["failed"], 1);
    assert_eq!(recap["exit_code"], 2);
    assert_eq!(recap["revision"], 1);
    assert!(recap["retry_file"].as_str().is_some());
}

/// `podfleet push | head -1`: the reader goes away after the first line; the push still
/// finishes every node and records its revision (it used to die of SIGPIPE half-way).
#[test]
fn a_push_piped_into_head_still_records_its_revision() {
    let tmp = tempfile::tempdir().unwrap();
    let mut hosts = String::from("[edge]\n");
    for n in 1..=4 {
        let dir = tmp.path().join(format!("n{n}"));
        hosts.push_str(&format!(
            "n{n} ansible_connection=local static_pod_path={}\n",
            dir.display()
        ));
    }
    hosts.push_str("\n[edge:vars]\nstatic_pods=['web.yaml']\n");
    write(&tmp.path().join("inventory.ini"), &hosts);
    write(&tmp.path().join("manifests/web.yaml"), &pod("web", "web:1"));
    let (first, done) = common::first_line_then_hang_up(
        tmp.path(),
        &[
            "-i",
            "inventory.ini",
            "--state-dir",
            "state",
            "push",
            "-f",
            "1",
        ],
    );
    let status = done.status;
    assert_eq!(status.code(), Some(0), "{first}");
    for n in 1..=4 {
        assert!(tmp.path().join(format!("n{n}/web.yaml")).exists());
    }
    let history = podfleet(tmp.path(), &["--state-dir", "state", "history"], &[]).expect(0);
    assert!(history.stdout.contains("changed=4"), "{}", history.stdout);
}
