//! `podfleet agent logs NS/POD`: a container's log from the agent on this node, with
//! kubectl's flags.

use std::path::PathBuf;

use crate::agent::{self, config};

/// `agent logs` flags (kubectl logs's).
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// NAMESPACE/NAME of the pod (manifest name or mirror name; namespace default).
    pub pod: String,
    /// The container (needed when the pod has several).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Keep streaming new lines until the container stops.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Lines of recent log to show (-1: all).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    /// Only lines newer than this duration (5s, 2m, 3h).
    #[arg(long, value_name = "DURATION", conflicts_with = "since_time")]
    pub since: Option<String>,
    /// Only lines at or after this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub since_time: Option<String>,
    /// Prefix each line with its RFC 3339 timestamp.
    #[arg(long)]
    pub timestamps: bool,
    /// The previous run of the container (after a restart).
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Stop after this many bytes.
    #[arg(long, value_name = "BYTES")]
    pub limit_bytes: Option<u64>,
    /// Agent state directory.
    #[arg(long, value_name = "DIR", env = "PODFLEET_AGENT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Percent-encode a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request path for these flags.
fn path(a: &LogsArgs) -> anyhow::Result<String> {
    let (ns, name) = a.pod.split_once('/').unwrap_or(("default", a.pod.as_str()));
    let mut q: Vec<String> = Vec::new();
    if let Some(c) = &a.container {
        q.push(format!("container={}", encode(c)));
    }
    if a.follow {
        q.push("follow=true".into());
    }
    if a.previous {
        q.push("previous=true".into());
    }
    if a.timestamps {
        q.push("timestamps=true".into());
    }
    if a.tail >= 0 {
        q.push(format!("tailLines={}", a.tail));
    }
    if let Some(s) = &a.since {
        let d = config::parse_go_duration(s)
            .ok_or_else(|| anyhow::anyhow!("--since {s:?} is not a duration like 5s, 2m or 3h"))?;
        q.push(format!("sinceSeconds={}", d.as_secs().max(1)));
    }
    if let Some(t) = &a.since_time {
        q.push(format!("sinceTime={}", encode(t)));
    }
    if let Some(n) = a.limit_bytes {
        q.push(format!("limitBytes={n}"));
    }
    Ok(format!(
        "/v1/pods/{}/{}/log?{}",
        encode(ns),
        encode(name),
        q.join("&")
    ))
}

/// Run.
pub async fn run(a: LogsArgs) -> anyhow::Result<i32> {
    let sock = a
        .state_dir
        .clone()
        .unwrap_or_else(agent::default_state_dir)
        .join("agent.sock");
    let mut out = std::io::stdout();
    let (code, body) = agent::api::unix_get_streaming(&sock, &path(&a)?, &mut out).await?;
    if code == 200 {
        return Ok(0);
    }
    anyhow::bail!("{}", String::from_utf8_lossy(&body).trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct T {
        #[command(flatten)]
        a: LogsArgs,
    }

    #[test]
    fn flags_become_the_kubelet_query() {
        let t = T::parse_from([
            "x",
            "kube-system/etcd",
            "-c",
            "main",
            "-f",
            "--tail",
            "5",
            "--since",
            "2m",
            "--timestamps",
        ]);
        assert_eq!(
            path(&t.a).unwrap(),
            "/v1/pods/kube-system/etcd/log?container=main&follow=true&timestamps=true&tailLines=5&sinceSeconds=120"
        );
        let t = T::parse_from(["x", "web", "--since-time", "2026-11-30T10:00:00+01:00"]);
        assert_eq!(
            path(&t.a).unwrap(),
            "/v1/pods/default/web/log?sinceTime=2026-11-30T10%3A00%3A00%2B01%3A00"
        );
        let t = T::parse_from(["x", "web", "--since", "soon"]);
        assert!(path(&t.a).is_err());
    }
}
