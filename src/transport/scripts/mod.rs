//! The node-side protocol: POSIX `sh` scripts podfleet runs on a node, and parsers for
//! what they print. Pure text in, text out: unit-tested without a node.
//!
//! Only `sh` and coreutils (`stat`, `cat`, `wc`, `base64`, `sha256sum`, `mv`, `sync`) are
//! needed on the node. The rules every script follows:
//! * every path is written `./name` (or after `--`), so no name is ever read as an option;
//! * temporary files are `.podfleet-<n>.tmp`, removed first and created exclusively
//!   (`set -C`, so a planted symlink is never followed), with their final mode from the
//!   start, and removed on every way out;
//! * each file is fsynced and renamed over its target, then the directory is fsynced: a
//!   reader sees the old or the new file, never a partial one;
//! * the apply script is one shell function, so a script cut off in transit runs nothing;
//! * the lock records the node-side shell (pid, start time, boot id), so a later push can
//!   tell on the node itself that a holder is gone and take the lock over.

mod apply;
mod errors;
mod install;
mod lock;
mod read;
#[cfg(test)]
mod tests;

pub use apply::{ApplyBatch, ApplyOutcome, FileWrite, apply_script, parse_apply};
pub use errors::{IoCause, ScriptError, op_words};
pub use install::install_files_script;
pub use read::{parse_read, read_script};

pub use crate::nodedir::{LOCK_DIR, LockInfo, NodeRecord, ObservedDir, ObservedFile, RECORD_FILE};

/// Exit status of the apply script when another push holds the lock.
pub const EXIT_LOCKED: i32 = 75;
/// Exit status of the apply script when the directory changed since it was read.
pub const EXIT_CHANGED: i32 = 76;
/// Exit status of a script when a file operation failed (a `FAIL` line says which).
pub const EXIT_FAILED: i32 = 5;

/// Quote a string for `sh` with single quotes.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `./name`, quoted: a path in the current directory that no command reads as an option.
pub fn here(name: &str) -> String {
    sh_quote(&format!("./{name}"))
}
