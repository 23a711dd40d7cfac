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
    /// A file (or a value in it) is encrypted with Ansible Vault; this crate never decrypts.
    #[error(
        "{}: {what} is encrypted with Ansible Vault and cannot be read (ansible-compat does not decrypt vault data; decrypt it or move it out of the inventory)",
        Location(path, *line)
    )]
    Vault {
        /// The file holding the encrypted data.
        path: PathBuf,
        /// 1-based line of the `!vault` value or of the `$ANSIBLE_VAULT` header.
        line: Option<usize>,
        /// "the whole file" or "the value tagged !vault".
        what: String,
    },
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
            Error::Vault { path, line, what } => Error::Vault {
                path: path.clone(),
                line: *line,
                what: what.clone(),
            },
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
