//! Turning agent messages into store records. The conversions are pure; [`Ingest::apply`]
//! writes them to the store.

use super::feed::{Change, WatchHub};
use super::index::FleetIndex;
use crate::rpc::{self, agent_message::Body};
use crate::store::{ContainerRecord, EventRecord, NodeInfo, NodeRecord, PodRecord, SledStore};

/// A report refused because it is about another node than the stream's identity.
#[derive(Debug, thiserror::Error)]
#[error("node {identity:?} sent a report about node {claimed:?}; refused")]
pub struct WrongNode {
    /// The certificate's node.
    pub identity: String,
    /// The node the message names.
    pub claimed: String,
}

/// A pod status as stored.
pub fn pod_record(node: &str, p: &rpc::PodStatus, now: &str) -> PodRecord {
    let mirror: serde_json::Value =
        serde_json::from_slice(&p.mirror_json).unwrap_or(serde_json::Value::Null);
    PodRecord {
        node: node.to_string(),
        uid: p.uid.clone(),
        name: p.name.clone(),
        namespace: p.namespace.clone(),
        file: p.file.clone(),
        content_sha256: p.content_sha256.clone(),
        phase: p.phase.clone(),
        ready: p.ready,
        total: p.total,
        restarts: p.restarts,
        last_error: p.last_error.clone(),
        status: p.status.clone(),
        terminating: p.terminating,
        containers: p
            .containers
            .iter()
            .map(|c| ContainerRecord {
                name: c.name.clone(),
                state: c.state.clone(),
                reason: c.reason.clone(),
                ready: c.ready,
                restarts: c.restarts,
            })
            .collect(),
        conditions: p
            .conditions
            .iter()
            .map(|c| (c.r#type.clone(), c.status.clone()))
            .collect(),
        start_time: mirror["status"]["startTime"].as_str().map(str::to_string),
        pod_ip: mirror["status"]["podIP"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        mirror,
        updated: now.to_string(),
    }
}

/// When the node's current run of reports began: now, unless the earlier report is
/// within `grace` (then the earlier run goes on).
fn ready_since(earlier: Option<&NodeRecord>, now: &str, grace: std::time::Duration) -> String {
    let Some(e) = earlier else {
        return now.to_string();
    };
    let gap = match (
        e.last_seen.parse::<jiff::Timestamp>(),
        now.parse::<jiff::Timestamp>(),
    ) {
        (Ok(seen), Ok(now)) => now.duration_since(seen).unsigned_abs(),
        _ => return now.to_string(),
    };
    if gap > grace {
        return now.to_string();
    }
    [&e.ready_since, &e.first_seen, &e.last_seen]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| now.to_string())
}

/// The store's copy of an agent's node info.
fn node_info(i: &rpc::NodeInfo) -> NodeInfo {
    NodeInfo {
        cpus: i.cpus,
        memory_bytes: i.memory_bytes,
        ephemeral_storage_bytes: i.ephemeral_storage_bytes,
        max_pods: i.max_pods,
        os_image: i.os_image.clone(),
        kernel_version: i.kernel_version.clone(),
        architecture: i.architecture.clone(),
        container_runtime_version: i.container_runtime_version.clone(),
        machine_id: i.machine_id.clone(),
        boot_id: i.boot_id.clone(),
        system_uuid: i.system_uuid.clone(),
    }
}

/// A node status as stored, keeping `first_seen` from the earlier record.
pub fn node_record(
    node: &str,
    s: &rpc::NodeStatus,
    earlier: Option<&NodeRecord>,
    now: &str,
    grace: std::time::Duration,
) -> NodeRecord {
    NodeRecord {
        ready_since: ready_since(earlier, now, grace),
        info: match &s.info {
            Some(i) => node_info(i),
            None => earlier.map(|e| e.info.clone()).unwrap_or_default(),
        },
        name: node.to_string(),
        agent_version: s.agent_version.clone(),
        runtime: s.runtime.clone(),
        started_at: s.started_at.clone(),
        node_ip: s.node_ip.clone(),
        sources_ready: s.sources_ready,
        issues: s
            .issues
            .iter()
            .map(|i| (i.file.clone(), i.message.clone(), i.keeping_last_good))
            .collect(),
        first_seen: earlier
            .map(|e| e.first_seen.clone())
            .unwrap_or_else(|| now.to_string()),
        last_seen: now.to_string(),
    }
}

/// An event as stored.
pub fn event_record(node: &str, e: &rpc::Event) -> EventRecord {
    EventRecord {
        node: node.to_string(),
        first_time: e.first_time.clone(),
        last_time: e.last_time.clone(),
        count: e.count,
        kind: e.r#type.clone(),
        reason: e.reason.clone(),
        message: e.message.clone(),
        object: e.object.clone(),
        namespace: e.namespace.clone(),
        uid: e.uid.clone(),
    }
}

/// What one message changed (for metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Pod statuses written.
    pub pods: usize,
    /// Events written.
    pub events: usize,
}

/// Writes agent messages for one authenticated node into the store.
pub struct Ingest<'a> {
    /// The store.
    pub store: &'a SledStore,
    /// The node the stream belongs to.
    pub identity: &'a str,
    /// Where pod changes are announced (the Kubernetes API's watches), if anywhere.
    pub hub: Option<&'a WatchHub>,
    /// The coordinator's in-memory index, kept in step with the store.
    pub index: Option<&'a std::sync::RwLock<FleetIndex>>,
    /// How long a node may go without reporting before it is NotReady.
    pub grace: std::time::Duration,
}

