//! How [`crate::Inventory::load_with`] loads sources: strict or lenient, the playbook directory,
//! vault secrets and the directory relative sources are resolved against.

use std::path::{Path, PathBuf};

use crate::vault::VaultSecrets;

/// What to do with a source that no inventory plugin can parse (or that does not exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadMode {
    /// Fail with the error of the first such source, naming it (what commands that change
    /// nodes want: never act on a partial inventory). This is ansible-core with
    /// `ANSIBLE_INVENTORY_UNPARSED_FAILED=True` and `ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=True`.
    #[default]
    Strict,
    /// Ansible's default: warn (`Failed to parse inventory with ... plugin`, `Unable to parse
    /// SOURCE as an inventory source`, `No inventory was parsed, only implicit localhost is
    /// available`) and go on with what could be parsed, including whatever a failing plugin had
    /// already added.
    Lenient,
}

/// Which playbook directory contributes `group_vars/` and `host_vars/` (`--playbook-dir`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PlaybookDir {
    /// ansible-inventory's default when `--playbook-dir` is not given: the working directory's
    /// `group_vars/`/`host_vars/` count for host variables (`--host`, `--list`, `--graph --vars`
    /// host lines) but not for the group variables `--graph --vars` and `--export` show.
    #[default]
    Implicit,
    /// `--playbook-dir DIR`: its vars count everywhere (host and group variables).
    Dir(PathBuf),
    /// No playbook directory at all (plain library use, or `ANSIBLE_PLAYBOOK_DIR` unset in a
    /// context without a working directory).
    None,
}

/// Options for [`crate::Inventory::load_with`]. `LoadOptions::default()` is what
/// `ansible-inventory -i ...` does with no other option, except that sources that cannot be
/// parsed are errors ([`LoadMode::Strict`]).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Strict (errors) or lenient (Ansible's warnings) handling of unparsable sources.
    pub mode: LoadMode,
    /// The playbook directory (`--playbook-dir`).
    pub playbook_dir: PlaybookDir,
    /// Vault passwords for encrypted files and values ([`VaultSecrets::from_cli`]).
    pub vault: VaultSecrets,
    /// The working directory relative sources, relative `--playbook-dir` and the implicit
    /// playbook directory refer to (default: the process's current directory).
    pub cwd: Option<PathBuf>,
}

impl LoadOptions {
    /// Lenient loading, as `ansible-inventory` with its default configuration.
    pub fn lenient() -> Self {
        LoadOptions {
            mode: LoadMode::Lenient,
            ..Self::default()
        }
    }

    /// The working directory.
    pub(crate) fn cwd(&self) -> PathBuf {
        self.cwd
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The playbook directory whose vars apply to hosts, and whether it was given explicitly.
    pub(crate) fn playbook_dir(&self) -> Option<(PathBuf, bool)> {
        let resolve = |p: &Path| {
            let full = crate::sources::unfrack_path(p, Some(&self.cwd()));
            std::fs::canonicalize(&full).unwrap_or(full)
        };
        match &self.playbook_dir {
            PlaybookDir::Implicit => Some((resolve(Path::new(".")), false)),
            PlaybookDir::Dir(d) => Some((resolve(d), true)),
            PlaybookDir::None => None,
        }
    }
}
