//! The log flags `podfleet agent logs` and `podfleet logs` share with `kubectl logs`, and the
//! `pods/log` query they become.

use crate::agent::config::parse_go_duration;

/// kubectl logs's flags (without -c and the selection flags).
#[derive(Debug, Clone, clap::Args)]
pub struct LogFlags {
    /// Keep streaming new lines until the container stops.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Lines of recent log to show (-1: all).
    #[arg(long, allow_negative_numbers = true)]
    pub tail: Option<i64>,
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
}

/// Percent-encode a query value.
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl LogFlags {
    /// The query parameters; `--tail` defaults to `default_tail` (-1: all lines).
    pub fn query(&self, default_tail: i64) -> anyhow::Result<Vec<String>> {
        let mut q = Vec::new();
        if self.follow {
            q.push("follow=true".to_string());
        }
        if self.previous {
            q.push("previous=true".into());
        }
        if self.timestamps {
            q.push("timestamps=true".into());
        }
        let tail = self.tail.unwrap_or(default_tail);
        if tail >= 0 {
            q.push(format!("tailLines={tail}"));
        }
        if let Some(s) = &self.since {
            let d = parse_go_duration(s).ok_or_else(|| {
                anyhow::anyhow!("--since {s:?} is not a duration like 5s, 2m or 3h")
            })?;
            q.push(format!("sinceSeconds={}", d.as_secs().max(1)));
        }
        if let Some(t) = &self.since_time {
            q.push(format!("sinceTime={}", encode(t)));
        }
        if let Some(n) = self.limit_bytes {
            q.push(format!("limitBytes={n}"));
        }
        Ok(q)
    }
}
