//! The `docker` runtime on the Docker Engine API (bollard).
//!
//! Sandbox: each pod gets a `k8s_POD_…` container running podfleet's own pause binary
//! (image `podfleet/pause:1`, imported locally from [`super::pause`], no registry needed);
//! app containers join its network namespace (`--network container:<sandbox>`), so
//! `localhost` works between them and ports are published on the sandbox, exactly as
//! dockershim did. `hostNetwork: true` puts the sandbox (and so every container) on the
//! host network. Names follow dockershim (`k8s_<container>_<pod>_<ns>_<uid>_<attempt>`), so
//! `docker ps` reads as it did on a kubelet node.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use futures::StreamExt;

use super::{
    ContainerInfo, ContainerSpec, ExitInfo, PullPolicy, Runtime, RuntimeError, SandboxInfo,
    SandboxSpec, labels, now_rfc3339,
};

/// Image holding the pause binary.
pub const PAUSE_IMAGE: &str = "podfleet/pause:1";

/// Docker Engine runtime for one node. Several agents (nodes) may share an engine: each
/// only sees containers labelled with its node name.
pub struct DockerRuntime {
    docker: Docker,
    node: String,
}

fn other(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Other(e.to_string())
}

impl DockerRuntime {
    /// Connect to the local engine (`DOCKER_HOST` or `/var/run/docker.sock`) and agree on an
    /// API version (older engines speak older versions).
    pub async fn connect(node: &str) -> Result<DockerRuntime, RuntimeError> {
        let docker = Docker::connect_with_local_defaults().map_err(other)?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| RuntimeError::Other(format!("cannot reach the docker engine: {e}")))?;
        docker
            .ping()
            .await
            .map_err(|e| RuntimeError::Other(format!("cannot reach the docker engine: {e}")))?;
        Ok(DockerRuntime {
            docker,
            node: node.to_string(),
        })
    }

    async fn ensure_pause_image(&self) -> Result<(), RuntimeError> {
        if self.docker.inspect_image(PAUSE_IMAGE).await.is_ok() {
            return Ok(());
        }
        if !cfg!(target_arch = "x86_64") {
            return Err(RuntimeError::Start(
                "the built-in pause image is x86-64 only; import one as podfleet/pause:1".into(),
            ));
        }
        let (repo, tag) = PAUSE_IMAGE
            .split_once(':')
            .unwrap_or((PAUSE_IMAGE, "latest"));
        let opts = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .build();
        let body = bollard::body_full(bytes::Bytes::from(super::pause::rootfs_tar()));
        let mut stream = self.docker.create_image(Some(opts), Some(body), None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| RuntimeError::Start(format!("cannot import {PAUSE_IMAGE}: {e}")))?;
        }
        Ok(())
    }

    async fn find(&self, uid: &str, container: &str) -> Result<Vec<ContainerInfo>, RuntimeError> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter(|c| c.label(labels::UID) == uid && c.label(labels::CONTAINER) == container)
            .collect())
    }

    fn base_labels(
        uid: &str,
        pod: &str,
        ns: &str,
        node: &str,
        container: &str,
        attempt: u32,
    ) -> HashMap<String, String> {
        HashMap::from([
            (labels::UID.to_string(), uid.to_string()),
            (labels::POD.to_string(), pod.to_string()),
            (labels::NAMESPACE.to_string(), ns.to_string()),
            (labels::NODE.to_string(), node.to_string()),
            (labels::CONTAINER.to_string(), container.to_string()),
            (labels::ATTEMPT.to_string(), attempt.to_string()),
            (labels::MANAGED.to_string(), "true".to_string()),
        ])
    }

    async fn sandbox_ip(&self, id: &str) -> Result<IpAddr, RuntimeError> {
        let info = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(other)?;
        let host_mode = info
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.as_deref())
            == Some("host");
        if host_mode {
            return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let ip = info
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|nets| {
                nets.values()
                    .find_map(|e| e.ip_address.clone().filter(|ip| !ip.is_empty()))
            })
            .and_then(|ip| ip.parse().ok());
        ip.ok_or_else(|| RuntimeError::Start(format!("sandbox {id} has no IP address")))
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn version(&self) -> String {
        let v = self.docker.version().await.ok().and_then(|v| v.version);
        format!("docker://{}", v.unwrap_or_default())
    }

    async fn list(&self) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}=true", labels::MANAGED),
                format!("{}={}", labels::NODE, self.node),
            ],
        )]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(other)?;
        let mut out = Vec::new();
        for c in list {
            let Some(id) = c.id else { continue };
            if let Ok(info) = self.inspect(&id).await {
                out.push(info);
            }
        }
        Ok(out)
    }

    async fn ensure_sandbox(&self, s: &SandboxSpec) -> Result<SandboxInfo, RuntimeError> {
        for existing in self.find(&s.uid, "POD").await? {
            if existing.running {
                return Ok(SandboxInfo {
                    ip: self.sandbox_ip(&existing.id).await?,
                    id: existing.id,
                });
            }
            let _ = self.remove(&existing.id).await;
        }
        self.ensure_pause_image().await?;
        let mut labels = Self::base_labels(&s.uid, &s.pod_name, &s.namespace, &s.node, "POD", 0);
        labels.insert(labels::FILE.into(), s.file.clone());
        let mut port_bindings = HashMap::new();
        let mut exposed = Vec::new();
        for (container_port, host_port, proto) in &s.ports {
            let key = format!("{container_port}/{}", proto.to_lowercase());
            exposed.push(key.clone());
            if *host_port != 0 {
                port_bindings.insert(
                    key,
                    Some(vec![PortBinding {
                        host_ip: None,
                        host_port: Some(host_port.to_string()),
                    }]),
                );
            }
        }
        let host_config = HostConfig {
            network_mode: Some(if s.host_network {
                "host".into()
            } else {
                "bridge".into()
            }),
            port_bindings: (!s.host_network && !port_bindings.is_empty()).then_some(port_bindings),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(PAUSE_IMAGE.into()),
            cmd: Some(vec!["/pause".into()]),
            hostname: (!s.host_network).then(|| s.hostname.clone()),
            labels: Some(labels),
            exposed_ports: (!exposed.is_empty() && !s.host_network).then_some(exposed),
            host_config: Some(host_config),
            ..Default::default()
        };
        let name = super::container_name("POD", &s.pod_name, &s.namespace, &s.uid, 0);
        let opts = CreateContainerOptionsBuilder::new().name(&name).build();
        let id = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| RuntimeError::Start(format!("cannot create sandbox: {e}")))?
            .id;
        self.docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
            .map_err(|e| RuntimeError::Start(format!("cannot start sandbox: {e}")))?;
        Ok(SandboxInfo {
            ip: self.sandbox_ip(&id).await?,
            id,
        })
    }

    async fn remove_sandbox(&self, uid: &str) -> Result<(), RuntimeError> {
        for s in self.find(uid, "POD").await? {
            self.remove(&s.id).await?;
        }
        Ok(())
    }

    async fn ensure_image(&self, image: &str, policy: PullPolicy) -> Result<(), RuntimeError> {
        let present = self.docker.inspect_image(image).await.is_ok();
        match policy {
            PullPolicy::Never if present => Ok(()),
            PullPolicy::Never => Err(RuntimeError::ImagePull(format!(
                "ErrImageNeverPull: container image {image:?} is not present with pull policy of Never"
            ))),
            PullPolicy::IfNotPresent if present => Ok(()),
            _ => {
                let opts = CreateImageOptionsBuilder::new().from_image(image).build();
                let mut stream = self.docker.create_image(Some(opts), None, None);
                while let Some(item) = stream.next().await {
                    if let Err(e) = item {
                        return Err(RuntimeError::ImagePull(format!(
                            "failed to pull image {image:?}: {e}"
                        )));
                    }
                }
                Ok(())
            }
        }
    }

    async fn start(
        &self,
        c: &ContainerSpec,
        sandbox: &SandboxInfo,
    ) -> Result<String, RuntimeError> {
        let name = super::container_name(&c.name, &c.pod_name, &c.namespace, &c.uid, c.attempt);
        // A container of this attempt left over from a crash of the agent: replace it.
        let _ = self
            .docker
            .remove_container(
                &name,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await;
        let binds: Vec<String> = c
            .mounts
            .iter()
            .map(|m| {
                format!(
                    "{}:{}{}",
                    m.host_path.display(),
                    m.container_path,
                    if m.read_only { ":ro" } else { "" }
                )
            })
            .collect();
        let host_config = HostConfig {
            network_mode: Some(format!("container:{}", sandbox.id)),
            binds: (!binds.is_empty()).then_some(binds),
            memory: c.memory_limit,
            nano_cpus: c.nano_cpus,
            log_config: Some(super::docker_logs::log_config(c.log_limits)),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(c.image.clone()),
            entrypoint: (!c.command.is_empty()).then(|| c.command.clone()),
            cmd: (!c.args.is_empty()).then(|| c.args.clone()),
            env: Some(c.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: c.working_dir.clone(),
            labels: Some(Self::base_labels(
                &c.uid,
                &c.pod_name,
                &c.namespace,
                &c.node,
                &c.name,
                c.attempt,
            )),
            host_config: Some(host_config),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::new().name(&name).build();
        let id = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| RuntimeError::Start(e.to_string()))?
            .id;
        if let Err(e) = self
            .docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
        {
            return Err(RuntimeError::Start(e.to_string()));
        }
        Ok(id)
    }

    async fn wait(&self, id: &str) -> ExitInfo {
        let opts = WaitContainerOptionsBuilder::new()
            .condition("not-running")
            .build();
        let mut stream = self.docker.wait_container(id, Some(opts));
        // bollard reports a non-zero exit as an error item; either way the container stopped.
        let _ = stream.next().await;
        // The wait call can return early if the engine restarts; confirm it really stopped.
        loop {
            match self.docker.inspect_container(id, None).await {
                Ok(info) => {
                    let st = info.state.unwrap_or_default();
                    if st.running == Some(true) {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                    return ExitInfo {
                        exit_code: st.exit_code.unwrap_or(137) as i32,
                        oom_killed: st.oom_killed.unwrap_or(false),
                        finished_at: st
                            .finished_at
                            .filter(|f| !f.starts_with("0001"))
                            .unwrap_or_else(now_rfc3339),
                    };
                }
                Err(_) => {
                    return ExitInfo {
                        exit_code: 137,
                        oom_killed: false,
                        finished_at: now_rfc3339(),
                    };
                }
            }
        }
    }

    async fn inspect(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        let info = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(other)?;
        let st = info.state.unwrap_or_default();
        let running = st.running == Some(true);
        let labels: BTreeMap<String, String> = info
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(ContainerInfo {
            id: info.id.unwrap_or_else(|| id.to_string()),
            labels,
            running,
            started_at: st.started_at.filter(|s| !s.starts_with("0001")),
            finished_at: st.finished_at.filter(|s| !s.starts_with("0001")),
            exit_code: if running {
                None
            } else {
                st.exit_code.map(|c| c as i32)
            },
            oom_killed: st.oom_killed.unwrap_or(false),
        })
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), RuntimeError> {
        let t = grace.as_secs().max(if grace.is_zero() { 0 } else { 1 }) as i32;
        let opts = StopContainerOptionsBuilder::new().t(t).build();
        match self.docker.stop_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => Ok(()),
            Err(e) => Err(other(e)),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(other(e)),
        }
    }

    async fn exec(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<i32, RuntimeError> {
        let run = async {
            let exec = self
                .docker
                .create_exec(
                    id,
                    ExecConfig {
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        cmd: Some(cmd.to_vec()),
                        ..Default::default()
                    },
                )
                .await
                .map_err(other)?;
            if let bollard::exec::StartExecResults::Attached { mut output, .. } = self
                .docker
                .start_exec(&exec.id, None)
                .await
                .map_err(other)?
            {
                while output.next().await.is_some() {}
            }
            let info = self.docker.inspect_exec(&exec.id).await.map_err(other)?;
            Ok(info.exit_code.unwrap_or(1) as i32)
        };
        tokio::time::timeout(timeout, run)
            .await
            .unwrap_or_else(|_| {
                Err(RuntimeError::Other(format!(
                    "command timed out after {}s",
                    timeout.as_secs_f32()
                )))
            })
    }

    async fn sample(&self, id: &str) -> Result<crate::agent::usage::Sample, RuntimeError> {
        let opts = bollard::query_parameters::StatsOptionsBuilder::new()
            .stream(false)
            .one_shot(true)
            .build();
        let stats = self
            .docker
            .stats(id, Some(opts))
            .next()
            .await
            .ok_or_else(|| RuntimeError::Other("no stats from the engine".into()))?
            .map_err(other)?;
        let cpu_ns = stats
            .cpu_stats
            .and_then(|c| c.cpu_usage)
            .and_then(|u| u.total_usage)
            .unwrap_or(0);
        // The working set, as the kubelet computes it: usage minus inactive file cache.
        let memory_bytes = stats.memory_stats.map_or(0, |m| {
            let inactive = m
                .stats
                .as_ref()
                .and_then(|s| {
                    s.get("inactive_file")
                        .or_else(|| s.get("total_inactive_file"))
                })
                .copied()
                .unwrap_or(0);
            m.usage.unwrap_or(0).saturating_sub(inactive)
        });
        Ok(crate::agent::usage::Sample {
            cpu_ns,
            memory_bytes,
            at_ns: crate::agent::usage::now_ns(),
        })
    }

    async fn exec_session(
        &self,
        id: &str,
        spec: &super::exec::ExecSpec,
    ) -> Result<super::exec::ExecSession, RuntimeError> {
        super::docker_exec::session(&self.docker, id, spec).await
    }

    async fn logs(
        &self,
        id: &str,
        q: &crate::agent::logs::LogQuery,
    ) -> Result<crate::agent::logs::LogStream, RuntimeError> {
        Ok(super::docker_logs::stream(&self.docker, id, q))
    }
}
