//! Real OpenSSH `sshd` processes on loopback addresses, one per fake node, with
//! throw-away host keys, a client key and a known_hosts file.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

static NEXT: AtomicU8 = AtomicU8::new(1);

/// One sshd.
pub struct SshNode {
    pub name: String,
    pub ip: String,
    pub port: u16,
    /// The node's manifest directory (static_pod_path).
    pub dir: PathBuf,
    pub host_key_pub: String,
    pub root: PathBuf,
    child: Option<Child>,
    config: PathBuf,
}

impl SshNode {
    /// Stop the sshd (the node becomes unreachable).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    /// Start it again (same keys).
    pub fn start(&mut self) {
        self.stop();
        self.child = Some(spawn_sshd(&self.config));
        wait_port(&self.ip, self.port);
    }
    /// Replace the host key (to test changed-key refusal) and restart.
    pub fn rotate_host_key(&mut self) {
        let key = self.root.join("ssh_host_ed25519_key");
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(key.with_extension("pub"));
        keygen(&key);
        self.host_key_pub = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        self.start();
    }
    /// The `[ip]:port key` line for known_hosts.
    pub fn known_hosts_line(&self) -> String {
        let mut parts = self.host_key_pub.split_whitespace();
        format!(
            "[{}]:{} {} {}\n",
            self.ip,
            self.port,
            parts.next().unwrap(),
            parts.next().unwrap()
        )
    }
}

impl Drop for SshNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A set of nodes sharing a client key and a known_hosts file.
pub struct SshLab {
    pub root: tempfile::TempDir,
    pub client_key: PathBuf,
    pub known_hosts: PathBuf,
    pub nodes: Vec<SshNode>,
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
}

fn sshd_path() -> PathBuf {
    for p in ["/usr/sbin/sshd", "/usr/bin/sshd"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("sshd is not installed (tests/run.sh installs openssh-server)");
}

fn spawn_sshd(config: &Path) -> Child {
    std::fs::create_dir_all("/run/sshd").ok();
    Command::new(sshd_path())
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd")
}

fn wait_port(ip: &str, port: u16) {
    super::wait_for(Duration::from_secs(10), "sshd to listen", || {
        TcpStream::connect((ip, port)).ok().map(|_| ())
    });
}

impl SshLab {
    /// Start `n` sshd nodes on 127.0.<subnet>.<k>:2222. Use a different subnet per test file.
    pub fn start(n: usize, subnet: u8) -> SshLab {
        Self::start_with(n, subnet, "root")
    }

    /// Like `start`, with `AllowUsers` for `user` (plus root).
    pub fn start_with(n: usize, subnet: u8, _user: &str) -> SshLab {
        let root = tempfile::tempdir().unwrap();
        let client_key = root.path().join("id_ed25519");
        keygen(&client_key);
        let authorized = root.path().join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized).unwrap();
        let known_hosts = root.path().join("known_hosts");
        let mut nodes = Vec::new();
        let mut kh = String::new();
        for i in 0..n {
            let octet = NEXT.fetch_add(1, Ordering::SeqCst);
            let ip = format!("127.0.{subnet}.{octet}");
            let name = format!("n{}", i + 1);
            let nroot = root.path().join(&name);
            std::fs::create_dir_all(&nroot).unwrap();
            let key = nroot.join("ssh_host_ed25519_key");
            keygen(&key);
            let config = nroot.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port 2222\nListenAddress {ip}\nHostKey {key}\nPidFile {pid}\nAuthorizedKeysFile {auth}\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nLogLevel ERROR\nMaxStartups 200:30:300\nMaxSessions 100\n",
                    key = key.display(),
                    pid = nroot.join("sshd.pid").display(),
                    auth = authorized.display()
                ),
            )
            .unwrap();
            let mut node = SshNode {
                name,
                ip: ip.clone(),
                port: 2222,
                dir: nroot.join("manifests"),
                host_key_pub: std::fs::read_to_string(key.with_extension("pub")).unwrap(),
                root: nroot.clone(),
                child: None,
                config,
            };
            node.start();
            kh.push_str(&node.known_hosts_line());
            nodes.push(node);
        }
        std::fs::write(&known_hosts, kh).unwrap();
        SshLab {
            root,
            client_key,
            known_hosts,
            nodes,
        }
    }

    /// A YAML inventory with every node in group `fleet`, static_pods as given.
    pub fn inventory(&self, static_pods: &[&str], extra_host_vars: &str) -> String {
        let mut s =
            String::from("all:\n  children:\n    fleet:\n      vars:\n        static_pods:\n");
        for p in static_pods {
            s.push_str(&format!("          - {p}\n"));
        }
        s.push_str("      hosts:\n");
        for n in &self.nodes {
            s.push_str(&format!(
                "        {}:\n          ansible_host: {}\n          ansible_port: {}\n          ansible_user: root\n          ansible_ssh_private_key_file: {}\n          static_pod_path: {}\n{extra_host_vars}",
                n.name,
                n.ip,
                n.port,
                self.client_key.display(),
                n.dir.display()
            ));
        }
        s
    }
}
