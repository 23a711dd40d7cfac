//! `podfleet agent logs NS/POD`: a container's log from the agent on this node, with
//! kubectl's flags.

use super::log_flags::{LogFlags, encode};

/// `agent logs` flags (kubectl logs's).
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// NAMESPACE/NAME of the pod (manifest name or mirror name; namespace default).
    pub pod: String,
    /// The container (needed when the pod has several).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    #[command(flatten)]
    pub flags: LogFlags,
    #[command(flatten)]
    pub dir: super::common::AgentDir,
}

/// The request path for these flags.
fn path(a: &LogsArgs) -> anyhow::Result<String> {
    let (ns, name) = a.pod.split_once('/').unwrap_or(("default", a.pod.as_str()));
    let mut q = a.flags.query(-1)?;
    if let Some(c) = &a.container {
        q.insert(0, format!("container={}", encode(c)));
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
    let sock = a.dir.socket();
    let mut resp =
        crate::unixhttp::get(&sock, &path(&a)?, "`podfleet agent` with this --agent-dir").await?;
    if resp.status != 200 {
        anyhow::bail!("{}", resp.text().await);
    }
    let mut out = std::io::stdout().lock();
    while let Some(chunk) = resp.chunk().await {
        let chunk = chunk.map_err(|e| anyhow::anyhow!("the agent broke off the log: {e}"))?;
        std::io::Write::write_all(&mut out, &chunk)?;
        std::io::Write::flush(&mut out)?;
    }
    Ok(0)
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
