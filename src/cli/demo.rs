//! `podfleet up` / `podfleet down`: a local demo fleet on this machine. Every inventory host
//! becomes a local manifest directory with its own agent; the example manifests are pushed to
//! them over the `local` transport (an extra inventory source overrides the connection vars,
//! the way a later `-i` wins in Ansible), recorded in the sled store under the demo directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use comfy_table::Table;

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
    for h in &hosts {
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
    print_view(&dir, &hosts).await;
    println!("\nTry:");
    println!(
        "  podfleet agent status --state-dir {}",
        dir.join("agents").join(&hosts[0]).display()
    );
    println!(
        "  podfleet --state-dir {} history",
        dir.join("state").display()
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
        if let Some(pid) = agent_pid(&agents.join(n)) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            for _ in 0..100 {
                if nix::sys::signal::kill(pid, None).is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        println!("stopped {n}");
    }
    if left > 0 {
        bail!(
            "{left} pods did not stop; the demo directory {} is kept",
            a.dir.display()
        );
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
    let have = Command::new("docker")
        .args(["image", "inspect", DEMO_IMAGE])
        .output();
    if have.is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    let script = format!(
        "set -e; r=$(mktemp -d); mkdir -p $r/bin $r/tmp $r/etc; cp /bin/busybox $r/bin/; \
         for a in $(/bin/busybox --list); do [ -e $r/bin/$a ] || ln -s busybox $r/bin/$a; done; \
         tar -C $r -c . | docker import -c 'CMD [\"/bin/sh\"]' - {DEMO_IMAGE} >/dev/null; rm -rf $r"
    );
    let st = Command::new("sh").args(["-c", &script]).status()?;
    if !st.success() {
        bail!("cannot build the demo image {DEMO_IMAGE} from /bin/busybox");
    }
    Ok(())
}

fn agent_pid(state: &Path) -> Option<nix::unistd::Pid> {
    let pid: i32 = std::fs::read_to_string(state.join("agent.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let pid = nix::unistd::Pid::from_raw(pid);
    nix::sys::signal::kill(pid, None).ok().map(|_| pid)
}

/// Start a detached agent for `host` unless one is already running.
fn start_agent(exe: &Path, dir: &Path, host: &str, runtime: &str) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let state = dir.join("agents").join(host);
    std::fs::create_dir_all(&state)?;
    if agent_pid(&state).is_some() {
        return Ok(());
    }
    let log = std::fs::File::create(state.join("agent.log"))?;
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
        .arg("--state-dir")
        .arg(&state)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; the agent outlives this command in its own session.
    unsafe {
        c.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let child = c.spawn().context("cannot start the agent")?;
    std::fs::write(state.join("agent.pid"), child.id().to_string())?;
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

async fn print_view(dir: &Path, hosts: &[String]) {
    let mut t = Table::new();
    t.load_style(comfy_table::presets::NOTHING);
    t.set_header(["NODE", "NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS"]);
    for h in hosts {
        match status(&dir.join("agents").join(h).join("agent.sock")).await {
            None => {
                t.add_row([h.as_str(), "", "(agent not answering)", "", "", ""]);
            }
            Some(mut s) => {
                s.pods.sort_by(|a, b| a.name.cmp(&b.name));
                for p in &s.pods {
                    t.add_row([
                        h.clone(),
                        p.namespace.clone(),
                        p.name.clone(),
                        format!("{}/{}", p.ready, p.total),
                        super::agent::pod_status_text(p),
                        p.restarts.to_string(),
                    ]);
                }
            }
        }
    }
    println!("{t}");
}
