//! Container states, pod phase and pod conditions: pure functions with the kubelet's rules.
//!
//! `pod_phase` follows `getPhase` (`pkg/kubelet/kubelet_pods.go`) with one deliberate
//! difference the reference calls for: a static pod whose containers have all terminated
//! under `Never`/`OnFailure` gets its terminal phase (`Succeeded`/`Failed`), which the
//! kubelet leaves as a TODO (kubernetes#116484).

use serde::{Deserialize, Serialize};

/// Pod restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    /// Restart on any exit (default).
    Always,
    /// Restart on non-zero exit.
    OnFailure,
    /// Never restart.
    Never,
}

impl RestartPolicy {
    /// From the manifest field (default Always).
    pub fn parse(s: Option<&str>) -> RestartPolicy {
        match s {
            Some("OnFailure") => RestartPolicy::OnFailure,
            Some("Never") => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        }
    }

    /// Whether a container that exited with `exit_code` is restarted.
    pub fn restarts(self, exit_code: i32) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => exit_code != 0,
            RestartPolicy::Never => false,
        }
    }
}

/// A container's state, as the kubelet reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ContainerState {
    /// Not running: being created, backing off, pulling.
    Waiting {
        /// `ContainerCreating`, `CrashLoopBackOff`, `ErrImagePull`, `ImagePullBackOff`, …
        reason: String,
        /// Details.
        message: Option<String>,
    },
    /// Running since `started_at` (RFC 3339).
    Running {
        /// Start time.
        started_at: String,
    },
    /// Exited.
    Terminated {
        /// Exit code.
        exit_code: i32,
        /// `Completed`, `Error`, `OOMKilled`, `StartError`, `ContainerStatusUnknown`.
        reason: String,
        /// Details.
        message: Option<String>,
        /// Start time.
        started_at: Option<String>,
        /// Finish time.
        finished_at: String,
    },
}

impl ContainerState {
    /// The kubelet's terminated reason for an exit.
    pub fn exit_reason(exit_code: i32, oom_killed: bool) -> &'static str {
        if oom_killed {
            "OOMKilled"
        } else if exit_code == 0 {
            "Completed"
        } else {
            "Error"
        }
    }

    /// True when running.
    pub fn is_running(&self) -> bool {
        matches!(self, ContainerState::Running { .. })
    }
}

/// Status of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// Container name.
    pub name: String,
    /// Current state.
    pub state: ContainerState,
    /// The previous termination, if it restarted.
    pub last_state: Option<ContainerState>,
    /// Readiness (readiness probe, or running when there is none).
    pub ready: bool,
    /// Startup probe passed (or none and running).
    pub started: bool,
    /// Restarts so far.
    pub restart_count: u32,
    /// Image.
    pub image: String,
    /// Runtime id (`docker://…`, `process://…`).
    pub container_id: Option<String>,
}

/// Pod phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Not all containers started yet.
    Pending,
    /// At least one container running (or restarting).
    Running,
    /// All containers exited 0 and will not restart.
    Succeeded,
    /// All containers terminated, at least one failed, and none will restart.
    Failed,
}

impl Phase {
    /// The phase as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }
}

