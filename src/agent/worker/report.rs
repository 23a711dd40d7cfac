//! What a worker hands to others: the runtime spec of a container (volumes, env expansion,
//! limits) and the pod's published status (phase, container statuses, mirror pod).

use super::*;

impl Worker {
    pub(super) fn prepare_volumes(&self) {
        for (name, v) in &self.pod.volumes {
            match v {
                VolumeKind::EmptyDir => {
                    let _ = std::fs::create_dir_all(
                        self.ctx.volumes_root.join(&self.pod.uid).join(name),
                    );
                }
                VolumeKind::HostPath { path, kind } if kind == "DirectoryOrCreate" => {
                    let _ = std::fs::create_dir_all(path);
                }
                _ => {}
            }
        }
    }

    pub(super) fn container_spec(
        &self,
        i: usize,
        attempt: u32,
        sandbox: &SandboxInfo,
    ) -> ContainerSpec {
        let c = &self.ctrs[i].spec;
        let pod = &self.pod;
        let field = |path: &str| -> String {
            match path {
                "metadata.name" => pod.mirror_name.clone(),
                "metadata.namespace" => pod.namespace.clone(),
                "metadata.uid" => pod.uid.clone(),
                "spec.nodeName" => pod.node.clone(),
                "status.podIP" => sandbox.ip.to_string(),
                "status.hostIP" => self.ctx.host_ip.clone().unwrap_or_default(),
                p => {
                    let key = |prefix: &str| {
                        p.strip_prefix(prefix)
                            .and_then(|r| r.strip_suffix("']"))
                            .map(str::to_string)
                    };
                    if let Some(k) = key("metadata.labels['") {
                        pod.pod
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|m| m.get(&k).cloned())
                            .unwrap_or_default()
                    } else if let Some(k) = key("metadata.annotations['") {
                        pod.pod
                            .metadata
                            .annotations
                            .as_ref()
                            .and_then(|m| m.get(&k).cloned())
                            .unwrap_or_default()
                    } else {
                        String::new()
                    }
                }
            }
        };
        // Env in order, each value able to refer to earlier ones; then command and args.
        let mut resolved = std::collections::BTreeMap::new();
        let mut env = Vec::new();
        for (k, v) in &c.env {
            let value = match v {
                EnvValue::Literal(s) => expand(s, &resolved),
                EnvValue::Field(f) => field(f),
            };
            resolved.insert(k.clone(), value.clone());
            env.push((k.clone(), value));
        }
        ContainerSpec {
            uid: pod.uid.clone(),
            pod_name: pod.mirror_name.clone(),
            namespace: pod.namespace.clone(),
            node: pod.node.clone(),
            name: c.name.clone(),
            attempt,
            image: c.image.clone(),
            command: c.command.iter().map(|s| expand(s, &resolved)).collect(),
            args: c.args.iter().map(|s| expand(s, &resolved)).collect(),
            env,
            working_dir: c.working_dir.clone(),
            mounts: pod.mounts(c, &self.ctx.volumes_root),
            memory_limit: c.memory_limit,
            nano_cpus: c.nano_cpus,
            log_dir: crate::agent::logs::container_log_dir(
                &self.ctx.logs_root,
                &pod.namespace,
                &pod.mirror_name,
                &pod.uid,
                &c.name,
            ),
            log_limits: self.ctx.log_limits,
        }
    }

    pub(super) fn phase(&self) -> Phase {
        let (init, main) = self.statuses();
        phase::pod_phase(
            self.pod.restart_policy,
            &init,
            self.init_count,
            &main,
            self.ctrs.len() - self.init_count,
        )
    }

    pub(super) fn statuses(&self) -> (Vec<ContainerStatus>, Vec<ContainerStatus>) {
        let init = self.ctrs[..self.init_count]
            .iter()
            .map(|c| c.status.clone())
            .collect();
        let main = self.ctrs[self.init_count..]
            .iter()
            .map(|c| c.status.clone())
            .collect();
        (init, main)
    }

    pub(super) fn publish(&mut self) {
        let view = self.view();
        self.ctx.state.set_pod(view);
    }

    /// The pod as the agent shows and reports it now.
    pub(super) fn view(&mut self) -> PodView {
        let (init, main) = self.statuses();
        let phase = self.phase();
        let now = now_rfc3339();
        let conds = phase::conditions(
            self.sandbox.is_some(),
            phase,
            &init,
            self.init_count,
            &main,
            main.len(),
        );
        // An error stays shown while the pod is unhealthy, and goes when it is healthy again.
        if phase::healthy(phase, &main) {
            self.last_error = None;
        }
        let mut with_times = Vec::new();
        for c in conds {
            let entry = self
                .conditions
                .entry(c.kind)
                .or_insert((c.status, now.clone()));
            if entry.0 != c.status {
                *entry = (c.status, now.clone());
            }
            with_times.push((c, entry.1.clone()));
        }
        let rt = PodRuntimeStatus {
            pod_ip: self.sandbox.as_ref().map(|s| {
                if self.pod.host_network {
                    self.ctx.host_ip.clone().unwrap_or_else(|| s.ip.to_string())
                } else {
                    s.ip.to_string()
                }
            }),
            host_ip: self.ctx.host_ip.clone(),
            sandbox_ready: self.sandbox.is_some(),
            start_time: Some(self.start_time.clone()),
            conditions: with_times,
            phase: Some(phase),
            message: self.message.clone(),
            init,
            main,
        };
        let mirror = mirror_pod(&self.pod, &self.seen, &rt);
        let status = serde_json::to_value(&mirror)
            .map(|m| crate::pod_status::text(&m))
            .unwrap_or_else(|_| phase.as_str().to_string());
        PodView {
            status,
            uid: self.pod.uid.clone(),
            file: self.pod.file.clone(),
            content_sha256: self.pod.content_sha256.clone(),
            canonical_hash: self.pod.canonical_hash.clone(),
            name: self.pod.mirror_name.clone(),
            namespace: self.pod.namespace.clone(),
            phase,
            ready: rt.main.iter().filter(|c| c.ready).count(),
            total: rt.main.len(),
            restarts: rt
                .main
                .iter()
                .chain(rt.init.iter())
                .map(|c| c.restart_count)
                .sum(),
            last_error: self.last_error.clone(),
            terminating: false,
            mirror,
        }
    }
}
