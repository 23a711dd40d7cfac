//! `podfleet up` / `podfleet down`: a local demo fleet on this machine. Every inventory host
//! becomes a local manifest directory with its own agent; the example manifests are pushed to
//! them over the `local` transport (an extra inventory source overrides the connection vars,
//! the way a later `-i` wins in Ansible), recorded in the sled store under the demo directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;

use super::common::{Globals, select_hosts};
use crate::agent::api::unix_request;
use crate::agent::state::Snapshot;

/// The image the example manifests run; built locally from busybox-static (no registry).
const DEMO_IMAGE: &str = "podfleet.local/busybox:1";

/// Options of `podfleet up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory for the demo's node directories, agent state, logs and store.
    #[arg(long, default_value = ".podfleet-demo", value_name = "DIR")]
    pub dir: PathBuf,
    /// Runtime for the agents: docker when an engine answers and busybox-static is installed
    /// (to build the demo image locally), else process.
    #[arg(long, value_parser = ["docker", "process"])]
    pub runtime: Option<String>,
    /// Seconds to wait for every pod to be Running and Ready.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub wait: u64,
}

/// Options of `podfleet down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// The directory `podfleet up` used.
    #[arg(long, default_value = ".podfleet-demo", value_name = "DIR")]
    pub dir: PathBuf,
}

/// Start the demo fleet, push the inventory's manifests, wait for health, print the view.
pub async fn up(g: &Globals, a: UpArgs) -> anyhow::Result<i32> {
    let fleet = g.fleet()?;
    let hosts = select_hosts(g, &fleet)?;
    std::fs::create_dir_all(&a.dir)
        .with_context(|| format!("cannot create {}", a.dir.display()))?;
    let dir = std::fs::canonicalize(&a.dir)?;
    let runtime = match a.runtime {
        Some(r) => r,
        None if docker_usable() => "docker".into(),
        None => "process".into(),
    };
    if runtime == "docker" {
        ensure_demo_image()?;
    }
    // The extra inventory source: every host local, its manifest dir under the demo dir.
    let mut local = String::from("all:\n  hosts:\n");
    for h in &hosts {
        let node_dir = dir.join("nodes").join(h).join("manifests");
        std::fs::create_dir_all(&node_dir)?;
        local.push_str(&format!(
            "    {h}:\n      ansible_connection: local\n      ansible_become: false\n      static_pod_path: {}\n",
            node_dir.display()
        ));
    }
    let local_inv = dir.join("local-nodes.yml");
    std::fs::write(&local_inv, local)?;
    let exe = std::env::current_exe()?;
    let addr = start_coordinator(&exe, &dir).await?;
    let pki = crate::coordinator::pki::Pki::load(&dir.join("state"))?;
    for h in &hosts {
        enroll(&pki, &dir, h, &addr)?;
        start_agent(&exe, &dir, h, &runtime)?;
    }
    println!(
        "podfleet up: {} nodes, {runtime} runtime, in {}",
        hosts.len(),
        dir.display()
    );
    let mut push = Command::new(&exe);
    for i in g.inventory_sources() {
        push.arg("-i").arg(i);
    }
    push.arg("-i").arg(&local_inv);
    if let Some(l) = &g.limit {
        push.args(["-l", l]);
    }
    let status = push
        .arg("--manifests")
        .arg(&g.manifests)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("push")
        .status()
        .context("cannot run podfleet push")?;
    if !status.success() {
        bail!(
            "the push to the demo nodes failed (exit {:?})",
            status.code()
        );
    }
    let healthy = wait_healthy(&dir, &hosts, Duration::from_secs(a.wait)).await;
    print_view(&dir.join("state"), &hosts).await?;
    let state = dir.join("state");
    println!("\nTry:");
    println!("  podfleet --state-dir {} status -o wide", state.display());
    println!("  podfleet --state-dir {} events", state.display());
    println!("  podfleet --state-dir {} history", state.display());
    println!(
        "  podfleet --state-dir {} kubeconfig > fleet.kubeconfig && KUBECONFIG=fleet.kubeconfig kubectl get pods -A -o wide",
        state.display()
    );
    // Diff and push against the demo need both inventories: giving only the overlay would
    // offer to prune every file of the demo nodes.
    let mut inv_args = String::new();
    for i in g.inventory_sources() {
        inv_args.push_str(&format!("-i {} ", i.display()));
    }
    inv_args.push_str(&format!("-i {}", local_inv.display()));
    println!(
        "  podfleet {inv_args} --state-dir {} diff      # after editing {}",
        state.display(),
        g.manifests.display()
    );
    println!("  podfleet {inv_args} --state-dir {} push", state.display());
    println!(
        "  podfleet --state-dir {} logs -A --selector tier=edge --tail 5",
        state.display()
    );
    println!(
        "  podfleet agent status --state-dir {}",
        dir.join("agents").join(&hosts[0]).display()
    );
    println!(
        "  podfleet agent logs --state-dir {} NAMESPACE/POD",
        dir.join("agents").join(&hosts[0]).display()
    );
    println!("  podfleet down --dir {}", a.dir.display());
    if !healthy {
        eprintln!("not every pod became Running and Ready within {} s", a.wait);
        return Ok(2);
    }
    Ok(0)
}

