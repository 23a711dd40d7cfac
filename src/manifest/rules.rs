//! Static-pod rules over a parsed manifest. Each check returns `(field path, message)`.
//!
//! `check_structure` runs on the raw JSON value so that missing required fields are all
//! reported (typed deserialisation stops at the first); `check_pod` runs on the typed Pod.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, Pod, Probe, Volume};
use serde_json::{Map, Value};

use super::locate::FieldPath;

type Findings = Vec<(FieldPath, String)>;

/// Required fields, checked before typed parsing.
pub fn check_structure(obj: &Map<String, Value>) -> Findings {
    let mut out = Findings::new();
    let root = FieldPath::default();
    let meta = root.key("metadata");
    match obj.get("metadata").and_then(Value::as_object) {
        None => out.push((
            meta.clone(),
            "metadata.name is required (a static pod needs a name)".into(),
        )),
        Some(m) => {
            if m.get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                let msg = if m.contains_key("generateName") {
                    "metadata.generateName is not supported for static pods: set metadata.name"
                } else {
                    "metadata.name is required (a static pod needs a name)"
                };
                out.push((meta.key("name"), msg.into()));
            }
        }
    }
    let spec = root.key("spec");
    let Some(spec_obj) = obj.get("spec").and_then(Value::as_object) else {
        out.push((spec, "spec is required, with at least one container".into()));
        return out;
    };
    match spec_obj.get("containers") {
        Some(Value::Array(list)) if !list.is_empty() => {}
        _ => out.push((
            spec.key("containers"),
            "spec.containers must list at least one container".into(),
        )),
    }
    for field in ["initContainers", "containers"] {
        let Some(Value::Array(list)) = spec_obj.get(field) else {
            continue;
        };
        for (i, c) in list.iter().enumerate() {
            let at = spec.key(field).index(i);
            let Some(c) = c.as_object() else {
                out.push((at, format!("{field}[{i}] must be a mapping")));
                continue;
            };
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                out.push((at.clone(), format!("{field}[{i}] has no name")));
            }
            if c.get("image")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                let who = if name.is_empty() {
                    format!("{field}[{i}]")
                } else {
                    format!("container {name:?}")
                };
                out.push((at.key("image"), format!("{who} has no image")));
            }
        }
    }
    out
}

/// Names, uniqueness, API-object references and other kubelet validation.
pub fn check_pod(pod: &Pod) -> Findings {
    let mut out = Findings::new();
    let root = FieldPath::default();
    let meta = root.key("metadata");
    if let Some(name) = pod.metadata.name.as_deref().filter(|n| !n.is_empty())
        && let Err(why) = dns1123_subdomain(name)
    {
        out.push((
            meta.key("name"),
            format!("metadata.name {name:?} is not a valid name: {why}"),
        ));
    }
    if let Some(ns) = pod.metadata.namespace.as_deref().filter(|n| !n.is_empty())
        && let Err(why) = dns1123_label(ns)
    {
        out.push((
            meta.key("namespace"),
            format!("metadata.namespace {ns:?} is not a valid namespace: {why}"),
        ));
    }
    let Some(spec) = &pod.spec else { return out };
    let sp = root.key("spec");

    if let Some(policy) = &spec.restart_policy
        && !matches!(policy.as_str(), "Always" | "OnFailure" | "Never")
    {
        out.push((
            sp.key("restartPolicy"),
            format!("restartPolicy {policy:?} must be Always, OnFailure or Never"),
        ));
    }
    if let Some(g) = spec.termination_grace_period_seconds
        && g < 0
    {
        out.push((
            sp.key("terminationGracePeriodSeconds"),
            "terminationGracePeriodSeconds must not be negative".into(),
        ));
    }

    // Volumes: valid, unique names; no API-object references.
    let mut volumes = BTreeSet::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let at = sp.key("volumes").index(i);
        if let Err(why) = dns1123_label(&v.name) {
            out.push((
                at.key("name"),
                format!("volume name {:?} is not valid: {why}", v.name),
            ));
        }
        if !volumes.insert(v.name.clone()) {
            out.push((
                at.key("name"),
                format!("volume name {:?} is used twice", v.name),
            ));
        }
        if let Some(kind) = volume_api_reference(v) {
            out.push((at.clone(), format!(
                "volume {:?} uses {kind}, which refers to an API object; static pods cannot (the kubelet rejects them since 1.34); use hostPath, emptyDir or downwardAPI",
                v.name
            )));
        }
        if let Some(hp) = &v.host_path
            && !hp.path.starts_with('/')
        {
            out.push((
                at.key("hostPath").key("path"),
                format!("hostPath path {:?} must be absolute", hp.path),
            ));
        }
    }

    for (field, value) in [
        ("serviceAccountName", &spec.service_account_name),
        ("serviceAccount", &spec.service_account),
    ] {
        if value.as_deref().is_some_and(|s| !s.is_empty()) {
            out.push((
                sp.key(field),
                format!(
                    "{field} refers to a ServiceAccount; static pods cannot refer to API objects"
                ),
            ));
        }
    }
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        out.push((
            sp.key("ephemeralContainers"),
            "static pods do not support ephemeral containers".into(),
        ));
    }
    if spec.resource_claims.as_ref().is_some_and(|e| !e.is_empty()) {
        out.push((
            sp.key("resourceClaims"),
            "resourceClaims refer to API objects; static pods cannot use them".into(),
        ));
    }

    // Containers: valid unique names (init and app share one namespace), references, ports.
    let mut names: BTreeMap<String, FieldPath> = BTreeMap::new();
    let groups = [
        (
            "initContainers",
            spec.init_containers.as_deref().unwrap_or(&[]),
        ),
        ("containers", &spec.containers[..]),
    ];
    for (field, list) in groups {
        for (i, c) in list.iter().enumerate() {
            let at = sp.key(field).index(i);
            if !c.name.is_empty() {
                if let Err(why) = dns1123_label(&c.name) {
                    out.push((
                        at.key("name"),
                        format!("container name {:?} is not valid: {why}", c.name),
                    ));
                }
                if names.insert(c.name.clone(), at.clone()).is_some() {
                    out.push((at.key("name"), format!("container name {:?} is used twice (container names must be unique in a pod)", c.name)));
                }
            }
            check_container(c, &at, &volumes, &mut out);
        }
    }
    out
}

