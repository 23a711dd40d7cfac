//! What the agent runs for one manifest: the pod translated from the API types into
//! runtime terms (containers, env, mounts, limits, probes). Pure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};

use super::phase::RestartPolicy;
use super::probe::{ProbeKind, ProbeSpec};
use super::runtime::{Mount, PullPolicy};
use crate::manifest::ValidPod;
use crate::manifest::identity::default_pull_policy;

/// A volume the pod declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeKind {
    /// A host directory or file.
    HostPath {
        /// Path.
        path: String,
        /// `type` (`DirectoryOrCreate`, …).
        kind: String,
    },
    /// A per-pod scratch directory, removed with the pod.
    EmptyDir,
    /// Something only the kubelet handles (downwardAPI files, image volumes …); mounted empty.
    Unsupported(String),
}

/// How an env var gets its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// A literal (after `$(VAR)` expansion).
    Literal(String),
    /// Downward API field (`metadata.name`, `spec.nodeName`, `status.podIP`, …).
    Field(String),
}

/// One container of the pod.
#[derive(Debug, Clone)]
pub struct ContainerRun {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Pull policy.
    pub pull_policy: PullPolicy,
    /// Entrypoint override.
    pub command: Vec<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// Environment, in order.
    pub env: Vec<(String, EnvValue)>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// (volume name, mount path, read only, sub path).
    pub mounts: Vec<(String, String, bool, Option<String>)>,
    /// Memory limit in bytes.
    pub memory_limit: Option<i64>,
    /// CPU limit in nano-CPUs.
    pub nano_cpus: Option<i64>,
    /// Probes.
    pub probes: Vec<ProbeSpec>,
    /// Container ports (containerPort, hostPort, protocol).
    pub ports: Vec<(u16, u16, String)>,
}

impl ContainerRun {
    /// The probe of a kind, if declared.
    pub fn probe(&self, kind: ProbeKind) -> Option<&ProbeSpec> {
        self.probes.iter().find(|p| p.kind == kind)
    }
}

/// A pod the agent runs.
#[derive(Debug, Clone)]
pub struct PodRun {
    /// Identity (kubelet `config.hash`).
    pub uid: String,
    /// Manifest path.
    pub file: String,
    /// SHA-256 of the manifest bytes.
    pub content_sha256: String,
    /// Canonical hash of the manifest.
    pub canonical_hash: String,
    /// `metadata.name`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Mirror pod name `<name>-<node>`.
    pub mirror_name: String,
    /// Node name.
    pub node: String,
    /// The manifest as written.
    pub pod: Pod,
    /// Restart policy.
    pub restart_policy: RestartPolicy,
    /// Grace period (the kubelet never uses less than 2 s).
    pub grace: Duration,
    /// `hostNetwork`.
    pub host_network: bool,
    /// Init containers.
    pub init: Vec<ContainerRun>,
    /// App containers.
    pub main: Vec<ContainerRun>,
    /// Volumes by name.
    pub volumes: BTreeMap<String, VolumeKind>,
}

impl PodRun {
    /// `namespace/name`: at most one pod per key runs at a time.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Build from a validated manifest.
    pub fn new(
        v: &ValidPod,
        uid: &str,
        file: &str,
        content_sha256: &str,
        node: &str,
        probe_scale: f64,
    ) -> PodRun {
        let spec = v.pod.spec.clone().unwrap_or_default();
        let volumes = spec
            .volumes
            .iter()
            .flatten()
            .map(|vol| {
                let kind = if let Some(h) = &vol.host_path {
                    VolumeKind::HostPath {
                        path: h.path.clone(),
                        kind: h.type_.clone().unwrap_or_default(),
                    }
                } else if vol.empty_dir.is_some() {
                    VolumeKind::EmptyDir
                } else {
                    VolumeKind::Unsupported(
                        "only hostPath and emptyDir volumes are mounted by podfleet".into(),
                    )
                };
                (vol.name.clone(), kind)
            })
            .collect();
        let conv = |c: &Container| container_run(c, probe_scale);
        PodRun {
            uid: uid.to_string(),
            file: file.to_string(),
            content_sha256: content_sha256.to_string(),
            canonical_hash: v.canonical_hash.clone(),
            name: v.name.clone(),
            namespace: v.namespace.clone(),
            mirror_name: mirror_name(&v.name, node),
            node: node.to_string(),
            pod: v.pod.clone(),
            restart_policy: RestartPolicy::parse(spec.restart_policy.as_deref()),
            grace: Duration::from_secs(
                spec.termination_grace_period_seconds.unwrap_or(30).max(2) as u64
            ),
            host_network: spec.host_network.unwrap_or(false),
            init: spec.init_containers.iter().flatten().map(conv).collect(),
            main: spec.containers.iter().map(conv).collect(),
            volumes,
        }
    }

    /// Bind mounts of a container; emptyDirs live under `volumes_root/<uid>/<volume>`.
    pub fn mounts(&self, c: &ContainerRun, volumes_root: &Path) -> Vec<Mount> {
        let mut out = Vec::new();
        for (vol, path, ro, sub) in &c.mounts {
            let host: PathBuf = match self.volumes.get(vol) {
                Some(VolumeKind::HostPath { path, .. }) => PathBuf::from(path),
                Some(VolumeKind::EmptyDir) => volumes_root.join(&self.uid).join(vol),
                _ => continue,
            };
            let host = match sub {
                Some(s) if !s.is_empty() => host.join(s),
                _ => host,
            };
            out.push(Mount {
                host_path: host,
                container_path: path.clone(),
                read_only: *ro,
            });
        }
        out
    }

