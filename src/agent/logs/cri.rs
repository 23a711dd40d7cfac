//! The CRI container log format the kubelet reads (`<RFC3339Nano> <stream> <F|P> <content>`),
//! and a writer that rotates files by size like the kubelet's `containerLogMaxSize` /
//! `containerLogMaxFiles`. Formatting, parsing and line splitting are pure.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

/// Longest line kept whole; longer output is split into partial (`P`) lines, as CRI runtimes
/// do, so one endless line cannot grow memory.
pub const MAX_LINE: usize = 16 * 1024;

/// stdout or stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One parsed log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriLine {
    /// When the runtime read it.
    pub time: Timestamp,
    /// Which stream.
    pub stream: Stream,
    /// True for a partial line (`P`): the next line continues it.
    pub partial: bool,
    /// The content without the trailing newline.
    pub content: Vec<u8>,
}

/// The RFC 3339 form with nanoseconds the kubelet writes (`2026-11-30T10:00:00.123456789Z`).
pub fn rfc3339_nano(t: Timestamp) -> String {
    format!("{t:.9}")
}

/// Format one line (`content` without its newline).
pub fn format_line(time: Timestamp, stream: Stream, partial: bool, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 48);
    out.extend_from_slice(rfc3339_nano(time).as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(if partial { b" P " } else { b" F " });
    out.extend_from_slice(content);
    out.push(b'\n');
    out
}

/// Parse one line of a CRI log file (with or without its newline); None if malformed.
pub fn parse_line(line: &[u8]) -> Option<CriLine> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time: Timestamp = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(CriLine {
        time,
        stream,
        partial,
        content: parts.next().unwrap_or_default().to_vec(),
    })
}

/// Splits a byte stream into lines: complete lines, and pieces of [`MAX_LINE`] bytes of an
/// overlong line (partial). Whatever is left at the end is flushed as a complete line.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
}

impl LineSplitter {
    /// Feed bytes; returns `(partial, content)` for every line they complete.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<(bool, Vec<u8>)> {
        let mut out = Vec::new();
        while !data.is_empty() {
            match data.iter().position(|b| *b == b'\n') {
                Some(i) if self.buf.len() + i <= MAX_LINE => {
                    self.buf.extend_from_slice(&data[..i]);
                    out.push((false, std::mem::take(&mut self.buf)));
                    data = &data[i + 1..];
                }
                _ => {
                    let room = MAX_LINE - self.buf.len();
                    let take = room.min(data.len());
                    self.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.buf.len() == MAX_LINE {
                        out.push((true, std::mem::take(&mut self.buf)));
                    }
                }
            }
        }
        out
    }

    /// The unterminated rest, if any (the stream ended).
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf))
    }
}

/// The file of restart attempt `attempt` in a container's log directory.
pub fn current_file(dir: &Path, attempt: u32) -> PathBuf {
    dir.join(format!("{attempt}.log"))
}

/// Every file of an attempt, oldest first: rotated files (`N.log.<seq>`, by sequence) then the
/// current one (if it exists).
pub fn attempt_files(dir: &Path, attempt: u32) -> Vec<PathBuf> {
    let prefix = format!("{attempt}.log.");
    let mut rotated: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let seq = name.strip_prefix(&prefix)?.parse().ok()?;
            Some((seq, e.path()))
        })
        .collect();
    rotated.sort();
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    let current = current_file(dir, attempt);
    if current.exists() {
        files.push(current);
    }
    files
}

/// Writes one attempt's log, rotating by size: at most `max_files` files (the current one
/// included) of about `max_size` bytes each.
pub struct CriWriter {
    dir: PathBuf,
    attempt: u32,
    max_size: u64,
    max_files: usize,
    file: File,
    size: u64,
    next_seq: u64,
}

impl CriWriter {
    /// Open (append to) `<dir>/<attempt>.log`.
    pub fn open(
        dir: &Path,
        attempt: u32,
        max_size: u64,
        max_files: usize,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = current_file(dir, attempt);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        let next_seq = attempt_files(dir, attempt)
            .iter()
            .filter_map(|p| p.extension()?.to_str()?.parse::<u64>().ok())
            .max()
            .map_or(1, |s| s + 1);
        Ok(CriWriter {
            dir: dir.to_path_buf(),
            attempt,
            max_size: max_size.max(1024),
            max_files: max_files.max(1),
            file,
            size,
            next_seq,
        })
    }

