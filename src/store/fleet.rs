//! What agents reported, as the coordinator keeps it: the latest status per node and per
//! pod, and events with retention. Plain records; `SledStore` persists them.

use serde::{Deserialize, Serialize};

/// A node as last reported by its agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Node name (the client certificate's identity).
    pub name: String,
    /// podfleet version of the agent.
    pub agent_version: String,
    /// `docker` or `process`.
    pub runtime: String,
    /// When the agent process started (RFC 3339).
    pub started_at: String,
    /// The node's address as the agent sees it.
    pub node_ip: String,
    /// Whether the agent finished its first full scan of the manifest directory.
    pub sources_ready: bool,
    /// Manifest problems: (file, message, keeping the last good pod).
    pub issues: Vec<(String, String, bool)>,
    /// First report ever (RFC 3339).
    pub first_seen: String,
    /// Last heartbeat or report (RFC 3339).
    pub last_seen: String,
    /// Start of the current run of reports without a gap longer than the grace period
    /// (the Ready condition's transition time).
    #[serde(default)]
    pub ready_since: String,
    /// Capacity and system info, as the agent reported them.
    #[serde(default)]
    pub info: NodeInfo,
}

/// A node's capacity and system info (the Node object's `capacity` and `nodeInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeInfo {
    /// CPU cores.
    pub cpus: u32,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Size of the file system under the agent's state directory, bytes.
    pub ephemeral_storage_bytes: u64,
    /// Pods the node takes (the kubelet's `--max-pods`).
    pub max_pods: u32,
    /// `PRETTY_NAME` of os-release.
    pub os_image: String,
    /// `uname -r`.
    pub kernel_version: String,
    /// GOARCH name.
    pub architecture: String,
    /// `docker://28.2.2`, `process://0.1.0`.
    pub container_runtime_version: String,
    /// `/etc/machine-id`.
    pub machine_id: String,
    /// The kernel's boot id.
    pub boot_id: String,
    /// DMI product UUID.
    pub system_uuid: String,
}

/// One container of a reported pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// Container name.
    pub name: String,
    /// `waiting`, `running` or `terminated`.
    pub state: String,
    /// Reason of a waiting/terminated state.
    pub reason: String,
    /// Readiness.
    pub ready: bool,
    /// Restart count.
    pub restarts: u32,
}

/// A static pod as last reported by its node's agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodRecord {
    /// Node.
    pub node: String,
    /// Pod identity (`config.hash`).
    pub uid: String,
    /// Mirror name `<name>-<node>`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Manifest file on the node.
    pub file: String,
    /// SHA-256 of the manifest bytes the pod was made from.
    pub content_sha256: String,
    /// Pod phase.
    pub phase: String,
    /// Ready app containers.
    pub ready: u32,
    /// App containers.
    pub total: u32,
    /// Restarts summed over containers.
    pub restarts: u32,
    /// Latest problem, if any.
    pub last_error: String,
    /// kubectl's STATUS (empty from agents older than this field: the phase then).
    #[serde(default)]
    pub status: String,
    /// Being stopped.
    pub terminating: bool,
    /// Per-container state.
    pub containers: Vec<ContainerRecord>,
    /// Pod conditions (type, status). Not persisted: the mirror object has them, and the
    /// fleet view reads 100 000 of these records at a time.
    #[serde(skip)]
    pub conditions: Vec<(String, String)>,
    /// Pod start time (RFC 3339).
    #[serde(default)]
    pub start_time: Option<String>,
    /// Pod IP.
    #[serde(default)]
    pub pod_ip: String,
    /// The mirror Pod object (Kubernetes JSON). Kept in its own tree: the fleet view does
    /// not need it, and it is most of a record's size.
    #[serde(skip)]
    pub mirror: serde_json::Value,
    /// When the coordinator received this state (RFC 3339).
    pub updated: String,
}

/// An event reported by an agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Node that reported it.
    pub node: String,
    /// First occurrence (RFC 3339).
    pub first_time: String,
    /// Last occurrence.
    pub last_time: String,
    /// Occurrences.
    pub count: u32,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// `Started`, `BackOff`, `Unhealthy`, `InvalidManifest`, …
    pub reason: String,
    /// Message.
    pub message: String,
    /// Mirror pod name (or manifest file).
    pub object: String,
    /// Namespace.
    pub namespace: String,
    /// Pod identity, if any.
    pub uid: String,
}

impl EventRecord {
    /// The key that makes a resent or repeated event replace its earlier copy.
    pub fn identity(&self) -> String {
        crate::manifest::content_sha256(
            format!(
                "{}\0{}\0{}\0{}\0{}\0{}",
                self.node, self.first_time, self.reason, self.object, self.namespace, self.message
            )
            .as_bytes(),
        )
    }
}

/// Everything reported, as one value (the fleet view's input).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reported {
    /// Nodes by name.
    pub nodes: Vec<NodeRecord>,
    /// Pods, by node then mirror name.
    pub pods: Vec<PodRecord>,
    /// Events, oldest first.
    pub events: Vec<EventRecord>,
}

/// How long and how many events are kept.
#[derive(Debug, Clone, Copy)]
pub struct EventRetention {
    /// Most events kept.
    pub max_count: usize,
    /// Oldest event kept (by last occurrence).
    pub max_age: std::time::Duration,
}

impl Default for EventRetention {
    /// 10 000 events, one hour (the API server's default `--event-ttl`).
    fn default() -> Self {
        EventRetention {
            max_count: 10_000,
            max_age: std::time::Duration::from_secs(3600),
        }
    }
}
