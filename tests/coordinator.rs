//! Coordinator end to end: real sshd nodes (enrol + push), real agents reporting over
//! mutual TLS, `podfleet status` / `events` reading the fleet view.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::agent::Agent;
use common::coordinator::Coordinator;
use common::ssh::SshLab;
use common::{Run, podfleet, wait_for, write, write_atomic};
use serde_json::Value;

const SUBNET: u8 = 3;

struct Fleet {
    lab: SshLab,
    dir: tempfile::TempDir,
}

impl Fleet {
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn state(&self) -> PathBuf {
        self.path().join("state")
    }
    fn pki_dir(&self, node: usize) -> PathBuf {
        self.lab.nodes[node].root.join("etc-podfleet")
    }
    fn run(&self, args: &[&str]) -> Run {
        let mut full: Vec<&str> = vec!["-i", "inventory.yaml", "--state-dir", "state"];
        full.extend_from_slice(args);
        let kh = self.lab.known_hosts.display().to_string();
        if matches!(args.first(), Some(&"push") | Some(&"agent")) {
            full.push("--known-hosts");
            full.push(&kh);
        }
        let home = self.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        podfleet(self.path(), &full, &[("HOME", home.to_str().unwrap())])
    }
    fn status(&self) -> Value {
        let r = self.run(&["status", "-o", "json"]).expect(0);
        serde_json::from_str(&r.stdout).unwrap()
    }
    /// Wait until `pred` holds for `status -o json`.
    fn wait_status(&self, what: &str, coord: &Coordinator, pred: impl Fn(&Value) -> bool) -> Value {
        let start = std::time::Instant::now();
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!(
                    "timed out waiting for {what}\nstatus: {s:#}\ncoordinator log:\n{}",
                    coord.log()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn node<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or(&Value::Null)
}

fn pod<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or(&Value::Null)
}

fn fleet(n: usize, runtime_of: impl Fn(usize) -> &'static str) -> Fleet {
    let lab = SshLab::start(n, SUBNET);
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("inventory.yaml"),
        &lab.inventory(&["sleeper.yaml.j2"], ""),
    );
    for (i, node) in lab.nodes.iter().enumerate() {
        write(
            &dir.path().join(format!("host_vars/{}.yaml", node.name)),
            &format!(
                "podfleet_config_dir: {}\nsleeper_image: {}\n",
                node.root.join("etc-podfleet").display(),
                if runtime_of(i) == "docker" {
                    common::BUSYBOX
                } else {
                    "busybox"
                }
            ),
        );
    }
    write(
        &dir.path().join("manifests/sleeper.yaml.j2"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sleeper\n  namespace: edge\n  labels:\n    app: sleeper\nspec:\n  containers:\n  - name: main\n    image: {{ sleeper_image }}\n    command: [sleep, '3600']\n",
    );
    Fleet { lab, dir }
}

#[test]
fn fleet_status_over_mutual_tls_end_to_end() {
    common::ensure_busybox_image();
    // n3 runs on docker (the one docker case), the rest as processes.
    let runtime = |i: usize| if i == 2 { "docker" } else { "process" };
    let f = fleet(3, runtime);
    let port = common::free_port().to_string();
    let metrics_port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let metrics = format!("127.0.0.1:{metrics_port}");
    let mut coord = Coordinator::start(
        &f.state(),
        &[
            "--listen",
            &listen,
            "--node-grace",
            "3s",
            "--metrics-listen",
            &metrics,
        ],
    );

    // Enrol over SSH: cert, key, CA and address land 0600 in each node's config dir.
    let r = f
        .run(&["agent", "enroll", "--coordinator", &listen])
        .expect(0);
    assert!(r.stdout.contains("changed: [n1]"), "{}", r.stdout);
    for i in 0..3 {
        for file in ["ca.crt", "node.crt", "node.key", "coordinator"] {
            let meta = std::fs::metadata(f.pki_dir(i).join(file)).unwrap();
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{file}");
        }
    }
    // Push while the coordinator holds the store: the revision goes through its socket.
    f.run(&["push"]).expect(0);
    assert!(f.run(&["history"]).expect(0).stdout.contains("push"));

    let agents: Vec<Agent> = f
        .lab
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let pki = f.pki_dir(i);
            Agent::start(
                runtime(i),
                &n.dir,
                &f.path().join(format!("agent-{}", n.name)),
                &n.name,
                &[
                    "--pki-dir",
                    pki.to_str().unwrap(),
                    "--heartbeat-interval",
                    "1",
                ],
            )
        })
        .collect();
    let mut agents = agents;
    f.wait_status("every node Ready and every pod InSync", &coord, |s| {
        ["n1", "n2", "n3"]
            .iter()
            .all(|n| node(s, n)["condition"] == "Ready")
            && ["sleeper-n1", "sleeper-n2", "sleeper-n3"]
                .iter()
                .all(|p| pod(s, p)["sync"] == "InSync")
    });
    let table = f.run(&["status"]).expect(0).stdout;
    assert!(
        table.contains("sleeper-n1") && table.contains("InSync") && table.contains("1/1"),
        "{table}"
    );

    // Kill the pod's process on n1: the restart count rises in the fleet view.
    let procs = agents[0].state.join("process");
    for e in std::fs::read_dir(&procs).unwrap().flatten() {
        if let Ok(pid) = std::fs::read_to_string(e.path().join("child.pid")) {
            let pid: i32 = pid.trim().parse().unwrap();
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
        }
    }
    f.wait_status("a restart of sleeper-n1", &coord, |s| {
        pod(s, "sleeper-n1")["restarts"].as_u64().unwrap_or(0) >= 1
    });

    // Edit the manifest by hand on n2: Drifted.
    let on_node = f.lab.nodes[1].dir.join("sleeper.yaml");
    let edited = std::fs::read_to_string(&on_node)
        .unwrap()
        .replace("'3600'", "'7200'");
    write_atomic(&on_node, &edited);
    f.wait_status("sleeper-n2 Drifted", &coord, |s| {
        pod(s, "sleeper-n2")["sync"] == "Drifted"
    });

    // Stop n3's agent: NotReady after the (test-shortened) grace period.
    agents[2].terminate();
    f.wait_status("n3 NotReady", &coord, |s| {
        node(s, "n3")["condition"] == "NotReady"
    });

    // Events from the agents: container starts, and the kill's restart.
    let ev = f.run(&["events", "-l", "n1"]).expect(0).stdout;
    assert!(
        ev.contains("Started") && ev.contains("pod/sleeper-n1"),
        "{ev}"
    );
    assert!(!ev.contains("sleeper-n2"), "events honour --limit: {ev}");

    // Metrics over TCP.
    let mut conn = std::net::TcpStream::connect(&metrics).unwrap();
    conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).unwrap();
    assert!(
        body.contains("podfleet_coordinator_connected_agents 2")
            && body.contains("podfleet_push_last_duration_seconds{revision=\"1\",nodes=\"3\"}"),
        "{body}"
    );
    assert!(
        body.contains("podfleet_fleet_pods{phase=\"Running\"}"),
        "{body}"
    );

    // kill -9 the coordinator, start it again: the store opens and the view converges.
    coord.kill9();
    coord.spawn();
    // Until the agents reconnect the store's last heartbeats still look fresh: wait for n1.
    let detail = wait_for(Duration::from_secs(60), "n1 to reconnect", || {
        let d = f.run(&["status", "n1"]).expect(0).stdout;
        d.contains("Connected:     yes").then_some(d)
    });
    assert!(
        detail.contains("Connected:     yes") && detail.contains("container main: running"),
        "{detail}"
    );

    f.wait_status("the view after a coordinator kill -9", &coord, |s| {
        node(s, "n1")["condition"] == "Ready"
            && pod(s, "sleeper-n1")["sync"] == "InSync"
            && pod(s, "sleeper-n2")["sync"] == "Drifted"
            && node(s, "n3")["condition"] == "NotReady"
    });
    // Without a coordinator the CLI reads the store itself.
    coord.kill9();
    let s = f.status();
    assert_eq!(pod(&s, "sleeper-n2")["sync"], "Drifted");
    drop(agents);
}

