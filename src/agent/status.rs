//! The mirror pod: the static pod as the kubelet would show it in the API, with status.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as api;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

use super::phase::{Condition, ContainerState, ContainerStatus, Phase};
use super::pod::PodRun;

/// Runtime-side status of a pod, produced by its worker.
#[derive(Debug, Clone, Default)]
pub struct PodRuntimeStatus {
    /// Init container statuses (those that exist so far).
    pub init: Vec<ContainerStatus>,
    /// App container statuses.
    pub main: Vec<ContainerStatus>,
    /// Sandbox exists.
    pub sandbox_ready: bool,
    /// Pod IP.
    pub pod_ip: Option<String>,
    /// Host IP.
    pub host_ip: Option<String>,
    /// When the worker started (RFC 3339).
    pub start_time: Option<String>,
    /// Conditions with their last transition times.
    pub conditions: Vec<(Condition, String)>,
    /// Phase.
    pub phase: Option<Phase>,
    /// Pod-level message (e.g. sandbox failure).
    pub message: Option<String>,
}

fn time(s: &str) -> Option<Time> {
    s.parse::<jiff::Timestamp>().ok().map(Time)
}

fn api_state(s: &ContainerState) -> api::ContainerState {
    match s {
        ContainerState::Waiting { reason, message } => api::ContainerState {
            waiting: Some(api::ContainerStateWaiting {
                reason: Some(reason.clone()),
                message: message.clone(),
            }),
            ..Default::default()
        },
        ContainerState::Running { started_at } => api::ContainerState {
            running: Some(api::ContainerStateRunning {
                started_at: time(started_at),
            }),
            ..Default::default()
        },
        ContainerState::Terminated {
            exit_code,
            reason,
            message,
            started_at,
            finished_at,
        } => api::ContainerState {
            terminated: Some(api::ContainerStateTerminated {
                exit_code: *exit_code,
                reason: Some(reason.clone()),
                message: message.clone(),
                started_at: started_at.as_deref().and_then(time),
                finished_at: time(finished_at),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

fn api_container_status(c: &ContainerStatus) -> api::ContainerStatus {
    api::ContainerStatus {
        name: c.name.clone(),
        state: Some(api_state(&c.state)),
        last_state: Some(c.last_state.as_ref().map(api_state).unwrap_or_default()),
        ready: c.ready,
        started: Some(c.started),
        restart_count: c.restart_count as i32,
        image: c.image.clone(),
        image_id: String::new(),
        container_id: c.container_id.clone(),
        ..Default::default()
    }
}

/// Build the mirror pod object.
pub fn mirror_pod(run: &PodRun, seen: &str, rt: &PodRuntimeStatus) -> api::Pod {
    let mut pod = run.pod.clone();
    // As the kubelet decodes a static pod file and the API server stores its mirror.
    crate::manifest::defaults::apply(&mut pod);
    let meta = &mut pod.metadata;
    meta.name = Some(run.mirror_name.clone());
    meta.namespace = Some(run.namespace.clone());
    meta.uid = Some(run.uid.clone());
    meta.creation_timestamp = time(seen);
    let mut ann: BTreeMap<String, String> = meta.annotations.clone().unwrap_or_default();
    ann.insert("kubernetes.io/config.hash".into(), run.uid.clone());
    ann.insert("kubernetes.io/config.mirror".into(), run.uid.clone());
    ann.insert("kubernetes.io/config.seen".into(), seen.to_string());
    ann.insert("kubernetes.io/config.source".into(), "file".into());
    ann.insert("podfleet.io/manifest".into(), run.file.clone());
    ann.insert(
        "podfleet.io/content-sha256".into(),
        run.content_sha256.clone(),
    );
    meta.annotations = Some(ann);
    meta.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "Node".into(),
        name: run.node.clone(),
        uid: crate::manifest::identity::object_uid(&run.node),
        controller: Some(true),
        block_owner_deletion: None,
    }]);
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.node_name = Some(run.node.clone());
    spec.tolerations
        .get_or_insert_with(Vec::new)
        .push(api::Toleration {
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            ..Default::default()
        });
    let qos = crate::manifest::defaults::qos_class(spec);
    let phase = rt.phase.unwrap_or(Phase::Pending);
    pod.status = Some(api::PodStatus {
        phase: Some(phase.as_str().into()),
        conditions: Some(
            rt.conditions
                .iter()
                .map(|(c, t)| api::PodCondition {
                    type_: c.kind.to_string(),
                    status: if c.status {
                        "True".into()
                    } else {
                        "False".into()
                    },
                    reason: c.reason.clone(),
                    last_transition_time: time(t),
                    ..Default::default()
                })
                .collect(),
        ),
        container_statuses: Some(rt.main.iter().map(api_container_status).collect()),
        init_container_statuses: (!rt.init.is_empty())
            .then(|| rt.init.iter().map(api_container_status).collect()),
        host_ip: rt.host_ip.clone(),
        host_ips: rt.host_ip.clone().map(|ip| vec![api::HostIP { ip }]),
        pod_ip: rt.pod_ip.clone(),
        pod_ips: rt.pod_ip.clone().map(|ip| vec![api::PodIP { ip }]),
        start_time: rt.start_time.as_deref().and_then(time),
        message: rt.message.clone(),
        qos_class: Some(qos.into()),
        ..Default::default()
    });
    pod
}