/// Pod phase from init and app container statuses.
pub fn pod_phase(
    policy: RestartPolicy,
    init: &[ContainerStatus],
    init_total: usize,
    main: &[ContainerStatus],
    main_total: usize,
) -> Phase {
    // Init containers.
    let init_succeeded = init
        .iter()
        .filter(|c| matches!(c.state, ContainerState::Terminated { exit_code: 0, .. }))
        .count();
    if init_succeeded < init_total {
        let init_failed = init.iter().any(
            |c| matches!(c.state, ContainerState::Terminated { exit_code, .. } if exit_code != 0),
        );
        if init_failed && policy == RestartPolicy::Never {
            return Phase::Failed;
        }
        return Phase::Pending;
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in main {
        match &c.state {
            ContainerState::Running { .. } => running += 1,
            ContainerState::Terminated { exit_code, .. } => {
                stopped += 1;
                if *exit_code == 0 {
                    succeeded += 1;
                }
            }
            ContainerState::Waiting { .. } => {
                if c.last_state.is_some() {
                    stopped += 1;
                } else {
                    waiting += 1;
                }
            }
        }
    }
    let unknown = main_total.saturating_sub(main.len());
    if waiting > 0 || unknown > 0 {
        return Phase::Pending;
    }
    if running > 0 {
        return Phase::Running;
    }
    if stopped > 0 {
        // A waiting-after-termination container is about to restart.
        let restarting = main
            .iter()
            .any(|c| matches!(c.state, ContainerState::Waiting { .. }));
        return match policy {
            RestartPolicy::Always => Phase::Running,
            _ if stopped == succeeded && !restarting => Phase::Succeeded,
            RestartPolicy::Never => Phase::Failed,
            RestartPolicy::OnFailure if restarting => Phase::Running,
            RestartPolicy::OnFailure => Phase::Failed,
        };
    }
    Phase::Pending
}

/// One pod condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// `PodScheduled`, `PodReadyToStartContainers`, `Initialized`, `ContainersReady`, `Ready`.
    pub kind: &'static str,
    /// True or False.
    pub status: bool,
    /// Reason when False.
    pub reason: Option<String>,
}

/// Pod conditions as the kubelet sets them.
pub fn conditions(
    sandbox_ready: bool,
    phase: Phase,
    init: &[ContainerStatus],
    init_total: usize,
    main: &[ContainerStatus],
    main_total: usize,
) -> Vec<Condition> {
    let initialized = init
        .iter()
        .filter(|c| matches!(c.state, ContainerState::Terminated { exit_code: 0, .. }))
        .count()
        == init_total;
    let terminal = matches!(phase, Phase::Succeeded | Phase::Failed);
    let all_ready = main.len() == main_total && main.iter().all(|c| c.ready);
    let not_ready_reason = if terminal {
        "PodCompleted"
    } else {
        "ContainersNotReady"
    };
    let c = |kind, status: bool, reason: &str| Condition {
        kind,
        status,
        reason: (!status).then(|| reason.to_string()),
    };
    vec![
        c("PodReadyToStartContainers", sandbox_ready, ""),
        c(
            "Initialized",
            initialized,
            if terminal {
                "PodCompleted"
            } else {
                "ContainersNotInitialized"
            },
        ),
        c("Ready", all_ready && !terminal, not_ready_reason),
        c("ContainersReady", all_ready && !terminal, not_ready_reason),
        c("PodScheduled", true, ""),
    ]
}

