//! A kube lab: a coordinator serving the Kubernetes API, two enrolled nodes with
//! process-runtime agents reporting every second, three pods, and a kubeconfig.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::fleet::FleetLab;
use super::{wait_for, write};

/// A static pod manifest running `sleep secs`.
pub fn pod(name: &str, ns: &str, app: &str, secs: u32) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: {app}\nspec:\n  containers:\n  - name: main\n    image: busybox\n    command: [sleep, '{secs}']\n"
    )
}

/// A running lab (its processes end when it drops): a [`FleetLab`] with two nodes.
pub struct Lab {
    fleet: FleetLab,
    pub kube: String,
}

impl Lab {
    /// The lab's root directory.
    pub fn path(&self) -> &Path {
        self.fleet.path()
    }
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.path().join("nodes").join(node)
    }
    pub fn kubectl(&self, kubeconfig: &str, args: &[&str]) -> super::Run {
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.path().join(kubeconfig))
            .env("HOME", self.path())
            .output()
            .expect("kubectl is installed");
        super::Run::from(out)
    }
    pub fn get(&self, args: &[&str]) -> String {
        self.kubectl("fleet.kubeconfig", args).expect(0).stdout
    }
}

/// A coordinator, two enrolled nodes with agents (web on both, db on n2), and a kubeconfig.
pub fn lab() -> Lab {
    let fleet = FleetLab::start(&["n1", "n2"], |p| {
        write(
            &p.join("nodes/n1/web.yaml"),
            &pod("web", "edge", "web", 3600),
        );
        write(
            &p.join("nodes/n2/web.yaml"),
            &pod("web", "edge", "web", 3600),
        );
        write(&p.join("nodes/n2/db.yaml"), &pod("db", "data", "db", 3600));
    });
    let lab = Lab {
        kube: fleet.kube.clone(),
        fleet,
    };
    wait_for(
        Duration::from_secs(60),
        "three Running pods in kubectl",
        || {
            let out = lab
                .kubectl("fleet.kubeconfig", &["get", "pods", "-A"])
                .stdout;
            (out.matches("Running").count() == 3).then_some(())
        },
    );
    lab
}

impl Lab {
    /// Kill the coordinator and start it again on the same state and ports.
    pub fn restart_coordinator(&mut self) {
        self.fleet.serve.kill9();
        self.fleet.serve.spawn();
        let kube = self.kube.clone();
        wait_for(Duration::from_secs(30), "the kube API again", || {
            std::net::TcpStream::connect(&kube).ok().map(|_| ())
        });
    }

    /// GET `path` on the API with the bearer token (curl, at most `max_secs`): the HTTP
    /// status, the body, and curl's exit code.
    pub fn curl(&self, path: &str, max_secs: u32) -> (u16, String, i32) {
        let token = std::fs::read_to_string(self.path().join("state/pki/kube-token")).unwrap();
        let out = Command::new("curl")
            .args(["-sS", "-N", "-w", "\n%{http_code}", "--max-time"])
            .arg(max_secs.to_string())
            .arg("--cacert")
            .arg(self.path().join("state/pki/ca.crt"))
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", token.trim()))
            .arg(format!("https://{}{path}", self.kube))
            .output()
            .expect("curl is installed");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (
            code.trim().parse().unwrap_or(0),
            body.to_string(),
            out.status.code().unwrap_or(-1),
        )
    }

    /// `kubectl args…` left running (a watch), its stdout lines collected.
    pub fn follow(&self, args: &[&str]) -> Follow {
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.path().join("fleet.kubeconfig"))
            .env("HOME", self.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Follow {
            child,
            rx,
            seen: Vec::new(),
        }
    }
}

/// A running `kubectl … --watch`.
pub struct Follow {
    child: Child,
    rx: mpsc::Receiver<String>,
    /// Lines so far.
    pub seen: Vec<String>,
}

impl Follow {
    /// Read lines until `done` holds for what was seen (at most `secs`); the line count.
    pub fn wait(&mut self, secs: u64, what: &str, done: &dyn Fn(&[String]) -> bool) -> usize {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done(&self.seen) {
            assert!(
                Instant::now() < deadline,
                "kubectl never showed {what}: {:#?}",
                self.seen
            );
            if let Ok(l) = self.rx.recv_timeout(Duration::from_millis(200)) {
                self.seen.push(l);
            }
        }
        self.seen.len()
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
