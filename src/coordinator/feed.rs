//! The coordinator's change feed (for the Kubernetes API's `?watch=true`). Every change to an
//! object the API serves (pod writes in ingest, and the node, namespace and event objects the
//! kube API's `synth` rebuilds)
//! becomes an ADDED/MODIFIED/DELETED [`Change`] with a resourceVersion from the store's id
//! counter. A bounded history lets a watch that starts from a list's resourceVersion replay
//! what it missed; a resourceVersion older than the history is `410 Gone` (`Expired`).
//!
//! The pure decisions (where a watch starts, which change a watcher is sent as what) are
//! [`Start::decide`] and [`Window`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use serde_json::Value;
use tokio::sync::broadcast;

use super::bad_request::BadRequest;

/// Events kept for replay.
const HISTORY: usize = 4096;

/// One change.
#[derive(Debug, Clone)]
pub struct Change {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// Resource (`pods`, `nodes`, `namespaces`, `events`).
    pub resource: &'static str,
    /// The object after the change (before, for DELETED), with its resourceVersion.
    pub object: Value,
    /// For MODIFIED, the object before (a watcher whose selectors it matched and no longer
    /// match gets a DELETED); `None` if unknown.
    pub prev: Option<Value>,
    /// Its resourceVersion.
    pub rv: u64,
}

/// The identity a watcher tracks an object by: its uid (a replaced static pod keeps its name
/// but not its uid), else namespace/name.
pub fn key_of(object: &Value) -> String {
    let m = &object["metadata"];
    match m["uid"].as_str() {
        Some(uid) if !uid.is_empty() => uid.to_string(),
        _ => format!(
            "{}/{}",
            m["namespace"].as_str().unwrap_or_default(),
            m["name"].as_str().unwrap_or_default()
        ),
    }
}

struct History {
    changes: VecDeque<Change>,
    /// Changes at or below this resourceVersion may be missing from `changes`.
    floor: u64,
}

/// Fan-out of changes to watchers.
pub struct WatchHub {
    tx: broadcast::Sender<Change>,
    history: Mutex<History>,
    /// Writers (a resourceVersion taken, the object stored, the change published) hold it
    /// shared; [`WatchHub::settled`] holds it exclusively, so every change below the
    /// resourceVersion it returns is stored and published.
    order: RwLock<()>,
}

impl Default for WatchHub {
    fn default() -> Self {
        WatchHub::starting_at(0)
    }
}

impl WatchHub {
    /// A hub whose history starts after `floor` (the store's id when the coordinator
    /// started: older resourceVersions are expired).
    pub fn starting_at(floor: u64) -> WatchHub {
        WatchHub {
            tx: broadcast::channel(HISTORY).0,
            history: Mutex::new(History {
                changes: VecDeque::new(),
                floor,
            }),
            order: RwLock::new(()),
        }
    }

    /// Held while taking a resourceVersion, storing the object and publishing the change.
    pub fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.order.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A resourceVersion from `next` such that every change below it is stored and
    /// published (a list's resourceVersion).
    pub fn settled<E>(&self, next: impl FnOnce() -> Result<u64, E>) -> Result<u64, E> {
        let _all = self.order.write().unwrap_or_else(|e| e.into_inner());
        next()
    }

    /// Publish a change.
    pub fn publish(&self, c: Change) {
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        h.changes.push_back(c.clone());
        while h.changes.len() > HISTORY {
            if let Some(old) = h.changes.pop_front() {
                h.floor = h.floor.max(old.rv);
            }
        }
        // Sent under the lock so a subscriber's replay and live stream do not overlap.
        let _ = self.tx.send(c);
    }

    /// Whether anyone is watching.
    pub fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// A receiver for the changes to come, and where the watch starts: for
    /// [`Start::From`], the changes after it still in history (or `Err` with the 410
    /// message if some are gone).
    pub fn subscribe(
        &self,
        start: Start,
    ) -> Result<(Vec<Change>, broadcast::Receiver<Change>), String> {
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let replay = match start {
            Start::Current => Vec::new(),
            Start::From(rv) => {
                expired(rv, h.floor)?;
                h.changes.iter().filter(|c| c.rv > rv).cloned().collect()
            }
        };
        Ok((replay, self.tx.subscribe()))
    }
}

/// kube-apiserver's message when `rv` is older than what the watch cache holds.
fn expired(rv: u64, floor: u64) -> Result<(), String> {
    if rv < floor {
        return Err(format!("too old resource version: {rv} ({floor})"));
    }
    Ok(())
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `resourceVersion` unset or `0`: the current state as ADDED events, then changes.
    Current,
    /// The changes after this resourceVersion.
    From(u64),
}

impl Start {
    /// From `?resourceVersion=`. `Err` is the 400 message for one that is not a number.
    pub fn decide(rv: Option<&str>) -> Result<Start, BadRequest> {
        Self::decide_text(rv).map_err(BadRequest)
    }

