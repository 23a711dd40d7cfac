//! `podfleet agent logs` against real runtimes: host processes (CRI log files written by the
//! shim, rotated by size) and the docker engine, with kubectl's flags.

mod common;

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::BUSYBOX;
use common::agent::{AgentLab, phase, restarts};

const T: Duration = Duration::from_secs(60);

type Lab = AgentLab;

fn lab(runtime: &'static str, node: &str, extra: &[&str]) -> Lab {
    AgentLab::start(runtime, node, extra)
}

fn pod(name: &str, script: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 1\n{extra_spec}  containers:\n  - name: main\n    image: {BUSYBOX}\n    command: [sh, -c, '{script}']\n"
    )
}

trait Logs {
    fn logs(&self, args: &[&str]) -> common::Run;
    fn state(&self) -> &Path;
}

impl Logs for Lab {
    fn logs(&self, args: &[&str]) -> common::Run {
        let mut c = Command::new(common::bin());
        c.args(["agent", "logs", "--state-dir"])
            .arg(&self.agent.state)
            .args(args);
        common::Run::from(c.output().unwrap())
    }
    fn state(&self) -> &Path {
        &self.agent.state
    }
}

fn running(p: &serde_json::Value) -> bool {
    phase(p) == "Running"
}

/// Logs, --tail, --timestamps, --limit-bytes, --since(-time), stderr, --previous, -f and the
/// errors kubectl users know, on one runtime.
fn logs_like_kubectl(runtime: &'static str, node: &str) {
    let l = lab(runtime, node, &[]);
    l.put(
        "talker.yaml",
        &pod(
            "talker",
            "echo start; i=0; while true; do echo line $i; echo err $i >&2; i=$((i+1)); sleep 0.2; done",
            "",
        ),
    );
    l.put(
        "crasher.yaml",
        &pod("crasher", "echo run-$$-$(date +%s); sleep 1; exit 3", ""),
    );
    l.agent.wait_pod("talker", T, "running", running);
    common::wait_for(T, "a few lines", || {
        let r = l.logs(&["default/talker"]);
        (r.code == 0 && r.stdout.contains("line 3")).then_some(())
    });
    let all = l.logs(&["default/talker"]).expect(0).stdout;
    // stdout and stderr are two pipes: their lines interleave in no fixed order, each
    // stream's own lines stay in order.
    let stdout: Vec<&str> = all.lines().filter(|l| !l.starts_with("err")).collect();
    assert_eq!(&stdout[..3], ["start", "line 0", "line 1"], "{all}");
    assert!(all.contains("err 0\n"), "stderr is in the log too: {all}");
    // The mirror name works as well as the manifest's.
    let mirror = format!("default/talker-{node}");
    assert!(l.logs(&[&mirror]).expect(0).stdout.contains("start\n"));

    let tail = l.logs(&["default/talker", "--tail", "2"]).expect(0).stdout;
    assert_eq!(tail.lines().count(), 2, "{tail}");
    let ts = l
        .logs(&["default/talker", "--tail", "1", "--timestamps"])
        .expect(0)
        .stdout;
    let (stamp, _) = ts.split_once(' ').unwrap();
    assert!(
        stamp.parse::<jiff::Timestamp>().is_ok(),
        "an RFC 3339 timestamp first: {ts}"
    );
    let limited = l
        .logs(&["default/talker", "--limit-bytes", "5"])
        .expect(0)
        .stdout;
    assert_eq!(limited.len(), 5, "{limited}");
    assert!(all.starts_with(&limited), "{limited}");
    let future = "2999-01-01T00:00:00Z";
    assert_eq!(
        l.logs(&["default/talker", "--since-time", future])
            .expect(0)
            .stdout,
        ""
    );
    assert!(
        l.logs(&["default/talker", "--since", "1h"])
            .expect(0)
            .stdout
            .contains("start\n")
    );

    // -f shows lines written after it started.
    let mut follow = Command::new(common::bin())
        .args([
            "agent",
            "logs",
            "-f",
            "--tail",
            "1",
            "default/talker",
            "--state-dir",
        ])
        .arg(l.state())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(follow.stdout.take().unwrap()).lines();
    let first: u64 = number(&lines.next().unwrap().unwrap());
    let later = lines
        .map(|l| l.unwrap())
        .filter(|l| l.starts_with("line "))
        .map(|l| number(&l))
        .find(|n| *n >= first + 3);
    assert!(later.is_some(), "-f kept delivering new lines");
    let _ = follow.kill();
    let _ = follow.wait();

    // --previous after a crash: the run before the current one.
    l.agent
        .wait_pod("crasher", T, "restarted twice", |p| restarts(p) >= 2);
    let previous = l.logs(&["default/crasher", "-p"]).expect(0).stdout;
    assert!(previous.starts_with("run-"), "{previous}");
    let never = l.logs(&["default/talker", "--previous"]);
    assert_eq!(never.code, 1);
    assert!(
        never
            .stderr
            .contains("previous terminated container \"main\" in pod \"talker-"),
        "{}",
        never.stderr
    );

    // Errors name what is wrong.
    let r = l.logs(&["default/nosuch"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("pods \"nosuch\" not found"),
        "{}",
        r.stderr
    );
    let r = l.logs(&["default/talker", "-c", "nope"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("container nope is not valid for pod"),
        "{}",
        r.stderr
    );
}

fn number(line: &str) -> u64 {
    line.trim_start_matches("line ").trim().parse().unwrap_or(0)
}

#[test]
fn process_runtime_logs_like_kubectl() {
    logs_like_kubectl("process", "logs-proc");
}

#[test]
fn docker_runtime_logs_like_kubectl() {
    logs_like_kubectl("docker", "logs-dock");
}

#[test]
fn a_large_docker_log_arrives_whole() {
    let l = lab("docker", "logs-big", &[]);
    // 20 MiB in 100-byte lines (under the 10 MiB x 5 rotation), then a marker.
    l.put(
        "big.yaml",
        &pod(
            "big",
            "head -c 20971520 /dev/zero | tr \\\\0 x | fold -w 99; echo; echo big-done; sleep 3600",
            "",
        ),
    );
    common::wait_for(Duration::from_secs(180), "20 MiB written", || {
        let r = l.logs(&["default/big", "--tail", "1"]);
        (r.stdout == "big-done\n").then_some(())
    });
    let all = l.logs(&["default/big"]).expect(0).stdout;
    assert_eq!(
        all.len(),
        20971520 + 20971520 / 99 + 1 + 9,
        "every byte, every line"
    );
    let stamped = l.logs(&["default/big", "--timestamps"]).expect(0).stdout;
    assert_eq!(stamped.lines().count(), all.lines().count());
}

#[test]
fn process_logs_rotate_by_size_and_follow_ends_with_the_container() {
    let l = lab(
        "process",
        "logs-rot",
        &[
            "--container-log-max-size",
            "1Mi",
            "--container-log-max-files",
            "3",
        ],
    );
    // 30 MiB of output, then a marker.
    l.put(
        "rot.yaml",
        &pod(
            "rot",
            "i=0; while [ $i -lt 300000 ]; do echo \"$i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done; echo done-writing; sleep 3600",
            "",
        ),
    );
    let p = l.agent.wait_pod("rot", T, "running", running);
    let uid = p["uid"].as_str().unwrap().to_string();
    common::wait_for(Duration::from_secs(180), "30 MiB written", || {
        let r = l.logs(&["default/rot", "--tail", "1"]);
        (r.stdout == "done-writing\n").then_some(())
    });
    let dir = l
        .state()
        .join("pods")
        .join(format!("default_rot-logs-rot_{uid}"))
        .join("main");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert!(files.len() <= 3, "{files:?}");
    for f in &files {
        let len = f.metadata().unwrap().len();
        assert!(len <= 1024 * 1024, "{:?} is {len} bytes", f.path());
    }
    // What is kept ends with the newest lines, in order.
    let all = l.logs(&["default/rot"]).expect(0).stdout;
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.last(), Some(&"done-writing"));
    assert!(
        lines[lines.len() - 2].starts_with("299999 "),
        "{}",
        lines[lines.len() - 2]
    );
    assert!(lines.len() < 40_000, "bounded: {} lines kept", lines.len());
    let nums: Vec<u64> = lines[..lines.len() - 1]
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        nums.windows(2).all(|w| w[1] == w[0] + 1),
        "no line lost or reordered"
    );

    // -f on a container that stops ends by itself, with every line.
    l.put(
        "short.yaml",
        &pod(
            "short",
            "for i in 1 2 3; do echo tick $i; sleep 1; done",
            "  restartPolicy: Never\n",
        ),
    );
    l.agent.wait_pod("short", T, "started", |p| {
        p["mirror"]["status"]["containerStatuses"][0]["containerID"].is_string()
    });
    let mut c = Command::new(common::bin());
    c.args(["agent", "logs", "-f", "default/short", "--state-dir"])
        .arg(l.state());
    let r = common::Run::from(c.output().unwrap()).expect(0);
    assert_eq!(r.stdout, "tick 1\ntick 2\ntick 3\n");
}
