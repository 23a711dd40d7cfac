//! Agent settings: command-line flags or a kubelet `KubeletConfiguration` file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which runtime runs the containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeKind {
    /// Docker Engine API (bollard).
    Docker,
    /// Host processes.
    Process,
}

/// Everything the agent needs to run.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The manifest directory (`staticPodPath`).
    pub manifest_dir: PathBuf,
    /// Node name (lowercased hostname by default).
    pub node_name: String,
    /// The node's IP (status.hostIP).
    pub node_ip: String,
    /// Runtime.
    pub runtime: RuntimeKind,
    /// Where the agent keeps its state, socket, process records, emptyDirs.
    pub state_dir: PathBuf,
    /// Only read files with these extensions (None: every non-dot file, like the kubelet).
    pub extensions: Option<Vec<String>>,
    /// Full re-list interval (`fileCheckFrequency`, default 20 s).
    pub resync: Duration,
    /// Serve metrics on TCP too.
    pub metrics_listen: Option<SocketAddr>,
    /// Multiply back-off durations (tests).
    pub backoff_scale: f64,
    /// Multiply probe durations (tests).
    pub probe_scale: f64,
    /// Report to a coordinator.
    pub report: Option<super::reporter::ReportConfig>,
    /// Container log rotation (`--container-log-max-size`, `--container-log-max-files`).
    pub container_logs: super::logs::LogLimits,
}

/// `staticPodPath` and `fileCheckFrequency` from a KubeletConfiguration file.
pub fn kubelet_config(path: &Path) -> anyhow::Result<(PathBuf, Option<Duration>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let v: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if kind != "KubeletConfiguration" {
        anyhow::bail!(
            "{}: expected kind: KubeletConfiguration, found {kind:?}",
            path.display()
        );
    }
    let dir = v
        .get("staticPodPath")
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: staticPodPath is not set (the kubelet would not read static pods either)",
                path.display()
            )
        })?;
    let freq = match v.get("fileCheckFrequency").and_then(|s| s.as_str()) {
        Some(s) => Some(parse_go_duration(s).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: fileCheckFrequency {s:?} is not a duration like 20s",
                path.display()
            )
        })?),
        None => None,
    };
    Ok((PathBuf::from(dir), freq))
}

/// Parse a Go duration (`20s`, `1m30s`, `500ms`, `1h`).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() || n == 'µ' {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num.parse().ok()?;
        num.clear();
        total += v * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        any = true;
    }
    (any && num.is_empty()).then(|| Duration::from_secs_f64(total))
}

/// The lowercased hostname.
pub fn default_node_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
        .to_lowercase()
}

/// The address of the interface with the default route (no packet is sent), else loopback.
pub fn default_node_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:1")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("20s"), Some(Duration::from_secs(20)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("20"), None);
        assert_eq!(parse_go_duration("x"), None);
    }

    #[test]
    fn reads_kubelet_configuration() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config.yaml");
        std::fs::write(&f, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: /etc/kubernetes/manifests\nfileCheckFrequency: 10s\n").unwrap();
        let (dir, freq) = kubelet_config(&f).unwrap();
        assert_eq!(dir, PathBuf::from("/etc/kubernetes/manifests"));
        assert_eq!(freq, Some(Duration::from_secs(10)));
        std::fs::write(&f, "kind: KubeletConfiguration\n").unwrap();
        assert!(
            kubelet_config(&f)
                .unwrap_err()
                .to_string()
                .contains("staticPodPath")
        );
    }
}
