//! One task per pod: sandbox, init containers in order, app containers, restarts with
//! back-off, probes, graceful stop. The kubelet's pod worker, event-driven.

mod events;
mod report;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backoff::{Backoff, BackoffPolicy};
use super::phase::{self, ContainerState, ContainerStatus, Phase};
use super::pod::{ContainerRun, EnvValue, PodRun, VolumeKind, expand};
use super::probe::{self, Action, ProbeKind, ProbeState};
use super::runtime::{
    ContainerInfo, ContainerSpec, ExitInfo, Runtime, RuntimeError, SandboxInfo, SandboxSpec,
    now_rfc3339,
};
use super::state::{AgentState, PodView};
use super::status::{PodRuntimeStatus, mirror_pod};

/// Everything a worker needs besides its pod.
#[derive(Clone)]
pub struct WorkerCtx {
    /// Container runtime.
    pub runtime: Arc<dyn Runtime>,
    /// Shared state to publish into.
    pub state: Arc<AgentState>,
    /// CrashLoopBackOff schedule.
    pub crash_backoff: BackoffPolicy,
    /// Image pull back-off schedule.
    pub image_backoff: BackoffPolicy,
    /// Where emptyDir volumes live.
    pub volumes_root: PathBuf,
    /// Where container logs live (`<root>/pods/...`).
    pub logs_root: PathBuf,
    /// Log rotation limits.
    pub log_limits: crate::agent::logs::LogLimits,
    /// The node's IP.
    pub host_ip: Option<String>,
    /// Tells the reconciler a worker finished (its pod uid).
    pub done: mpsc::UnboundedSender<String>,
}

enum Cmd {
    Stop,
}

enum Ev {
    Exited {
        idx: usize,
        instance: u64,
        info: ExitInfo,
    },
    Probe {
        idx: usize,
        instance: u64,
        kind: ProbeKind,
        result: Result<(), String>,
    },
}

/// Handle to a running pod worker.
pub struct WorkerHandle {
    /// Pod identity.
    pub uid: String,
    cmd: mpsc::UnboundedSender<Cmd>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Stop the pod (containers stopped with the grace period, then removed).
    pub fn stop(&self) {
        let _ = self.cmd.send(Cmd::Stop);
    }
    /// Stop managing the pod but leave its containers running (agent shutdown).
    pub fn detach(&self) {
        self.task.abort();
    }
}

struct Ctr {
    spec: ContainerRun,
    init: bool,
    status: ContainerStatus,
    id: Option<String>,
    instance: u64,
    started_once: bool,
    exited: bool,
    restart_at: Option<Instant>,
    crash: Backoff,
    image: Backoff,
    image_failures: u32,
    probes: HashMap<ProbeKind, ProbeState>,
    tasks: Vec<JoinHandle<()>>,
    dead: VecDeque<String>,
    last_terminated: Option<ContainerState>,
    killing: bool,
}

