//! Container runtimes. One trait, one file per implementation.
//!
//! A pod is a *sandbox* (what its containers share: the network namespace) plus
//! containers. Runtimes label everything they create with the pod identity so that a
//! restarted agent can find and adopt it.

pub mod busybox;
pub mod docker;
mod docker_exec;
mod docker_logs;
pub mod exec;
pub mod pause;
pub mod process;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

/// Label keys on containers (docker labels / process records).
pub mod labels {
    /// Pod identity (the config hash).
    pub const UID: &str = "io.podfleet.pod.uid";
    /// Mirror pod name.
    pub const POD: &str = "io.kubernetes.pod.name";
    /// Pod namespace.
    pub const NAMESPACE: &str = "io.kubernetes.pod.namespace";
    /// Container name (or `POD` for the sandbox).
    pub const CONTAINER: &str = "io.kubernetes.container.name";
    /// Restart attempt (= restart count when created).
    pub const ATTEMPT: &str = "io.podfleet.attempt";
    /// Node name.
    pub const NODE: &str = "io.podfleet.node";
    /// Manifest file the pod came from.
    pub const FILE: &str = "io.podfleet.file";
    /// Marks everything podfleet manages.
    pub const MANAGED: &str = "io.podfleet.managed";
}

/// What the pod's containers share.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// Pod identity.
    pub uid: String,
    /// Mirror pod name (`<name>-<node>`).
    pub pod_name: String,
    /// Namespace.
    pub namespace: String,
    /// Node name.
    pub node: String,
    /// Manifest path.
    pub file: String,
    /// `hostNetwork: true`.
    pub host_network: bool,
    /// Hostname inside the pod.
    pub hostname: String,
    /// Published ports (containerPort, hostPort, protocol).
    pub ports: Vec<(u16, u16, String)>,
}

/// A sandbox that exists.
#[derive(Debug, Clone)]
pub struct SandboxInfo {
    /// Runtime id.
    pub id: String,
    /// Address probes connect to.
    pub ip: IpAddr,
}

/// A bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Path on the host.
    pub host_path: PathBuf,
    /// Path in the container.
    pub container_path: String,
    /// Read-only.
    pub read_only: bool,
}

/// One container to create.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Pod identity.
    pub uid: String,
    /// Mirror pod name.
    pub pod_name: String,
    /// Namespace.
    pub namespace: String,
    /// Node.
    pub node: String,
    /// Container name.
    pub name: String,
    /// Restart attempt.
    pub attempt: u32,
    /// Image reference.
    pub image: String,
    /// Entrypoint override (`command`).
    pub command: Vec<String>,
    /// Arguments (`args`).
    pub args: Vec<String>,
    /// Environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Mounts.
    pub mounts: Vec<Mount>,
    /// Memory limit in bytes.
    pub memory_limit: Option<i64>,
    /// CPU limit in nano-CPUs.
    pub nano_cpus: Option<i64>,
    /// This container's log directory (`<root>/pods/<ns>_<pod>_<uid>/<container>`).
    pub log_dir: PathBuf,
    /// Log rotation limits.
    pub log_limits: crate::agent::logs::LogLimits,
}

/// What the runtime knows about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Runtime id.
    pub id: String,
    /// Labels (see [`labels`]).
    pub labels: BTreeMap<String, String>,
    /// Running now.
    pub running: bool,
    /// RFC 3339 start time.
    pub started_at: Option<String>,
    /// RFC 3339 finish time.
    pub finished_at: Option<String>,
    /// Exit code, if exited.
    pub exit_code: Option<i32>,
    /// Killed by the OOM killer.
    pub oom_killed: bool,
}

impl ContainerInfo {
    /// Label value.
    pub fn label(&self, k: &str) -> &str {
        self.labels.get(k).map(String::as_str).unwrap_or("")
    }
    /// Whether this is a pod sandbox.
    pub fn is_sandbox(&self) -> bool {
        self.label(labels::CONTAINER) == "POD"
    }
    /// Restart attempt number.
    pub fn attempt(&self) -> u32 {
        self.label(labels::ATTEMPT).parse().unwrap_or(0)
    }
}

/// How a container run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code (128+signal when killed).
    pub exit_code: i32,
    /// OOM killed.
    pub oom_killed: bool,
    /// RFC 3339 finish time.
    pub finished_at: String,
}

/// Why a container could not be started.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    /// The image is not available and cannot be pulled.
    #[error("{0}")]
    ImagePull(String),
    /// The container could not be created or started.
    #[error("{0}")]
    Start(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// `imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Always pull (fall back to a local image if the pull fails? no: fail like the kubelet).
    Always,
    /// Pull only if missing.
    IfNotPresent,
    /// Never pull.
    Never,
}

/// A container runtime.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// `docker` or `process`.
    fn name(&self) -> &'static str;
    /// Every container (and sandbox) podfleet manages on this node.
    async fn list(&self) -> Result<Vec<ContainerInfo>, RuntimeError>;
    /// Create (or find) the pod sandbox.
    async fn ensure_sandbox(&self, s: &SandboxSpec) -> Result<SandboxInfo, RuntimeError>;
    /// Remove the pod sandbox.
    async fn remove_sandbox(&self, uid: &str) -> Result<(), RuntimeError>;
    /// Make sure the image is present according to the pull policy.
    async fn ensure_image(&self, image: &str, policy: PullPolicy) -> Result<(), RuntimeError>;
    /// Create and start a container in the sandbox; returns its id.
    async fn start(&self, c: &ContainerSpec, sandbox: &SandboxInfo)
    -> Result<String, RuntimeError>;
    /// Resolve when the container has exited.
    async fn wait(&self, id: &str) -> ExitInfo;
    /// Current information.
    async fn inspect(&self, id: &str) -> Result<ContainerInfo, RuntimeError>;
    /// SIGTERM, then SIGKILL after `grace`.
    async fn stop(&self, id: &str, grace: Duration) -> Result<(), RuntimeError>;
    /// Remove a stopped container.
    async fn remove(&self, id: &str) -> Result<(), RuntimeError>;
    /// Run a command in the container (exec probes); returns the exit code.
    async fn exec(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<i32, RuntimeError>;
    /// Start an interactive command in the container (`kubectl exec`).
    async fn exec_session(
        &self,
        id: &str,
        spec: &exec::ExecSpec,
    ) -> Result<exec::ExecSession, RuntimeError>;
    /// CPU time and memory of a running container now (for `kubectl top`).
    async fn sample(&self, id: &str) -> Result<crate::agent::usage::Sample, RuntimeError>;
    /// The container's log for `q`, as the kubelet serves it.
    async fn logs(
        &self,
        id: &str,
        q: &crate::agent::logs::LogQuery,
    ) -> Result<crate::agent::logs::LogStream, RuntimeError>;
    /// `<kind>://<version>`, as the Node's `containerRuntimeVersion`.
    async fn version(&self) -> String {
        format!("{}://{}", self.name(), env!("CARGO_PKG_VERSION"))
    }
    /// The `<kind>://<id>` form used in container statuses.
    fn container_id(&self, id: &str) -> String {
        format!("{}://{id}", self.name())
    }
}

/// The dockershim-style name `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`.
pub fn container_name(
    container: &str,
    pod: &str,
    namespace: &str,
    uid: &str,
    attempt: u32,
) -> String {
    format!("k8s_{container}_{pod}_{namespace}_{uid}_{attempt}")
}

/// Current time in RFC 3339.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}
