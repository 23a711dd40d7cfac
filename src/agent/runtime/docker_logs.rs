//! Container logs from the Docker Engine (the json-file driver, rotated by the engine with
//! the agent's `--container-log-max-size/-files`), turned into the same output as the
//! process runtime's CRI files.

use std::collections::HashMap;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::HostConfigLogConfig;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt as _;

use crate::agent::logs::cri::{CriLine, Stream};
use crate::agent::logs::{LogLimits, LogQuery, LogStream, Printer};

/// Output is handed on in chunks of about this size.
const CHUNK: usize = 32 * 1024;

/// The json-file driver with the kubelet-style size limits.
pub fn log_config(limits: LogLimits) -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("json-file".into()),
        config: Some(HashMap::from([
            ("max-size".to_string(), limits.max_size.to_string()),
            ("max-file".to_string(), limits.max_files.max(1).to_string()),
        ])),
    }
}

/// One frame of `docker logs --timestamps` (`<RFC3339Nano> <content>[\n]`) as a line; a
/// frame without its newline is a partial line (the engine splits lines over 16 KiB).
pub fn frame_line(frame: &[u8], stream: Stream) -> Option<CriLine> {
    let space = frame.iter().position(|b| *b == b' ')?;
    let time = std::str::from_utf8(&frame[..space]).ok()?.parse().ok()?;
    let rest = &frame[space + 1..];
    let (content, partial) = match rest.strip_suffix(b"\n") {
        Some(c) => (c, false),
        None => (rest, true),
    };
    Some(CriLine {
        time,
        stream,
        partial,
        content: content.to_vec(),
    })
}

/// Stream a container's log for `q`. Frames are read only as fast as the reader takes
/// them (a bounded channel), and stop when the reader goes away.
pub fn stream(docker: &Docker, id: &str, q: &LogQuery) -> LogStream {
    // Without --since or --timestamps the engine's bytes pass through as they are (the
    // fast path: no timestamps to format, parse and strip per line).
    let raw = q.since.is_none() && !q.timestamps;
    let mut b = LogsOptionsBuilder::new()
        .follow(q.follow)
        .stdout(true)
        .stderr(true)
        .timestamps(!raw);
    if let Some(n) = q.tail {
        b = b.tail(&n.to_string());
    }
    if let Some(s) = q.since {
        // Whole seconds for the engine; the exact cut is made below.
        b = b.since(s.as_second().clamp(0, i64::from(i32::MAX)) as i32);
    }
    let mut frames = docker.logs(id, Some(b.build()));
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let q = q.clone();
    tokio::spawn(async move {
        let mut printer = Printer::new(&q);
        let mut left = q.limit_bytes;
        while let Some(first) = frames.next().await {
            // Take every frame that is ready, up to a chunk: one send per ~32 KiB, not per
            // line (a fast log is a million frames).
            let mut batch = vec![first];
            let mut size = 0usize;
            while size < CHUNK {
                match futures::FutureExt::now_or_never(frames.next()) {
                    Some(Some(item)) => {
                        size += item.as_ref().map_or(0, |o| o.as_ref().len());
                        batch.push(item);
                    }
                    Some(None) | None => break,
                }
            }
            let mut buf = Vec::with_capacity(size + 256);
            let mut go_on = true;
            for item in batch {
                let (stream, message) = match item {
                    Ok(LogOutput::StdErr { message }) => (Stream::Stderr, message),
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        (Stream::Stdout, message)
                    }
                    Ok(LogOutput::StdIn { .. }) => continue,
                    Err(e) => {
                        let _ = tx.send(Err(std::io::Error::other(e))).await;
                        return;
                    }
                };
                if raw {
                    let n = left.map_or(message.len(), |l| (l as usize).min(message.len()));
                    buf.extend_from_slice(&message[..n]);
                    if let Some(l) = left.as_mut() {
                        *l -= n as u64;
                        if *l == 0 {
                            go_on = false;
                            break;
                        }
                    }
                    continue;
                }
                let Some(line) = frame_line(&message, stream) else {
                    continue;
                };
                if q.wants(&line)
                    && !printer.print(&line, &mut |b| {
                        buf.extend_from_slice(b);
                        true
                    })
                {
                    go_on = false;
                    break;
                }
            }
            if !buf.is_empty() && tx.send(Ok(buf.into())).await.is_err() {
                return;
            }
            if !go_on {
                return;
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_frames_become_lines() {
        let l = frame_line(
            b"2026-11-30T10:00:00.000000001Z hello world\n",
            Stream::Stdout,
        )
        .unwrap();
        assert_eq!(l.content, b"hello world");
        assert!(!l.partial);
        let p = frame_line(b"2026-11-30T10:00:00Z part", Stream::Stderr).unwrap();
        assert!(p.partial);
        assert_eq!(p.stream, Stream::Stderr);
        assert!(frame_line(b"no-timestamp here\n", Stream::Stdout).is_none());
    }
}