/// Whether the pod is as it should be (Running with every app container Ready, or
/// Succeeded): its last problem is over and no longer shown.
pub fn healthy(phase: Phase, main: &[ContainerStatus]) -> bool {
    match phase {
        Phase::Succeeded => true,
        Phase::Running => !main.is_empty() && main.iter().all(|c| c.ready),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_pods_are_running_and_ready_or_done() {
        let running = |ready| st(running(), false, ready);
        assert!(healthy(Phase::Running, &[running(true), running(true)]));
        assert!(!healthy(Phase::Running, &[running(true), running(false)]));
        assert!(!healthy(Phase::Running, &[]));
        assert!(!healthy(Phase::Pending, &[running(true)]));
        assert!(healthy(Phase::Succeeded, &[]));
        assert!(!healthy(Phase::Failed, &[]));
    }

    fn st(state: ContainerState, last: bool, ready: bool) -> ContainerStatus {
        ContainerStatus {
            name: "c".into(),
            state,
            last_state: last.then(|| term(1)),
            ready,
            started: true,
            restart_count: 0,
            image: "i".into(),
            container_id: None,
        }
    }
    fn running() -> ContainerState {
        ContainerState::Running {
            started_at: "t".into(),
        }
    }
    fn term(code: i32) -> ContainerState {
        ContainerState::Terminated {
            exit_code: code,
            reason: ContainerState::exit_reason(code, false).into(),
            message: None,
            started_at: None,
            finished_at: "t".into(),
        }
    }
    fn waiting(reason: &str) -> ContainerState {
        ContainerState::Waiting {
            reason: reason.into(),
            message: None,
        }
    }
    use RestartPolicy::*;

    #[test]
    fn phases_follow_kubelet() {
        assert_eq!(
            pod_phase(
                Always,
                &[],
                0,
                &[st(waiting("ContainerCreating"), false, false)],
                1
            ),
            Phase::Pending
        );
        assert_eq!(
            pod_phase(Always, &[], 0, &[st(running(), false, true)], 1),
            Phase::Running
        );
        assert_eq!(
            pod_phase(Always, &[], 0, &[], 1),
            Phase::Pending,
            "no status yet"
        );
        // CrashLoopBackOff is still Running for Always.
        assert_eq!(
            pod_phase(
                Always,
                &[],
                0,
                &[st(waiting("CrashLoopBackOff"), true, false)],
                1
            ),
            Phase::Running
        );
        assert_eq!(
            pod_phase(Always, &[], 0, &[st(term(0), false, false)], 1),
            Phase::Running
        );
    }

    #[test]
    fn terminal_phases_for_never_and_onfailure() {
        assert_eq!(
            pod_phase(Never, &[], 0, &[st(term(0), false, false)], 1),
            Phase::Succeeded
        );
        assert_eq!(
            pod_phase(
                Never,
                &[],
                0,
                &[st(term(0), false, false), st(term(2), false, false)],
                2
            ),
            Phase::Failed
        );
        assert_eq!(
            pod_phase(OnFailure, &[], 0, &[st(term(0), false, false)], 1),
            Phase::Succeeded
        );
        assert_eq!(
            pod_phase(
                OnFailure,
                &[],
                0,
                &[st(waiting("CrashLoopBackOff"), true, false)],
                1
            ),
            Phase::Running
        );
        assert_eq!(
            pod_phase(
                Never,
                &[],
                0,
                &[st(running(), false, true), st(term(1), false, false)],
                2
            ),
            Phase::Running
        );
    }

    #[test]
    fn init_containers_gate_the_pod() {
        let main = [st(waiting("PodInitializing"), false, false)];
        assert_eq!(
            pod_phase(Always, &[st(running(), false, false)], 1, &main, 1),
            Phase::Pending
        );
        assert_eq!(
            pod_phase(Never, &[st(term(1), false, false)], 1, &main, 1),
            Phase::Failed
        );
        assert_eq!(
            pod_phase(Always, &[st(term(1), false, false)], 1, &main, 1),
            Phase::Pending
        );
        assert_eq!(
            pod_phase(
                Always,
                &[st(term(0), false, false)],
                1,
                &[st(running(), false, true)],
                1
            ),
            Phase::Running
        );
    }

    #[test]
    fn conditions_follow_readiness() {
        let c = conditions(
            true,
            Phase::Running,
            &[],
            0,
            &[st(running(), false, true)],
            1,
        );
        assert!(c.iter().all(|c| c.status), "{c:?}");
        let c = conditions(
            true,
            Phase::Running,
            &[],
            0,
            &[st(running(), false, false)],
            1,
        );
        let ready = c.iter().find(|c| c.kind == "Ready").unwrap();
        assert_eq!(
            (ready.status, ready.reason.as_deref()),
            (false, Some("ContainersNotReady"))
        );
        let c = conditions(
            true,
            Phase::Succeeded,
            &[],
            0,
            &[st(term(0), false, false)],
            1,
        );
        assert_eq!(
            c.iter()
                .find(|c| c.kind == "Ready")
                .unwrap()
                .reason
                .as_deref(),
            Some("PodCompleted")
        );
    }

    #[test]
    fn restart_policy_rules() {
        assert!(Always.restarts(0));
        assert!(!OnFailure.restarts(0));
        assert!(OnFailure.restarts(1));
        assert!(!Never.restarts(1));
        assert_eq!(ContainerState::exit_reason(137, true), "OOMKilled");
    }
}