impl Ingest<'_> {
    /// Apply one message. A message about another node is refused.
    pub fn apply(&self, m: &rpc::AgentMessage) -> anyhow::Result<Applied> {
        if m.node != self.identity {
            return Err(WrongNode {
                identity: self.identity.to_string(),
                claimed: m.node.clone(),
            }
            .into());
        }
        let now = jiff::Timestamp::now().to_string();
        let node = self.identity;
        // Watchers see every change below a list's resourceVersion (WatchHub::settled).
        let _writing = self.hub.map(WatchHub::writing);
        let mut applied = Applied::default();
        let touch = |status: Option<&rpc::NodeStatus>| -> anyhow::Result<()> {
            let earlier = self.store.node(node)?;
            let rec = match (status, earlier.as_ref()) {
                (Some(s), e) => node_record(node, s, e, &now, self.grace),
                (None, Some(e)) => NodeRecord {
                    ready_since: ready_since(Some(e), &now, self.grace),
                    last_seen: now.clone(),
                    ..e.clone()
                },
                (None, None) => NodeRecord {
                    name: node.to_string(),
                    first_seen: now.clone(),
                    last_seen: now.clone(),
                    ready_since: now.clone(),
                    ..Default::default()
                },
            };
            self.store.put_node(&rec)?;
            self.indexed(|i| i.put_node(rec));
            Ok(())
        };
        match &m.body {
            Some(Body::Heartbeat(s)) => touch(Some(s))?,
            Some(Body::Snapshot(snap)) => {
                touch(snap.node.as_ref())?;
                let before = self.store.pod_uids(node)?;
                let mut gone = Vec::new();
                for uid in before
                    .iter()
                    .filter(|u| !snap.pods.iter().any(|p| &p.uid == *u))
                {
                    gone.extend(self.store.mirror(node, uid)?);
                }
                // Deletions first: a replaced static pod keeps its name.
                for m in gone {
                    self.announce_deleted(m)?;
                }
                let mut pods = Vec::new();
                let mut changed = Vec::new();
                for p in &snap.pods {
                    let (rec, news) = self.versioned(pod_record(node, p, &now))?;
                    if let Some((kind, prev)) = news {
                        changed.push((kind, rec.mirror.clone(), prev));
                    }
                    pods.push(rec);
                }
                self.store.replace_pods(node, &pods)?;
                self.indexed(|i| i.replace_pods(node, &pods));
                // The periodic snapshot repeats what the watchers have: only changes go out.
                for (kind, mirror, prev) in changed {
                    self.announce(kind, mirror, prev);
                }
                applied.pods = pods.len();
            }
            Some(Body::Pod(p)) => {
                let (rec, news) = self.versioned(pod_record(node, p, &now))?;
                self.store.put_pod(&rec)?;
                self.indexed(|i| i.put_pod(rec.clone()));
                if let Some((kind, prev)) = news {
                    self.announce(kind, rec.mirror, prev);
                }
                applied.pods = 1;
            }
            Some(Body::PodRemoved(r)) => {
                let before = self.store.mirror(node, &r.uid)?;
                self.store.remove_pod(node, &r.uid)?;
                self.indexed(|i| i.remove_pod(node, &r.uid));
                if let Some(m) = before {
                    self.announce_deleted(m)?;
                }
            }
            Some(Body::Event(e)) => {
                self.store.put_event(&event_record(node, e))?;
                applied.events = 1;
            }
            None => {}
        }
        Ok(applied)
    }

    fn indexed(&self, f: impl FnOnce(&mut FleetIndex)) {
        if let Some(index) = self.index {
            f(&mut index.write().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// Give the mirror object a fresh resourceVersion if it differs from the stored one,
    /// and say whether it is ADDED or MODIFIED (with the object before); an unchanged one
    /// keeps its resourceVersion and is no news.
    #[allow(clippy::type_complexity)]
    fn versioned(
        &self,
        mut rec: PodRecord,
    ) -> anyhow::Result<(PodRecord, Option<(&'static str, Option<serde_json::Value>)>)> {
        if self.hub.is_none() || !rec.mirror.is_object() {
            return Ok((rec, None));
        }
        let stored = self.store.mirror(&rec.node, &rec.uid)?;
        let rv_of = |m: &serde_json::Value| m["metadata"]["resourceVersion"].clone();
        let content = |m: &serde_json::Value| {
            let mut m = m.clone();
            if let Some(meta) = m.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                meta.remove("resourceVersion");
            }
            m
        };
        let kind = match &stored {
            Some(old) if content(old) == content(&rec.mirror) && rv_of(old).is_string() => {
                rec.mirror["metadata"]["resourceVersion"] = rv_of(old);
                return Ok((rec, None));
            }
            Some(_) => "MODIFIED",
            None => "ADDED",
        };
        let rv = self.store.next_id()?;
        rec.mirror["metadata"]["resourceVersion"] = rv.to_string().into();
        Ok((rec, Some((kind, stored))))
    }

    fn announce(
        &self,
        kind: &'static str,
        object: serde_json::Value,
        prev: Option<serde_json::Value>,
    ) {
        let Some(hub) = self.hub else { return };
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        hub.publish(Change {
            kind,
            resource: "pods",
            object,
            prev,
            rv,
        });
    }

    fn announce_deleted(&self, mut object: serde_json::Value) -> anyhow::Result<()> {
        if self.hub.is_some() {
            let rv = self.store.next_id()?;
            object["metadata"]["resourceVersion"] = rv.to_string().into();
            self.announce("DELETED", object, None);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(node: &str, body: Body) -> rpc::AgentMessage {
        rpc::AgentMessage {
            seq: 1,
            node: node.into(),
            body: Some(body),
        }
    }

    #[test]
    fn ready_since_survives_heartbeats_and_restarts_after_a_gap() {
        let grace = std::time::Duration::from_secs(40);
        let rec = |seen: &str, since: &str| NodeRecord {
            first_seen: "2026-01-01T00:00:00Z".into(),
            last_seen: seen.into(),
            ready_since: since.into(),
            ..Default::default()
        };
        let t = "2026-01-01T01:00:00Z";
        assert_eq!(ready_since(None, t, grace), t);
        let steady = rec("2026-01-01T00:59:59Z", "2026-01-01T00:10:00Z");
        assert_eq!(ready_since(Some(&steady), t, grace), "2026-01-01T00:10:00Z");
        let lost = rec("2026-01-01T00:58:00Z", "2026-01-01T00:10:00Z");
        assert_eq!(ready_since(Some(&lost), t, grace), t);
        // Records written before the field existed start from first_seen.
        let old = rec("2026-01-01T00:59:59Z", "");
        assert_eq!(ready_since(Some(&old), t, grace), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn reports_about_other_nodes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let ingest = Ingest {
            store: &store,
            identity: "n1",
            hub: None,
            index: None,
            grace: std::time::Duration::from_secs(40),
        };
        let err = ingest
            .apply(&msg("n2", Body::Heartbeat(Default::default())))
            .unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        assert!(store.reported().unwrap().nodes.is_empty());
        ingest
            .apply(&msg(
                "n1",
                Body::Snapshot(rpc::Snapshot {
                    node: Some(rpc::NodeStatus {
                        agent_version: "0.1.0".into(),
                        ..Default::default()
                    }),
                    pods: vec![rpc::PodStatus {
                        uid: "u".into(),
                        name: "web-n1".into(),
                        ..Default::default()
                    }],
                }),
            ))
            .unwrap();
        let r = store.reported().unwrap();
        assert_eq!(r.nodes[0].agent_version, "0.1.0");
        assert_eq!(r.pods[0].name, "web-n1");
    }

    /// The agents' periodic snapshot repeats their pods: watchers get no MODIFIED for a pod
    /// that did not change, and the pod keeps its resourceVersion.
    #[test]
    fn an_unchanged_snapshot_is_no_news() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let hub = WatchHub::default();
        let ingest = Ingest {
            store: &store,
            identity: "n1",
            hub: Some(&hub),
            index: None,
            grace: std::time::Duration::from_secs(40),
        };
        let (_, mut rx) = hub
            .subscribe(crate::coordinator::feed::Start::Current)
            .unwrap();
        let pod = |uid: &str, phase: &str| rpc::PodStatus {
            uid: uid.into(),
            name: format!("web-{uid}"),
            mirror_json: serde_json::to_vec(&serde_json::json!({
                "metadata": {"name": format!("web-{uid}"), "namespace": "edge", "uid": uid},
                "status": {"phase": phase},
            }))
            .unwrap(),
            ..Default::default()
        };
        let snapshot = |pods: Vec<rpc::PodStatus>| {
            msg("n1", Body::Snapshot(rpc::Snapshot { node: None, pods }))
        };
        let mut drain = || {
            std::iter::from_fn(|| rx.try_recv().ok())
                .map(|c| {
                    (
                        c.kind,
                        c.object["metadata"]["uid"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        };
        ingest
            .apply(&snapshot(vec![pod("a", "Running"), pod("b", "Running")]))
            .unwrap();
        assert_eq!(drain(), [("ADDED", "a".into()), ("ADDED", "b".into())]);
        let rv = store.mirror("n1", "a").unwrap().unwrap()["metadata"]["resourceVersion"].clone();
        ingest
            .apply(&snapshot(vec![pod("a", "Running"), pod("b", "Running")]))
            .unwrap();
        assert_eq!(drain(), []);
        assert_eq!(
            store.mirror("n1", "a").unwrap().unwrap()["metadata"]["resourceVersion"],
            rv
        );
        ingest
            .apply(&msg("n1", Body::Pod(pod("a", "Running"))))
            .unwrap();
        assert_eq!(drain(), []);
        // A real change, and a pod gone (announced first).
        ingest.apply(&snapshot(vec![pod("a", "Failed")])).unwrap();
        assert_eq!(drain(), [("DELETED", "b".into()), ("MODIFIED", "a".into())]);
    }
}
