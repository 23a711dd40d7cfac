//! Container logs, kubelet-style: the query (`--tail`, `--since`, `--timestamps`, `--limit-bytes`,
//! `--follow`) and how a line is printed (which container run a request means is
//! `agent::pod_logs`). The process runtime writes CRI log files
//! ([`cri`]) read by [`files`]; the docker runtime asks the engine. See
//! `docs/ARCHITECTURE.md`.

pub mod cri;
pub mod files;

use futures::stream::BoxStream;
use jiff::Timestamp;

/// A log as a stream of byte chunks.
pub type LogStream = BoxStream<'static, std::io::Result<bytes::Bytes>>;

/// Size limits of the process runtime's log files (the kubelet's `containerLogMaxSize`,
/// `containerLogMaxFiles`; the docker runtime passes them to the json-file driver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Rotate a container's log file at this size (bytes).
    pub max_size: u64,
    /// Keep at most this many files per container run, the current one included.
    pub max_files: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            max_size: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// A byte size that cannot be read (the message says why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSize(pub String);

/// Parse a Kubernetes quantity of bytes as the kubelet config takes it (`10Mi`, `500Ki`,
/// `1G`, `1048576`).
pub fn parse_size(s: &str) -> Result<u64, InvalidSize> {
    size_bytes(s).map_err(InvalidSize)
}

fn size_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?} (e.g. 10Mi, 512Ki, 1048576)"))?;
    let mult: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "K" | "k" => 1000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => return Err(format!("invalid size {s:?}: unknown unit {unit:?}")),
    };
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("invalid size {s:?}"))
}

/// What to read of a log (the query parameters of the kubelet's and API server's
/// `pods/log`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Keep streaming new lines until the container stops.
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<usize>,
    /// Only lines at or after this time.
    pub since: Option<Timestamp>,
    /// Prefix each line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// Stop after this many bytes.
    pub limit_bytes: Option<u64>,
}

impl LogQuery {
    /// Whether a line passes the `since` filter.
    pub fn wants(&self, line: &cri::CriLine) -> bool {
        self.since.is_none_or(|s| line.time >= s)
    }
}

/// Prints lines for a query, counting `--limit-bytes`.
pub struct Printer {
    timestamps: bool,
    left: Option<u64>,
}

impl Printer {
    /// A printer for `q`.
    pub fn new(q: &LogQuery) -> Self {
        Printer {
            timestamps: q.timestamps,
            left: q.limit_bytes,
        }
    }

    /// Print one line through `out`; false when output must stop (limit reached, or `out`
    /// said the reader is gone).
    pub fn print(&mut self, line: &cri::CriLine, out: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let mut text = Vec::with_capacity(line.content.len() + 40);
        if self.timestamps {
            text.extend_from_slice(cri::rfc3339_nano(line.time).as_bytes());
            text.push(b' ');
        }
        text.extend_from_slice(&line.content);
        if !line.partial {
            text.push(b'\n');
        }
        match self.left {
            None => out(&text),
            Some(0) => false,
            Some(left) => {
                let n = (left as usize).min(text.len());
                self.left = Some(left - n as u64);
                out(&text[..n]) && self.left != Some(0)
            }
        }
    }
}

/// The directory of one container's logs: `<root>/pods/<ns>_<pod>_<uid>/<container>`, as
/// the kubelet lays them out under `/var/log/pods`.
pub fn container_log_dir(
    root: &std::path::Path,
    namespace: &str,
    pod: &str,
    uid: &str,
    container: &str,
) -> std::path::PathBuf {
    root.join("pods")
        .join(format!("{namespace}_{pod}_{uid}"))
        .join(container)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(content: &str, partial: bool) -> cri::CriLine {
        cri::CriLine {
            time: "2026-11-30T10:00:00Z".parse().unwrap(),
            stream: cri::Stream::Stdout,
            partial,
            content: content.as_bytes().to_vec(),
        }
    }

    fn printed(q: &LogQuery, lines: &[cri::CriLine]) -> String {
        let mut p = Printer::new(q);
        let mut out = Vec::new();
        for l in lines {
            if !p.print(l, &mut |b| {
                out.extend_from_slice(b);
                true
            }) {
                break;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_print_with_timestamps_partials_and_a_byte_limit() {
        let lines = [line("one", false), line("tw", true), line("o", false)];
        assert_eq!(printed(&LogQuery::default(), &lines), "one\ntwo\n");
        let q = LogQuery {
            timestamps: true,
            ..Default::default()
        };
        assert!(printed(&q, &lines[..1]).starts_with("2026-11-30T10:00:00.000000000Z one\n"));
        let q = LogQuery {
            limit_bytes: Some(5),
            ..Default::default()
        };
        assert_eq!(printed(&q, &lines), "one\nt");
    }

    #[test]
    fn sizes_parse_like_the_kubelet_config() {
        assert_eq!(parse_size("10Mi"), Ok(10 << 20));
        assert_eq!(parse_size("512Ki"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("1M"), Ok(1_000_000));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("10Xi").is_err());
        assert!(parse_size("0").is_err());
    }
}
