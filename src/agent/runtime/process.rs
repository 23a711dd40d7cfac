//! The `process` runtime: each container is a host process. For development and for small
//! edge boxes without a container engine.
//!
//! Every container runs under a *shim* (`podfleet shim`, the same binary): the shim starts
//! in its own session, so containers outlive an agent restart; it forwards SIGTERM to the
//! container process and writes the exit status to a file, so a restarted agent can adopt
//! running containers and still learn how they ended. The image is ignored (warned about
//! once per container); volumes are not mounted (the process sees the host filesystem).
//!
//! Layout: `<state-dir>/process/<k8s_container_name>/{meta.json,child.pid,exit.json,shim.log}`.
//! The shim reads the container's stdout and stderr through pipes and writes them in the CRI
//! log format to `<state-dir>/pods/<ns>_<pod>_<uid>/<container>/<attempt>.log`, rotated by
//! size (see `agent::logs::cri`).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::{
    ContainerInfo, ContainerSpec, ExitInfo, PullPolicy, Runtime, RuntimeError, SandboxInfo,
    SandboxSpec, labels, now_rfc3339,
};
use crate::agent::logs::{LogLimits, LogQuery, LogStream, cri, files};

/// What the runtime records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    labels: BTreeMap<String, String>,
    started_at: String,
    shim_pid: i32,
    shim_start: u64,
    env: Vec<(String, String)>,
    working_dir: Option<String>,
    /// Where the shim writes this run's CRI log (`<attempt>.log` and rotated files).
    #[serde(default)]
    log_dir: Option<PathBuf>,
    #[serde(default)]
    attempt: u32,
}

/// Exit status written by the shim.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Exit code (128+signal when killed).
    pub exit_code: i32,
    /// RFC 3339 time.
    pub finished_at: String,
}

/// Host-process runtime.
pub struct ProcessRuntime {
    root: PathBuf,
    shim: PathBuf,
    children: Mutex<HashMap<String, tokio::process::Child>>,
}

