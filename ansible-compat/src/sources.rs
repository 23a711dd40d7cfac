//! Inventory sources: files, directories and host lists, and which format reads each file.
//!
//! A directory is read in byte-wise name order, skipping hidden entries, `group_vars`,
//! `host_vars`, `vars_plugins` and names ending in `.pyc .pyo .swp .bak ~ .rpm .md .txt .rst
//! .orig .cfg .retry`, recursing into subdirectories. A file is offered, in Ansible's order, to
//! the script reader (if executable), the YAML reader (no extension, `.yml`, `.yaml`, `.json`)
//! and the INI reader (anything but `.toml`); the first that succeeds wins. A path that does not
//! exist but contains a comma is a host list (`a,b,c`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::address::parse_address;
use crate::data::InventoryData;
use crate::document;
use crate::error::Error;
use crate::vars_files::splitext_ext;
use crate::{ini, script, yaml_inventory};

const IGNORED_EXTS: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];
const YAML_EXTS: [&str; 3] = [".yml", ".yaml", ".json"];

/// Whether a directory entry is skipped when a directory is an inventory source.
pub fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || matches!(name, "host_vars" | "group_vars" | "vars_plugins")
        || IGNORED_EXTS.iter().any(|e| name.ends_with(e))
}

/// Whether a path is a host list rather than a file (`host_list` plugin).
pub fn is_host_list(source: &Path) -> bool {
    !source.exists() && source.to_string_lossy().contains(',')
}

/// Adds one `-i` source to `inv`; `false` when it was a directory without any inventory file
/// (Ansible then warns "Unable to parse ... as an inventory source").
pub fn load_source(inv: &mut InventoryData, source: &Path, depth: usize) -> Result<bool, Error> {
    if is_host_list(source) {
        load_host_list(inv, &source.to_string_lossy()).map_err(Error::Inventory)?;
        return Ok(true);
    }
    let meta = std::fs::metadata(source).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::SourceNotFound {
            path: source.to_path_buf(),
        },
        _ => Error::io(source, e),
    })?;
    if meta.is_dir() {
        if depth > 32 {
            return Ok(false);
        }
        let mut entries: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(source)
            .map_err(|e| Error::io(source, e))?
            .filter_map(Result::ok)
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut parsed = false;
        for (name, path) in entries {
            if !is_ignored(&name) {
                parsed |= load_source(inv, &path, depth + 1)?;
            }
        }
        return Ok(parsed);
    }
    load_file(inv, source, meta.permissions().mode() & 0o111 != 0)?;
    Ok(true)
}

fn load_host_list(inv: &mut InventoryData, list: &str) -> Result<(), String> {
    for h in list.split(',') {
        let h = h.trim();
        if h.is_empty() {
            continue;
        }
        let (host, port) = match parse_address(h) {
            Ok((host, port)) if !host.contains('[') => (host, port),
            _ => (h.to_string(), None),
        };
        if inv.host_id(&host).is_none() {
            inv.add_host(&host, Some("ungrouped"), port)?;
        }
    }
    Ok(())
}

/// Tries the readers on one file, each on a scratch copy so a failed attempt leaves no trace.
fn load_file(inv: &mut InventoryData, path: &Path, executable: bool) -> Result<(), Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = splitext_ext(&name).to_string();
    let mut failures: Vec<Error> = Vec::new();

    if executable {
        let mut scratch = inv.clone();
        match script::parse(&mut scratch, path) {
            Ok(()) => {
                *inv = scratch;
                return Ok(());
            }
            Err(e) => failures.push(e),
        }
    }

    let yaml_ext = ext.is_empty() || YAML_EXTS.contains(&ext.as_str());
    let mut yaml_was_mapping = false;
    if yaml_ext {
        if document::is_vault_data(&bytes) {
            return Err(Error::Vault {
                path: path.to_path_buf(),
                line: Some(1),
                what: "the whole file".into(),
            });
        }
        match document::load_bytes(&bytes, path) {
            Ok(loaded) => {
                yaml_was_mapping = matches!(
                    loaded.node.as_ref().map(|n| &n.kind),
                    Some(crate::value::Kind::Map(_))
                );
                let mut scratch = inv.clone();
                match yaml_inventory::parse(&mut scratch, path, loaded.node.as_ref()) {
                    Ok(yaml_inventory::Outcome::Parsed) => {
                        for w in loaded.warnings {
                            scratch.warn(w);
                        }
                        *inv = scratch;
                        return Ok(());
                    }
                    Ok(yaml_inventory::Outcome::Declined(e)) => failures.push(e),
                    Err(e @ (Error::PluginConfig { .. } | Error::Vault { .. })) => return Err(e),
                    Err(e) => failures.push(e),
                }
            }
            Err(e @ Error::Vault { .. }) => return Err(e),
            Err(e) => failures.push(e),
        }
    }

    if ext == ".toml" {
        return Err(Error::parse(
            path,
            None,
            "TOML inventories are not supported",
        ));
    }
    if document::is_vault_data(&bytes) {
        return Err(Error::Vault {
            path: path.to_path_buf(),
            line: Some(1),
            what: "the whole file".into(),
        });
    }
    let mut scratch = inv.clone();
    match ini::parse(&mut scratch, path, &bytes) {
        Ok(()) => {
            *inv = scratch;
            Ok(())
        }
        Err(ini_err) => {
            // Report the reader the file was most likely meant for.
            let looks_like_script = bytes.starts_with(b"#!");
            let pick = if executable && looks_like_script {
                failures.into_iter().next()
            } else if yaml_ext
                && (!ext.is_empty() || yaml_was_mapping || looks_like_yaml(&ini_err, &bytes))
            {
                failures
                    .into_iter()
                    .find(|e| !matches!(e, Error::Script { .. }))
            } else {
                None
            };
            Err(pick.unwrap_or(ini_err))
        }
    }
}

/// Whether the INI reader's complaint suggests the file was YAML after all: it choked on the
/// very first line with a YAML-looking key or document marker.
fn looks_like_yaml(ini_err: &Error, bytes: &[u8]) -> bool {
    let msg = ini_err.to_string();
    let yamlish = msg.contains("ending in ':' is not allowed")
        || msg.contains("normally a sign this is a YAML file");
    let first = String::from_utf8_lossy(bytes)
        .lines()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && !t.starts_with(';')
        })
        .map(|i| i + 1);
    yamlish && ini_err.line() == first
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
}
