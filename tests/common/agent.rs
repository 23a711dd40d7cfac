//! Running `podfleet agent` as a child process and reading its status.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running agent.
pub struct Agent {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub state: PathBuf,
    pub node: String,
    pub runtime: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    pub log: PathBuf,
}

impl Agent {
    /// Start an agent on `dir` with `runtime`, fast back-off and probes for tests.
    pub fn start(runtime: &str, dir: &Path, state: &Path, node: &str, extra: &[&str]) -> Agent {
        let mut a = Agent {
            child: None,
            dir: dir.to_path_buf(),
            state: state.to_path_buf(),
            node: node.to_string(),
            runtime: runtime.to_string(),
            args: extra.iter().map(|s| s.to_string()).collect(),
            env: vec![
                ("PODFLEET_BACKOFF_SCALE".into(), "0.2".into()),
                ("PODFLEET_PROBE_SCALE".into(), "0.3".into()),
            ],
            log: state.join("agent.log"),
        };
        a.spawn();
        a
    }

    /// A process-runtime agent for node `node` of a lab laid out as `<root>/nodes/<node>`
    /// (manifests), `<root>/pki/<node>` (enrolled credentials), `<root>/agents/<node>` (state),
    /// reporting to the coordinator every second.
    pub fn reporting(root: &Path, node: &str) -> Agent {
        Agent::reporting_with(root, node, "process", &[])
    }

    /// [`Agent::reporting`] on another runtime, with extra flags.
    pub fn reporting_with(root: &Path, node: &str, runtime: &str, extra: &[&str]) -> Agent {
        let dir = root.join("nodes").join(node);
        std::fs::create_dir_all(&dir).unwrap();
        let pki = root.join("pki").join(node);
        let mut args = vec![
            "--pki-dir",
            pki.to_str().unwrap(),
            "--heartbeat-interval",
            "1",
        ];
        args.extend_from_slice(extra);
        Agent::start(runtime, &dir, &root.join("agents").join(node), node, &args)
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.state).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut c = Command::new(super::bin());
        c.arg("agent")
            .arg("--pod-manifest-path")
            .arg(&self.dir)
            .arg("--runtime")
            .arg(&self.runtime)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--node-name")
            .arg(&self.node)
            .arg("--node-ip")
            .arg("127.0.0.1")
            .arg("--file-check-frequency")
            .arg("2s")
            .args(&self.args)
            .env("PODFLEET_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        self.child = Some(c.spawn().expect("start agent"));
        super::wait_for(Duration::from_secs(30), "agent socket", || {
            self.try_status().map(|_| ())
        });
    }

    /// Kill -9 (pods must survive) and start again.
    pub fn kill9_and_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Kill -9.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }

    /// `podfleet agent status -o json`, if the agent answers.
    pub fn try_status(&self) -> Option<Value> {
        let out = Command::new(super::bin())
            .args(["agent", "status", "-o", "json", "--state-dir"])
            .arg(&self.state)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The agent's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until `pred` holds for the pod named `name` (metadata.name of the manifest).
    pub fn wait_pod(
        &self,
        name: &str,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let mirror = format!("{name}-{}", self.node);
        let start = std::time::Instant::now();
        loop {
            if let Some(s) = self.try_status()
                && let Some(p) = s["pods"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["name"] == mirror.as_str()))
                && pred(p)
            {
                return p.clone();
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out waiting for {mirror}: {what}\nstatus: {:#}\nagent log:\n{}",
                    self.try_status().unwrap_or_default(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until no pod named `name` is reported.
    pub fn wait_gone(&self, name: &str, timeout: Duration) {
        let mirror = format!("{name}-{}", self.node);
        super::wait_for(timeout, &format!("{mirror} to be gone"), || {
            let s = self.try_status()?;
            (!s["pods"]
                .as_array()?
                .iter()
                .any(|p| p["name"] == mirror.as_str()))
            .then_some(())
        });
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
        cleanup_node(&self.runtime, &self.node, &self.state);
    }
}

/// Remove everything an agent started for `node` (tests only; a real agent leaves pods running).
pub fn cleanup_node(runtime: &str, node: &str, state: &Path) {
    if runtime == "docker" {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("docker ps -aq --filter label=io.podfleet.node={node} | xargs -r docker rm -f >/dev/null 2>&1"))
            .status();
        return;
    }
    let Ok(rd) = std::fs::read_dir(state.join("process")) else {
        return;
    };
    for e in rd.flatten() {
        for f in ["child.pid"] {
            if let Ok(pid) = std::fs::read_to_string(e.path().join(f))
                && let Ok(pid) = pid.trim().parse::<i32>()
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if let Ok(meta) = std::fs::read(e.path().join("meta.json"))
            && let Some(pid) = serde_json::from_slice::<Value>(&meta)
                .ok()
                .and_then(|m| m["shim_pid"].as_i64())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Helpers over a pod view JSON.
pub fn phase(p: &Value) -> &str {
    p["phase"].as_str().unwrap_or("")
}
pub fn container_status(p: &Value, i: usize) -> &Value {
    &p["mirror"]["status"]["containerStatuses"][i]
}
pub fn restarts(p: &Value) -> u64 {
    p["restarts"].as_u64().unwrap_or(0)
}
pub fn container_id(p: &Value) -> String {
    container_status(p, 0)["containerID"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// An agent on a fresh manifest directory in a temp dir. Field order matters: the agent
/// (and its cleanup) drops before the temp dir.
pub struct AgentLab {
    pub agent: Agent,
    pub dir: PathBuf,
    pub runtime: &'static str,
    pub tmp: tempfile::TempDir,
}

impl AgentLab {
    /// Start an agent with `runtime` for node `node` (extra agent flags in `extra`).
    pub fn start(runtime: &'static str, node: &str, extra: &[&str]) -> AgentLab {
        if runtime == "docker" {
            super::ensure_busybox_image();
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("manifests");
        std::fs::create_dir_all(&dir).unwrap();
        let agent = Agent::start(runtime, &dir, &tmp.path().join("state"), node, extra);
        AgentLab {
            agent,
            dir,
            runtime,
            tmp,
        }
    }

    /// Write a manifest atomically.
    pub fn put(&self, file: &str, content: &str) {
        super::write_atomic(&self.dir.join(file), content);
    }
}
