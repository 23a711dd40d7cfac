//! Reported fleet state in sled: trees `nodes` (name → record), `pods` (node NUL uid →
//! record), `mirrors` (same key → mirror Pod JSON) and `events` (identity → record). sled flushes every 500 ms (see `open`), so a
//! `kill -9` of the coordinator loses at most that much; agents resend on reconnect.

use std::collections::BTreeSet;

use super::fleet::{EventRecord, EventRetention, NodeRecord, PodRecord, Reported};
use super::sled_store::SledStore;

const NODES: &str = "nodes";
const PODS: &str = "pods";
const EVENTS: &str = "events";
const MIRRORS: &str = "mirrors";

fn pod_key(node: &str, uid: &str) -> Vec<u8> {
    let mut k = node.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(uid.as_bytes());
    k
}

fn node_prefix(node: &str) -> Vec<u8> {
    let mut k = node.as_bytes().to_vec();
    k.push(0);
    k
}

/// Make the keys under `prefix` exactly `entries`, in one batch.
fn replace_prefix(
    tree: &sled::Tree,
    prefix: &[u8],
    entries: Vec<(Vec<u8>, Vec<u8>)>,
) -> anyhow::Result<()> {
    let keep: BTreeSet<&[u8]> = entries.iter().map(|(k, _)| k.as_slice()).collect();
    let mut batch = sled::Batch::default();
    for item in tree.scan_prefix(prefix) {
        let (k, _) = item?;
        if !keep.contains(k.as_ref()) {
            batch.remove(k);
        }
    }
    for (k, v) in entries {
        batch.insert(k, v);
    }
    tree.apply_batch(batch)?;
    Ok(())
}

impl SledStore {
    /// Save a node's record.
    pub fn put_node(&self, n: &NodeRecord) -> anyhow::Result<()> {
        self.db
            .open_tree(NODES)?
            .insert(n.name.as_bytes(), serde_json::to_vec(n)?)?;
        Ok(())
    }

