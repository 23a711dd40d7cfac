//! `podfleet logs`: container logs from the whole fleet through the running coordinator
//! (each node's agent streams them over its tunnel), one pod or every pod a selector
//! matches, each line prefixed `[node/pod/container]` as `kubectl logs -l --prefix` and
//! stern do.

use std::io::Write as _;

use tokio::sync::mpsc;

use super::Globals;
use super::log_flags::{LogFlags, encode};
use crate::coordinator::api::socket_path;
use crate::coordinator::logs_api::LogTarget;

/// Arguments (kubectl logs's, except that -l is podfleet's host limit).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pod (manifest or mirror name); without it, every pod --selector matches.
    pub pod: Option<String>,
    /// Label selector (kubectl's -l; here -l limits the nodes, as everywhere in podfleet).
    #[arg(long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Namespace (default: default).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// The container (default: each pod's only or first container).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Every container of each pod.
    #[arg(long, conflicts_with = "container")]
    pub all_containers: bool,
    /// Prefix each line with [node/pod/container] (default with --selector or several
    /// containers).
    #[arg(long)]
    pub prefix: bool,
    #[command(flatten)]
    pub flags: LogFlags,
    /// At most this many concurrent streams with --follow.
    #[arg(long, default_value_t = 16)]
    pub max_log_requests: usize,
}

/// One container's stream: where it is and how its lines are prefixed.
struct Source {
    target: LogTarget,
    container: String,
}

impl Source {
    fn label(&self) -> String {
        format!(
            "{}/{}/{}",
            self.target.node, self.target.pod, self.container
        )
    }
}

/// Run.
pub async fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let state = g.state_dir();
    let socket = socket_path(&state);
    if crate::coordinator::client::running(&state).await.is_none() {
        anyhow::bail!(
            "podfleet logs reads through the running coordinator (podfleet serve with --state-dir {}); on a node, use podfleet agent logs",
            state.display()
        );
    }
    let namespace = if a.all_namespaces {
        String::new()
    } else {
        a.namespace.clone().unwrap_or_else(|| "default".into())
    };
    if a.pod.is_none() && a.selector.is_none() {
        anyhow::bail!("give a POD or --selector (e.g. --selector app=web)");
    }
    let path = format!(
        "/v1/logs/targets?namespace={}&labelSelector={}",
        encode(&namespace),
        encode(a.selector.as_deref().unwrap_or(""))
    );
    let mut targets: Vec<LogTarget> = match &a.pod {
        Some(pod) => {
            // The manifest name (<name>-<node> on each node) or the mirror name.
            let mut found = fetch_targets(&socket, &format!("{path}&pod={}", encode(pod))).await?;
            if found.is_empty() {
                found = fetch_targets(&socket, &path)
                    .await?
                    .into_iter()
                    .filter(|t| t.pod == format!("{pod}-{}", t.node))
                    .collect();
            }
            if found.is_empty() {
                anyhow::bail!("pods \"{pod}\" not found");
            }
            found
        }
        None => fetch_targets(&socket, &path).await?,
    };
    if let Some(limit) = &g.limit {
        let fleet = g.fleet()?;
        let (hosts, _) = fleet.select(Some(limit))?;
        targets.retain(|t| hosts.contains(&t.node));
    }
    if targets.is_empty() {
        eprintln!("No resources found");
        return Ok(0);
    }
    let mut sources = Vec::new();
    for t in &targets {
        let names: Vec<String> = match (&a.container, a.all_containers) {
            (Some(c), _) => vec![c.clone()],
            (None, true) => t.containers.clone(),
            (None, false) => t.containers.first().cloned().into_iter().collect(),
        };
        for container in names {
            sources.push(Source {
                target: t.clone(),
                container,
            });
        }
    }
    if a.flags.follow && sources.len() > a.max_log_requests {
        anyhow::bail!(
            "you are attempting to follow {} log streams, but maximum allowed concurrency is {}, use --max-log-requests to increase the limit",
            sources.len(),
            a.max_log_requests
        );
    }
    let prefixed = a.prefix || a.selector.is_some() || sources.len() > 1;
    // kubectl shows the last 10 lines of each pod with a selector.
    let query = a.flags.query(if a.selector.is_some() { 10 } else { -1 })?;
    stream_all(&socket, sources, &query, prefixed, a.flags.follow).await
}