impl ProcessRuntime {
    /// Keep records under `state_dir/process`; start containers with `shim` (the podfleet binary).
    pub fn new(state_dir: &Path, shim: PathBuf) -> std::io::Result<Self> {
        let root = state_dir.join("process");
        std::fs::create_dir_all(&root)?;
        Ok(ProcessRuntime {
            root,
            shim,
            children: Mutex::new(HashMap::new()),
        })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    fn meta(&self, id: &str) -> Result<Meta, RuntimeError> {
        let bytes = std::fs::read(self.dir(id).join("meta.json"))
            .map_err(|e| RuntimeError::Other(format!("container {id}: {e}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| RuntimeError::Other(format!("container {id}: {e}")))
    }

    fn exit_record(&self, id: &str) -> Option<ExitRecord> {
        std::fs::read(self.dir(id).join("exit.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    fn child_pid(&self, id: &str) -> Option<i32> {
        std::fs::read_to_string(self.dir(id).join("child.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), to
/// tell a live shim from a recycled pid.
fn proc_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `state` is field 3; starttime is field 22 → index 19 after the comm field.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && proc_start(pid) == Some(start)
}

#[async_trait]
impl Runtime for ProcessRuntime {
    fn name(&self) -> &'static str {
        "process"
    }

    async fn list(&self) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let mut out = Vec::new();
        let entries =
            std::fs::read_dir(&self.root).map_err(|e| RuntimeError::Other(e.to_string()))?;
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().to_string();
            if let Ok(info) = self.inspect(&id).await {
                out.push(info);
            }
        }
        Ok(out)
    }

    async fn ensure_sandbox(&self, s: &SandboxSpec) -> Result<SandboxInfo, RuntimeError> {
        // Host processes share the host network; there is nothing to create.
        Ok(SandboxInfo {
            id: format!("sandbox-{}", s.uid),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        })
    }

    async fn remove_sandbox(&self, _uid: &str) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn ensure_image(&self, _image: &str, _policy: PullPolicy) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn start(
        &self,
        c: &ContainerSpec,
        _sandbox: &SandboxInfo,
    ) -> Result<String, RuntimeError> {
        let argv: Vec<String> = c.command.iter().chain(c.args.iter()).cloned().collect();
        if c.command.is_empty() {
            return Err(RuntimeError::Start(format!(
                "container {:?}: the process runtime needs `command` (there is no image entrypoint to fall back to)",
                c.name
            )));
        }
        let id = super::container_name(&c.name, &c.pod_name, &c.namespace, &c.uid, c.attempt);
        let dir = self.dir(&id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| RuntimeError::Start(format!("cannot create {}: {e}", dir.display())))?;
        // The shim's own complaints (it cannot start the command, cannot write the log).
        let shim_log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("shim.log"))
            .map_err(|e| RuntimeError::Start(e.to_string()))?;
        let shim_log2 = shim_log
            .try_clone()
            .map_err(|e| RuntimeError::Start(e.to_string()))?;
        let mut cmd = tokio::process::Command::new(&self.shim);
        cmd.arg("shim")
            .arg("--dir")
            .arg(&dir)
            .arg("--log-dir")
            .arg(&c.log_dir)
            .arg("--attempt")
            .arg(c.attempt.to_string())
            .arg("--log-max-size")
            .arg(c.log_limits.max_size.to_string())
            .arg("--log-max-files")
            .arg(c.log_limits.max_files.to_string())
            .arg("--")
            .args(&argv);
        cmd.env_clear();
        for k in ["PATH", "HOME", "LANG", "TZ"] {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        cmd.env("HOSTNAME", &c.pod_name);
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        if let Some(wd) = &c.working_dir {
            cmd.current_dir(wd);
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(shim_log)
            .stderr(shim_log2)
            .kill_on_drop(false);
        // SAFETY: setsid is async-signal-safe; the shim gets its own session so it
        // survives the agent and is not hit by the agent's terminal signals.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::other)?;
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| RuntimeError::Start(format!("cannot start {:?}: {e}", argv[0])))?;
        let pid = child.id().unwrap_or(0) as i32;
        let mut labels_map = BTreeMap::new();
        labels_map.insert(labels::UID.into(), c.uid.clone());
        labels_map.insert(labels::POD.into(), c.pod_name.clone());
        labels_map.insert(labels::NAMESPACE.into(), c.namespace.clone());
        labels_map.insert(labels::CONTAINER.into(), c.name.clone());
        labels_map.insert(labels::ATTEMPT.into(), c.attempt.to_string());
        labels_map.insert(labels::NODE.into(), c.node.clone());
        labels_map.insert(labels::MANAGED.into(), "true".into());
        let meta = Meta {
            labels: labels_map,
            started_at: now_rfc3339(),
            shim_pid: pid,
            shim_start: proc_start(pid).unwrap_or(0),
            env: c.env.clone(),
            working_dir: c.working_dir.clone(),
            log_dir: Some(c.log_dir.clone()),
            attempt: c.attempt,
        };
        let tmp = dir.join(".meta.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&meta).unwrap_or_default())
            .map_err(|e| RuntimeError::Start(e.to_string()))?;
        std::fs::rename(&tmp, dir.join("meta.json"))
            .map_err(|e| RuntimeError::Start(e.to_string()))?;
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), child);
        Ok(id)
    }

    async fn wait(&self, id: &str) -> ExitInfo {
        let child = self
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        match child {
            Some(mut c) => {
                let _ = c.wait().await;
            }
            None => {
                // Adopted: not our child; watch the pid.
                if let Ok(m) = self.meta(id) {
                    while alive(m.shim_pid, m.shim_start) {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
        match self.exit_record(id) {
            Some(r) => ExitInfo {
                exit_code: r.exit_code,
                oom_killed: false,
                finished_at: r.finished_at,
            },
            // The shim itself was killed: like the kubelet's ContainerStatusUnknown.
            None => ExitInfo {
                exit_code: 137,
                oom_killed: false,
                finished_at: now_rfc3339(),
            },
        }
    }

    async fn inspect(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        let m = self.meta(id)?;
        let running = alive(m.shim_pid, m.shim_start);
        let exit = if running { None } else { self.exit_record(id) };
        Ok(ContainerInfo {
            id: id.to_string(),
            labels: m.labels,
            running,
            started_at: Some(m.started_at),
            finished_at: exit.as_ref().map(|e| e.finished_at.clone()),
            exit_code: if running {
                None
            } else {
                Some(exit.map(|e| e.exit_code).unwrap_or(137))
            },
            oom_killed: false,
        })
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), RuntimeError> {
        let Ok(m) = self.meta(id) else { return Ok(()) };
        if !alive(m.shim_pid, m.shim_start) {
            return Ok(());
        }
        let _ = kill(Pid::from_raw(m.shim_pid), Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + grace;
        while alive(m.shim_pid, m.shim_start) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if alive(m.shim_pid, m.shim_start) {
            if let Some(child) = self.child_pid(id) {
                let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while alive(m.shim_pid, m.shim_start) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if alive(m.shim_pid, m.shim_start) {
                let _ = kill(Pid::from_raw(m.shim_pid), Signal::SIGKILL);
            }
        }
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        // The run's log goes with it (the worker keeps the previous run for `--previous`).
        if let Ok(Meta {
            log_dir: Some(log_dir),
            attempt,
            ..
        }) = self.meta(id)
        {
            for f in cri::attempt_files(&log_dir, attempt) {
                let _ = std::fs::remove_file(f);
            }
            let _ = std::fs::remove_dir(&log_dir);
        }
        let _ = std::fs::remove_dir_all(self.dir(id));
        Ok(())
    }

    async fn exec_session(
        &self,
        id: &str,
        spec: &super::exec::ExecSpec,
    ) -> Result<super::exec::ExecSession, RuntimeError> {
        let m = self.meta(id)?;
        if !alive(m.shim_pid, m.shim_start) {
            return Err(RuntimeError::Other(format!(
                "container {id} is not running"
            )));
        }
        super::exec::host_session(spec, &m.env, m.working_dir.as_deref())
    }

    async fn sample(&self, id: &str) -> Result<crate::agent::usage::Sample, RuntimeError> {
        let m = self.meta(id)?;
        // The shim leads the container's session; its processes are the container.
        Ok(crate::agent::usage::session_sample(m.shim_pid))
    }

    async fn logs(&self, id: &str, q: &LogQuery) -> Result<LogStream, RuntimeError> {
        let m = self.meta(id)?;
        let Some(dir) = m.log_dir.clone() else {
            return Err(RuntimeError::Other(format!(
                "container {id} was started by an older agent and has no CRI log"
            )));
        };
        let (pid, start) = (m.shim_pid, m.shim_start);
        let log = files::AttemptLog {
            dir,
            attempt: m.attempt,
            running: Box::new(move || alive(pid, start)),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let q = q.clone();
        tokio::task::spawn_blocking(move || files::stream(log, q, tx));
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn exec(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<i32, RuntimeError> {
        let m = self.meta(id)?;
        let Some((prog, args)) = cmd.split_first() else {
            return Err(RuntimeError::Other("empty exec command".into()));
        };
        let mut c = tokio::process::Command::new(prog);
        c.args(args)
            .envs(m.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(wd) = &m.working_dir {
            c.current_dir(wd);
        }
        let mut child = c
            .spawn()
            .map_err(|e| RuntimeError::Other(format!("exec {prog}: {e}")))?;
        match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(s)) => Ok(s.code().unwrap_or(128 + nix_signal(&s))),
            Ok(Err(e)) => Err(RuntimeError::Other(e.to_string())),
            Err(_) => Err(RuntimeError::Other(format!(
                "command timed out after {}s",
                timeout.as_secs_f32()
            ))),
        }
    }

    fn container_id(&self, id: &str) -> String {
        format!("process://{id}")
    }
}

fn nix_signal(s: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.signal().unwrap_or(0)
}

/// Entry point of `podfleet shim --dir DIR [--log-dir DIR --attempt N --log-max-size B
/// --log-max-files N] -- CMD ARGS…`. Runs without tokio: start the command, copy its output
/// into the CRI log, forward termination signals to it, record its exit status, exit.
pub fn shim_main(args: &[String]) -> i32 {
    use std::sync::atomic::{AtomicI32, Ordering};
    static CHILD: AtomicI32 = AtomicI32::new(0);
    extern "C" fn forward(sig: i32) {
        let pid = CHILD.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill(2) is async-signal-safe.
            unsafe {
                nix::libc::kill(pid, sig);
            }
        }
    }
    let mut dir = None;
    let mut log_dir = None;
    let mut attempt = 0u32;
    let mut limits = LogLimits::default();
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        let mut value = || rest.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--dir" => dir = Some(value()),
            "--log-dir" => log_dir = Some(PathBuf::from(value())),
            "--attempt" => attempt = value().parse().unwrap_or(0),
            "--log-max-size" => limits.max_size = value().parse().unwrap_or(limits.max_size),
            "--log-max-files" => limits.max_files = value().parse().unwrap_or(limits.max_files),
            "--" => break,
            _ => {}
        }
    }
    let argv: Vec<String> = rest.cloned().collect();
    let (Some(dir), Some(prog)) = (dir, argv.first()) else {
        eprintln!("usage: podfleet shim --dir DIR [--log-dir DIR --attempt N] -- CMD [ARGS...]");
        return 2;
    };
    let dir = PathBuf::from(dir);
    let mut command = std::process::Command::new(prog);
    command.args(&argv[1..]);
    let writer = log_dir.and_then(|d| {
        match cri::CriWriter::open(&d, attempt, limits.max_size, limits.max_files) {
            Ok(w) => Some(std::sync::Arc::new(Mutex::new(w))),
            Err(e) => {
                eprintln!(
                    "podfleet shim: cannot write the log in {}: {e}",
                    d.display()
                );
                None
            }
        }
    });
    if writer.is_some() {
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }
    let child = command.spawn();
    let write_exit = |code: i32| {
        let rec = ExitRecord {
            exit_code: code,
            finished_at: now_rfc3339(),
        };
        let tmp = dir.join(".exit.json.tmp");
        if std::fs::write(&tmp, serde_json::to_vec(&rec).unwrap_or_default()).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join("exit.json"));
        }
    };
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("podfleet shim: cannot start {prog}: {e}");
            // Like containerd's StartError: exit code 128.
            write_exit(128);
            return 128;
        }
    };
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    let copiers: Vec<std::thread::JoinHandle<()>> = match &writer {
        Some(w) => {
            let out = child.stdout.take().map(|p| {
                (
                    Box::new(p) as Box<dyn std::io::Read + Send>,
                    cri::Stream::Stdout,
                )
            });
            let err = child.stderr.take().map(|p| {
                (
                    Box::new(p) as Box<dyn std::io::Read + Send>,
                    cri::Stream::Stderr,
                )
            });
            [out, err]
                .into_iter()
                .flatten()
                .map(|(pipe, stream)| {
                    let w = w.clone();
                    std::thread::spawn(move || copy_log(pipe, stream, &w))
                })
                .collect()
        }
        None => Vec::new(),
    };
    let _ = std::fs::write(dir.join("child.pid"), child.id().to_string());
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(forward),
        nix::sys::signal::SaFlags::SA_RESTART,
        nix::sys::signal::SigSet::empty(),
    );
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        // SAFETY: the handler only calls kill(2).
        unsafe {
            let _ = nix::sys::signal::sigaction(sig, &action);
        }
    }
    let code = loop {
        match child.wait() {
            Ok(status) => {
                use std::os::unix::process::ExitStatusExt;
                break status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break 137,
        }
    };
    // The pipes end when the command and everything it started have closed them; a
    // background process that keeps them open must not keep the exit from being recorded.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while copiers.iter().any(|c| !c.is_finished()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    write_exit(code);
    code
}

/// Copy one of the command's streams into the CRI log, line by line.
fn copy_log(
    mut pipe: Box<dyn std::io::Read + Send>,
    stream: cri::Stream,
    writer: &Mutex<cri::CriWriter>,
) {
    use std::io::Read as _;
    let mut splitter = cri::LineSplitter::default();
    let mut buf = vec![0u8; 32 * 1024];
    let write = |lines: Vec<(bool, Vec<u8>)>| {
        let now = jiff::Timestamp::now();
        let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
        for (partial, content) in lines {
            if let Err(e) = w.write_line(now, stream, partial, &content) {
                eprintln!("podfleet shim: cannot write the log: {e}");
            }
        }
    };
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => write(splitter.push(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    if let Some(rest) = splitter.finish() {
        write(vec![(false, rest)]);
    }
}
