//! One STATUS everywhere, and errors that go when their cause goes: `podfleet status`,
//! `podfleet agent status` and kubectl against real process-runtime agents.

mod common;

use std::time::Duration;

use common::fleet::FleetLab;
use common::{podfleet, wait_for, write};

fn row<'a>(table: &'a str, name: &str) -> Option<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().any(|c| c == name))
}

#[test]
fn a_crash_loop_reads_the_same_in_status_agent_status_and_kubectl() {
    let lab = FleetLab::start(&["n1"], |p| {
        write(
            &p.join("nodes/n1/crash.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata: {name: crash, namespace: edge}\nspec:\n  containers:\n  - name: main\n    image: busybox\n    command: [sh, -c, 'exit 1']\n",
        );
    });
    let kubectl_status = wait_for(
        Duration::from_secs(60),
        "CrashLoopBackOff in kubectl",
        || {
            let out = lab.kubectl(&["get", "pods", "-n", "edge"]).stdout;
            let r = row(&out, "crash-n1")?;
            r.contains("CrashLoopBackOff").then(|| r.to_string())
        },
    );
    // The coordinator's view says what kubectl says (it said Running).
    wait_for(
        Duration::from_secs(30),
        "CrashLoopBackOff in podfleet status",
        || {
            let out = lab.podfleet(&["status"]).stdout;
            row(&out, "crash-n1")?
                .contains("CrashLoopBackOff")
                .then_some(())
        },
    );
    let agent = podfleet(
        lab.path(),
        &["agent", "status", "--state-dir", "agents/n1"],
        &[],
    )
    .expect(0)
    .stdout;
    let line = row(&agent, "crash-n1").unwrap_or_else(|| panic!("{agent}"));
    assert!(
        line.contains("CrashLoopBackOff") || line.contains("Error"),
        "agent status: {agent}\nkubectl: {kubectl_status}"
    );
    let json = lab.podfleet(&["status", "-o", "json"]).stdout;
    assert!(json.contains("\"status\""), "{json}");
}

#[test]
fn a_probe_error_clears_once_the_pod_is_ready() {
    let ready = tempfile::tempdir().unwrap();
    let flag = ready.path().join("ready");
    let flag_text = flag.display().to_string();
    let lab = FleetLab::start(&["n1"], |p| {
        write(
            &p.join("nodes/n1/slow.yaml"),
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: slow, namespace: edge}}\nspec:\n  containers:\n  - name: main\n    image: busybox\n    command: [sleep, '3600']\n    startupProbe:\n      exec: {{command: [test, -f, '{flag_text}']}}\n      periodSeconds: 1\n      failureThreshold: 600\n"
            ),
        );
    });
    // While the startup probe fails, every view names it.
    wait_for(
        Duration::from_secs(60),
        "the probe failure in status -o wide",
        || {
            let out = lab.podfleet(&["status", "-o", "wide"]).stdout;
            row(&out, "slow-n1")?
                .contains("Startup probe failed")
                .then_some(())
        },
    );
    std::fs::write(&flag, "").unwrap();
    wait_for(Duration::from_secs(60), "slow-n1 1/1 in status", || {
        let out = lab.podfleet(&["status", "-o", "wide"]).stdout;
        let r = row(&out, "slow-n1")?;
        (r.contains("1/1") && r.contains("InSync") || r.contains("1/1") && r.contains("Running"))
            .then_some(())
    });
    // Once Ready, the failure is history: not in status -o wide, status NODE, agent status.
    wait_for(
        Duration::from_secs(15),
        "the error cleared everywhere",
        || {
            let wide = lab.podfleet(&["status", "-o", "wide"]).stdout;
            let node = lab.podfleet(&["status", "n1"]).stdout;
            let agent = podfleet(
                lab.path(),
                &["agent", "status", "--state-dir", "agents/n1"],
                &[],
            )
            .stdout;
            // status NODE: the pod's line (its events below may tell the story).
            let pod_line = node.lines().find(|l| l.contains("edge/slow-n1"))?;
            let clear = !row(&wide, "slow-n1")?.contains("probe failed")
                && !pod_line.contains("probe failed")
                && !row(&agent, "slow-n1")?.contains("probe failed");
            if !clear {
                eprintln!("{wide}\n{node}\n{agent}");
            }
            clear.then_some(())
        },
    );
    // The events still tell what happened.
    let events = lab.kubectl(&["get", "events", "-n", "edge"]).stdout;
    assert!(events.contains("Unhealthy"), "{events}");
}