async fn fetch_targets(socket: &std::path::Path, path: &str) -> anyhow::Result<Vec<LogTarget>> {
    let resp = crate::unixhttp::get(socket, path, "podfleet serve").await?;
    let status = resp.status;
    let body = resp.text().await;
    if status != 200 {
        anyhow::bail!("{body}");
    }
    Ok(serde_json::from_str(&body)?)
}

/// Read every source concurrently (at most 16 at once without --follow); print whole lines,
/// prefixed when `prefixed`. Exit 1 if any stream failed.
async fn stream_all(
    socket: &std::path::Path,
    sources: Vec<Source>,
    query: &[String],
    prefixed: bool,
    follow: bool,
) -> anyhow::Result<i32> {
    let color = super::common::color();
    let (tx, mut rx) = mpsc::channel::<(usize, Result<Vec<u8>, String>)>(64);
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(if follow {
        sources.len().max(1)
    } else {
        16
    }));
    let labels: Vec<String> = sources.iter().map(Source::label).collect();
    for (i, s) in sources.into_iter().enumerate() {
        let mut q = query.to_vec();
        q.push(format!("container={}", encode(&s.container)));
        let path = format!(
            "/v1/pods/{}/{}/log?{}",
            encode(&s.target.namespace),
            encode(&s.target.pod),
            q.join("&")
        );
        let (tx, socket, permits) = (tx.clone(), socket.to_path_buf(), permits.clone());
        let node = s.target.node.clone();
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = async {
                let mut resp = crate::unixhttp::get(&socket, &path, "podfleet serve")
                    .await
                    .map_err(|e| e.to_string())?;
                if resp.status != 200 {
                    return Err(resp.text().await);
                }
                let mut partial = Vec::new();
                while let Some(chunk) = resp.chunk().await {
                    // The coordinator cannot say why mid-body; name both candidates.
                    let chunk = chunk.map_err(|_| {
                        format!(
                            "the log broke off before its end: the agent on node {node} or the coordinator went away"
                        )
                    })?;
                    partial.extend_from_slice(&chunk);
                    // Hand over whole lines only, so prefixed lines never interleave.
                    if let Some(end) = partial.iter().rposition(|b| *b == b'\n') {
                        let rest = partial.split_off(end + 1);
                        let lines = std::mem::replace(&mut partial, rest);
                        if tx.send((i, Ok(lines))).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                if !partial.is_empty() {
                    let _ = tx.send((i, Ok(partial))).await;
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                let _ = tx.send((i, Err(e))).await;
            }
        });
    }
    drop(tx);
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    while let Some((i, item)) = rx.recv().await {
        match item {
            Ok(bytes) if prefixed => {
                let label = paint(&format!("[{}]", labels[i]), i, color);
                for line in bytes.split_inclusive(|b| *b == b'\n') {
                    out.write_all(label.as_bytes())?;
                    out.write_all(b" ")?;
                    out.write_all(line)?;
                }
            }
            Ok(bytes) => out.write_all(&bytes)?,
            Err(e) => {
                failed = true;
                out.flush()?;
                eprintln!("error: {}: {e}", labels[i]);
            }
        }
        out.flush()?;
    }
    Ok(i32::from(failed))
}

/// A prefix in one of six colours, picked by the source's index.
fn paint(s: &str, i: usize, color: bool) -> String {
    if !color {
        return s.to_string();
    }
    const COLORS: [u8; 6] = [32, 33, 34, 35, 36, 31];
    format!("\x1b[{}m{s}\x1b[0m", COLORS[i % COLORS.len()])
}