    /// Append one line, rotating first if the file is full.
    pub fn write_line(
        &mut self,
        time: Timestamp,
        stream: Stream,
        partial: bool,
        content: &[u8],
    ) -> std::io::Result<()> {
        let line = format_line(time, stream, partial, content);
        if self.size > 0 && self.size + line.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(&line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let current = current_file(&self.dir, self.attempt);
        if self.max_files > 1 {
            let rotated = self
                .dir
                .join(format!("{}.log.{}", self.attempt, self.next_seq));
            self.next_seq += 1;
            std::fs::rename(&current, rotated)?;
            let files = attempt_files(&self.dir, self.attempt);
            // All rotated files are in `files` (the current one was just renamed away).
            let excess = (files.len() + 1).saturating_sub(self.max_files);
            for old in files.iter().take(excess) {
                let _ = std::fs::remove_file(old);
            }
        } else {
            std::fs::remove_file(&current)?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&current)?;
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn lines_round_trip_in_the_kubelet_format() {
        let line = format_line(t("2026-11-30T10:00:00.5Z"), Stream::Stderr, false, b"a b c");
        assert_eq!(line, b"2026-11-30T10:00:00.500000000Z stderr F a b c\n");
        let parsed = parse_line(&line).unwrap();
        assert_eq!(parsed.stream, Stream::Stderr);
        assert!(!parsed.partial);
        assert_eq!(parsed.content, b"a b c");
        assert_eq!(parsed.time, t("2026-11-30T10:00:00.5Z"));
        let empty = parse_line(b"2026-11-30T10:00:00Z stdout P \n").unwrap();
        assert!(empty.partial && empty.content.is_empty());
        assert!(parse_line(b"garbage").is_none());
        assert!(parse_line(b"2026-11-30T10:00:00Z stdin F x").is_none());
    }

    #[test]
    fn the_splitter_keeps_lines_whole_and_splits_endless_ones() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"one\ntw"), vec![(false, b"one".to_vec())]);
        assert_eq!(
            s.push(b"o\n\n"),
            vec![(false, b"two".to_vec()), (false, vec![])]
        );
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let out = s.push(&long);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|(p, c)| *p && c.len() == MAX_LINE));
        assert_eq!(s.push(b"\n"), vec![(false, vec![b'x'; 10])]);
        s.push(b"tail");
        assert_eq!(s.finish(), Some(b"tail".to_vec()));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn the_writer_rotates_and_keeps_at_most_max_files() {
        let d = tempfile::tempdir().unwrap();
        let mut w = CriWriter::open(d.path(), 2, 4096, 3).unwrap();
        let now = Timestamp::now();
        for i in 0..1000 {
            w.write_line(now, Stream::Stdout, false, format!("line {i}").as_bytes())
                .unwrap();
        }
        let files = attempt_files(d.path(), 2);
        assert_eq!(files.len(), 3, "{files:?}");
        assert_eq!(files[2], current_file(d.path(), 2));
        for f in &files {
            assert!(std::fs::metadata(f).unwrap().len() <= 4096);
        }
        // The newest line is last in the current file; rotated files are in order.
        let all: Vec<u8> = files
            .iter()
            .flat_map(|f| std::fs::read(f).unwrap())
            .collect();
        let text = String::from_utf8(all).unwrap();
        let nums: Vec<u32> = text
            .lines()
            .map(|l| parse_line(l.as_bytes()).unwrap())
            .map(|l| String::from_utf8(l.content).unwrap()[5..].parse().unwrap())
            .collect();
        assert_eq!(*nums.last().unwrap(), 999);
        assert!(nums.windows(2).all(|w| w[1] == w[0] + 1));
        // Reopening continues the sequence.
        drop(w);
        let mut w = CriWriter::open(d.path(), 2, 4096, 3).unwrap();
        for _ in 0..200 {
            w.write_line(now, Stream::Stdout, false, b"more").unwrap();
        }
        assert_eq!(attempt_files(d.path(), 2).len(), 3);
    }
}
