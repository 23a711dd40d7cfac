//! `podfleet serve` as a child process of a test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

/// `podfleet serve` as a child process.
pub struct Coordinator {
    child: Option<Child>,
    state: PathBuf,
    args: Vec<String>,
    log: PathBuf,
}

impl Coordinator {
    pub fn start(state: &Path, args: &[&str]) -> Coordinator {
        let mut c = Coordinator {
            child: None,
            state: state.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            log: state.with_extension("log"),
        };
        c.spawn();
        c
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(super::bin())
            .arg("--state-dir")
            .arg(&self.state)
            .arg("serve")
            .args(&self.args)
            .args(if self.args.iter().any(|a| a == "--kube-listen") {
                vec![]
            } else {
                vec!["--no-kube-api".to_string()]
            })
            .env("PODFLEET_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let sock = self.state.join("coordinator.sock");
        wait_for(Duration::from_secs(30), "coordinator socket", || {
            std::os::unix::net::UnixStream::connect(&sock)
                .ok()
                .map(|_| ())
        });
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The serve process's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.kill9();
    }
}