    fn decide_text(rv: Option<&str>) -> Result<Start, String> {
        match rv {
            None | Some("") | Some("0") => Ok(Start::Current),
            Some(v) => v
                .parse()
                .map(Start::From)
                .map_err(|_| format!("resourceVersion: Invalid value: {v:?}: must be a number")),
        }
    }
}

/// What one watcher has been told: up to which resourceVersion it has each object, so the
/// hub's changes reach it once each, as the events kube-apiserver would send it.
#[derive(Debug, Default)]
pub struct Window {
    /// Changes at or below this are already reflected in what the watcher got.
    base: u64,
    seen: HashMap<String, u64>,
    /// The highest resourceVersion the watcher is up to date with.
    latest: u64,
}

impl Window {
    /// A window for a watch that has everything up to `base`.
    pub fn new(base: u64) -> Window {
        Window {
            base,
            latest: base,
            ..Default::default()
        }
    }

    /// An object sent in the initial state (as ADDED) at `rv`.
    pub fn seed(&mut self, key: &str, rv: u64) {
        self.seen.insert(key.to_string(), rv);
        self.latest = self.latest.max(rv);
    }

    /// The event to send for a change (`kind` of the object at `key`, `rv`), given whether
    /// the object matched the watch's selectors before the change and matches after it;
    /// `None` to send nothing. An object that stops matching is DELETED for this watcher,
    /// one that starts matching ADDED, as kube-apiserver does.
    pub fn admit(
        &mut self,
        kind: &str,
        key: &str,
        rv: u64,
        before: bool,
        after: bool,
    ) -> Option<&'static str> {
        let seen = self.seen.get(key).copied().unwrap_or(0);
        if rv <= self.base.max(seen) {
            return None;
        }
        self.seen.insert(key.to_string(), rv);
        self.latest = self.latest.max(rv);
        let was = kind != "ADDED" && before;
        let now = kind != "DELETED" && after;
        match (was, now) {
            (false, true) => Some("ADDED"),
            (true, true) => Some("MODIFIED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        }
    }

    /// The resourceVersion a BOOKMARK can carry once every change up to `settled` went
    /// through [`Window::admit`].
    pub fn bookmark(&mut self, settled: u64) -> u64 {
        self.latest = self.latest.max(settled);
        self.latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(rv: u64) -> Change {
        Change {
            kind: "MODIFIED",
            resource: "pods",
            object: json!({"metadata": {"uid": format!("u{rv}")}}),
            prev: None,
            rv,
        }
    }

    #[test]
    fn where_a_watch_starts() {
        assert_eq!(Start::decide(None), Ok(Start::Current));
        assert_eq!(Start::decide(Some("0")), Ok(Start::Current));
        assert_eq!(Start::decide(Some("17")), Ok(Start::From(17)));
        assert!(Start::decide(Some("abc")).is_err());
    }

    #[test]
    fn too_old_resource_versions_expire() {
        let hub = WatchHub::starting_at(10);
        let err = hub.subscribe(Start::From(9)).unwrap_err();
        assert_eq!(err, "too old resource version: 9 (10)");
        for rv in 11..11 + HISTORY as u64 + 5 {
            hub.publish(change(rv));
        }
        // The five oldest were dropped: starting before them is gone, after them replays.
        assert!(hub.subscribe(Start::From(14)).is_err());
        let (replay, _) = hub.subscribe(Start::From(15)).unwrap();
        assert_eq!(replay.len(), HISTORY);
        let (replay, _) = hub.subscribe(Start::From(11 + HISTORY as u64)).unwrap();
        assert_eq!(replay.len(), 4);
        let (replay, _) = hub.subscribe(Start::Current).unwrap();
        assert!(replay.is_empty());
    }

    #[test]
    fn a_window_sends_each_change_once_and_follows_selectors() {
        let mut w = Window::new(10);
        w.seed("a", 8);
        w.seed("b", 12);
        // Already in the initial state.
        assert_eq!(w.admit("MODIFIED", "a", 9, true, true), None);
        assert_eq!(w.admit("MODIFIED", "b", 12, true, true), None);
        assert_eq!(w.admit("ADDED", "c", 10, false, true), None);
        // News.
        assert_eq!(w.admit("MODIFIED", "a", 11, true, true), Some("MODIFIED"));
        assert_eq!(w.admit("MODIFIED", "a", 11, true, true), None);
        assert_eq!(w.admit("ADDED", "c", 13, false, true), Some("ADDED"));
        // Stops matching the selector: gone for this watcher; matching again: back.
        assert_eq!(w.admit("MODIFIED", "c", 14, true, false), Some("DELETED"));
        assert_eq!(w.admit("MODIFIED", "c", 15, false, false), None);
        assert_eq!(w.admit("MODIFIED", "c", 16, false, true), Some("ADDED"));
        assert_eq!(w.admit("DELETED", "c", 17, true, true), Some("DELETED"));
        // Changes to objects that never match.
        assert_eq!(w.admit("ADDED", "d", 18, false, false), None);
        assert_eq!(w.admit("DELETED", "d", 19, false, false), None);
        assert_eq!(w.bookmark(20), 20);
        assert_eq!(w.bookmark(5), 20);
    }
}