/// Stop the demo: remove the manifests (agents stop the pods), stop the agents, remove the dir.
pub async fn down(a: DownArgs) -> anyhow::Result<i32> {
    let agents = a.dir.join("agents");
    if !agents.exists() {
        println!("no demo fleet in {}", a.dir.display());
        return Ok(0);
    }
    let mut nodes = Vec::new();
    for e in std::fs::read_dir(&agents)? {
        nodes.push(e?.file_name().to_string_lossy().into_owned());
    }
    nodes.sort();
    for n in &nodes {
        let mdir = a.dir.join("nodes").join(n).join("manifests");
        for f in std::fs::read_dir(&mdir).into_iter().flatten().flatten() {
            if !f.file_name().to_string_lossy().starts_with('.') {
                std::fs::remove_file(f.path())?;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut left = 0;
    for n in &nodes {
        let sock = agents.join(n).join("agent.sock");
        loop {
            match status(&sock).await {
                Some(s) if !s.pods.is_empty() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Some(s) => {
                    left += s.pods.len();
                    break;
                }
                None => break,
            }
        }
        if let Some(pid) = pid_in(&agents.join(n).join("agent.pid")) {
            stop(pid).await;
        }
        println!("stopped {n}");
    }
    if left > 0 {
        bail!(
            "{left} pods did not stop; the demo directory {} is kept",
            a.dir.display()
        );
    }
    if let Some(pid) = pid_in(&a.dir.join("coordinator.pid")) {
        stop(pid).await;
        println!("stopped the coordinator");
    }
    std::fs::remove_dir_all(&a.dir)?;
    println!("removed {}", a.dir.display());
    Ok(0)
}

fn docker_usable() -> bool {
    Path::new("/bin/busybox").exists()
        && Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// `docker import` a rootfs of busybox-static with its applets, unless the image exists.
fn ensure_demo_image() -> anyhow::Result<()> {
    crate::agent::runtime::busybox::ensure_image(DEMO_IMAGE)
}

/// The live process whose pid is in `file`.
fn pid_in(file: &Path) -> Option<nix::unistd::Pid> {
    let pid: i32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    let pid = nix::unistd::Pid::from_raw(pid);
    nix::sys::signal::kill(pid, None).ok().map(|_| pid)
}

/// SIGTERM and wait up to 10 s.
async fn stop(pid: nix::unistd::Pid) {
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    for _ in 0..100 {
        if nix::sys::signal::kill(pid, None).is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Start `exe` detached (own session) with output to `log`; returns its pid.
fn spawn_detached(mut c: Command, log: &Path) -> anyhow::Result<u32> {
    use std::os::unix::process::CommandExt;
    let log = std::fs::File::create(log)?;
    c.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .env("NO_COLOR", "1");
    // SAFETY: setsid is async-signal-safe; the child outlives this command in its own session.
    unsafe {
        c.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    Ok(c.spawn()?.id())
}

/// Start the coordinator on the demo's store (unless running); returns its address.
async fn start_coordinator(exe: &Path, dir: &Path) -> anyhow::Result<String> {
    let addr_file = dir.join("coordinator.addr");
    if pid_in(&dir.join("coordinator.pid")).is_some()
        && let Ok(addr) = std::fs::read_to_string(&addr_file)
    {
        return Ok(addr.trim().to_string());
    }
    let free = || -> anyhow::Result<String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Ok(format!("127.0.0.1:{port}"))
    };
    let (addr, kube) = (free()?, free()?);
    let mut c = Command::new(exe);
    c.arg("--state-dir").arg(dir.join("state")).args([
        "serve",
        "--listen",
        &addr,
        "--kube-listen",
        &kube,
    ]);
    let pid =
        spawn_detached(c, &dir.join("coordinator.log")).context("cannot start the coordinator")?;
    std::fs::write(dir.join("coordinator.pid"), pid.to_string())?;
    std::fs::write(&addr_file, &addr)?;
    let sock = crate::coordinator::api::socket_path(&dir.join("state"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while crate::coordinator::client::running(&dir.join("state"))
        .await
        .is_none()
    {
        if Instant::now() > deadline || pid_in(&dir.join("coordinator.pid")).is_none() {
            bail!(
                "the coordinator did not start (socket {}); see {}",
                sock.display(),
                dir.join("coordinator.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(addr)
}

/// What `agent enroll` does over SSH, done locally: the node's certificate, key, CA and
/// the coordinator's address in `agents/<host>/pki`.
fn enroll(
    pki: &crate::coordinator::pki::Pki,
    dir: &Path,
    host: &str,
    addr: &str,
) -> anyhow::Result<()> {
    use crate::coordinator::pki::write_private;
    let out = dir.join("agents").join(host).join("pki");
    std::fs::create_dir_all(&out)?;
    let pem = pki.node_cert(host, 30)?;
    write_private(&out.join("ca.crt"), pki.ca_cert().as_bytes())?;
    write_private(&out.join("node.crt"), pem.cert.as_bytes())?;
    write_private(&out.join("node.key"), pem.key.as_bytes())?;
    write_private(
        &out.join("coordinator"),
        format!("https://{addr}\n").as_bytes(),
    )
}

/// Start a detached agent for `host` unless one is already running.
fn start_agent(exe: &Path, dir: &Path, host: &str, runtime: &str) -> anyhow::Result<()> {
    let state = dir.join("agents").join(host);
    std::fs::create_dir_all(&state)?;
    if pid_in(&state.join("agent.pid")).is_some() {
        return Ok(());
    }
    let mut c = Command::new(exe);
    c.arg("agent")
        .arg("--pod-manifest-path")
        .arg(dir.join("nodes").join(host).join("manifests"))
        .args([
            "--runtime",
            runtime,
            "--node-name",
            host,
            "--node-ip",
            "127.0.0.1",
        ])
        .args(["--heartbeat-interval", "2"])
        .arg("--pki-dir")
        .arg(state.join("pki"))
        .arg("--state-dir")
        .arg(&state);
    let pid = spawn_detached(c, &state.join("agent.log")).context("cannot start the agent")?;
    std::fs::write(state.join("agent.pid"), pid.to_string())?;
    Ok(())
}

async fn status(sock: &Path) -> Option<Snapshot> {
    let (code, body) = unix_request(sock, "GET", "/v1/status").await.ok()?;
    (code == 200)
        .then(|| serde_json::from_slice(&body).ok())
        .flatten()
}

async fn wait_healthy(dir: &Path, hosts: &[String], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut last = (usize::MAX, 0);
    loop {
        let (mut ready, mut total) = (0, 0);
        for h in hosts {
            let desired = std::fs::read_dir(dir.join("nodes").join(h).join("manifests"))
                .map(|d| {
                    d.flatten()
                        .filter(|f| !f.file_name().to_string_lossy().starts_with('.'))
                        .count()
                })
                .unwrap_or(0);
            total += desired;
            if let Some(s) = status(&dir.join("agents").join(h).join("agent.sock")).await {
                ready += s
                    .pods
                    .iter()
                    .filter(|p| p.total > 0 && p.ready == p.total && !p.terminating)
                    .count();
            }
        }
        if (ready, total) != last {
            eprintln!("waiting for pods: {ready}/{total} Running and Ready");
            last = (ready, total);
        }
        if total > 0 && ready >= total {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Print `podfleet status` for the demo, once the coordinator has every pod (or 10 s).
async fn print_view(state: &Path, hosts: &[String]) -> anyhow::Result<()> {
    use crate::coordinator::view::{SyncState, fleet_view};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let data = crate::coordinator::client::fleet_data(state).await?;
        let grace = Duration::from_secs(data.grace_secs.unwrap_or(40));
        let v = fleet_view(
            &data.reported,
            &data.desired,
            Some(hosts),
            jiff::Timestamp::now(),
            grace,
        );
        if Instant::now() > deadline || v.pods.iter().all(|p| p.sync == SyncState::InSync) {
            print!("{}", super::status::render(&v, false));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
