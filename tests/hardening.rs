//! Hostile input against the node protocol, real sshd nodes on 127.0.7.N:2222: odd file
//! names, planted symlinks, concurrent controllers, pushes killed at random points, file
//! system errors, stale and live locks.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use common::project::{Project, pod};
use common::ssh::SshLab;
use common::{Run, write};

const SUBNET: u8 = 7;

/// Everything about a node directory that must hold after any push, finished or not:
/// every manifest holds one of `allowed(name)`, no lock, no temp file. Returns the tags.
fn assert_clean(dir: &Path, names: &[String]) {
    assert!(!dir.join(".podfleet.lock").exists(), "a lock was left");
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(".podfleet.json")).unwrap()).unwrap();
    assert!(rec.get("journal").is_none(), "journal left: {rec}");
    for f in names {
        let sha = podfleet::manifest::content_sha256(&std::fs::read(dir.join(f)).unwrap());
        assert_eq!(rec["files"][f], sha.as_str(), "the record lies about {f}");
    }
}

/// The image tag of every manifest in `dir`.
fn tags(dir: &Path, names: &[String]) -> BTreeSet<String> {
    names
        .iter()
        .map(|f| {
            let c = std::fs::read_to_string(dir.join(f)).unwrap();
            let at = c.find("image: ").unwrap() + 7;
            c[at..].lines().next().unwrap().to_string()
        })
        .collect()
}

/// `len` characters that do not compress (ssh compresses a run of one letter to nothing).
fn noise(len: usize, mut seed: u64) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            HEX[(seed % 16) as usize] as char
        })
        .collect()
}

fn manifests(p: &Project, names: &[String], tag: &str, pad: usize) {
    for (i, f) in names.iter().enumerate() {
        write(
            &p.path().join("manifests").join(f),
            &(pod(&format!("p{i}"), tag) + &format!("# {}\n", noise(pad, i as u64 + 1))),
        );
    }
}

/// Wait until some manifest of `names` in `dir` contains `needle` (a push is mid-way).
fn wait_for_first(dir: &Path, names: &[String], needle: &str) {
    common::wait_for(Duration::from_secs(60), "first renamed file", || {
        names
            .iter()
            .any(|f| {
                std::fs::read_to_string(dir.join(f))
                    .map(|c| c.contains(needle))
                    .unwrap_or(false)
            })
            .then_some(())
    });
}

