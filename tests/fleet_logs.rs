//! Container logs through the coordinator: plain `kubectl logs` and `podfleet logs` against a
//! real `podfleet serve` with real agents, which stream logs over their own outbound tunnel.

mod common;

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::fleet::FleetLab;
use common::{wait_for, write};

const T: Duration = Duration::from_secs(60);

fn pod(name: &str, app: &str, script: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: edge\n  labels:\n    app: {app}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: busybox\n    command: [sh, -c, '{script}']\n"
    )
}

const TALKER: &str =
    "echo start $(hostname); i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done";

type Lab = FleetLab;

trait Logs {
    fn logs(&self, args: &[&str]) -> common::Run;
}

impl Logs for Lab {
    fn logs(&self, args: &[&str]) -> common::Run {
        let mut full = vec!["logs"];
        full.extend_from_slice(args);
        self.podfleet(&full)
    }
}

fn lab() -> Lab {
    let lab = FleetLab::start(&["n1", "n2"], |p| {
        write(
            &p.join("nodes/n1/talker.yaml"),
            &pod("talker", "talk", TALKER),
        );
        write(
            &p.join("nodes/n2/talker.yaml"),
            &pod("talker", "talk", TALKER),
        );
        write(
            &p.join("nodes/n2/crasher.yaml"),
            &pod("crasher", "crash", "echo run-$$; sleep 1; exit 3"),
        );
    });
    wait_for(T, "the talkers running in kubectl", || {
        let out = lab.kubectl(&["get", "pods", "-n", "edge"]).stdout;
        (out.matches("Running").count() >= 2).then_some(())
    });
    lab
}

