//! Sends the node's and its containers' CPU and memory usage up the tunnel every few seconds
//! (the coordinator serves them as `metrics.k8s.io` for `kubectl top`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::super::runtime::{Runtime, labels};
use super::super::usage::{Rates, node_sample};
use crate::rpc::{self, tunnel_up};

/// How often usage is sampled and sent.
pub const EVERY: Duration = Duration::from_secs(5);

/// Sample and send until the tunnel's sender closes.
pub async fn run(runtime: Arc<dyn Runtime>, up: mpsc::Sender<rpc::TunnelUp>) {
    let mut rates = Rates::default();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let Some(usage) = sample(&runtime, &mut rates).await else {
            continue;
        };
        let body = tunnel_up::Body::Usage(usage);
        if up.send(rpc::TunnelUp { body: Some(body) }).await.is_err() {
            return;
        }
    }
}

/// One round: None until there are two samples to compare.
async fn sample(runtime: &Arc<dyn Runtime>, rates: &mut Rates) -> Option<rpc::Usage> {
    let node = node_sample().and_then(|s| rates.update("/node", s));
    let mut containers = Vec::new();
    let mut seen = HashSet::from(["/node".to_string()]);
    for c in runtime.list().await.ok()? {
        if !c.running || c.is_sandbox() {
            continue;
        }
        let Ok(s) = runtime.sample(&c.id).await else {
            continue;
        };
        seen.insert(c.id.clone());
        if let Some(u) = rates.update(&c.id, s) {
            containers.push(rpc::ContainerUsage {
                namespace: c.label(labels::NAMESPACE).to_string(),
                pod: c.label(labels::POD).to_string(),
                container: c.label(labels::CONTAINER).to_string(),
                cpu_nanocores: u.cpu_nanocores,
                memory_bytes: u.memory_bytes,
            });
        }
    }
    rates.retain(&seen);
    let node = node?;
    Some(rpc::Usage {
        timestamp: jiff::Timestamp::now().to_string(),
        window_seconds: EVERY.as_secs() as u32,
        node_cpu_nanocores: node.cpu_nanocores,
        node_memory_bytes: node.memory_bytes,
        containers,
    })
}
