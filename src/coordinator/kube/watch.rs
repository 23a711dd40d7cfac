//! Change notifications for `?watch=true`: every pod write in the coordinator becomes an
//! ADDED/MODIFIED/DELETED event with a resourceVersion. A bounded history lets a watch that
//! starts from a list's resourceVersion replay what it missed in between.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::broadcast;

/// Events kept for replay.
const HISTORY: usize = 4096;

/// One change.
#[derive(Debug, Clone)]
pub struct Change {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// Resource (`pods`).
    pub resource: &'static str,
    /// The object after the change (before, for DELETED), with its resourceVersion.
    pub object: Value,
    /// Its resourceVersion.
    pub rv: u64,
}

/// Fan-out of changes to watchers.
pub struct WatchHub {
    tx: broadcast::Sender<Change>,
    history: Mutex<VecDeque<Change>>,
}

impl Default for WatchHub {
    fn default() -> Self {
        WatchHub {
            tx: broadcast::channel(HISTORY).0,
            history: Mutex::new(VecDeque::new()),
        }
    }
}

impl WatchHub {
    /// Publish a change.
    pub fn publish(&self, c: Change) {
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        h.push_back(c.clone());
        while h.len() > HISTORY {
            h.pop_front();
        }
        // Sent under the lock so a subscriber's replay and live stream do not overlap.
        let _ = self.tx.send(c);
    }

    /// Changes after `rv` still in history, and a receiver for the ones to come.
    pub fn subscribe(&self, rv: u64) -> (Vec<Change>, broadcast::Receiver<Change>) {
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let replay = h.iter().filter(|c| c.rv > rv).cloned().collect();
        (replay, self.tx.subscribe())
    }
}
