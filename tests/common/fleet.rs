//! A local fleet: `podfleet serve` (gRPC and the Kubernetes API), process-runtime agents
//! enrolled over a local connection, each reporting from `<root>/nodes/<node>`, and an admin
//! kubeconfig for kubectl.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::agent::Agent;
use super::coordinator::Coordinator;
use super::{Run, podfleet, wait_for, write};

/// The running fleet. Field order matters: agents stop before the coordinator and the dir.
pub struct FleetLab {
    pub agents: Vec<Agent>,
    pub serve: Coordinator,
    pub kube: String,
    pub dir: tempfile::TempDir,
}

impl FleetLab {
    /// Start the coordinator, enrol `nodes`, let `manifests` write their files under
    /// `<root>/nodes/<node>/`, then start the agents.
    pub fn start(nodes: &[&str], manifests: impl FnOnce(&Path)) -> FleetLab {
        FleetLab::start_on("process", nodes, manifests)
    }

    /// [`FleetLab::start`] with agents on `runtime`.
    pub fn start_on(runtime: &str, nodes: &[&str], manifests: impl FnOnce(&Path)) -> FleetLab {
        FleetLab::start_with(runtime, nodes, &[], manifests)
    }

    /// [`FleetLab::start_on`] with extra agent flags.
    pub fn start_with(
        runtime: &str,
        nodes: &[&str],
        agent_args: &[&str],
        manifests: impl FnOnce(&Path),
    ) -> FleetLab {
        if runtime == "docker" {
            super::ensure_busybox_image();
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let (grpc, kube) = (
            format!("127.0.0.1:{}", super::free_port()),
            format!("127.0.0.1:{}", super::free_port()),
        );
        let serve = Coordinator::start(
            &p.join("state"),
            &["--listen", &grpc, "--kube-listen", &kube],
        );
        wait_for(Duration::from_secs(30), "the kube API", || {
            std::net::TcpStream::connect(&kube).ok().map(|_| ())
        });
        let mut inv = String::new();
        for n in nodes {
            inv.push_str(&format!(
                "{n} ansible_connection=local podfleet_config_dir={}\n",
                p.join("pki").join(n).display()
            ));
            std::fs::create_dir_all(p.join("nodes").join(n)).unwrap();
        }
        write(&p.join("local/hosts.ini"), &inv);
        let enroll = [
            "-i",
            "local/hosts.ini",
            "--state-dir",
            "state",
            "agent",
            "enroll",
            "--coordinator",
            &grpc,
        ];
        podfleet(p, &enroll, &[]).expect(0);
        manifests(p);
        let agents = nodes
            .iter()
            .map(|n| Agent::reporting_with(p, n, runtime, agent_args))
            .collect();
        let kc = podfleet(p, &["--state-dir", "state", "kubeconfig"], &[]).expect(0);
        std::fs::write(p.join("fleet.kubeconfig"), kc.stdout).unwrap();
        FleetLab {
            agents,
            serve,
            kube,
            dir,
        }
    }

    /// The lab's root directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// kubectl with the admin kubeconfig, not yet run.
    pub fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.args(args)
            .env("KUBECONFIG", self.path().join("fleet.kubeconfig"))
            .env("HOME", self.path());
        c
    }

    /// Run kubectl with the admin kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        Run::from(
            self.kubectl_cmd(args)
                .output()
                .expect("kubectl is installed"),
        )
    }

    /// Run podfleet in the lab with `--state-dir state`.
    pub fn podfleet(&self, args: &[&str]) -> Run {
        let mut full = vec!["--state-dir", "state"];
        full.extend_from_slice(args);
        podfleet(self.path(), &full, &[])
    }
}