    /// Published ports of all containers.
    pub fn ports(&self) -> Vec<(u16, u16, String)> {
        self.main.iter().flat_map(|c| c.ports.clone()).collect()
    }
}

/// The kubelet's static pod name: `<name>-<lowercase node>`.
pub fn mirror_name(name: &str, node: &str) -> String {
    format!("{name}-{}", node.to_lowercase())
}

fn container_run(c: &Container, probe_scale: f64) -> ContainerRun {
    let image = c.image.clone().unwrap_or_default();
    let pull_policy = match c
        .image_pull_policy
        .as_deref()
        .unwrap_or(default_pull_policy(&image))
    {
        "Always" => PullPolicy::Always,
        "Never" => PullPolicy::Never,
        _ => PullPolicy::IfNotPresent,
    };
    let ports: Vec<_> = c
        .ports
        .iter()
        .flatten()
        .map(|p| {
            (
                p.container_port as u16,
                p.host_port.unwrap_or(0) as u16,
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            )
        })
        .collect();
    let api_ports = c.ports.clone().unwrap_or_default();
    let mut probes = Vec::new();
    for (kind, p) in [
        (ProbeKind::Startup, &c.startup_probe),
        (ProbeKind::Liveness, &c.liveness_probe),
        (ProbeKind::Readiness, &c.readiness_probe),
    ] {
        if let Some(p) = p {
            probes.push(ProbeSpec::from_api(kind, p, &api_ports).scaled(probe_scale));
        }
    }
    // `$(VAR)` references are expanded at start time, when field values are known.
    let env: Vec<(String, EnvValue)> = c
        .env
        .iter()
        .flatten()
        .map(|e| {
            let value = match e.value_from.as_ref().and_then(|v| v.field_ref.as_ref()) {
                Some(f) => EnvValue::Field(f.field_path.clone()),
                None => EnvValue::Literal(e.value.clone().unwrap_or_default()),
            };
            (e.name.clone(), value)
        })
        .collect();
    let limits = c
        .resources
        .as_ref()
        .and_then(|r| r.limits.clone())
        .unwrap_or_default();
    ContainerRun {
        name: c.name.clone(),
        image,
        pull_policy,
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        env,
        working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
        mounts: c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| {
                (
                    m.name.clone(),
                    m.mount_path.clone(),
                    m.read_only.unwrap_or(false),
                    m.sub_path.clone(),
                )
            })
            .collect(),
        memory_limit: limits
            .get("memory")
            .and_then(|q| parse_quantity(&q.0))
            .map(|b| b as i64),
        nano_cpus: limits
            .get("cpu")
            .and_then(|q| parse_quantity(&q.0))
            .map(|c| (c * 1e9) as i64),
        probes,
        ports,
    }
}

/// Kubernetes `$(VAR)` expansion: defined names are replaced, `$$` escapes, others stay.
pub fn expand(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            if b[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            if b[i + 1] == b'('
                && let Some(end) = s[i + 2..].find(')')
            {
                let name = &s[i + 2..i + 2 + end];
                if let Some(v) = env.get(name) {
                    out.push_str(v);
                    i += 3 + end;
                    continue;
                }
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// A Kubernetes quantity (`128Mi`, `1G`, `500m`, `0.5`, `1e3`) as a number.
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let suffixes: [(&str, f64); 14] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
    ];
    for (s, mult) in suffixes {
        if let Some(n) = q.strip_suffix(s) {
            return n.parse::<f64>().ok().map(|v| v * mult);
        }
    }
    if let Some(n) = q.strip_suffix('E') {
        return n.parse::<f64>().ok().map(|v| v * 1e18);
    }
    q.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("128Mi"), Some(134217728.0));
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1G"), Some(1e9));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("x"), None);
    }

    #[test]
    fn expansion() {
        let env = BTreeMap::from([("A".to_string(), "1".to_string())]);
        assert_eq!(expand("x$(A)y $(B) $$(A)", &env), "x1y $(B) $(A)");
        assert_eq!(expand("naïve $", &env), "naïve $");
    }

    #[test]
    fn converts_a_pod() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes: [{name: d, emptyDir: {}}]\n  containers:\n  - name: c\n    image: busybox:1\n    command: [sh, -c, 'echo $(GREETING)']\n    env: [{name: GREETING, value: hi}, {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]\n    volumeMounts: [{name: d, mountPath: /d}]\n    resources: {limits: {memory: 64Mi, cpu: 250m}}\n";
        let v = crate::manifest::check("w.yaml", text.as_bytes()).unwrap();
        let p = PodRun::new(&v, "uid1", "/m/w.yaml", "sha", "Node1", 1.0);
        assert_eq!(p.mirror_name, "web-node1");
        assert_eq!(p.grace, Duration::from_secs(2), "kubelet minimum grace");
        let c = &p.main[0];
        assert_eq!(c.command, vec!["sh", "-c", "echo $(GREETING)"]);
        assert_eq!(c.env[1].1, EnvValue::Field("spec.nodeName".into()));
        assert_eq!(c.memory_limit, Some(64 * 1024 * 1024));
        assert_eq!(c.nano_cpus, Some(250_000_000));
        assert_eq!(c.pull_policy, PullPolicy::IfNotPresent);
        let m = p.mounts(c, Path::new("/v"));
        assert_eq!(m[0].host_path, PathBuf::from("/v/uid1/d"));
    }
}