#[test]
fn hostile_file_names_are_refused_before_anything_is_sent() {
    let lab = SshLab::start(1, SUBNET);
    let templates = [
        "-t...j2",
        "--help.yaml.j2",
        "new\nline.yaml.j2",
        "etcd.yaml.bak.j2",
    ];
    let quoted: Vec<String> = templates
        .iter()
        .map(|t| serde_json::to_string(t).unwrap())
        .collect();
    let quoted: Vec<&str> = quoted.iter().map(String::as_str).collect();
    let p = Project::new(&lab, &quoted, "");
    for t in templates {
        write(&p.path().join("manifests").join(t), &pod("x", "x:1"));
    }
    let r = p.run(&lab, &["validate"]).expect(1);
    for (t, why) in [
        ("-t...j2", "starts with '-'"),
        ("--help.yaml.j2", "starts with '-'"),
        ("new\nline.yaml.j2", "control character"),
        ("etcd.yaml.bak.j2", "must end in .yaml, .yml or .json"),
    ] {
        assert!(
            r.stderr.contains(&format!("template {t}")) && r.stderr.contains(why),
            "{t}: {}",
            r.stderr
        );
    }
    let r = p.run(&lab, &["push"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("nothing changed on this node"),
        "{}",
        r.stdout
    );
    // Each error is printed once (not again under every node).
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(all.matches("starts with '-'").count(), 2, "{all}");
    assert!(!lab.nodes[0].dir.exists(), "nothing reached the node");
    assert!(!lab.nodes[0].root.join("-t..").exists());
}

#[test]
fn planted_temp_symlinks_never_redirect_a_write() {
    let lab = SshLab::start(1, SUBNET);
    let p = Project::new(&lab, &["etcd.yaml.j2"], "");
    let dir = &lab.nodes[0].dir;
    std::fs::create_dir_all(dir).unwrap();
    let victim = lab.root.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    for n in 0..8 {
        std::os::unix::fs::symlink(&victim, dir.join(format!(".podfleet-{n}.tmp"))).unwrap();
    }
    std::os::unix::fs::symlink(&victim, dir.join(".etcd.yaml.tmp")).unwrap();
    let r = p.run(&lab, &["diff"]);
    assert!(
        r.stdout.contains("temporary files of an interrupted push")
            && r.stdout.contains(".podfleet-0.tmp"),
        "diff lists podfleet's leftovers: {}",
        r.stdout
    );
    p.run(&lab, &["push"]).expect(0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(
        std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let etcd = dir.join("etcd.yaml");
    assert!(!etcd.is_symlink());
    assert!(
        std::fs::read_to_string(&etcd)
            .unwrap()
            .contains("name: etcd")
    );
    assert_clean(dir, &["etcd.yaml".to_string()]);
}

#[test]
fn concurrent_pushes_leave_each_node_wholly_one_version() {
    const ROUNDS: usize = 25;
    let lab = SshLab::start(2, SUBNET);
    let names: Vec<String> = (0..16).map(|i| format!("p{i:02}.yaml")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let a = Project::new(&lab, &refs, "");
    let b = Project::new(&lab, &refs, "");
    let mut winners = BTreeSet::new();
    for round in 0..ROUNDS {
        manifests(&a, &names, &format!("a{round}"), 100);
        manifests(&b, &names, &format!("b{round}"), 20_000);
        // B's read is long (big files); A starts a little later and writes small files
        // quickly, so A's whole apply often falls inside B's read.
        let delay = Duration::from_millis((round as u64 * 37) % 120);
        let (ra, rb) = std::thread::scope(|s| {
            let tb = s.spawn(|| b.run(&lab, &["push"]));
            let ta = s.spawn(|| {
                std::thread::sleep(delay);
                a.run(&lab, &["push"])
            });
            (ta.join().unwrap(), tb.join().unwrap())
        });
        assert_eq!(ra.code, 0, "round {round}: {}\n{}", ra.stdout, ra.stderr);
        assert_eq!(rb.code, 0, "round {round}: {}\n{}", rb.stdout, rb.stderr);
        for node in &lab.nodes {
            let t = tags(&node.dir, &names);
            assert_eq!(
                t.len(),
                1,
                "round {round}: {} holds a mix: {t:?}",
                node.name
            );
            assert_clean(&node.dir, &names);
            winners.extend(t);
        }
    }
    eprintln!("last writers seen: {winners:?}");
}

/// The lost update of two concurrent pushes, made to happen every time: B's read of the
/// node is slowed down (a bandwidth-capped proxy between B and the node), so A's whole push
/// lands in the middle of it. B must notice under the lock that files it read before A's
/// push (and will not write) changed, read again and re-plan.
#[test]
fn a_push_whose_read_straddles_another_push_plans_again() {
    use common::proxy::{Proxy, Shape};
    let lab = SshLab::start(1, SUBNET);
    let node = &lab.nodes[0];
    let names: Vec<String> = (0..12).map(|i| format!("f{i:02}.yaml")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let a = Project::new(&lab, &refs, "");
    let b = Project::new(&lab, &refs, "");
    let proxy = Proxy::start(
        format!("{}:{}", node.ip, node.port).parse().unwrap(),
        Shape {
            pause_downstream_after: Some(1_000_000),
            ..Shape::default()
        },
    );
    write(
        &b.path().join("inventory.yaml"),
        &lab.inventory(&refs, "")
            .replace(
                &format!("ansible_host: {}", node.ip),
                "ansible_host: 127.0.0.1",
            )
            .replace(
                "ansible_port: 2222",
                &format!("ansible_port: {}", proxy.port()),
            ),
    );
    let key = node
        .host_key_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let mut kh = std::fs::read_to_string(&lab.known_hosts).unwrap();
    kh.push_str(&format!("[127.0.0.1]:{} {key}\n", proxy.port()));
    std::fs::write(&lab.known_hosts, kh).unwrap();
    // The node holds B's version, except one file edited by hand (so B has work to do).
    manifests(&b, &names, "b", 1_000_000);
    manifests(&a, &names, "b", 1_000_000);
    a.run(&lab, &["push"]).expect(0);
    std::fs::write(node.dir.join("f11.yaml"), pod("p11", "edited")).unwrap();
    manifests(&a, &names, "a", 10);
    let rb = std::thread::scope(|s| {
        let tb = s.spawn(|| b.run(&lab, &["push"]));
        // B's read is now held mid-way on the node (its ssh window is full): A pushes.
        common::wait_for(Duration::from_secs(60), "B's read to stall", || {
            proxy.paused().then_some(())
        });
        a.run(&lab, &["push"]).expect(0);
        proxy.resume();
        tb.join().unwrap()
    });
    assert_eq!(rb.code, 0, "{}\n{}", rb.stdout, rb.stderr);
    let t = tags(&node.dir, &names);
    assert_eq!(t.len(), 1, "the node holds a mix of both pushes: {t:?}");
    assert_clean(&node.dir, &names);
}

/// Kill -9 the controller at random points of many pushes while inotify records every name
/// that appears and a reader checks every manifest's content: never a partial or foreign
/// content under a real name; the next plain push takes a dead holder's lock over by itself
/// and converges, never waiting out --lock-timeout.
#[test]
fn killed_pushes_leave_no_partial_file_and_no_lock_that_blocks() {
    use notify::Watcher as _;
    const KILLS: usize = 15;
    let lab = SshLab::start(1, SUBNET);
    let dir = lab.nodes[0].dir.clone();
    let names: Vec<String> = (0..40).map(|i| format!("m{i:02}.yaml")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = Project::new(&lab, &refs, "");
    let content = |i: usize, v: usize| {
        pod(&format!("m{i}"), &format!("v{v}")) + &format!("# {}\n", "z".repeat(20_000 + v))
    };
    let write_version = |v: usize| {
        for (i, f) in names.iter().enumerate() {
            write(&p.path().join("manifests").join(f), &content(i, v));
        }
    };
    write_version(0);
    p.run(&lab, &["push"]).expect(0);

    let (tx, rx) = std::sync::mpsc::channel();
    let mut w = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if let Ok(e) = e {
            let _ = tx.send(e);
        }
    })
    .unwrap();
    w.watch(&dir, notify::RecursiveMode::NonRecursive).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut seed = std::process::id() as u64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut interrupted = 0;
    std::thread::scope(|s| {
        // Any manifest read at any moment is one complete version.
        let reader = s.spawn(|| {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (i, f) in names.iter().enumerate() {
                    if let Ok(c) = std::fs::read_to_string(dir.join(f)) {
                        let ok = (0..=KILLS).any(|v| c == content(i, v));
                        assert!(ok, "{f} holds partial or foreign content");
                        reads += 1;
                    }
                }
            }
            reads
        });
        for v in 1..=KILLS {
            write_version(v);
            let mut child = p
                .command(&lab, &["push"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(rand(600)));
            let _ = child.kill();
            let status = child.wait().unwrap();
            if !status.success() {
                interrupted += 1;
            }
            // Right after the kill, a plain push converges: no flag, and it never waits out
            // --lock-timeout for a holder that is gone.
            let started = Instant::now();
            let r = p.run(&lab, &["push", "--lock-timeout", "20"]);
            assert_eq!(r.code, 0, "after kill {v}: {}\n{}", r.stdout, r.stderr);
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the push waited out the lock timeout"
            );
            assert_eq!(tags(&dir, &names), BTreeSet::from([format!("v{v}")]));
            assert_clean(&dir, &names);
        }
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let reads = reader.join().unwrap();
        assert!(reads > 0);
    });
    assert!(interrupted > 0, "no push was killed before it finished");
    // Every real name that ever appeared is a manifest podfleet was asked to write.
    let allowed: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    for e in rx.try_iter() {
        for path in e.paths.iter().filter(|p| p.parent() == Some(dir.as_path())) {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            assert!(
                allowed.contains(name.as_str()),
                "foreign name {name:?} appeared"
            );
            assert!(
                !matches!(
                    e.kind,
                    notify::EventKind::Modify(notify::event::ModifyKind::Data(_))
                ),
                "{name} was written in place: {e:?}"
            );
        }
    }
}

/// The controller is killed (-9) mid-apply: the node-side shell either finishes the job or
/// leaves a lock whose holder is gone; either way the very next plain push converges at
/// once, with no flag, and nothing partial ever shows under a real name.
#[test]
fn a_controller_killed_mid_apply_leaves_nothing_that_blocks() {
    let lab = SshLab::start(1, SUBNET);
    let dir = lab.nodes[0].dir.clone();
    let names: Vec<String> = (0..150).map(|i| format!("m{i:03}.yaml")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = Project::new(&lab, &refs, "");
    manifests(&p, &names, "old", 30_000);
    p.run(&lab, &["push"]).expect(0);
    manifests(&p, &names, "new", 30_000);
    let mut child = p
        .command(&lab, &["push"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_first(&dir, &names, "image: new");
    child.kill().unwrap();
    child.wait().unwrap();
    let started = Instant::now();
    let r = p.run(&lab, &["push", "--lock-timeout", "30"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(tags(&dir, &names), BTreeSet::from(["new".to_string()]));
    assert_clean(&dir, &names);
}

/// The controller's connection dies mid-push (sshd session killed): the node keeps a
/// journal, the next plain push reports which file is from which revision, takes the dead
/// holder's lock over and finishes the job.
#[test]
fn an_interrupted_push_is_reported_and_finished_by_the_next() {
    let lab = SshLab::start(1, SUBNET);
    let names: Vec<String> = (0..150).map(|i| format!("m{i:03}.yaml")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = Project::new(&lab, &refs, "");
    let big = |tag: &str, i: usize| {
        pod(&format!("m{i}"), &format!("img:{tag}")) + &format!("# {}\n", tag.repeat(30_000))
    };
    for (i, f) in names.iter().enumerate() {
        write(&p.path().join("manifests").join(f), &big("old", i));
    }
    p.run(&lab, &["push"]).expect(0);
    for (i, f) in names.iter().enumerate() {
        write(&p.path().join("manifests").join(f), &big("new", i));
    }
    let dir = lab.nodes[0].dir.clone();
    let sshd_pid: i32 = std::fs::read_to_string(lab.nodes[0].root.join("sshd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let child = p
        .command(&lab, &["push"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_first(&dir, &names, "img:new");
    common::kill_descendants(sshd_pid);
    let out = child.wait_with_output().unwrap();
    assert_ne!(
        out.status.code(),
        Some(0),
        "the push reports the lost connection"
    );
    let new = names
        .iter()
        .enumerate()
        .filter(|(i, f)| std::fs::read_to_string(dir.join(f)).unwrap() == big("new", *i))
        .count();
    assert!(
        new > 0 && new < names.len(),
        "the kill landed mid-push ({new} new)"
    );
    let r = p.run(&lab, &["diff"]);
    assert!(
        r.stdout.contains("an interrupted push (revision 2")
            && r.stdout.contains("from revision 2")
            && r.stdout.contains("still from revision 1"),
        "diff says which file is from which revision: {}",
        r.stdout
    );
    let r = p.run(&lab, &["push"]).expect(0);
    assert!(
        r.stderr.contains("took over the node lock") || !dir.join(".podfleet.lock").exists(),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("drift"), "{}", r.stderr);
    assert_clean(&dir, &names);
    assert_eq!(tags(&dir, &names), BTreeSet::from(["img:new".to_string()]));
}

#[test]
fn dead_holders_are_taken_over_and_live_ones_waited_for() {
    let lab = SshLab::start(1, SUBNET);
    let p = Project::new(&lab, &["exporter.yaml"], "");
    let dir = &lab.nodes[0].dir;
    p.run(&lab, &["push"]).expect(0);
    let lock = dir.join(".podfleet.lock");
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let start_of = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let rest = &stat[stat.rfind(") ").unwrap() + 2..];
        rest.split_whitespace().nth(19).unwrap().to_string()
    };
    let hold = |pid: u32, start: &str| {
        write(
            &lock.join("info"),
            r#"{"owner":"ghost@elsewhere","host":"elsewhere","pid":4242,"since":"2026-01-01T00:00:00Z","run":"x"}"#,
        );
        write(
            &lock.join("shell"),
            &format!("{pid} {start} {}", boot.trim()),
        );
    };

    // A holder whose shell is gone: the next plain push takes over, with a warning.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    hold(gone_pid, "12345");
    write(
        &p.path().join("manifests/exporter.yaml"),
        &pod("exporter", "exporter:2"),
    );
    let r = p.run(&lab, &["push"]).expect(0);
    assert!(
        r.stderr
            .contains("took over the node lock of ghost@elsewhere"),
        "{}",
        r.stderr
    );
    assert!(!lock.exists());

    // A live holder is waited for (here: given up on after --lock-timeout), never taken over.
    let mut live = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    hold(live.id(), &start_of(live.id()));
    write(
        &p.path().join("manifests/exporter.yaml"),
        &pod("exporter", "exporter:3"),
    );
    let r = p.run(&lab, &["push", "--lock-timeout", "2"]).expect(2);
    assert!(
        r.stdout.contains("ghost@elsewhere")
            && r.stdout.contains("still running")
            && r.stdout.contains("--break-lock"),
        "{}",
        r.stdout
    );
    assert!(lock.exists());
    let r = p.run(&lab, &["push", "--break-lock"]).expect(0);
    assert!(
        r.stderr.contains("broke the lock held by ghost@elsewhere"),
        "{}",
        r.stderr
    );
    let _ = live.kill();
    let _ = live.wait();
    // A lock without a shell file (an older podfleet) that is old is dead too.
    write(&lock.join("info"), "{}");
    let old = std::process::Command::new("touch")
        .args(["-d", "10 minutes ago"])
        .arg(&lock)
        .arg(lock.join("info"))
        .status()
        .unwrap();
    assert!(old.success());
    write(
        &p.path().join("manifests/exporter.yaml"),
        &pod("exporter", "exporter:4"),
    );
    let started = Instant::now();
    p.run(&lab, &["push", "--lock-timeout", "20"]).expect(0);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the push waited for a dead holder"
    );
    assert_clean(dir, &["exporter.yaml".to_string()]);
}

/// Unmounts on drop, so a failing test leaves no mount behind.
struct Mount(std::path::PathBuf);

impl Mount {
    fn new(args: &[&str], at: &Path) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let st = std::process::Command::new("mount")
            .args(args)
            .arg(at)
            .status()
            .unwrap();
        assert!(st.success(), "mount {args:?} (tests run as root)");
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn file_system_errors_are_named_at_once() {
    let lab = SshLab::start(1, SUBNET);
    let dir = lab.nodes[0].dir.clone();
    let p = Project::new(&lab, &["exporter.yaml"], "");

    // Read-only: named immediately, not "locked by an unknown holder" after a minute.
    std::fs::create_dir_all(&dir).unwrap();
    let ro = Mount::new(&["--bind", dir.to_str().unwrap()], &dir);
    let st = std::process::Command::new("mount")
        .args(["-o", "remount,ro,bind"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    let started = Instant::now();
    let r = p.run(&lab, &["push"]).expect(2);
    assert!(
        r.stdout.contains("Read-only file system (EROFS)")
            && r.stdout.contains("cannot create the lock in"),
        "{}",
        r.stdout
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(ro);

    // Full disk: ENOSPC named with the file; no temp file stays; diff does not say in sync.
    let _full = Mount::new(&["-t", "tmpfs", "-o", "size=64k", "tmpfs"], &dir);
    write(
        &p.path().join("manifests/exporter.yaml"),
        &(pod("exporter", "exporter:1") + &format!("# {}\n", "x".repeat(200_000))),
    );
    let r = p.run(&lab, &["push"]).expect(2);
    assert!(
        r.stdout.contains("No space left on device (ENOSPC)"),
        "{}",
        r.stdout
    );
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp") || n == ".podfleet.lock")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let r = p.run(&lab, &["diff"]);
    assert!(
        r.stderr.contains("1 would change"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn permission_denied_is_named() {
    common::ensure_login_user("pfdeploy");
    let lab = SshLab::start(1, SUBNET);
    let dir = lab.nodes[0].dir.clone();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in [lab.root.path(), lab.nodes[0].root.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let p = Project::new(&lab, &["exporter.yaml"], "");
    let inv = lab
        .inventory(&["exporter.yaml"], "")
        .replace("ansible_user: root", "ansible_user: pfdeploy");
    write(&p.path().join("inventory.yaml"), &inv);
    let r = p.run(&lab, &["push"]).expect(2);
    assert!(
        r.stdout.contains("Permission denied (EACCES)"),
        "{}",
        r.stdout
    );
}

#[test]
fn push_and_validate_survive_hostile_yaml() {
    let lab = SshLab::start(1, SUBNET);
    let p = Project::new(&lab, &["nested.yaml", "flow.yaml", "bomb.yaml"], "");
    write(
        &p.path().join("manifests/nested.yaml"),
        &format!("{}x", "- ".repeat(16_000)),
    );
    write(
        &p.path().join("manifests/flow.yaml"),
        &"{a: ".repeat(100_000),
    );
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10u8 {
        let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        bomb.push_str(&format!("{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    write(&p.path().join("manifests/bomb.yaml"), &bomb);
    let started = Instant::now();
    let r: Run = p.run(&lab, &["validate"]).expect(1);
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        r.stderr
            .contains("nested.yaml:1: nesting deeper than 64 levels")
            && r.stderr
                .contains("flow.yaml:1: nesting deeper than 64 levels")
            && r.stderr.contains("bomb.yaml:")
            && r.stderr.contains("more than 100000 YAML nodes"),
        "{}",
        r.stderr
    );
}

/// Peak resident memory of a process, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

/// Hostile manifests in a running agent's directory: it survives them all, its memory stays
/// within the documented bound, and a good file added after them starts about as fast as
/// in a clean directory (a loose 10× bound, so a loaded machine does not make it flake).
#[test]
fn hostile_manifests_never_take_the_agent_down() {
    use common::agent::{Agent, phase};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("manifests");
    std::fs::create_dir_all(&dir).unwrap();
    let agent = Agent::start("process", &dir, &tmp.path().join("state"), "hostile", &[]);
    let good = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers: [{{name: c, image: x, command: [sleep, '600']}}]\n"
        )
    };
    let start_latency = |name: &str| {
        let started = Instant::now();
        common::write_atomic(&dir.join(format!("{name}.yaml")), &good(name));
        agent.wait_pod(name, Duration::from_secs(60), "running", |p| {
            phase(p) == "Running"
        });
        started.elapsed()
    };
    let baseline = start_latency("first");

    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10u8 {
        let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        bomb.push_str(&format!("{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("nested.yaml", format!("{}x", "- ".repeat(16_000)).into_bytes()),
        ("flow.yaml", "{a: ".repeat(100_000).into_bytes()),
        ("bomb.yaml", bomb.into_bytes()),
        ("many.yaml", "- 1\n".repeat(2_000_000).into_bytes()),
        ("binary.yaml", (0..10 * 1024 * 1024u64).map(|i| (i * 7919 % 251) as u8).collect()),
        (
            "huge-scalar.yaml",
            format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: big, annotations: {{a: '{}'}}}}\nspec: {{containers: [{{name: c, image: x}}]}}\n", "y".repeat(9 * 1024 * 1024)).into_bytes(),
        ),
    ];
    for (name, bytes) in &hostile {
        std::fs::write(dir.join(format!(".{name}.tmp")), bytes).unwrap();
        std::fs::rename(dir.join(format!(".{name}.tmp")), dir.join(name)).unwrap();
    }
    let after = start_latency("second");
    let bound = (baseline * 10).max(Duration::from_secs(3));
    assert!(
        after <= bound,
        "a good file after hostile ones took {after:?} (clean: {baseline:?})\n{}",
        agent.log()
    );
    // Every hostile file is reported, none runs, and the agent is still there.
    let status = common::wait_for(Duration::from_secs(60), "all files judged", || {
        let s = agent.try_status()?;
        let issues = s["issues"].as_array()?.len();
        (issues >= hostile.len() - 1).then_some(s)
    });
    let text = status["issues"].to_string();
    assert!(text.contains("nesting deeper than 64 levels"), "{text}");
    assert!(text.contains("more than 100000 YAML nodes"), "{text}");
    let pid = agent.child.as_ref().unwrap().id();
    let peak = peak_rss_mib(pid);
    eprintln!(
        "agent peak RSS {peak} MiB; start latency clean {baseline:?}, after hostile files {after:?}"
    );
    assert!(
        peak < 300,
        "agent peak RSS {peak} MiB (documented bound: 300 MiB)"
    );
    // Rewriting the hostile files again and again does not crash-loop it either.
    for (name, bytes) in &hostile {
        std::fs::write(dir.join(format!(".{name}.tmp")), bytes).unwrap();
        std::fs::rename(dir.join(format!(".{name}.tmp")), dir.join(name)).unwrap();
    }
    start_latency("third");
    assert!(agent.try_status().is_some());
}
