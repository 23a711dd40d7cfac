//! Health-gated push: `push --wait --rollback-on-failure --serial`, with a coordinator and
//! real agents (process runtime) on local nodes.

mod common;

use std::path::Path;
use std::time::Duration;

use common::agent::Agent;
use common::coordinator::Coordinator;
use common::{podfleet, wait_for, write};

fn web(ready_cmd: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: edge\nspec:\n  containers:\n  - name: main\n    image: busybox\n    command: [sleep, '3600']\n    readinessProbe:\n      exec:\n        command: [{ready_cmd}]\n      periodSeconds: 2\n"
    )
}

// Field order matters: agents (whose drop kills their pods) before the directory.
struct Lab {
    _agents: Vec<Agent>,
    _serve: Coordinator,
    dir: tempfile::TempDir,
}

impl Lab {
    fn p(&self) -> &Path {
        self.dir.path()
    }
    fn run(&self, args: &[&str]) -> common::Run {
        let mut full = vec!["-i", "inventory.yaml", "--state-dir", "state"];
        full.extend_from_slice(args);
        podfleet(self.p(), &full, &[])
    }
}

const NODES: [&str; 4] = ["n1", "n2", "n3", "n4"];

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let mut inv = String::from(
        "all:\n  children:\n    fleet:\n      vars:\n        static_pods: [web.yaml]\n      hosts:\n",
    );
    for n in NODES {
        inv.push_str(&format!(
            "        {n}:\n          ansible_connection: local\n          static_pod_path: {}\n          podfleet_config_dir: {}\n",
            p.join("nodes").join(n).display(),
            p.join("pki").join(n).display()
        ));
    }
    write(&p.join("inventory.yaml"), &inv);
    write(&p.join("manifests/web.yaml"), &web("'true'"));
    let grpc = format!("127.0.0.1:{}", common::free_port());
    let serve = Coordinator::start(&p.join("state"), &["--listen", &grpc]);
    let args = [
        "-i",
        "inventory.yaml",
        "--state-dir",
        "state",
        "agent",
        "enroll",
        "--coordinator",
        &grpc,
    ];
    podfleet(p, &args, &[]).expect(0);
    let agents = NODES.iter().map(|n| Agent::reporting(p, n)).collect();
    Lab {
        dir,
        _serve: serve,
        _agents: agents,
    }
}

#[test]
fn a_failing_readiness_probe_rolls_the_batch_back_and_stops_the_rollout() {
    let lab = lab();
    // A good manifest: the gate passes and the push completes.
    let r = lab.run(&["push", "--wait", "60"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("4/4 nodes running the new pods Ready"),
        "{}",
        r.stderr
    );
    let good = std::fs::read_to_string(lab.p().join("nodes/n1/web.yaml")).unwrap();

    // A manifest whose readiness probe never passes, two nodes per batch.
    write(&lab.p().join("manifests/web.yaml"), &web("'false'"));
    let r = lab.run(&[
        "push",
        "--wait",
        "8",
        "--rollback-on-failure",
        "--serial",
        "2",
    ]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    for n in ["n1", "n2"] {
        assert!(
            r.stdout
                .contains(&format!("rolled back: [{n}] => not healthy within 8s")),
            "{}",
            r.stdout
        );
        assert_eq!(
            std::fs::read_to_string(lab.p().join("nodes").join(n).join("web.yaml")).unwrap(),
            good,
            "{n} has its previous files back"
        );
    }
    for n in ["n3", "n4"] {
        assert!(
            r.stdout.contains(&format!("skipping: [{n}]")),
            "{}",
            r.stdout
        );
        assert_eq!(
            std::fs::read_to_string(lab.p().join("nodes").join(n).join("web.yaml")).unwrap(),
            good,
            "{n} was never touched"
        );
    }
    assert!(r.stderr.contains("stopping the rollout"), "{}", r.stderr);

    // The agents run the previous pod again: the fleet view is back to InSync everywhere.
    wait_for(
        Duration::from_secs(60),
        "the previous pods Ready again",
        || {
            let s = lab.run(&["status", "-o", "json"]);
            let v: serde_json::Value = serde_json::from_str(&s.stdout).ok()?;
            let pods = v["pods"].as_array()?;
            (pods.len() == 4 && pods.iter().all(|p| p["sync"] == "InSync")).then_some(())
        },
    );
    let h = lab.run(&["history", "-o", "json"]).expect(0);
    assert!(h.stdout.contains("rolledback"), "{}", h.stdout);

    // A push that matches no host consumes no revision: ids stay gapless.
    let r = lab.run(&["push", "-l", "nosuchhost"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Revision 3 writes the never-ready pod to n1 (no gate); revision 4 the good one again.
    lab.run(&["push", "-l", "n1"]).expect(0);
    write(&lab.p().join("manifests/web.yaml"), &web("'true'"));
    lab.run(&["push", "-l", "n1"]).expect(0);
    // Rolling back to revision 3 with --wait is gated like a push: it waits, then fails.
    let r = lab.run(&["rollback", "3", "-l", "n1", "--wait", "6"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("fatal: [n1]: FAILED! => not healthy within 6s"),
        "{}",
        r.stdout
    );
    let h = lab.run(&["history", "-o", "json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    let ids: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5], "{}", h.stdout);
}