impl Ctr {
    fn succeeded(&self) -> bool {
        matches!(
            self.status.state,
            ContainerState::Terminated { exit_code: 0, .. }
        ) && !self.restart_pending()
    }
    fn restart_pending(&self) -> bool {
        self.restart_at.is_some()
    }
    fn abort_tasks(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

struct Worker {
    pod: Arc<PodRun>,
    ctx: WorkerCtx,
    seen: String,
    ctrs: Vec<Ctr>,
    init_count: usize,
    sandbox: Option<SandboxInfo>,
    sandbox_retry: Option<Instant>,
    sandbox_backoff: Backoff,
    message: Option<String>,
    last_error: Option<String>,
    start_time: String,
    conditions: HashMap<&'static str, (bool, String)>,
    ev_tx: mpsc::UnboundedSender<Ev>,
}

/// Start a worker for `pod`, adopting `adopted` containers of the same identity.
/// Start a worker for `pod`; its first view is published at once, in place of the stopped
/// pod `replacing` when it takes that one's place.
pub fn spawn(
    pod: Arc<PodRun>,
    seen: String,
    adopted: Vec<ContainerInfo>,
    ctx: WorkerCtx,
    replacing: Option<&str>,
) -> WorkerHandle {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let uid = pod.uid.clone();
    let mut ctrs = Vec::new();
    let waiting = |reason: &str| ContainerState::Waiting {
        reason: reason.into(),
        message: None,
    };
    let main_reason = if pod.init.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    for (c, init) in pod
        .init
        .iter()
        .map(|c| (c, true))
        .chain(pod.main.iter().map(|c| (c, false)))
    {
        ctrs.push(Ctr {
            spec: c.clone(),
            init,
            status: ContainerStatus {
                name: c.name.clone(),
                state: waiting(if init { "PodInitializing" } else { main_reason }),
                last_state: None,
                ready: false,
                started: false,
                restart_count: 0,
                image: c.image.clone(),
                container_id: None,
            },
            id: None,
            instance: 0,
            started_once: false,
            exited: false,
            restart_at: None,
            crash: Backoff::new(ctx.crash_backoff),
            image: Backoff::new(ctx.image_backoff),
            image_failures: 0,
            probes: HashMap::new(),
            tasks: Vec::new(),
            dead: VecDeque::new(),
            last_terminated: None,
            killing: false,
        });
    }
    let mut w = Worker {
        init_count: pod.init.len(),
        pod,
        ctx,
        seen,
        ctrs,
        sandbox: None,
        sandbox_retry: None,
        sandbox_backoff: Backoff::new(BackoffPolicy::IMAGE_PULL),
        message: None,
        last_error: None,
        start_time: now_rfc3339(),
        conditions: HashMap::new(),
        ev_tx,
    };
    w.adopt(adopted);
    let view = w.view();
    match replacing {
        Some(old) => w.ctx.state.replace_pod(old, view),
        None => w.ctx.state.set_pod(view),
    }
    let task = tokio::spawn(w.run(cmd_rx, ev_rx));
    WorkerHandle {
        uid,
        cmd: cmd_tx,
        task,
    }
}

impl Worker {
    fn event(&self, kind: &str, reason: &str, message: &str) {
        self.ctx.state.event(
            kind,
            reason,
            message,
            &self.pod.mirror_name,
            &self.pod.namespace,
            Some(&self.pod.uid),
        );
    }

    fn adopt(&mut self, adopted: Vec<ContainerInfo>) {
        let any_main = adopted.iter().any(|a| {
            self.pod
                .main
                .iter()
                .any(|m| m.name == a.label(super::runtime::labels::CONTAINER))
        });
        for i in 0..self.ctrs.len() {
            let name = self.ctrs[i].spec.name.clone();
            let mut mine: Vec<&ContainerInfo> = adopted
                .iter()
                .filter(|a| a.label(super::runtime::labels::CONTAINER) == name)
                .collect();
            mine.sort_by_key(|a| a.attempt());
            let Some(latest) = mine.pop() else {
                if self.ctrs[i].init && any_main {
                    // App containers exist, so the init containers completed earlier.
                    self.ctrs[i].status.state = terminated(0, false, None, &now_rfc3339(), None);
                    self.ctrs[i].started_once = true;
                }
                continue;
            };
            let c = &mut self.ctrs[i];
            c.dead.extend(mine.iter().map(|a| a.id.clone()));
            c.started_once = true;
            c.status.restart_count = latest.attempt();
            if latest.running {
                c.id = Some(latest.id.clone());
                c.instance = 1;
                c.status.state = ContainerState::Running {
                    started_at: latest.started_at.clone().unwrap_or_else(now_rfc3339),
                };
                c.status.container_id = Some(self.ctx.runtime.container_id(&latest.id));
                // A healthy container is adopted as started; readiness is probed again.
                c.status.started = true;
                c.status.ready = c.spec.probe(ProbeKind::Readiness).is_none();
            } else {
                let t = terminated(
                    latest.exit_code.unwrap_or(137),
                    latest.oom_killed,
                    latest.started_at.clone(),
                    &latest.finished_at.clone().unwrap_or_else(now_rfc3339),
                    None,
                );
                c.dead.push_back(latest.id.clone());
                c.status.state = t.clone();
                c.last_terminated = Some(t);
                c.exited = true;
            }
        }
    }

    async fn run(
        mut self,
        mut cmd_rx: mpsc::UnboundedReceiver<Cmd>,
        mut ev_rx: mpsc::UnboundedReceiver<Ev>,
    ) {
        // Adopted running containers need their waiters and probes again.
        for i in 0..self.ctrs.len() {
            if self.ctrs[i].id.is_some() {
                self.watch(i);
            }
        }
        loop {
            self.drive().await;
            self.publish();
            let next = self.next_deadline();
            tokio::select! {
                biased;
                cmd = cmd_rx.recv() => match cmd {
                    Some(Cmd::Stop) => {
                        self.terminate().await;
                        let _ = self.ctx.done.send(self.pod.uid.clone());
                        return;
                    }
                    None => return,
                },
                Some(ev) = ev_rx.recv() => self.on_event(ev),
                _ = tokio::time::sleep_until(next) => {}
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        self.ctrs
            .iter()
            .filter_map(|c| c.restart_at)
            .chain(self.sandbox_retry)
            .min()
            .unwrap_or(far)
    }

    fn terminal(&self) -> bool {
        matches!(self.phase(), Phase::Succeeded | Phase::Failed)
    }

    async fn drive(&mut self) {
        if self.terminal() {
            return;
        }
        if self.sandbox.is_none() {
            if self.sandbox_retry.is_some_and(|t| t > Instant::now()) {
                return;
            }
            self.prepare_volumes();
            let spec = SandboxSpec {
                uid: self.pod.uid.clone(),
                pod_name: self.pod.mirror_name.clone(),
                namespace: self.pod.namespace.clone(),
                node: self.pod.node.clone(),
                file: self.pod.file.clone(),
                host_network: self.pod.host_network,
                hostname: self.pod.name.clone(),
                ports: self.pod.ports(),
            };
            match self.ctx.runtime.ensure_sandbox(&spec).await {
                Ok(s) => {
                    self.sandbox = Some(s);
                    self.sandbox_retry = None;
                    self.message = None;
                }
                Err(e) => {
                    let msg = format!("Failed to create pod sandbox: {e}");
                    self.event("Warning", "FailedCreatePodSandBox", &msg);
                    self.message = Some(msg.clone());
                    self.last_error = Some(msg);
                    self.sandbox_retry = Some(
                        Instant::now() + self.sandbox_backoff.next_delay(std::time::Instant::now()),
                    );
                    return;
                }
            }
        }
        for i in 0..self.init_count {
            if self.ctrs[i].succeeded() {
                continue;
            }
            self.drive_container(i).await;
            return;
        }
        for i in self.init_count..self.ctrs.len() {
            self.drive_container(i).await;
        }
    }

    async fn drive_container(&mut self, i: usize) {
        let now = Instant::now();
        let c = &mut self.ctrs[i];
        if c.id.is_some() || c.killing {
            return;
        }
        if !c.started_once && c.restart_at.is_none() {
            return self.start(i).await;
        }
        if c.exited {
            c.exited = false;
            let code = match &c.status.state {
                ContainerState::Terminated { exit_code, .. } => *exit_code,
                _ => 0,
            };
            let restart = if c.init {
                code != 0 && self.pod.restart_policy != phase::RestartPolicy::Never
            } else {
                self.pod.restart_policy.restarts(code)
            };
            if !restart {
                return;
            }
            let delay = c.crash.next_delay(std::time::Instant::now());
            if delay.is_zero() {
                return self.start(i).await;
            }
            let msg = format!(
                "back-off {} restarting failed container={} pod={}_{}({})",
                human(delay),
                c.spec.name,
                self.pod.mirror_name,
                self.pod.namespace,
                self.pod.uid
            );
            c.status.state = ContainerState::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(msg.clone()),
            };
            c.status.last_state = c.last_terminated.clone();
            c.restart_at = Some(now + delay);
            self.event(
                "Warning",
                "BackOff",
                &format!(
                    "Back-off restarting failed container {} in pod {}_{}",
                    self.ctrs[i].spec.name, self.pod.mirror_name, self.pod.namespace
                ),
            );
            return;
        }
        if c.restart_at.is_some_and(|t| t <= now) {
            self.start(i).await;
        }
    }

    async fn start(&mut self, i: usize) {
        let rt = self.ctx.runtime.clone();
        let Some(sandbox) = self.sandbox.clone() else {
            return;
        };
        self.ctrs[i].restart_at = None;
        let image = self.ctrs[i].spec.image.clone();
        if let Err(e) = rt.ensure_image(&image, self.ctrs[i].spec.pull_policy).await {
            let c = &mut self.ctrs[i];
            c.image_failures += 1;
            let delay = c.image.next_delay(std::time::Instant::now());
            let reason = if c.image_failures == 1 {
                "ErrImagePull"
            } else {
                "ImagePullBackOff"
            };
            let msg = match &e {
                RuntimeError::ImagePull(m) => m.clone(),
                other => other.to_string(),
            };
            c.status.state = ContainerState::Waiting {
                reason: reason.into(),
                message: Some(if c.image_failures == 1 {
                    msg.clone()
                } else {
                    format!("Back-off pulling image {image:?}: {msg}")
                }),
            };
            c.restart_at = Some(Instant::now() + delay);
            self.last_error = Some(msg.clone());
            self.event(
                "Warning",
                "Failed",
                &format!("Failed to pull image {image:?}: {msg}"),
            );
            return;
        }
        let restarting = self.ctrs[i].started_once;
        let attempt = self.ctrs[i].status.restart_count + u32::from(restarting);
        let spec = self.container_spec(i, attempt, &sandbox);
        match rt.start(&spec, &sandbox).await {
            Ok(id) => {
                let c = &mut self.ctrs[i];
                if restarting {
                    c.status.restart_count += 1;
                    c.status.last_state = c.last_terminated.clone();
                }
                c.image_failures = 0;
                c.started_once = true;
                c.id = Some(id.clone());
                c.instance += 1;
                c.probes.clear();
                c.status.state = ContainerState::Running {
                    started_at: now_rfc3339(),
                };
                c.status.container_id = Some(rt.container_id(&id));
                c.status.started = c.spec.probe(ProbeKind::Startup).is_none();
                c.status.ready = c.status.started && c.spec.probe(ProbeKind::Readiness).is_none();
                c.crash.started(std::time::Instant::now());
                // Keep the previous dead instance (for logs), remove older ones.
                while c.dead.len() > 1 {
                    if let Some(old) = c.dead.pop_front() {
                        let rt = rt.clone();
                        tokio::spawn(async move {
                            let _ = rt.remove(&old).await;
                        });
                    }
                }
                let name = c.spec.name.clone();
                self.watch(i);
                self.event("Normal", "Started", &format!("Started container {name}"));
            }
            Err(e) => {
                let c = &mut self.ctrs[i];
                let msg = e.to_string();
                if restarting {
                    c.status.restart_count += 1;
                }
                c.started_once = true;
                let t = ContainerState::Terminated {
                    exit_code: 128,
                    reason: "StartError".into(),
                    message: Some(msg.clone()),
                    started_at: None,
                    finished_at: now_rfc3339(),
                };
                c.status.state = t.clone();
                c.last_terminated = Some(t);
                c.exited = true;
                self.last_error = Some(msg.clone());
                self.event("Warning", "Failed", &format!("Error: {msg}"));
            }
        }
    }

    /// Spawn the exit waiter and probe loops for container `i`'s current instance.
    async fn terminate(&mut self) {
        if let Some(mut v) = self.ctx.state.pod(&self.pod.uid) {
            v.terminating = true;
            v.status = "Terminating".into();
            self.ctx.state.set_pod(v);
        }
        let rt = self.ctx.runtime.clone();
        let mut stops: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> =
            Vec::new();
        for c in &mut self.ctrs {
            c.abort_tasks();
            if let Some(id) = c.id.clone() {
                self.ctx.state.event(
                    "Normal",
                    "Killing",
                    &format!("Stopping container {}", c.spec.name),
                    &self.pod.mirror_name,
                    &self.pod.namespace,
                    Some(&self.pod.uid),
                );
                let rt = rt.clone();
                let grace = self.pod.grace;
                stops.push(Box::pin(async move {
                    let _ = rt.stop(&id, grace).await;
                    let _ = rt.remove(&id).await;
                }));
            }
            for id in c.dead.drain(..) {
                let rt = rt.clone();
                stops.push(Box::pin(async move {
                    let _ = rt.remove(&id).await;
                }));
            }
        }
        futures::future::join_all(stops).await;
        let _ = rt.remove_sandbox(&self.pod.uid).await;
        let _ = std::fs::remove_dir_all(self.ctx.volumes_root.join(&self.pod.uid));
        // The reconciler removes the pod from the agent's state, or replaces it with its
        // successor in one step (worker_done).
    }
}

fn terminated(
    exit_code: i32,
    oom: bool,
    started_at: Option<String>,
    finished_at: &str,
    message: Option<String>,
) -> ContainerState {
    ContainerState::Terminated {
        exit_code,
        reason: ContainerState::exit_reason(exit_code, oom).into(),
        message,
        started_at,
        finished_at: finished_at.to_string(),
    }
}

/// Go-style duration text for messages: `10s`, `2m40s`, `5m0s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else if s == 0 && !d.is_zero() {
        format!("{}ms", d.as_millis())
    } else {
        format!("{s}s")
    }
}