/// `agent enroll` for a local node `n1` with the CA in `state`, certificates into `pki`.
fn enroll_locally(f: &Fleet, state: &Path, pki: &Path, listen: &str) {
    // Its own directory, and run from there: host_vars/ next to inventory.yaml (or in the
    // working directory, the implicit playbook dir) would apply to it too, as in Ansible.
    let inv = f.path().join("local/local.ini");
    write(
        &inv,
        &format!(
            "n1 ansible_connection=local podfleet_config_dir={}\n",
            pki.display()
        ),
    );
    let (inv, state) = (inv.to_str().unwrap(), state.to_str().unwrap());
    let args = [
        "-i",
        inv,
        "--state-dir",
        state,
        "agent",
        "enroll",
        "--coordinator",
        listen,
    ];
    podfleet(&f.path().join("local"), &args, &[]).expect(0);
}

#[test]
fn plaintext_is_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let r = podfleet(
        dir.path(),
        &[
            "--state-dir",
            "state",
            "serve",
            "--insecure-listen",
            "0.0.0.0:7999",
            "--no-kube-api",
        ],
        &[],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("only allowed on loopback"),
        "{}",
        r.stderr
    );
}

#[test]
fn untrusted_agents_are_refused() {
    let f = fleet(1, |_| "process");
    let port = common::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let coord = Coordinator::start(&f.state(), &["--listen", &listen]);
    // A second CA, and an agent holding a certificate from it (but trusting our server).
    let other_state = f.path().join("other-state");
    let mut other = Coordinator::start(
        &other_state,
        &["--listen", &format!("127.0.0.1:{}", common::free_port())],
    );
    other.kill9();
    let foreign = f.path().join("foreign-pki");
    enroll_locally(&f, &other_state, &foreign, &listen);
    std::fs::copy(f.state().join("pki/ca.crt"), foreign.join("ca.crt")).unwrap();
    let dir = f.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    let _stranger = Agent::start(
        "process",
        &dir,
        &f.path().join("agent-foreign"),
        "n1",
        &["--pki-dir", foreign.to_str().unwrap()],
    );
    wait_for(
        Duration::from_secs(30),
        "the foreign certificate refused",
        || coord.log().contains("refused TLS client").then_some(()),
    );

    // A genuine certificate for n1 used to report as n2.
    let ours = f.path().join("our-pki");
    enroll_locally(&f, &f.state(), &ours, &listen);
    let _impostor = Agent::start(
        "process",
        &dir,
        &f.path().join("agent-impostor"),
        "n2",
        &["--pki-dir", ours.to_str().unwrap()],
    );
    wait_for(Duration::from_secs(30), "the impostor refused", || {
        coord
            .log()
            .contains("node \"n1\" sent a report about node \"n2\"; refused")
            .then_some(())
    });
    let s = f.status();
    assert!(
        s["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["condition"] == "Unknown"),
        "nothing was accepted: {s:#}"
    );
}
