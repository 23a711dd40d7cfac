//! Agent benchmark (not a test): latency from a manifest's rename into the directory to its
//! container/process running, p50/p99 over 100 changes for both runtimes, next to the runtime's
//! own start time measured in the same run; and the agent's idle RSS with 20 pods.
//!
//! "Running" is observed from inside: the container touches a file in a hostPath directory the
//! bench watches with inotify. Run: `cargo bench --bench agent` (PODFLEET_BENCH_CHANGES=100).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::agent::Agent;
use notify::Watcher;

/// A pod that touches `<inner>/<name>` once running; docker mounts `out` at `/out`, the process
/// runtime runs on the host and writes to `out` directly.
fn manifest(name: &str, image: &str, out: &Path, process: bool) -> String {
    let inner = if process {
        out.display().to_string()
    } else {
        "/out".to_string()
    };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: bench\nspec:\n  terminationGracePeriodSeconds: 2\n  containers:\n  - name: c\n    image: {image}\n    imagePullPolicy: Never\n    command: [/bin/busybox, sh, -c, \"trap 'exit 0' TERM; /bin/busybox touch {inner}/{name}; while true; do /bin/busybox sleep 1; done\"]\n    volumeMounts: [{{name: out, mountPath: /out}}]\n  volumes:\n  - name: out\n    hostPath: {{path: {}}}\n",
        out.display()
    )
}

/// Wait for `name` to be created in the watched directory; the instant it was seen.
fn seen(rx: &Receiver<notify::Event>, name: &str) -> Instant {
    loop {
        let e = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name} never started"));
        if e.paths
            .iter()
            .any(|p| p.file_name().is_some_and(|f| f == name))
        {
            return Instant::now();
        }
    }
}

fn pct(v: &[Duration], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

fn watch(dir: &Path) -> (notify::RecommendedWatcher, Receiver<notify::Event>) {
    let (tx, rx) = channel();
    let mut w = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if let Ok(e) = e
            && matches!(e.kind, notify::EventKind::Create(_))
        {
            let _ = tx.send(e);
        }
    })
    .unwrap();
    w.watch(dir, notify::RecursiveMode::NonRecursive).unwrap();
    (w, rx)
}

/// The runtime's own start time for the same container, without podfleet.
fn baseline(
    runtime: &str,
    image: &str,
    out: &Path,
    rx: &Receiver<notify::Event>,
    i: usize,
) -> Duration {
    let name = format!("base{i}");
    let script = format!("/bin/busybox touch /out/{name}");
    let start = Instant::now();
    if runtime == "docker" {
        // A pod is two containers: the sandbox holding the network namespace, then the app.
        let sandbox = format!("podfleet-bench-sandbox-{i}");
        let st = Command::new("docker")
            .args([
                "run",
                "-d",
                "--rm",
                "--name",
                &sandbox,
                "--network",
                "none",
                "podfleet/pause:1",
                "/pause",
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        let st = Command::new("docker")
            .args([
                "run",
                "-d",
                "--rm",
                "--network",
                &format!("container:{sandbox}"),
                "-v",
                &format!("{}:/out", out.display()),
                image,
                "/bin/busybox",
                "sh",
                "-c",
                &script,
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        let took = seen(rx, &name) - start;
        let _ = Command::new("docker").args(["rm", "-f", &sandbox]).output();
        return took;
    }
    let mut c = Command::new("/bin/busybox")
        .args(["touch", &out.join(&name).display().to_string()])
        .spawn()
        .unwrap();
    let _ = c.wait();
    seen(rx, &name) - start
}

fn run(runtime: &str, changes: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, state, out) = (
        tmp.path().join("manifests"),
        tmp.path().join("state"),
        tmp.path().join("out"),
    );
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let (_w, rx) = watch(&out);
    let image = common::BUSYBOX;
    let node = format!("bench-{runtime}");
    let agent = Agent::start(runtime, &dir, &state, &node, &[]);
    let (mut lat, mut base) = (vec![], vec![]);
    for i in 0..changes {
        let name = format!("p{i}");
        let tmpf = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmpf, manifest(&name, image, &out, runtime == "process")).unwrap();
        let start = Instant::now();
        std::fs::rename(&tmpf, dir.join(format!("{name}.yaml"))).unwrap();
        lat.push(seen(&rx, &name) - start);
        base.push(baseline(runtime, image, &out, &rx, i));
        std::fs::remove_file(dir.join(format!("{name}.yaml"))).unwrap();
        agent.wait_gone(&name, Duration::from_secs(60));
    }
    let bp50 = pct(&base, 0.5);
    println!(
        "{runtime:<8} rename->running over {changes} changes: p50 {:.1} ms, p99 {:.1} ms; runtime alone p50 {bp50:.1} ms -> podfleet overhead p50 {:.1} ms, p99 {:.1} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 0.5) - bp50,
        pct(&lat, 0.99) - bp50,
    );
}

fn idle_rss(pods: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, state, out) = (
        tmp.path().join("manifests"),
        tmp.path().join("state"),
        tmp.path().join("out"),
    );
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let (_w, rx) = watch(&out);
    let agent = Agent::start("process", &dir, &state, "bench-rss", &[]);
    for i in 0..pods {
        std::fs::write(
            dir.join(format!("r{i}.yaml")),
            manifest(&format!("r{i}"), "ignored", &out, true),
        )
        .unwrap();
    }
    let mut started = std::collections::HashSet::new();
    while started.len() < pods {
        let e = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("pods never started");
        for p in e.paths {
            started.insert(p);
        }
    }
    std::thread::sleep(Duration::from_secs(10));
    let pid = agent.child.as_ref().unwrap().id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or("VmRSS: ?");
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    println!(
        "process  agent idle with {pods} pods: {} (peak {})",
        rss.split_whitespace().skip(1).collect::<Vec<_>>().join(" "),
        hwm.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")
    );
}

fn main() {
    let changes: usize = std::env::var("PODFLEET_BENCH_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    println!(
        "agent benchmark: {changes} changes per runtime (a new pod file renamed into the directory each time)"
    );
    run("process", changes);
    common::ensure_busybox_image();
    run("docker", changes);
    idle_rss(20);
}