#[test]
fn kubectl_logs_and_podfleet_logs_read_through_the_coordinator() {
    let lab = lab();
    wait_for(T, "kubectl logs", || {
        let r = lab.kubectl(&["logs", "-n", "edge", "talker-n1"]);
        (r.code == 0 && r.stdout.contains("line 2")).then_some(())
    });
    let all = lab
        .kubectl(&["logs", "-n", "edge", "talker-n1"])
        .expect(0)
        .stdout;
    assert!(all.starts_with("start "), "{all}");
    let tail = lab
        .kubectl(&["logs", "-n", "edge", "talker-n1", "--tail=2"])
        .expect(0)
        .stdout;
    assert_eq!(tail.lines().count(), 2, "{tail}");
    let ts = lab
        .kubectl(&[
            "logs",
            "-n",
            "edge",
            "talker-n1",
            "--tail=1",
            "--timestamps",
        ])
        .expect(0)
        .stdout;
    assert!(
        ts.split(' ')
            .next()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok(),
        "{ts}"
    );
    let limited = lab
        .kubectl(&["logs", "-n", "edge", "talker-n1", "--limit-bytes=5"])
        .expect(0)
        .stdout;
    assert_eq!(limited, "start");

    // -f delivers lines written after it started.
    let mut follow = lab
        .kubectl_cmd(&["logs", "-f", "--tail=1", "-n", "edge", "talker-n2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(follow.stdout.take().unwrap()).lines();
    let first = number(&lines.next().unwrap().unwrap());
    let later = lines
        .map(|l| l.unwrap())
        .map(|l| number(&l))
        .find(|n| *n >= first + 3);
    assert!(later.is_some(), "kubectl logs -f kept delivering");
    let _ = follow.kill();
    let _ = follow.wait();

    // --previous after a crash; errors as kube-apiserver words them.
    wait_for(T, "the crasher restarted", || {
        let r = lab.kubectl(&["logs", "-p", "-n", "edge", "crasher-n2"]);
        (r.code == 0 && r.stdout.starts_with("run-")).then_some(())
    });
    let r = lab.kubectl(&["logs", "-n", "edge", "nosuch"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("pods \"nosuch\" not found"),
        "{}",
        r.stderr
    );
    let r = lab.kubectl(&["logs", "-n", "edge", "talker-n1", "-c", "nope"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("container nope is not valid"),
        "{}",
        r.stderr
    );

    // kubectl logs -l --prefix: every matching pod.
    let r = lab
        .kubectl(&[
            "logs", "-n", "edge", "-l", "app=talk", "--prefix", "--tail=1",
        ])
        .expect(0);
    assert!(
        r.stdout.contains("[pod/talker-n1/main] line "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[pod/talker-n2/main] line "),
        "{}",
        r.stdout
    );

    // The official Python client: read_namespaced_pod_log, with follow.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kube_logs.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(lab.path().join("fleet.kubeconfig"))
        .args(["edge", "talker-n1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // podfleet logs: the same across the fleet, prefixed node/pod/container.
    let r = lab
        .logs(&["-n", "edge", "--selector", "app=talk", "--tail", "2"])
        .expect(0);
    assert_eq!(
        r.stdout.matches("[n1/talker-n1/main] line ").count(),
        2,
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stdout.matches("[n2/talker-n2/main] line ").count(),
        2,
        "{}",
        r.stdout
    );
    let r = lab.logs(&["-n", "edge", "talker", "--tail", "1"]).expect(0);
    assert_eq!(
        r.stdout.lines().count(),
        2,
        "one line per node: {}",
        r.stdout
    );
    let r = lab
        .logs(&["-n", "edge", "talker-n1", "--tail", "1"])
        .expect(0);
    assert!(
        r.stdout.starts_with("line "),
        "one pod: no prefix: {}",
        r.stdout
    );
    let r = lab.logs(&["-n", "edge", "nosuch"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("pods \"nosuch\" not found"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_follow_ends_with_an_error_when_the_agent_goes_away() {
    let mut lab = lab();
    wait_for(T, "logs readable", || {
        let r = lab.logs(&["-n", "edge", "talker-n1", "--tail", "1"]);
        (r.code == 0 && r.stdout.starts_with("line ")).then_some(())
    });
    let mut follow = Command::new(common::bin())
        .current_dir(lab.path())
        .args([
            "--state-dir",
            "state",
            "logs",
            "-f",
            "-n",
            "edge",
            "talker-n1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("start "), "{first}");
    lab.agents[0].kill9();
    // The stream ends (with an error naming the node), it does not hang.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = follow.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "podfleet logs -f still running a minute after the agent died"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut follow.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("went away"), "{err}");
}

/// The agent's open tunnel streams, from its `/metrics` on the local socket.
fn agent_streams(lab: &Lab, node: &str) -> Option<u64> {
    use std::io::{Read as _, Write as _};
    let sock = lab.path().join("agents").join(node).join("agent.sock");
    let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.lines()
        .find(|l| l.starts_with("podfleet_agent_tunnel_streams"))?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()
}

#[test]
fn a_reader_that_goes_away_ends_the_stream_on_the_node() {
    let lab = lab();
    wait_for(T, "logs readable", || {
        let r = lab.kubectl(&["logs", "-n", "edge", "talker-n1", "--tail=1"]);
        (r.code == 0).then_some(())
    });
    let mut follow = lab
        .kubectl_cmd(&["logs", "-f", "-n", "edge", "talker-n1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(agent_streams(&lab, "n1"), Some(1));
    let _ = follow.kill();
    let _ = follow.wait();
    let gone = std::time::Instant::now();
    wait_for(
        Duration::from_secs(10),
        "the stream ended on the node",
        || (agent_streams(&lab, "n1") == Some(0)).then_some(()),
    );
    eprintln!(
        "stream ended on the node {} ms after the reader was killed",
        gone.elapsed().as_millis()
    );

    // At most 16 streams per client (identity and address); the 17th gets 429.
    let mut readers: Vec<std::process::Child> = (0..16)
        .map(|_| {
            lab.kubectl_cmd(&["logs", "-f", "--tail=1", "-n", "edge", "talker-n2"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_for(T, "16 streams open", || {
        (agent_streams(&lab, "n2") == Some(16)).then_some(())
    });
    let r = lab.kubectl(&["logs", "--tail=1", "-n", "edge", "talker-n2"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("too many streams"), "{}", r.stderr);
    for mut c in readers.drain(..) {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Resident memory of a process in MiB.
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

#[test]
fn a_paused_reader_does_not_grow_agent_or_coordinator_memory() {
    let lab = lab();
    // 100 MiB of output as fast as the container can write it, then a marker.
    write(
        &lab.path().join("nodes/n1/flood.yaml"),
        &pod(
            "flood",
            "flood",
            "head -c 104857600 /dev/zero | tr \\\\0 x | fold -w 99; echo; echo flood-done; sleep 3600",
        ),
    );
    wait_for(T, "the flood pod in kubectl", || {
        let out = lab
            .kubectl(&["get", "pods", "-n", "edge", "flood-n1"])
            .stdout;
        out.contains("Running").then_some(())
    });
    let agent = lab.agents[0].child.as_ref().unwrap().id();
    let serve = lab.serve.pid().unwrap();
    let before = (rss_mib(agent), rss_mib(serve));
    // A reader that stops reading: kubectl logs -f, stopped with SIGSTOP.
    let mut reader = lab
        .kubectl_cmd(&["logs", "-f", "-n", "edge", "flood-n1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(reader.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let _ = Command::new("kill")
        .args(["-STOP", &reader.id().to_string()])
        .status();
    let agent_state = lab.path().join("agents/n1");
    wait_for(Duration::from_secs(300), "100 MiB written", || {
        let r = Command::new(common::bin())
            .args(["agent", "logs", "edge/flood", "--tail", "1", "--state-dir"])
            .arg(&agent_state)
            .output()
            .ok()?;
        (String::from_utf8_lossy(&r.stdout) == "flood-done\n").then_some(())
    });
    let after = (rss_mib(agent), rss_mib(serve));
    let _ = Command::new("kill")
        .args(["-CONT", &reader.id().to_string()])
        .status();
    let _ = reader.kill();
    let _ = reader.wait();
    eprintln!(
        "RSS MiB with a paused reader over 100 MiB: agent {} -> {}, coordinator {} -> {}",
        before.0, after.0, before.1, after.1
    );
    assert!(
        after.0 < before.0 + 64,
        "agent grew: {before:?} -> {after:?}"
    );
    assert!(
        after.1 < before.1 + 64,
        "coordinator grew: {before:?} -> {after:?}"
    );
}

fn number(line: &str) -> u64 {
    line.trim_start_matches("line ").trim().parse().unwrap_or(0)
}
