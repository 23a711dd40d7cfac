//! Error type of the crate.
//!
//! Every error that comes from a file names that file and, where one is known, the 1-based line,
//! as `path:line: message`. Messages reuse ansible-core's wording where ansible-core has one.

use std::fmt;
use std::path::{Path, PathBuf};

/// Formats `path` or `path:line`.
struct Location<'a>(&'a Path, Option<usize>);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(line) => write!(f, "{}:{}", self.0.display(), line),
            None => write!(f, "{}", self.0.display()),
        }
    }
}

/// Everything that can go wrong while loading an inventory or evaluating a pattern.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// An inventory source given to [`crate::Inventory::load`] does not exist.
    #[error("{}: inventory source does not exist", path.display())]
    SourceNotFound {
        /// The missing source.
        path: PathBuf,
    },
    /// A syntax or structure error in an inventory source or vars file.
    #[error("{}: {message}", Location(path, *line))]
    Parse {
        /// The file that failed to parse.
        path: PathBuf,
        /// 1-based line of the problem, where known.
        line: Option<usize>,
        /// What is wrong, in ansible-core's words where it has them.
        message: String,
    },
    /// A file, or a value in it, is encrypted with Ansible Vault and could not be decrypted
    /// (no vault password was given, or none of them fits).
    #[error("{}: cannot decrypt {what}: {reason}", Location(path, *line))]
    Vault {
        /// The file holding the encrypted data.
        path: PathBuf,
        /// 1-based line of the `!vault` value, where known.
        line: Option<usize>,
        /// "the whole file" or "the vaulted value of variable 'NAME'".
        what: String,
        /// Ansible's message, e.g. "Attempting to decrypt but no vault secrets found."
        reason: String,
    },
    /// A vault password file or script could not be used (Ansible's message).
    #[error("{0}")]
    VaultSecret(String),
    /// No inventory plugin could parse a source (strict loading): a directory without any
    /// inventory file, or a file no reader accepts.
    #[error("Completely failed to parse inventory source {0}")]
    Unparsed(String),
    /// A value cannot be written in the requested output format (e.g. `null` in TOML).
    #[error("{0}")]
    Output(String),
    /// A YAML file that configures an inventory plugin (`plugin: NAME`), which is not supported.
    #[error(
        "{}: inventory plugin configuration file (plugin: {plugin}) is not supported; only INI, YAML/JSON and script inventories can be read",
        path.display()
    )]
    PluginConfig {
        /// The plugin configuration file.
        path: PathBuf,
        /// The value of its `plugin:` key.
        plugin: String,
    },
    /// An inventory script failed or printed something that is not an inventory.
    #[error("{}: {message}", path.display())]
    Script {
        /// The script.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Two inventory pieces cannot be combined (e.g. a group cycle or a vars file that is not a mapping).
    #[error("{0}")]
    Inventory(String),
    /// A host pattern could not be evaluated.
    #[error("{0}")]
    Pattern(String),
    /// `host_vars`/`var_layers` was asked about a host that is not in the inventory.
    #[error("You must pass a single valid host to --host parameter (unknown host {0:?})")]
    UnknownHost(String),
    /// `graph` was asked to start at a group that does not exist.
    #[error("Pattern must be valid group name when using --graph (unknown group {0:?})")]
    UnknownGroup(String),
}

impl Error {
    /// Shorthand for a [`Error::Parse`].
    pub(crate) fn parse(path: &Path, line: Option<usize>, message: impl Into<String>) -> Error {
        Error::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// Shorthand for an [`Error::Io`].
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The file this error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::SourceNotFound { path }
            | Error::Parse { path, .. }
            | Error::Vault { path, .. }
            | Error::PluginConfig { path, .. }
            | Error::Script { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The message without the file and line prefix (for Ansible-style reports).
    pub fn message(&self) -> String {
        match self {
            Error::Parse { message, .. } | Error::Script { message, .. } => message.clone(),
            Error::Vault { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }

    /// The 1-based line this error is about, if known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Error::Parse { line, .. } | Error::Vault { line, .. } => *line,
            _ => None,
        }
    }
}

impl Clone for Error {
    fn clone(&self) -> Self {
        match self {
            Error::Io { path, source } => Error::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Error::SourceNotFound { path } => Error::SourceNotFound { path: path.clone() },
            Error::Parse {
                path,
                line,
                message,
            } => Error::Parse {
                path: path.clone(),
                line: *line,
                message: message.clone(),
            },
            Error::Vault {
                path,
                line,
                what,
                reason,
            } => Error::Vault {
                path: path.clone(),
                line: *line,
                what: what.clone(),
                reason: reason.clone(),
            },
            Error::VaultSecret(m) => Error::VaultSecret(m.clone()),
            Error::Unparsed(m) => Error::Unparsed(m.clone()),
            Error::Output(m) => Error::Output(m.clone()),
            Error::PluginConfig { path, plugin } => Error::PluginConfig {
                path: path.clone(),
                plugin: plugin.clone(),
            },
            Error::Script { path, message } => Error::Script {
                path: path.clone(),
                message: message.clone(),
            },
            Error::Inventory(m) => Error::Inventory(m.clone()),
            Error::Pattern(m) => Error::Pattern(m.clone()),
            Error::UnknownHost(m) => Error::UnknownHost(m.clone()),
            Error::UnknownGroup(m) => Error::UnknownGroup(m.clone()),
        }
    }
}
