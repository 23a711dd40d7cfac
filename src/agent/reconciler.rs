//! Desired pods (from the directory) vs. running workers: start, replace, stop, adopt.
//!
//! At most one pod per namespace/name runs at a time: a changed manifest's new pod starts
//! only after the old one has fully stopped (the kubelet's pod-worker ordering). Leftover
//! containers of manifests deleted while the agent was down are removed only after the
//! first full directory scan.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::pod::PodRun;
use super::runtime::{ContainerInfo, labels};
use super::source::{DesiredPod, Parsed, Source};
use super::state::SourceIssue;
use super::watcher::WatchMsg;
use super::worker::{self, WorkerCtx, WorkerHandle};

/// Requests from the local API or the coordinator.
#[derive(Debug)]
pub enum Request {
    /// Stop and start a pod again with fresh restart counts (`namespace/name` of the manifest or mirror).
    Restart(String, tokio::sync::oneshot::Sender<Result<(), String>>),
}

#[derive(Default)]
struct Slot {
    running: Option<(Arc<PodRun>, WorkerHandle)>,
    stopping: Option<String>,
    desired: Option<Arc<PodRun>>,
}

/// Reconciles the directory into pods.
pub struct Reconciler {
    source: Source,
    node: String,
    ctx: WorkerCtx,
    slots: BTreeMap<String, Slot>,
    adopted: HashMap<String, Vec<ContainerInfo>>,
    seen: BTreeMap<String, String>,
    seen_file: PathBuf,
    probe_scale: f64,
    issues: Vec<SourceIssue>,
}

