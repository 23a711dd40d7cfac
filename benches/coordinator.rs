//! Coordinator benchmark (not a test).
//!
//! 1. Ingest: N simulated agents in this process, each on its own mutual-TLS gRPC stream to
//!    a real `serve` (in-process, loopback), stream pod status changes as fast as acks allow
//!    (a window of 64 unacked messages per agent). Prints updates/s and p50/p99 ingest latency
//!    (send → ack, the ack is sent after the store write).
//! 2. Status: a store holding 10k nodes × 10 pods; wall time of `podfleet status -o json`,
//!    reading the store directly and through a running coordinator.
//!
//! Run: `cargo bench --bench coordinator` (PODFLEET_BENCH_AGENTS=50,
//! PODFLEET_BENCH_UPDATES=400 per agent, PODFLEET_BENCH_NODES=10000).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use podfleet::coordinator::pki::{Pki, SERVER_NAME};
use podfleet::coordinator::server::{Listeners, ServeConfig, serve};
use podfleet::rpc::{self, agent_message::Body};
use podfleet::store::{EventRetention, NodeRecord, PodRecord, SledStore};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pod(node: &str, i: usize, restarts: u32) -> rpc::PodStatus {
    rpc::PodStatus {
        uid: format!("{node}-uid-{i}"),
        name: format!("pod{i}-{node}"),
        namespace: "bench".into(),
        file: format!("/etc/kubernetes/manifests/pod{i}.yaml"),
        content_sha256: format!("{:064x}", i),
        phase: "Running".into(),
        ready: 1,
        total: 1,
        restarts,
        containers: vec![rpc::ContainerStatus {
            name: "c".into(),
            state: "running".into(),
            ready: true,
            restarts,
            ..Default::default()
        }],
        mirror_json: format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"pod{i}-{node}","namespace":"bench"}},"status":{{"phase":"Running","podIP":"10.0.0.{i}","startTime":"2026-11-28T12:00:00Z"}}}}"#
        )
        .into_bytes(),
        ..Default::default()
    }
}

/// One agent: stream `updates` pod changes; returns the send→ack latencies.
async fn agent(addr: String, pki: &Pki, node: String, updates: usize) -> Vec<Duration> {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let pem = pki.client_cert(&node, 1).unwrap();
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(pki.ca_cert()))
                .identity(Identity::from_pem(&pem.cert, &pem.key))
                .domain_name(SERVER_NAME),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = rpc::coordinator_client::CoordinatorClient::new(channel);
    let (tx, rx) = mpsc::channel(128);
    let mut acks = client
        .report(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let mut sent_at = HashMap::new();
    let mut latencies = Vec::with_capacity(updates);
    let (mut next, window) = (1u64, 64u64);
    let mut acked = 0u64;
    while (acked as usize) < updates {
        while next <= updates as u64 && next - acked <= window {
            let m = rpc::AgentMessage {
                seq: next,
                node: node.clone(),
                body: Some(Body::Pod(pod(&node, next as usize % 10, next as u32))),
            };
            sent_at.insert(next, Instant::now());
            tx.send(m).await.unwrap();
            next += 1;
        }
        let ack = acks.message().await.unwrap().expect("ack");
        latencies.push(sent_at.remove(&ack.seq).unwrap().elapsed());
        acked += 1;
    }
    latencies
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn ingest(state: &Path) {
    let agents = env("PODFLEET_BENCH_AGENTS", 50);
    let updates = env("PODFLEET_BENCH_UPDATES", 400);
    let addr = format!("127.0.0.1:{}", common::free_port());
    let cfg = ServeConfig {
        listen: addr.parse().unwrap(),
        insecure_listen: None,
        state_dir: state.to_path_buf(),
        grace: Duration::from_secs(40),
        retention: EventRetention::default(),
        server_names: vec![],
        metrics_listen: None,
        kube_listen: None,
    };
    let listeners = Listeners::bind(&cfg).await.unwrap();
    tokio::spawn(async move { serve(cfg, listeners, std::future::pending()).await.unwrap() });
    let sock = state.join("coordinator.sock");
    while !sock.exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pki = std::sync::Arc::new(Pki::load(state).unwrap());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..agents {
        let (addr, pki) = (addr.clone(), pki.clone());
        tasks.push(tokio::spawn(async move {
            agent(addr, &pki, format!("node{i:03}"), updates).await
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = start.elapsed();
    all.sort();
    println!(
        "ingest: {agents} agents x {updates} pod updates over mTLS gRPC: {:.0} updates/s, latency p50 {:.1} ms, p99 {:.1} ms (wall {:.2}s, incl. TLS connects)",
        all.len() as f64 / wall.as_secs_f64(),
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        wall.as_secs_f64()
    );
}

fn fill_store(dir: &Path, nodes: usize) {
    let store = SledStore::open(dir).unwrap();
    let now = jiff::Timestamp::now().to_string();
    for n in 0..nodes {
        let node = format!("node{n:05}");
        store
            .put_node(&NodeRecord {
                name: node.clone(),
                agent_version: "0.1.0".into(),
                runtime: "docker".into(),
                first_seen: now.clone(),
                last_seen: now.clone(),
                ..Default::default()
            })
            .unwrap();
        let pods: Vec<PodRecord> = (0..10)
            .map(|i| podfleet::coordinator::ingest::pod_record(&node, &pod(&node, i, 0), &now))
            .collect();
        store.replace_pods(&node, &pods).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(store.flush()).unwrap();
}

fn time_status(dir: &Path) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let out = Command::new(common::bin())
            .current_dir(dir)
            .args(["--state-dir", "state", "status", "-o", "json"])
            .output()
            .unwrap();
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        best = best.min(took);
    }
    best
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(ingest(&tmp.path().join("ingest")));
    drop(rt);

    let nodes = env("PODFLEET_BENCH_NODES", 10_000);
    let dir = tmp.path().join("status");
    let fill = Instant::now();
    fill_store(&dir.join("state"), nodes);
    println!(
        "status: store with {nodes} nodes x 10 pods filled in {:.1}s",
        fill.elapsed().as_secs_f64()
    );
    let direct = time_status(&dir);
    println!(
        "status -o json, store read directly:     {:.0} ms (best of 3)",
        direct.as_secs_f64() * 1e3
    );
    let mut serve = Command::new(common::bin())
        .current_dir(&dir)
        .args(["--state-dir", "state", "serve", "--no-kube-api", "--listen"])
        .arg(format!("127.0.0.1:{}", common::free_port()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sock = dir.join("state/coordinator.sock");
    let t = Instant::now();
    while !sock.exists() && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let remote = time_status(&dir);
    println!(
        "status -o json, via the running coordinator: {:.0} ms (best of 3)",
        remote.as_secs_f64() * 1e3
    );
    let _ = serve.kill();
    let _ = serve.wait();
    if std::env::var_os("PODFLEET_BENCH_KEEP").is_some() {
        println!("kept {}", tmp.keep().display());
    }
}
