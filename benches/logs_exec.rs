//! Logs and exec through the coordinator next to the engine itself (not a test):
//! `kubectl logs` of a container's 100 MiB log via the coordinator and the agent's tunnel vs
//! `docker logs` of the same container on the node; `kubectl exec POD -- true` round trips vs
//! `docker exec CONTAINER true`, p50 and p90. Docker runtime, one node on loopback.
//! Run: `cargo bench --bench logs_exec` (PODFLEET_BENCH_LOG_MIB=100, PODFLEET_BENCH_EXECS=20).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::fleet::FleetLab;
use common::{BUSYBOX, wait_for, write};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Seconds to run `cmd` with its output thrown away (the bytes it wrote are counted).
fn timed(mut cmd: Command) -> (Duration, u64) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let bytes = std::io::copy(&mut out, &mut std::io::sink()).unwrap();
    let done = child.wait_with_output().unwrap();
    let elapsed = start.elapsed();
    assert!(
        done.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    (elapsed, bytes)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(mut v: Vec<Duration>, p: usize) -> Duration {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn main() {
    let mib = env_or("PODFLEET_BENCH_LOG_MIB", 100);
    let execs = env_or("PODFLEET_BENCH_EXECS", 20) as usize;
    common::ensure_busybox_image();
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: flood\n  namespace: bench\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {BUSYBOX}\n    command: [sh, -c, 'head -c {} /dev/zero | tr \\\\0 x | fold -w 99; echo; echo flood-done; sleep 3600']\n",
        mib * 1024 * 1024
    );
    // Containers an interrupted earlier run left behind.
    let _ = Command::new("sh")
        .args([
            "-c",
            "docker ps -aq --filter label=io.podfleet.node=bench1 | xargs -r docker rm -f",
        ])
        .output();
    // Keep the whole log: rotation at 2x its size.
    let size = format!("{}Mi", mib * 2);
    let lab = FleetLab::start_with(
        "docker",
        &["bench1"],
        &[
            "--container-log-max-size",
            &size,
            "--container-log-max-files",
            "2",
        ],
        |p| write(&p.join("nodes/bench1/flood.yaml"), &manifest),
    );
    let pod = "flood-bench1";
    wait_for(Duration::from_secs(600), "the log written", || {
        let r = lab.kubectl(&["logs", "-n", "bench", pod, "--tail=1"]);
        (r.stdout == "flood-done\n").then_some(())
    });
    let container = String::from_utf8(
        Command::new("docker")
            .args(["ps", "-q", "--filter", "name=k8s_main_flood-bench1_bench"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let (mut docker_logs, mut kubectl_logs) = (Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..3 {
        let mut c = Command::new("docker");
        c.args(["logs", &container]);
        let (t, docker_bytes) = timed(c);
        docker_logs.push(t);
        let r = std::panic::catch_unwind(|| timed(lab.kubectl_cmd(&["logs", "-n", "bench", pod])));
        let Ok((t, b)) = r else {
            panic!(
                "--- coordinator\n{}\n--- agent\n{}",
                lab.serve.log(),
                lab.agents[0].log()
            );
        };
        kubectl_logs.push(t);
        assert_eq!(
            b, docker_bytes,
            "kubectl logs and docker logs differ in size"
        );
        bytes = b;
    }
    // The agent alone (its local socket): how the time splits between node and tunnel.
    let mut agent_logs = Vec::new();
    for _ in 0..3 {
        let mut c = Command::new(common::bin());
        c.args(["agent", "logs", "bench/flood", "--state-dir"])
            .arg(lab.path().join("agents/bench1"));
        let (t, b) = timed(c);
        assert_eq!(b, bytes, "agent logs and docker logs differ in size");
        agent_logs.push(t);
    }
    let a = median(agent_logs);
    let (d, k) = (median(docker_logs), median(kubectl_logs));
    let rate = |t: Duration| bytes as f64 / 1048576.0 / t.as_secs_f64();
    println!(
        "logs: {:.1} MiB; docker logs {:.2}s ({:.0} MiB/s), kubectl logs via coordinator {:.2}s ({:.0} MiB/s); ratio {:.2}",
        bytes as f64 / 1048576.0,
        d.as_secs_f64(),
        rate(d),
        k.as_secs_f64(),
        rate(k),
        rate(k) / rate(d)
    );
    println!(
        "logs on the node alone (podfleet agent logs): {:.2}s ({:.0} MiB/s)",
        a.as_secs_f64(),
        rate(a)
    );
    let (mut docker_exec, mut kubectl_exec) = (Vec::new(), Vec::new());
    for _ in 0..execs {
        let mut c = Command::new("docker");
        c.args(["exec", &container, "true"]);
        docker_exec.push(timed(c).0);
        kubectl_exec.push(timed(lab.kubectl_cmd(&["exec", "-n", "bench", pod, "--", "true"])).0);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "exec round trip over {execs}: docker exec p50 {:.0} ms p90 {:.0} ms; kubectl exec via coordinator p50 {:.0} ms p90 {:.0} ms",
        ms(percentile(docker_exec.clone(), 50)),
        ms(percentile(docker_exec, 90)),
        ms(percentile(kubectl_exec.clone(), 50)),
        ms(percentile(kubectl_exec, 90)),
    );
}