impl Reconciler {
    /// A reconciler over `source`; `existing` are the runtime's containers at start-up.
    pub fn new(
        source: Source,
        node: &str,
        ctx: WorkerCtx,
        existing: Vec<ContainerInfo>,
        state_dir: &std::path::Path,
        probe_scale: f64,
    ) -> Self {
        let mut adopted: HashMap<String, Vec<ContainerInfo>> = HashMap::new();
        for c in existing {
            adopted
                .entry(c.label(labels::UID).to_string())
                .or_default()
                .push(c);
        }
        let seen_file = state_dir.join("seen.json");
        let seen = std::fs::read(&seen_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Reconciler {
            source,
            node: node.to_string(),
            ctx,
            slots: BTreeMap::new(),
            adopted,
            seen,
            seen_file,
            probe_scale,
            issues: vec![],
        }
    }

    /// Run until `shutdown` fires; pods keep running afterwards. `parsed` carries the
    /// source's background parse results.
    pub async fn run(
        mut self,
        mut watch_rx: mpsc::UnboundedReceiver<WatchMsg>,
        mut parsed: mpsc::UnboundedReceiver<Parsed>,
        mut done_rx: mpsc::UnboundedReceiver<String>,
        mut requests: mpsc::UnboundedReceiver<Request>,
        resync: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        // First full scan; once every file of it is parsed ("sources ready"), garbage-collect
        // what no manifest asks for any more.
        self.source.refresh_all();
        self.apply();
        let mut ready = false;
        if self.source.parsing() == 0 {
            self.sources_ready().await;
            ready = true;
        }
        let mut tick = tokio::time::interval(resync);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tick.tick() => {
                    self.source.refresh_all();
                    self.apply();
                }
                Some(p) = parsed.recv() => {
                    if self.source.parsed(p) {
                        self.apply();
                    }
                    if !ready && self.source.parsing() == 0 {
                        self.sources_ready().await;
                        ready = true;
                    }
                }
                Some(msg) = watch_rx.recv() => {
                    // Coalesce a burst: collect what arrives within a few milliseconds.
                    let mut names = BTreeSet::new();
                    let mut rescan = false;
                    let mut add = |m: WatchMsg, names: &mut BTreeSet<String>| match m {
                        WatchMsg::Changed(n) => { names.insert(n); }
                        WatchMsg::Rescan => rescan = true,
                    };
                    add(msg, &mut names);
                    let deadline = tokio::time::Instant::now() + Duration::from_millis(5);
                    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, watch_rx.recv()).await {
                        add(m, &mut names);
                    }
                    if rescan {
                        self.source.refresh_all();
                    } else {
                        self.source.refresh(&names);
                    }
                    self.apply();
                }
                Some(uid) = done_rx.recv() => self.worker_done(&uid),
                Some(req) = requests.recv() => self.request(req),
            }
        }
        for slot in self.slots.values() {
            if let Some((_, w)) = &slot.running {
                w.detach();
            }
        }
    }

    async fn sources_ready(&mut self) {
        self.ctx.state.set_sources_ready();
        self.collect_orphans().await;
    }

    fn apply(&mut self) {
        let (desired, issues) = self.source.desired();
        self.report_issues(issues);
        let mut by_key: BTreeMap<String, DesiredPod> = BTreeMap::new();
        for d in desired {
            by_key.insert(d.pod.key(), d);
        }
        for (key, slot) in self.slots.iter_mut() {
            if by_key.contains_key(key) {
                continue;
            }
            slot.desired = None;
            if let Some((run, w)) = slot.running.take() {
                w.stop();
                slot.stopping = Some(run.uid.clone());
            }
        }
        for (key, d) in by_key {
            let slot = self.slots.entry(key).or_default();
            if slot.running.as_ref().is_some_and(|(r, _)| r.uid == d.uid) {
                continue;
            }
            if slot.desired.as_ref().is_some_and(|r| r.uid == d.uid) && slot.stopping.is_some() {
                continue;
            }
            let run = Arc::new(PodRun::new(
                &d.pod,
                &d.uid,
                &d.path,
                &d.content_sha256,
                &self.node,
                self.probe_scale,
            ));
            slot.desired = Some(run);
            if let Some((old, w)) = slot.running.take() {
                w.stop();
                slot.stopping = Some(old.uid.clone());
            }
        }
        let keys: Vec<String> = self.slots.keys().cloned().collect();
        for key in keys {
            self.start_if_free(&key);
        }
        self.slots
            .retain(|_, s| s.running.is_some() || s.stopping.is_some() || s.desired.is_some());
        self.save_seen();
    }

    fn start_if_free(&mut self, key: &str) {
        self.start(key, None);
    }

    /// Start the slot's desired pod if nothing runs or stops there; it takes the place of
    /// the stopped pod `replacing` in the agent's state.
    fn start(&mut self, key: &str, replacing: Option<&str>) -> bool {
        let Some(slot) = self.slots.get_mut(key) else {
            return false;
        };
        if slot.running.is_some() || slot.stopping.is_some() {
            return false;
        }
        let Some(run) = slot.desired.clone() else {
            return false;
        };
        let seen = self
            .seen
            .entry(run.uid.clone())
            .or_insert_with(|| jiff::Timestamp::now().to_string())
            .clone();
        let adopted = self
            .adopted
            .remove(&run.uid)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !c.is_sandbox())
            .collect();
        let handle = worker::spawn(run.clone(), seen, adopted, self.ctx.clone(), replacing);
        slot.running = Some((run, handle));
        true
    }

    fn worker_done(&mut self, uid: &str) {
        let keys: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| s.stopping.as_deref() == Some(uid))
            .map(|(k, _)| k.clone())
            .collect();
        let mut replaced = false;
        for key in keys {
            if let Some(slot) = self.slots.get_mut(&key) {
                slot.stopping = None;
            }
            replaced |= self.start(&key, Some(uid));
        }
        if !replaced {
            self.ctx.state.remove_pod(uid);
        }
        self.slots
            .retain(|_, s| s.running.is_some() || s.stopping.is_some() || s.desired.is_some());
    }

    fn request(&mut self, req: Request) {
        match req {
            Request::Restart(name, reply) => {
                let found = self.slots.iter_mut().find(|(key, s)| {
                    *key == &name
                        || s.running.as_ref().is_some_and(|(r, _)| {
                            format!("{}/{}", r.namespace, r.mirror_name) == name
                        })
                });
                let result = match found {
                    Some((_, slot)) => match slot.running.take() {
                        Some((run, w)) => {
                            w.stop();
                            slot.stopping = Some(run.uid.clone());
                            self.ctx.state.event(
                                "Normal",
                                "Restarting",
                                "Restart requested; the pod is stopped and started again",
                                &run.mirror_name,
                                &run.namespace,
                                Some(&run.uid),
                            );
                            Ok(())
                        }
                        None => Err(format!("pod {name} is not running yet")),
                    },
                    None => Err(format!("no pod {name} on this node")),
                };
                let _ = reply.send(result);
            }
        }
    }

    async fn collect_orphans(&mut self) {
        let desired: BTreeSet<String> = self
            .slots
            .values()
            .filter_map(|s| s.desired.as_ref().map(|r| r.uid.clone()))
            .collect();
        let orphans: Vec<(String, Vec<ContainerInfo>)> = self
            .adopted
            .drain()
            .filter(|(uid, _)| !desired.contains(uid))
            .collect();
        for (uid, containers) in orphans {
            let rt = self.ctx.runtime.clone();
            for c in containers.iter().filter(|c| !c.is_sandbox()) {
                self.ctx.state.event(
                    "Normal",
                    "Killing",
                    &format!(
                        "Stopping container {}: its manifest is gone",
                        c.label(labels::CONTAINER)
                    ),
                    c.label(labels::POD),
                    c.label(labels::NAMESPACE),
                    Some(&uid),
                );
                let _ = rt.stop(&c.id, Duration::from_secs(10)).await;
                let _ = rt.remove(&c.id).await;
            }
            let _ = rt.remove_sandbox(&uid).await;
            let _ = std::fs::remove_dir_all(self.ctx.volumes_root.join(&uid));
        }
    }

    fn report_issues(&mut self, issues: Vec<SourceIssue>) {
        for i in &issues {
            if !self.issues.contains(i) {
                let reason = if i.message.contains("already defined by") {
                    "DuplicatePod"
                } else {
                    "InvalidManifest"
                };
                self.ctx
                    .state
                    .event("Warning", reason, &i.message, &i.file, "", None);
            }
        }
        self.issues = issues.clone();
        self.ctx.state.set_issues(issues);
    }

    fn save_seen(&mut self) {
        let live: BTreeSet<String> = self
            .slots
            .values()
            .flat_map(|s| {
                s.desired
                    .iter()
                    .map(|r| r.uid.clone())
                    .chain(s.running.iter().map(|(r, _)| r.uid.clone()))
            })
            .collect();
        self.seen.retain(|uid, _| live.contains(uid));
        let tmp = self.seen_file.with_extension("json.tmp");
        if std::fs::write(&tmp, serde_json::to_vec(&self.seen).unwrap_or_default()).is_ok() {
            let _ = std::fs::rename(&tmp, &self.seen_file);
        }
    }
}
