//! Node, namespace and event objects are built from store records on every read, so they
//! have no write that could announce a change. The [`Tracker`] remembers the last version
//! of each, gives an object a new resourceVersion when it changes, and publishes the change
//! to the [`WatchHub`]: lists and watches of these resources see the same resourceVersions,
//! and watches get their changes. It runs when the API is read, and every second while
//! anyone watches.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use super::super::feed::{Change, WatchHub, key_of};

/// The resources the tracker keeps.
pub const SYNTHESIZED: [&str; 3] = ["nodes", "namespaces", "events"];

/// An object's content without its resourceVersion, and the resourceVersion it got.
type Versions = BTreeMap<String, (Value, u64)>;

/// Tracked objects per resource.
#[derive(Default)]
pub struct Tracker {
    objects: Mutex<BTreeMap<&'static str, Versions>>,
}

fn without_rv(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    o
}

fn with_rv(o: &Value, rv: u64) -> Value {
    let mut o = o.clone();
    o["metadata"]["resourceVersion"] = rv.to_string().into();
    o
}

/// The changes from `old` to `fresh` objects (keyed by [`key_of`]), in a stable order:
/// (kind, key, object without resourceVersion).
pub fn diff(old: &Versions, fresh: &[Value]) -> Vec<(&'static str, String, Value)> {
    let mut out = Vec::new();
    let mut now = BTreeMap::new();
    for o in fresh {
        now.insert(key_of(o), without_rv(o));
    }
    for (k, (before, _)) in old {
        if !now.contains_key(k) {
            out.push(("DELETED", k.clone(), before.clone()));
        }
    }
    for (k, o) in now {
        match old.get(&k) {
            None => out.push(("ADDED", k, o)),
            Some((before, _)) if *before != o => out.push(("MODIFIED", k, o)),
            Some(_) => {}
        }
    }
    out
}

impl Tracker {
    /// Record the objects of `resource` as built now: each change gets a resourceVersion
    /// from `next_id` and is published to `hub`.
    pub fn observe(
        &self,
        hub: &WatchHub,
        resource: &'static str,
        fresh: &[Value],
        next_id: &dyn Fn() -> anyhow::Result<u64>,
    ) -> anyhow::Result<()> {
        let mut all = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        let known = all.entry(resource).or_default();
        let changes = diff(known, fresh);
        if changes.is_empty() {
            return Ok(());
        }
        let _writing = hub.writing();
        for (kind, key, object) in changes {
            let rv = next_id()?;
            let versioned = with_rv(&object, rv);
            let prev = if kind == "DELETED" {
                known.remove(&key);
                None
            } else {
                known.insert(key, (object, rv))
            };
            hub.publish(Change {
                kind,
                resource,
                object: versioned,
                prev: prev.map(|(o, rv)| with_rv(&o, rv)),
                rv,
            });
        }
        Ok(())
    }

    /// The objects of `resource` as last observed, with their resourceVersions, by
    /// namespace and name.
    pub fn current(&self, resource: &str) -> Vec<Value> {
        let all = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Value> = all
            .get(resource)
            .map(|objs| objs.values().map(|(o, rv)| with_rv(o, *rv)).collect())
            .unwrap_or_default();
        out.sort_by_cached_key(|o| {
            let m = &o["metadata"];
            (
                m["namespace"].as_str().unwrap_or_default().to_string(),
                m["name"].as_str().unwrap_or_default().to_string(),
            )
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn node(name: &str, ready: &str) -> Value {
        json!({"metadata": {"name": name, "uid": name, "resourceVersion": "x"}, "status": {"ready": ready}})
    }

    #[test]
    fn only_changes_get_a_new_resource_version() {
        let (hub, tracker, ids) = (WatchHub::default(), Tracker::default(), AtomicU64::new(0));
        let next = || Ok(ids.fetch_add(1, Ordering::SeqCst) + 1);
        let (_, mut rx) = hub
            .subscribe(crate::coordinator::feed::Start::Current)
            .unwrap();
        tracker
            .observe(
                &hub,
                "nodes",
                &[node("n1", "True"), node("n2", "True")],
                &next,
            )
            .unwrap();
        let first: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            first.iter().map(|c| (c.kind, c.rv)).collect::<Vec<_>>(),
            [("ADDED", 1), ("ADDED", 2)]
        );
        // Nothing changed: nothing published, resourceVersions kept.
        tracker
            .observe(
                &hub,
                "nodes",
                &[node("n1", "True"), node("n2", "True")],
                &next,
            )
            .unwrap();
        assert!(rx.try_recv().is_err());
        tracker
            .observe(&hub, "nodes", &[node("n1", "Unknown")], &next)
            .unwrap();
        let next_changes: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            next_changes
                .iter()
                .map(|c| (c.kind, key_of(&c.object), c.rv))
                .collect::<Vec<_>>(),
            [
                ("DELETED", "n2".to_string(), 3),
                ("MODIFIED", "n1".into(), 4)
            ]
        );
        let current = tracker.current("nodes");
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["metadata"]["resourceVersion"], "4");
        assert_eq!(current[0]["status"]["ready"], "Unknown");
        assert!(tracker.current("events").is_empty());
    }
}
