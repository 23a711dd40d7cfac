//! kube-apiserver's defaulting for a Pod, and the pod's QoS class, so a mirror pod reads in
//! `kubectl get -o yaml` as it does on a kubeadm cluster.
//!
//! Target: Kubernetes v1.33. Sources (kubernetes/kubernetes at v1.33.0):
//! - `pkg/apis/core/v1/defaults.go` — `SetDefaults_Pod`, `SetDefaults_PodSpec`,
//!   `SetDefaults_Container`, `SetDefaults_ContainerPort`, `SetDefaults_Probe`,
//!   `SetDefaults_HTTPGetAction`, `SetDefaults_Volume`, `SetDefaults_HostPathVolumeSource`,
//!   `SetDefaults_{Secret,ConfigMap,DownwardAPI,Projected}VolumeSource`,
//!   `SetDefaults_ObjectFieldSelector`;
//! - `plugin/pkg/admission/priority/admission.go` and the built-in classes in
//!   `pkg/apis/scheduling/types.go` (`system-node-critical` 2000001000,
//!   `system-cluster-critical` 2000000000, no class: priority 0, `PreemptLowerPriority`);
//! - `pkg/apis/core/v1/helper/qos/qos.go` — `ComputePodQOS`.
//!
//! Pure: a Pod in, the defaulted Pod out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSecurityContext, PodSpec, Probe, Volume};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Apply kube-apiserver's defaults (and the Priority admission plugin's) to `pod`.
pub fn apply(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    // SetDefaults_PodSpec.
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.security_context
        .get_or_insert_with(PodSecurityContext::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.scheduler_name
        .get_or_insert_with(|| "default-scheduler".into());
    // SetDefaults_Pod.
    spec.enable_service_links.get_or_insert(true);
    let host_network = spec.host_network == Some(true);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        container(c, host_network);
    }
    for v in spec.volumes.iter_mut().flatten() {
        volume(v);
    }
    // The Priority admission plugin.
    if spec.priority.is_none() {
        spec.priority = Some(match spec.priority_class_name.as_deref() {
            Some("system-node-critical") => 2_000_001_000,
            Some("system-cluster-critical") => 2_000_000_000,
            _ => 0,
        });
    }
    spec.preemption_policy
        .get_or_insert_with(|| "PreemptLowerPriority".into());
}

fn container(c: &mut Container, host_network: bool) {
    // SetDefaults_Container.
    if c.image_pull_policy.is_none() {
        let image = c.image.as_deref().unwrap_or_default();
        c.image_pull_policy = Some(super::identity::default_pull_policy(image).into());
    }
    c.termination_message_path
        .get_or_insert_with(|| "/dev/termination-log".into());
    c.termination_message_policy
        .get_or_insert_with(|| "File".into());
    for p in c.ports.iter_mut().flatten() {
        p.protocol.get_or_insert_with(|| "TCP".into());
        // defaultHostNetworkPorts
        if host_network && p.host_port.unwrap_or(0) == 0 {
            p.host_port = Some(p.container_port);
        }
    }
    for probe in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        self::probe(probe);
    }
    // SetDefaults_Pod: requests default to limits where missing.
    if let Some(res) = c.resources.as_mut()
        && let Some(limits) = res.limits.clone()
    {
        let requests = res.requests.get_or_insert_with(BTreeMap::new);
        for (k, v) in limits {
            requests.entry(k).or_insert(v);
        }
    }
    for e in c.env.iter_mut().flatten() {
        if let Some(f) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            f.api_version.get_or_insert_with(|| "v1".into());
        }
    }
}

fn probe(p: &mut Probe) {
    p.timeout_seconds.get_or_insert(1);
    p.period_seconds.get_or_insert(10);
    p.success_threshold.get_or_insert(1);
    p.failure_threshold.get_or_insert(3);
    if let Some(h) = p.http_get.as_mut() {
        h.path.get_or_insert_with(|| "/".into());
        h.scheme.get_or_insert_with(|| "HTTP".into());
    }
}