fn check_container(c: &Container, at: &FieldPath, volumes: &BTreeSet<String>, out: &mut Findings) {
    let who = &c.name;
    for (j, e) in c.env.iter().flatten().enumerate() {
        let Some(src) = &e.value_from else { continue };
        let kind = if src.secret_key_ref.is_some() {
            Some("secretKeyRef")
        } else if src.config_map_key_ref.is_some() {
            Some("configMapKeyRef")
        } else {
            None
        };
        if let Some(kind) = kind {
            out.push((at.key("env").index(j), format!(
                "container {who:?} env {:?} uses {kind}; static pods cannot refer to Secrets or ConfigMaps (put the value in the manifest or a hostPath file)",
                e.name
            )));
        }
    }
    for (j, e) in c.env_from.iter().flatten().enumerate() {
        if e.secret_ref.is_some() || e.config_map_ref.is_some() {
            out.push((at.key("envFrom").index(j), format!(
                "container {who:?} envFrom refers to a Secret or ConfigMap; static pods cannot refer to API objects"
            )));
        }
    }
    for (j, m) in c.volume_mounts.iter().flatten().enumerate() {
        if !volumes.contains(&m.name) {
            out.push((
                at.key("volumeMounts").index(j).key("name"),
                format!(
                    "container {who:?} mounts volume {:?}, which spec.volumes does not define",
                    m.name
                ),
            ));
        }
        if !m.mount_path.starts_with('/') {
            out.push((
                at.key("volumeMounts").index(j).key("mountPath"),
                format!("mountPath {:?} must be absolute", m.mount_path),
            ));
        }
    }
    let mut port_names = BTreeSet::new();
    for (j, p) in c.ports.iter().flatten().enumerate() {
        let pat = at.key("ports").index(j);
        if !(1..=65535).contains(&p.container_port) {
            out.push((
                pat.key("containerPort"),
                format!(
                    "containerPort {} must be between 1 and 65535",
                    p.container_port
                ),
            ));
        }
        if let Some(hp) = p.host_port
            && !(1..=65535).contains(&hp)
        {
            out.push((
                pat.key("hostPort"),
                format!("hostPort {hp} must be between 1 and 65535"),
            ));
        }
        if let Some(proto) = &p.protocol
            && !matches!(proto.as_str(), "TCP" | "UDP" | "SCTP")
        {
            out.push((
                pat.key("protocol"),
                format!("protocol {proto:?} must be TCP, UDP or SCTP"),
            ));
        }
        if let Some(n) = &p.name {
            if n.is_empty()
                || n.len() > 15
                || !n
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
            {
                out.push((
                    pat.key("name"),
                    format!("port name {n:?} must be 1-15 lowercase letters, digits or '-'"),
                ));
            } else if !port_names.insert(n.clone()) {
                out.push((
                    pat.key("name"),
                    format!("port name {n:?} is used twice in container {who:?}"),
                ));
            }
        }
    }
    for (field, probe) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        if let Some(p) = probe
            && let Some(msg) = probe_problem(p)
        {
            out.push((at.key(field), format!("container {who:?} {field}: {msg}")));
        }
    }
    if let Some(policy) = &c.image_pull_policy
        && !matches!(policy.as_str(), "Always" | "IfNotPresent" | "Never")
    {
        out.push((
            at.key("imagePullPolicy"),
            format!("imagePullPolicy {policy:?} must be Always, IfNotPresent or Never"),
        ));
    }
}

