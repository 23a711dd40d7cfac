//! Reading one attempt's CRI log files for a [`LogQuery`]: `--tail`, `--since`,
//! `--limit-bytes`, and `--follow` across rotations until the container stops. Runs on a
//! blocking thread and hands chunks to a bounded channel, so a slow reader slows the file
//! reading instead of growing memory.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use super::cri::{self, CriLine};
use super::{LogQuery, Printer};

/// Output is handed over in chunks of about this size.
const CHUNK: usize = 32 * 1024;
/// How often a follow looks for new lines.
const POLL: Duration = Duration::from_millis(100);

/// Where an attempt's files are and whether its container still runs.
pub struct AttemptLog {
    /// The container's log directory.
    pub dir: PathBuf,
    /// The restart attempt.
    pub attempt: u32,
    /// True while more lines may come (the container runs).
    pub running: Box<dyn Fn() -> bool + Send>,
}

/// Sends output in chunks; false once the reader is gone.
struct Sink {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Sink {
    fn push(&mut self, bytes: &[u8]) -> bool {
        self.buf.extend_from_slice(bytes);
        self.buf.len() < CHUNK || self.flush()
    }

    fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return !self.tx.is_closed();
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(Ok(chunk)).is_ok()
    }
}

/// Stream `log` for `q` into `tx` (call on a blocking thread).
pub fn stream(log: AttemptLog, q: LogQuery, tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>) {
    let mut sink = Sink {
        tx,
        buf: Vec::with_capacity(CHUNK),
    };
    let mut printer = Printer::new(&q);
    let files = cri::attempt_files(&log.dir, log.attempt);
    let mut tail: VecDeque<CriLine> = VecDeque::new();
    let mut open: Option<Follow> = None;
    for (i, path) in files.iter().enumerate() {
        let Ok(file) = File::open(path) else { continue };
        let ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
        let mut reader = BufReader::new(file);
        let mut pending = Vec::new();
        while let Some(line) = read_line(&mut reader, &mut pending) {
            if !q.wants(&line) {
                continue;
            }
            match q.tail {
                Some(n) => {
                    tail.push_back(line);
                    if tail.len() > n {
                        tail.pop_front();
                    }
                }
                None => {
                    if !printer.print(&line, &mut |b| sink.push(b)) {
                        sink.flush();
                        return;
                    }
                }
            }
        }
        if i + 1 == files.len() {
            open = Some(Follow {
                reader,
                ino,
                pending,
            });
        }
    }
    for line in tail.drain(..) {
        if !printer.print(&line, &mut |b| sink.push(b)) {
            sink.flush();
            return;
        }
    }
    if !q.follow {
        sink.flush();
        return;
    }
    let current = cri::current_file(&log.dir, log.attempt);
    loop {
        let mut progressed = false;
        if let Some(f) = open.as_mut() {
            while let Some(line) = read_line(&mut f.reader, &mut f.pending) {
                progressed = true;
                if q.wants(&line) && !printer.print(&line, &mut |b| sink.push(b)) {
                    sink.flush();
                    return;
                }
            }
        }
        // Rotated: the name now holds a new file; go on with it from its start.
        if let Ok(file) = File::open(&current) {
            let ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
            if open.as_ref().is_none_or(|f| f.ino != ino) {
                open = Some(Follow {
                    reader: BufReader::new(file),
                    ino,
                    pending: Vec::new(),
                });
                continue;
            }
        }
        if progressed {
            continue;
        }
        if !sink.flush() {
            return;
        }
        if !(log.running)() {
            // One last look: lines written just before the container stopped.
            if let Some(f) = open.as_mut() {
                while let Some(line) = read_line(&mut f.reader, &mut f.pending) {
                    if q.wants(&line) && !printer.print(&line, &mut |b| sink.push(b)) {
                        break;
                    }
                }
            }
            sink.flush();
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// The file a follow reads, and an unterminated line read so far.
struct Follow {
    reader: BufReader<File>,
    ino: u64,
    pending: Vec<u8>,
}

/// The next complete, well-formed line; None at the end of what is written so far (an
/// unterminated rest stays in `pending` for the next call). Malformed lines are skipped.
fn read_line(reader: &mut BufReader<File>, pending: &mut Vec<u8>) -> Option<CriLine> {
    loop {
        match reader.read_until(b'\n', pending) {
            Ok(0) | Err(_) => return None,
            Ok(_) if pending.last() != Some(&b'\n') => return None,
            Ok(_) => {
                let line = cri::parse_line(pending);
                pending.clear();
                if line.is_some() {
                    return line;
                }
            }
        }
    }
}