    /// A node's record.
    pub fn node(&self, name: &str) -> anyhow::Result<Option<NodeRecord>> {
        match self.db.open_tree(NODES)?.get(name.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Save a pod's latest status.
    pub fn put_pod(&self, p: &PodRecord) -> anyhow::Result<()> {
        let key = pod_key(&p.node, &p.uid);
        self.db
            .open_tree(PODS)?
            .insert(&key, serde_json::to_vec(p)?)?;
        self.db
            .open_tree(MIRRORS)?
            .insert(key, serde_json::to_vec(&p.mirror)?)?;
        Ok(())
    }

    /// A fresh, increasing id (resourceVersion); monotonic across restarts.
    pub fn next_id(&self) -> anyhow::Result<u64> {
        Ok(self.db.generate_id()? + 1)
    }

    /// Whether a pod is stored (no decoding: ingest asks this for every pod update).
    pub fn has_pod(&self, node: &str, uid: &str) -> anyhow::Result<bool> {
        Ok(self.db.open_tree(PODS)?.contains_key(pod_key(node, uid))?)
    }

    /// One pod's mirror object.
    pub fn mirror(&self, node: &str, uid: &str) -> anyhow::Result<Option<serde_json::Value>> {
        match self.db.open_tree(MIRRORS)?.get(pod_key(node, uid))? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// The uids of a node's pods.
    pub fn pod_uids(&self, node: &str) -> anyhow::Result<Vec<String>> {
        let prefix = node_prefix(node);
        let mut out = Vec::new();
        for item in self.db.open_tree(PODS)?.scan_prefix(&prefix) {
            let (k, _) = item?;
            out.push(String::from_utf8_lossy(&k[prefix.len()..]).to_string());
        }
        Ok(out)
    }

    /// Every pod's mirror Pod object, by (node, uid).
    pub fn mirrors(&self) -> anyhow::Result<Vec<((String, String), serde_json::Value)>> {
        let mut out = Vec::new();
        for item in self.db.open_tree(MIRRORS)?.iter() {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).to_string();
            let (node, uid) = key.split_once('\0').unwrap_or((key.as_str(), ""));
            out.push((
                (node.to_string(), uid.to_string()),
                serde_json::from_slice(&v)?,
            ));
        }
        Ok(out)
    }

    /// Forget a pod.
    pub fn remove_pod(&self, node: &str, uid: &str) -> anyhow::Result<()> {
        self.db.open_tree(PODS)?.remove(pod_key(node, uid))?;
        self.db.open_tree(MIRRORS)?.remove(pod_key(node, uid))?;
        Ok(())
    }

    /// Replace everything known about a node's pods (a snapshot from its agent).
    pub fn replace_pods(&self, node: &str, pods: &[PodRecord]) -> anyhow::Result<()> {
        let records = pods
            .iter()
            .map(|p| Ok((pod_key(node, &p.uid), serde_json::to_vec(p)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mirrors = pods
            .iter()
            .map(|p| Ok((pod_key(node, &p.uid), serde_json::to_vec(&p.mirror)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        replace_prefix(&self.db.open_tree(PODS)?, &node_prefix(node), records)?;
        replace_prefix(&self.db.open_tree(MIRRORS)?, &node_prefix(node), mirrors)
    }

    /// Save an event (a resent or repeated event replaces its earlier copy).
    pub fn put_event(&self, e: &EventRecord) -> anyhow::Result<()> {
        self.db
            .open_tree(EVENTS)?
            .insert(e.identity().as_bytes(), serde_json::to_vec(e)?)?;
        Ok(())
    }

    /// Drop events beyond the retention (oldest first); returns how many went.
    pub fn prune_events(
        &self,
        keep: EventRetention,
        now: jiff::Timestamp,
    ) -> anyhow::Result<usize> {
        let tree = self.db.open_tree(EVENTS)?;
        let mut all: Vec<(String, sled::IVec)> = Vec::new();
        for item in tree.iter() {
            let (k, v) = item?;
            let e: EventRecord = serde_json::from_slice(&v)?;
            all.push((e.last_time, k));
        }
        all.sort();
        let cutoff = now - jiff::SignedDuration::try_from(keep.max_age).unwrap_or_default();
        let too_many = all.len().saturating_sub(keep.max_count);
        let mut removed = 0;
        for (i, (time, key)) in all.iter().enumerate() {
            let old = time
                .parse::<jiff::Timestamp>()
                .map(|t| t < cutoff)
                .unwrap_or(true);
            if i < too_many || old {
                tree.remove(key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Everything reported: nodes, pods (by node, name) and events (oldest first).
    pub fn reported(&self) -> anyhow::Result<Reported> {
        let mut r = Reported::default();
        for item in self.db.open_tree(NODES)?.iter() {
            r.nodes.push(serde_json::from_slice(&item?.1)?);
        }
        for item in self.db.open_tree(PODS)?.iter() {
            r.pods.push(serde_json::from_slice(&item?.1)?);
        }
        r.pods
            .sort_by(|a: &PodRecord, b| (&a.node, &a.name).cmp(&(&b.node, &b.name)));
        for item in self.db.open_tree(EVENTS)?.iter() {
            r.events.push(serde_json::from_slice(&item?.1)?);
        }
        r.events
            .sort_by(|a: &EventRecord, b| (&a.last_time, &a.node).cmp(&(&b.last_time, &b.node)));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(node: &str, uid: &str) -> PodRecord {
        PodRecord {
            node: node.into(),
            uid: uid.into(),
            name: format!("{uid}-{node}"),
            ..Default::default()
        }
    }

    #[test]
    fn snapshots_replace_a_nodes_pods_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        s.put_pod(&pod("n1", "a")).unwrap();
        s.put_pod(&pod("n1", "b")).unwrap();
        s.put_pod(&pod("n10", "a")).unwrap();
        s.replace_pods("n1", &[pod("n1", "c")]).unwrap();
        let names: Vec<String> = s
            .reported()
            .unwrap()
            .pods
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["c-n1", "a-n10"]);
        s.remove_pod("n10", "a").unwrap();
        assert_eq!(s.reported().unwrap().pods.len(), 1);
    }

    #[test]
    fn events_deduplicate_and_respect_retention() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let now = jiff::Timestamp::now();
        let ev = |i: u32, t: jiff::Timestamp| EventRecord {
            node: "n1".into(),
            first_time: format!("first-{i}"),
            last_time: t.to_string(),
            count: 1,
            reason: "BackOff".into(),
            ..Default::default()
        };
        s.put_event(&ev(1, now)).unwrap();
        s.put_event(&EventRecord {
            count: 2,
            ..ev(1, now)
        })
        .unwrap();
        assert_eq!(s.reported().unwrap().events.len(), 1, "a resend replaces");
        assert_eq!(s.reported().unwrap().events[0].count, 2);
        s.put_event(&ev(2, now - jiff::SignedDuration::from_hours(2)))
            .unwrap();
        for i in 3..8 {
            s.put_event(&ev(i, now)).unwrap();
        }
        let keep = EventRetention {
            max_count: 4,
            max_age: std::time::Duration::from_secs(3600),
        };
        assert_eq!(s.prune_events(keep, now).unwrap(), 3);
        let left = s.reported().unwrap().events;
        assert_eq!(left.len(), 4);
        assert!(
            left.iter().all(|e| e.first_time != "first-2"),
            "the old one went"
        );
    }
}
