//! Inventory sources as ansible-core's `InventoryManager.parse_sources` walks them.
//!
//! A source that contains a comma is used as given; any other is made absolute like Ansible's
//! `unfrackpath` (`$VAR` and `~` expanded, joined to the working directory, normalised, links
//! not resolved), so `-i inv.sh` runs `./inv.sh`. A directory is read in byte-wise name order,
//! skipping hidden entries, `group_vars`, `host_vars`, `vars_plugins` and names ending in `.pyc
//! .pyo .swp .bak ~ .rpm .md .txt .rst .orig .cfg .retry`, recursing into subdirectories; every
//! other path goes to the inventory plugins ([`crate::plugins`]).
//!
//! A source no plugin could parse is an error in strict mode. In lenient mode (Ansible's default
//! configuration) it produces Ansible's warnings: each plugin's failure, then `Unable to parse
//! SOURCE as an inventory source`; what the failed plugins had already added stays.

use std::path::{Component, Path, PathBuf};

use crate::data::InventoryData;
use crate::error::Error;
use crate::plugins::{self, Unparsed};
use crate::vault::VaultSecrets;

const IGNORED_EXTS: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

/// Whether a directory entry is skipped when a directory is an inventory source.
pub fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || matches!(name, "host_vars" | "group_vars" | "vars_plugins")
        || IGNORED_EXTS.iter().any(|e| name.ends_with(e))
}

/// Whether a source is a host list rather than a path (`host_list` plugin's `verify_file`);
/// `path` is the source resolved against the working directory.
pub fn is_host_list(source: &str, path: &Path) -> bool {
    source.contains(',') && !path.exists()
}

/// A source as a path: relative ones (only sources with a comma stay relative) against `cwd`.
pub fn resolve(source: &str, cwd: &Path) -> PathBuf {
    let p = Path::new(source);
    if p.is_relative() {
        cwd.join(p)
    } else {
        p.to_path_buf()
    }
}

/// Python's `os.path.expandvars`: `$NAME` and `${NAME}` replaced when the variable is set.
fn expand_vars(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(body) = after.strip_prefix('{') {
            match body.find('}') {
                Some(end) => (&body[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match std::env::var(name) {
            Ok(v) if !name.is_empty() => {
                out.push_str(&v);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Python's `os.path.expanduser` for `~` and `~/...` (other users' `~name` are left alone).
fn expand_user(s: &str) -> String {
    if (s == "~" || s.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return format!("{}{}", home.to_string_lossy(), &s[1..]);
    }
    s.to_string()
}

/// Python's `os.path.normpath` (POSIX): `.` and repeated separators removed, `..` folded.
fn normpath(p: &Path) -> PathBuf {
    let text = p.to_string_lossy();
    let double_root = text.starts_with("//") && !text.starts_with("///");
    let mut parts: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir) => {}
                _ => parts.push(c),
            },
            other => parts.push(other),
        }
    }
    let mut out: PathBuf = parts.iter().collect();
    if double_root {
        out = PathBuf::from(format!("/{}", out.display()));
    }
    if out.as_os_str().is_empty() {
        out = PathBuf::from(".");
    }
    out
}

/// ansible-core's `unfrackpath(path, follow=False, basedir)`: `$VAR` and `~` expanded, made
/// absolute against `basedir` (default: the current directory), normalised.
pub fn unfrack_path(path: &Path, basedir: Option<&Path>) -> PathBuf {
    let expanded = PathBuf::from(expand_user(&expand_vars(&path.to_string_lossy())));
    let full = if expanded.is_absolute() {
        expanded
    } else {
        let base = match basedir {
            Some(b) => b.to_path_buf(),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        base.join(expanded)
    };
    normpath(&full)
}

/// Loads sources into one inventory.
pub struct SourceLoader<'a> {
    /// The inventory being built.
    pub data: InventoryData,
    /// Secrets for whole-file vaults.
    pub secrets: &'a VaultSecrets,
    /// Fail on the first source that cannot be parsed instead of warning.
    pub strict: bool,
    /// The working directory (for sources that stay relative: those with a comma).
    pub cwd: PathBuf,
}

impl SourceLoader<'_> {
    /// `InventoryManager.parse_source`: whether anything in `source` was parsed.
    pub fn parse_source(&mut self, source: &str, depth: usize) -> Result<bool, Error> {
        let resolved = resolve(source, &self.cwd);
        let path = resolved.as_path();
        let mut parsed = false;
        let mut unparsed = Unparsed::default();
        if path.is_dir() {
            if depth > 32 {
                return Ok(false);
            }
            let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(Result::ok)
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            for (name, full) in entries {
                if !is_ignored(&name) {
                    parsed |= self.parse_source(&full.to_string_lossy(), depth + 1)?;
                }
            }
        } else {
            match plugins::parse_file(&mut self.data, source, path, self.secrets) {
                Ok(()) => parsed = true,
                Err(u) => unparsed = u,
            }
        }
        if !parsed {
            if self.strict {
                return Err(plugins::most_relevant(path, unparsed));
            }
            for f in &unparsed.failures {
                self.data.warn(f.render());
            }
            self.data
                .warn(format!("Unable to parse {source} as an inventory source"));
        }
        Ok(parsed)
    }
}

/// The directory whose `group_vars/`/`host_vars/` belong to a source (`None` for host lists).
pub fn vars_dir(source: &str, cwd: &Path) -> Option<PathBuf> {
    let resolved = resolve(source, cwd);
    if is_host_list(source, &resolved) {
        return None;
    }
    let s = resolved.as_path();
    let dir = if s.is_dir() {
        s.to_path_buf()
    } else {
        match s.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    Some(std::fs::canonicalize(&dir).unwrap_or(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_list() {
        for n in [
            ".hidden",
            "group_vars",
            "host_vars",
            "vars_plugins",
            "a.pyc",
            "x~",
            "notes.md",
            "a.cfg",
            "r.retry",
            "b.orig",
        ] {
            assert!(is_ignored(n), "{n}");
        }
        for n in ["hosts", "a.ini", "b.yml", "c.json", "script.py", "vars"] {
            assert!(!is_ignored(n), "{n}");
        }
    }

    #[test]
    fn unfrack_like_ansible() {
        let base = Path::new("/work/dir");
        assert_eq!(
            unfrack_path(Path::new("inv.sh"), Some(base)),
            Path::new("/work/dir/inv.sh")
        );
        assert_eq!(
            unfrack_path(Path::new("./a/../b//c/."), Some(base)),
            Path::new("/work/dir/b/c")
        );
        assert_eq!(
            unfrack_path(Path::new("/x/../.."), Some(base)),
            Path::new("/")
        );
        assert_eq!(
            unfrack_path(Path::new("$ANSIBLE_COMPAT_UNSET_VAR/x"), Some(base)),
            Path::new("/work/dir/$ANSIBLE_COMPAT_UNSET_VAR/x")
        );
        assert_eq!(normpath(Path::new("//a//b")), Path::new("//a/b"));
    }
}