fn probe_problem(p: &Probe) -> Option<String> {
    let handlers = [
        p.exec.is_some(),
        p.http_get.is_some(),
        p.tcp_socket.is_some(),
        p.grpc.is_some(),
    ]
    .iter()
    .filter(|h| **h)
    .count();
    if handlers != 1 {
        return Some(format!(
            "needs exactly one of exec, httpGet, tcpSocket or grpc (found {handlers})"
        ));
    }
    for (name, v) in [
        ("periodSeconds", p.period_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("failureThreshold", p.failure_threshold),
        ("successThreshold", p.success_threshold),
    ] {
        if v.is_some_and(|v| v < 1) {
            return Some(format!("{name} must be at least 1"));
        }
    }
    None
}

/// The API-object kind a volume refers to, if any (kubelet `HasAPIObjectReference`).
fn volume_api_reference(v: &Volume) -> Option<&'static str> {
    if v.secret.is_some() {
        return Some("a secret");
    }
    if v.config_map.is_some() {
        return Some("a configMap");
    }
    if v.persistent_volume_claim.is_some() {
        return Some("a persistentVolumeClaim");
    }
    if v.ephemeral.is_some() {
        return Some("an ephemeral volume claim");
    }
    if v.csi.is_some() {
        return Some("a CSI volume");
    }
    if v.glusterfs.is_some() {
        return Some("a glusterfs volume (Endpoints)");
    }
    if v.azure_file.is_some() {
        return Some("an azureFile volume (Secret)");
    }
    if let Some(p) = &v.projected {
        for s in p.sources.iter().flatten() {
            if s.secret.is_some() {
                return Some("a projected secret");
            }
            if s.config_map.is_some() {
                return Some("a projected configMap");
            }
            if s.service_account_token.is_some() {
                return Some("a projected service account token");
            }
            if s.cluster_trust_bundle.is_some() {
                return Some("a projected ClusterTrustBundle");
            }
        }
    }
    None
}

/// Why a name is not a valid RFC 1123 label or subdomain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(&'static str);

impl From<&'static str> for InvalidName {
    fn from(why: &'static str) -> Self {
        InvalidName(why)
    }
}

/// RFC 1123 label: at most 63 characters, lowercase alphanumerics or '-', alphanumeric at both ends.
pub fn dns1123_label(s: &str) -> Result<(), InvalidName> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1-63 characters".into());
    }
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !s.chars().all(|c| ok(c) || c == '-') {
        return Err("must consist of lowercase letters, digits and '-'".into());
    }
    if !s.starts_with(ok) || !s.ends_with(ok) {
        return Err("must start and end with a lowercase letter or digit".into());
    }
    Ok(())
}

/// RFC 1123 subdomain: at most 253 characters, dot-separated labels.
pub fn dns1123_subdomain(s: &str) -> Result<(), InvalidName> {
    if s.is_empty() || s.len() > 253 {
        return Err("must be 1-253 characters".into());
    }
    for part in s.split('.') {
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        if part.is_empty()
            || !part.chars().all(|c| ok(c) || c == '-')
            || !part.starts_with(ok)
            || !part.ends_with(ok)
        {
            return Err("must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(dns1123_label("etcd-0").is_ok());
        assert!(dns1123_label("Etcd").is_err());
        assert!(dns1123_label("-a").is_err());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
        assert!(dns1123_subdomain("kube-apiserver.example").is_ok());
        assert!(dns1123_subdomain("a..b").is_err());
        assert!(dns1123_subdomain("web_1").is_err());
    }
}
