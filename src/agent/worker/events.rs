//! A worker's inputs: watching a started container (exit, probes) and turning container
//! exits and probe results into state changes, restarts and events.

use super::*;

impl Worker {
    pub(super) fn watch(&mut self, i: usize) {
        let rt = self.ctx.runtime.clone();
        let c = &mut self.ctrs[i];
        let Some(id) = c.id.clone() else { return };
        let instance = c.instance;
        let tx = self.ev_tx.clone();
        let waiter_id = id.clone();
        let wrt = rt.clone();
        c.tasks.push(tokio::spawn(async move {
            let info = wrt.wait(&waiter_id).await;
            let _ = tx.send(Ev::Exited {
                idx: i,
                instance,
                info,
            });
        }));
        let ip = self
            .sandbox
            .as_ref()
            .map(|s| s.ip)
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        for spec in c.spec.probes.clone() {
            let tx = self.ev_tx.clone();
            let rt = rt.clone();
            let id = id.clone();
            c.tasks.push(tokio::spawn(async move {
                tokio::time::sleep(spec.initial_delay).await;
                loop {
                    let result = match &spec.action {
                        Action::Exec(cmd) => match rt.exec(&id, cmd, spec.timeout).await {
                            Ok(0) => Ok(()),
                            Ok(code) => Err(format!("command {cmd:?} exited with {code}")),
                            Err(e) => Err(e.to_string()),
                        },
                        other => probe::run_network(other, ip, spec.timeout)
                            .await
                            .map_err(|e| e.0),
                    };
                    if tx
                        .send(Ev::Probe {
                            idx: i,
                            instance,
                            kind: spec.kind,
                            result,
                        })
                        .is_err()
                    {
                        return;
                    }
                    tokio::time::sleep(spec.period).await;
                }
            }));
        }
    }

    pub(super) fn on_event(&mut self, ev: Ev) {
        match ev {
            Ev::Exited {
                idx,
                instance,
                info,
            } => {
                let c = &mut self.ctrs[idx];
                if instance != c.instance || c.id.is_none() {
                    return;
                }
                c.abort_tasks();
                if let Some(id) = c.id.take() {
                    c.dead.push_back(id);
                }
                let started = match &c.status.state {
                    ContainerState::Running { started_at } => Some(started_at.clone()),
                    _ => None,
                };
                let t = terminated(
                    info.exit_code,
                    info.oom_killed,
                    started,
                    &info.finished_at,
                    None,
                );
                c.status.state = t.clone();
                c.last_terminated = Some(t);
                c.status.ready = false;
                c.exited = true;
                c.killing = false;
                if info.exit_code != 0 {
                    self.last_error = Some(format!(
                        "container {} exited with code {}",
                        c.spec.name, info.exit_code
                    ));
                }
            }
            Ev::Probe {
                idx,
                instance,
                kind,
                result,
            } => self.on_probe(idx, instance, kind, result),
        }
    }

    pub(super) fn on_probe(
        &mut self,
        idx: usize,
        instance: u64,
        kind: ProbeKind,
        result: Result<(), String>,
    ) {
        let pod = self.pod.clone();
        let c = &mut self.ctrs[idx];
        if instance != c.instance || c.id.is_none() || c.killing {
            return;
        }
        let Some(spec) = c.spec.probe(kind).cloned() else {
            return;
        };
        if kind != ProbeKind::Startup && !c.status.started {
            return;
        }
        if kind == ProbeKind::Startup && c.status.started {
            return;
        }
        let flip = c
            .probes
            .entry(kind)
            .or_default()
            .observe(&spec, result.is_ok());
        let name = c.spec.name.clone();
        if let Err(msg) = &result {
            self.last_error = Some(format!("{} probe failed: {msg}", kind.label()));
            self.event(
                "Warning",
                "Unhealthy",
                &format!("{} probe failed: {msg}", kind.label()),
            );
        }
        let c = &mut self.ctrs[idx];
        match (kind, flip) {
            (ProbeKind::Startup, Some(true)) => {
                c.status.started = true;
                c.status.ready = c.spec.probe(ProbeKind::Readiness).is_none();
            }
            (ProbeKind::Readiness, Some(v)) => c.status.ready = v,
            (ProbeKind::Startup | ProbeKind::Liveness, Some(false)) => {
                c.killing = true;
                c.status.ready = false;
                let what = if kind == ProbeKind::Startup {
                    "startup"
                } else {
                    "liveness"
                };
                let id = c.id.clone().unwrap_or_default();
                let rt = self.ctx.runtime.clone();
                let grace = pod.grace;
                // Stop only; the exit waiter reports the termination and the restart policy applies.
                tokio::spawn(async move {
                    let _ = rt.stop(&id, grace).await;
                });
                self.event(
                    "Normal",
                    "Killing",
                    &format!("Container {name} failed {what} probe, will be restarted"),
                );
            }
            _ => {}
        }
    }
}
