//! Shared test harness: the podfleet binary, real OpenSSH nodes on loopback, agents,
//! and a locally built busybox image for docker tests. Nothing here is mocked.
#![allow(dead_code)]

pub mod agent;
pub mod coordinator;
pub mod fleet;
pub mod kubelab;
pub mod project;
pub mod proxy;
pub mod ssh;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The podfleet binary under test: this build, or `$PODFLEET_TEST_BIN` (to show that a
/// regression test fails on an older build).
pub fn bin() -> PathBuf {
    std::env::var_os("PODFLEET_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_podfleet")))
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Result of a command, with readable output.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    /// Panic with both streams unless the exit code is `want`.
    pub fn expect(self, want: i32) -> Run {
        assert_eq!(
            self.code, want,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Run podfleet with args in `cwd`, with an isolated HOME and extra env.
pub fn podfleet(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(bin());
    c.current_dir(cwd)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("ANSIBLE_INVENTORY")
        .env_remove("PODFLEET_INVENTORY");
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from(c.output().expect("run podfleet"))
}

/// Poll `f` until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Write a file, creating parent directories.
pub fn write(path: &Path, content: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

/// Write a file atomically (temp + rename in the same directory), as podfleet push does.
pub fn write_atomic(path: &Path, content: &str) {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    write(&tmp, content);
    std::fs::rename(&tmp, path).unwrap();
}

/// The docker image tests run: busybox-static imported with every applet (the version in the
/// tag changes when its content does).
pub const BUSYBOX: &str = "podfleet-test/busybox:2";

/// Build the busybox image once (no registry is reachable); podfleet's own importer.
pub fn ensure_busybox_image() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        podfleet::agent::runtime::busybox::ensure_image(BUSYBOX)
            .expect("busybox-static is installed by tests/setup.sh")
    });
}

/// SIGKILL every descendant of `pid` (not `pid` itself), deepest first.
pub fn kill_descendants(pid: i32) {
    let out = Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .unwrap();
    for child in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let child: i32 = child.parse().unwrap();
        kill_descendants(child);
        let _ = Command::new("kill")
            .args(["-KILL", &child.to_string()])
            .status();
    }
}

/// A login user for ssh tests (created once), with passwordless sudo; returns its home.
pub fn ensure_login_user(user: &str) -> PathBuf {
    let exists = std::process::Command::new("id")
        .arg(user)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        let st = std::process::Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", user])
            .status()
            .unwrap();
        assert!(st.success());
    }
    // useradd leaves the account locked ("!" password), which sshd refuses without PAM.
    let st = std::process::Command::new("usermod")
        .args(["-p", "*", user])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(
        format!("/etc/sudoers.d/{user}"),
        format!("{user} ALL=(ALL) NOPASSWD: ALL\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        format!("/etc/sudoers.d/{user}"),
        std::os::unix::fs::PermissionsExt::from_mode(0o440),
    )
    .unwrap();
    PathBuf::from(format!("/home/{user}"))
}

/// Run podfleet in `cwd` with `args`, read the first line of its stdout, then hang up (as
/// `| head -1` does); the line and how the process ended.
pub fn first_line_then_hang_up(cwd: &Path, args: &[&str]) -> (String, std::process::Output) {
    use std::io::BufRead as _;
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (first, child.wait_with_output().unwrap())
}
