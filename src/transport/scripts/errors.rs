//! What went wrong on a node, named by its cause (EROFS, EACCES, ENOSPC, ENOENT, …).
//!
//! The node scripts print `FAIL <operation> <path>` on stdout; the failing command's own
//! message (coreutils and `sh` print `strerror` text) arrives on stderr and is classified here.

use std::fmt;

/// The cause of a failed file operation on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoCause {
    /// The errno name, when the message was recognised.
    pub errno: Option<&'static str>,
    /// The node's own words (trimmed, one line).
    pub text: String,
}

/// strerror texts (glibc, musl and busybox agree on these) and their errno names.
const KNOWN: [(&str, &str, &str); 9] = [
    ("Read-only file system", "EROFS", "Read-only file system"),
    ("Permission denied", "EACCES", "Permission denied"),
    (
        "Operation not permitted",
        "EPERM",
        "Operation not permitted",
    ),
    (
        "No space left on device",
        "ENOSPC",
        "No space left on device",
    ),
    ("Disk quota exceeded", "EDQUOT", "Disk quota exceeded"),
    (
        "No such file or directory",
        "ENOENT",
        "No such file or directory",
    ),
    ("Not a directory", "ENOTDIR", "Not a directory"),
    ("File exists", "EEXIST", "File exists"),
    ("Input/output error", "EIO", "Input/output error"),
];

impl IoCause {
    /// Classify a node's error output.
    pub fn classify(stderr: &str) -> IoCause {
        let text = stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("")
            .to_string();
        for (needle, errno, _) in KNOWN {
            if stderr.contains(needle) {
                return IoCause {
                    errno: Some(errno),
                    text,
                };
            }
        }
        IoCause { errno: None, text }
    }
}

impl fmt::Display for IoCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            Some(errno) => {
                let words = KNOWN
                    .iter()
                    .find(|k| k.1 == errno)
                    .map(|k| k.2)
                    .unwrap_or(errno);
                write!(f, "{words} ({errno})")?;
                if errno == "EEXIST" {
                    f.write_str("; something else created podfleet's temporary file meanwhile")?;
                }
                Ok(())
            }
            None if self.text.is_empty() => f.write_str("unknown error"),
            None => f.write_str(&self.text),
        }
    }
}

/// Why a node script did not do its job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// A file operation failed on the node.
    #[error("cannot {op} {path}: {cause}")]
    Io {
        /// What was attempted (`write`, `create the directory`, `lock`, …).
        op: String,
        /// The path (relative names are in the manifest directory).
        path: String,
        /// Why.
        cause: IoCause,
    },
    /// The node answered something podfleet does not understand.
    #[error("unexpected output from the node: {0}")]
    Protocol(String),
    /// Anything else, in the node's words.
    #[error("{0}")]
    Other(String),
}

/// Words for a `FAIL` operation code.
pub fn op_words(op: &str) -> &'static str {
    match op {
        "mkdir" => "create the directory",
        "cd" => "enter the directory",
        "lock" => "create the lock in",
        "write" => "write",
        "chmod" => "set the mode of",
        "mv" => "rename into place",
        "rm" => "delete",
        "read" => "read",
        _ => "change",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_errors() {
        let c = IoCause::classify(
            "mkdir: cannot create directory '.podfleet.lock': Read-only file system\n",
        );
        assert_eq!(c.errno, Some("EROFS"));
        assert_eq!(c.to_string(), "Read-only file system (EROFS)");
        let c = IoCause::classify(
            "dash: 1: printf: I/O error\ncat: write error: No space left on device\n",
        );
        assert_eq!(c.errno, Some("ENOSPC"));
        assert_eq!(
            IoCause::classify("sh: 1: cannot create ./x: Permission denied").errno,
            Some("EACCES")
        );
        assert_eq!(
            IoCause::classify("cd: can't cd to /x: No such file or directory").errno,
            Some("ENOENT")
        );
        let c = IoCause::classify("weird thing\n");
        assert_eq!((c.errno, c.to_string()), (None, "weird thing".into()));
    }
}