fn volume(v: &mut Volume) {
    const MODE: i32 = 0o644;
    let sourceless = v.host_path.is_none()
        && v.empty_dir.is_none()
        && v.config_map.is_none()
        && v.secret.is_none()
        && v.projected.is_none()
        && v.downward_api.is_none()
        && v.persistent_volume_claim.is_none()
        && v.nfs.is_none()
        && v.csi.is_none()
        && v.ephemeral.is_none()
        && v.image.is_none()
        && v.iscsi.is_none()
        && v.fc.is_none();
    if sourceless {
        v.empty_dir = Some(Default::default());
    }
    if let Some(h) = v.host_path.as_mut() {
        h.type_.get_or_insert_with(String::new);
    }
    if let Some(s) = v.secret.as_mut() {
        s.default_mode.get_or_insert(MODE);
    }
    if let Some(s) = v.config_map.as_mut() {
        s.default_mode.get_or_insert(MODE);
    }
    if let Some(s) = v.projected.as_mut() {
        s.default_mode.get_or_insert(MODE);
    }
    if let Some(s) = v.downward_api.as_mut() {
        s.default_mode.get_or_insert(MODE);
        for i in s.items.iter_mut().flatten() {
            if let Some(f) = i.field_ref.as_mut() {
                f.api_version.get_or_insert_with(|| "v1".into());
            }
        }
    }
}

/// The pod's QoS class (`Guaranteed`, `Burstable` or `BestEffort`) as `ComputePodQOS`
/// computes it, over app and init containers, for cpu and memory. Call after [`apply`]
/// (requests defaulted from limits).
pub fn qos_class(spec: &PodSpec) -> &'static str {
    const RESOURCES: [&str; 2] = ["cpu", "memory"];
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let res = c.resources.as_ref();
        let positive = |m: Option<&BTreeMap<String, Quantity>>| -> Vec<(&'static str, i128)> {
            RESOURCES
                .iter()
                .filter_map(|r| {
                    let q = m?.get(*r)?;
                    quantity_nanos(&q.0).filter(|v| *v > 0).map(|v| (*r, v))
                })
                .collect()
        };
        for (r, v) in positive(res.and_then(|r| r.requests.as_ref())) {
            *requests.entry(r).or_default() += v;
        }
        let found = positive(res.and_then(|r| r.limits.as_ref()));
        if found.len() < RESOURCES.len() {
            guaranteed = false;
        }
        for (r, v) in found {
            *limits.entry(r).or_default() += v;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.iter().all(|(r, v)| limits.get(r) == Some(v))
        && requests.len() == limits.len()
    {
        return "Guaranteed";
    }
    "Burstable"
}

/// A quantity (`500m`, `128Mi`, `1e3`, `0.5Gi`) in billionths, exactly; `None` if malformed.
pub fn quantity_nanos(q: &str) -> Option<i128> {
    let q = q.trim();
    let (num, scale): (&str, (i128, i32)) = {
        const SUFFIXES: [(&str, i128, i32); 16] = [
            ("Ki", 1 << 10, 0),
            ("Mi", 1 << 20, 0),
            ("Gi", 1 << 30, 0),
            ("Ti", 1 << 40, 0),
            ("Pi", 1 << 50, 0),
            ("Ei", 1 << 60, 0),
            ("n", 1, -9),
            ("u", 1, -6),
            ("m", 1, -3),
            ("k", 1, 3),
            ("M", 1, 6),
            ("G", 1, 9),
            ("T", 1, 12),
            ("P", 1, 15),
            ("E", 1, 18),
            ("", 1, 0),
        ];
        let exp = q
            .char_indices()
            .find(|(i, c)| (*c == 'e' || *c == 'E') && *i > 0 && q[i + 1..].parse::<i32>().is_ok());
        match exp {
            Some((i, _)) => (&q[..i], (1, q[i + 1..].parse().ok()?)),
            None => SUFFIXES
                .iter()
                .find_map(|(s, m, e)| q.strip_suffix(s).map(|n| (n, (*m, *e))))?,
        }
    };
    let (neg, num) = match num.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // digits × 10^(exp + 9 - frac.len()) × multiplier
    let digits: i128 = format!("{int}{frac}").parse().ok()?;
    let exp = scale.1 + 9 - frac.len() as i32;
    let scaled = digits.checked_mul(scale.0)?;
    let value = if exp >= 0 {
        scaled.checked_mul(10i128.checked_pow(exp as u32)?)?
    } else {
        // Below a billionth: Kubernetes rounds up.
        let div = 10i128.checked_pow((-exp) as u32)?;
        (scaled + div - 1) / div
    };
    Some(if neg { -value } else { value })
}

#[cfg(test)]
mod tests;
