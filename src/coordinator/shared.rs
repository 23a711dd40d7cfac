//! The coordinator's shared state: the store, the in-memory index, the change feed, the
//! agents' tunnels, counters and open streams. Every server part (gRPC ingest, the local API,
//! the Kubernetes API, logs) holds an `Arc<Shared>`; none of them imports another for it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::store::SledStore;

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Counters {
    /// Messages ingested.
    pub reports: AtomicU64,
    /// Pod statuses written.
    pub pod_updates: AtomicU64,
    /// Events written.
    pub events: AtomicU64,
    /// Streams or handshakes refused.
    pub refused: AtomicU64,
}

/// State shared by the service and the local API.
pub struct Shared {
    /// The store (the coordinator holds sled's lock).
    pub store: SledStore,
    /// Grace period for NotReady.
    pub grace: Duration,
    /// Counters.
    pub counters: Counters,
    /// Open report streams per node.
    pub connected: std::sync::Mutex<BTreeMap<String, usize>>,
    /// Pod changes for Kubernetes API watches.
    pub hub: super::feed::WatchHub,
    /// Nodes and pods in memory, for the fleet view.
    pub index: std::sync::RwLock<super::index::FleetIndex>,
    /// The agents' log tunnels.
    pub tunnels: Arc<super::tunnels::TunnelHub>,
}

impl Shared {
    /// Count an opened (`delta` 1) or closed (-1) report stream of `node`.
    pub fn connect(&self, node: &str, delta: isize) {
        let mut c = self.connected.lock().unwrap_or_else(|e| e.into_inner());
        let n = c.entry(node.to_string()).or_insert(0);
        *n = n.saturating_add_signed(delta);
        if *n == 0 {
            c.remove(node);
        }
    }

    /// Nodes with an open report stream.
    pub fn connected_nodes(&self) -> Vec<String> {
        let c = self.connected.lock().unwrap_or_else(|e| e.into_inner());
        c.keys().cloned().collect()
    }
}
