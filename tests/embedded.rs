//! The coordinator and the agent embedded in one process, as a program (or a test) uses the
//! library: the caller binds the listeners (port 0 here) and decides when they stop.

use std::time::Duration;

use podfleet::agent::config::{AgentConfig, RuntimeKind};
use podfleet::agent::reporter::ReportConfig;
use podfleet::coordinator::client::view_json_against;
use podfleet::coordinator::server::{Listeners, ServeConfig, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

async fn until<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "never saw {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_and_agent_run_in_process_on_port_0_and_stop_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let loopback = "127.0.0.1:0";
    let listeners = Listeners {
        grpc: TcpListener::bind(loopback).await.unwrap(),
        insecure: Some(TcpListener::bind(loopback).await.unwrap()),
        metrics: None,
        kube: Some(TcpListener::bind(loopback).await.unwrap()),
    };
    let insecure = listeners.insecure.as_ref().unwrap().local_addr().unwrap();
    let cfg = ServeConfig {
        listen: listeners.grpc.local_addr().unwrap(),
        insecure_listen: Some(insecure),
        state_dir: state.clone(),
        grace: Duration::from_secs(40),
        retention: Default::default(),
        server_names: vec![],
        metrics_listen: None,
        kube_listen: None,
    };
    let (stop_coordinator, stopped) = oneshot::channel::<()>();
    let coordinator = tokio::spawn(serve(cfg, listeners, async {
        let _ = stopped.await;
    }));
    until("the coordinator's socket", async || {
        podfleet::coordinator::client::running(&state).await
    })
    .await;
    let kube_addr = std::fs::read_to_string(state.join("kube-addr")).unwrap();
    assert!(!kube_addr.ends_with(":0"), "{kube_addr}");

    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let agent_state = dir.path().join("agent");
    let agent = AgentConfig {
        manifest_dir: manifests,
        node_name: "embedded".into(),
        node_ip: "127.0.0.1".into(),
        runtime: RuntimeKind::Process,
        state_dir: agent_state.clone(),
        extensions: None,
        resync: Duration::from_secs(20),
        metrics_listen: None,
        backoff_scale: 1.0,
        probe_scale: 1.0,
        report: Some(ReportConfig {
            endpoint: format!("http://{insecure}"),
            tls: None,
            heartbeat: Duration::from_secs(1),
            snapshot_every: Duration::from_secs(300),
            node_ip: "127.0.0.1".into(),
            node_info: Default::default(),
        }),
        container_logs: Default::default(),
    };
    let (stop_agent, agent_stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(podfleet::agent::run(agent, async {
        let _ = agent_stopped.await;
    }));
    // The agent reports to the coordinator: the fleet view has its node, Ready.
    until("the agent's node in the fleet view", async || {
        let json = view_json_against(&state, None, None).await.ok()??;
        let text = String::from_utf8_lossy(&json).to_string();
        (text.contains("\"embedded\"") && text.contains("Ready")).then_some(())
    })
    .await;

    stop_agent.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), agent)
        .await
        .expect("the agent stops when told")
        .unwrap()
        .unwrap();
    assert!(!agent_state.join("agent.sock").exists());
    stop_coordinator.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), coordinator)
        .await
        .expect("the coordinator stops when told")
        .unwrap()
        .unwrap();
    assert!(
        podfleet::coordinator::client::running(&state)
            .await
            .is_none()
    );
}
