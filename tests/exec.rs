//! `kubectl exec` through the coordinator on both runtimes: output on stdout and stderr, the
//! exit code, stdin, an interactive terminal (`-it` under `script`), the read-only token
//! refused, and the exec recorded as an event.

mod common;

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use common::fleet::FleetLab;
use common::{BUSYBOX, wait_for, write};

const T: Duration = Duration::from_secs(60);

fn lab(runtime: &str, node: &str) -> FleetLab {
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: box\n  namespace: edge\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {BUSYBOX}\n    command: [sleep, '3600']\n    env:\n    - name: GREETING\n      value: hello-from-the-pod\n"
    );
    // A container that keeps a CPU somewhat busy, for kubectl top.
    let busy = manifest
        .replace("name: box", "name: busy\n  labels: {app: busy}")
        .replace(
        "command: [sleep, '3600']",
        "command: [sh, -c, 'while true; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 0.05; done']",
    );
    let lab = FleetLab::start_on(runtime, &[node], |p| {
        write(&p.join("nodes").join(node).join("box.yaml"), &manifest);
        write(&p.join("nodes").join(node).join("busy.yaml"), &busy);
    });
    wait_for(T, "the pod running in kubectl", || {
        let out = lab.kubectl(&["get", "pods", "-n", "edge"]).stdout;
        (out.matches("Running").count() == 2).then_some(())
    });
    lab
}

fn exec_like_kubectl(runtime: &str, node: &str) {
    let lab = lab(runtime, node);
    let pod = format!("box-{node}");
    // Output, error output and the exit code come through; the pod's env is there.
    let r = lab.kubectl(&[
        "exec",
        "-n",
        "edge",
        &pod,
        "--",
        "sh",
        "-c",
        "echo $GREETING; echo oops >&2; exit 3",
    ]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "hello-from-the-pod\n");
    assert!(r.stderr.contains("oops"), "{}", r.stderr);
    lab.kubectl(&["exec", "-n", "edge", &pod, "-c", "main", "--", "true"])
        .expect(0);

    // stdin.
    let mut cat = lab
        .kubectl_cmd(&["exec", "-i", "-n", "edge", &pod, "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    cat.stdin
        .take()
        .unwrap()
        .write_all(b"line one\nline two\n")
        .unwrap();
    let out = cat.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "line one\nline two\n");

    // An interactive terminal, kubectl driven by `script` as a user's terminal would.
    let kubeconfig = lab.path().join("fleet.kubeconfig");
    let inner = format!(
        "KUBECONFIG={} kubectl exec -it -n edge {pod} -- sh -c 'test -t 0 && echo on-a-tty; exit 4'",
        kubeconfig.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("HOME", lab.path())
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("on-a-tty"),
        "{text}\n--- coordinator\n{}\n--- agent\n{}",
        lab.serve.log(),
        lab.agents[0].log()
    );
    assert_eq!(out.status.code(), Some(4), "{text}");

    // Errors a user meets.
    let r = lab.kubectl(&["exec", "-n", "edge", "nosuch", "--", "true"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);

    // The read-only token cannot exec.
    let kc = lab.podfleet(&["kubeconfig", "--token"]).expect(0);
    std::fs::write(lab.path().join("token.kubeconfig"), kc.stdout).unwrap();
    let out = lab
        .kubectl_cmd(&["exec", "-n", "edge", &pod, "--", "true"])
        .env("KUBECONFIG", lab.path().join("token.kubeconfig"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("forbidden"), "{err}");

    // Every exec is an event on the pod.
    let events = lab
        .kubectl(&["get", "events", "-n", "edge"])
        .expect(0)
        .stdout;
    assert!(events.contains("Exec"), "{events}");

    // kubectl top: the busy container uses CPU, the node reports usage.
    let busy = format!("busy-{node}");
    wait_for(T, "kubectl top pods with CPU for the busy pod", || {
        let r = lab.kubectl(&["top", "pods", "-n", "edge", "--no-headers"]);
        let line = r.stdout.lines().find(|l| l.starts_with(&busy))?.to_string();
        let cpu = line
            .split_whitespace()
            .nth(1)?
            .trim_end_matches('m')
            .parse::<u64>()
            .ok()?;
        (r.code == 0 && cpu > 0).then_some(())
    });
    let r = lab
        .kubectl(&[
            "top",
            "pods",
            "-n",
            "edge",
            "-l",
            "app=busy",
            "--no-headers",
        ])
        .expect(0);
    assert_eq!(
        r.stdout.lines().count(),
        1,
        "only the labelled pod: {}",
        r.stdout
    );
    assert!(r.stdout.starts_with(&busy), "{}", r.stdout);
    let r = lab
        .kubectl(&["top", "pods", "-n", "edge", "--containers"])
        .expect(0);
    assert!(r.stdout.contains("main"), "{}", r.stdout);
    let r = lab.kubectl(&["top", "nodes"]).expect(0);
    assert!(r.stdout.contains(node), "{}", r.stdout);
}

#[test]
fn process_runtime_exec_like_kubectl() {
    exec_like_kubectl("process", "ex-proc");
}

#[test]
fn docker_runtime_exec_like_kubectl() {
    exec_like_kubectl("docker", "ex-dock");
}
