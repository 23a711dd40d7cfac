//! A throw-away podfleet project (inventory.yaml + manifests/) pointed at an [`SshLab`].

use std::path::Path;

use super::ssh::SshLab;
use super::{Run, write};

/// A minimal static pod manifest: one container sleeping an hour.
pub fn pod(name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: kube-system\nspec:\n  containers:\n  - name: {name}\n    image: {image}\n    command: [sleep, '3600']\n"
    )
}

/// A project dir with inventory.yaml and manifests/.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// Every lab node gets `static_pods`; the manifests hold an etcd template and an exporter.
    pub fn new(lab: &SshLab, static_pods: &[&str], extra_host_vars: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("inventory.yaml"),
            &lab.inventory(static_pods, extra_host_vars),
        );
        write(
            &dir.path().join("manifests/etcd.yaml.j2"),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - name: etcd\n    image: etcd:{{ etcd_version | default('3.5.9') }}\n    command: [etcd, --name={{ inventory_hostname }}]\n",
        );
        write(
            &dir.path().join("manifests/exporter.yaml"),
            &pod("exporter", "exporter:1"),
        );
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The podfleet command line with `-i inventory.yaml --state-dir state`, HOME in the
    /// project, and the lab's known_hosts for push and diff.
    pub fn command(&self, lab: &SshLab, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(super::bin());
        c.current_dir(self.path())
            .args(["-i", "inventory.yaml", "--state-dir", "state"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("HOME", self.home())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("ANSIBLE_INVENTORY")
            .env_remove("PODFLEET_INVENTORY");
        if !args.contains(&"--known-hosts") && matches!(args.first(), Some(&"push") | Some(&"diff"))
        {
            c.arg("--known-hosts").arg(&lab.known_hosts);
        }
        c
    }

    fn home(&self) -> std::path::PathBuf {
        let home = self.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        home
    }

    /// Run podfleet (see [`Project::command`]) to completion.
    pub fn run(&self, lab: &SshLab, args: &[&str]) -> Run {
        Run::from(self.command(lab, args).output().expect("run podfleet"))
    }
}
