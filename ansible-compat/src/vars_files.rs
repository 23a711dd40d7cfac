//! `group_vars/` and `host_vars/` next to inventory sources (ansible-core's `host_group_vars`
//! vars plugin and `DataLoader.find_vars_files`).
//!
//! For a source, the directory is the source itself if it is a directory, else the directory
//! holding it. For an entity `NAME`, the first existing of `NAME`, `NAME.yml`, `NAME.yaml`,
//! `NAME.json` wins; a directory is walked recursively in sorted order, skipping names that
//! start with `.` or end in `~`, loading files with no extension or a YAML/JSON one, and
//! descending only into subdirectories without an extension. Empty files are ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::document::load_file;
use crate::error::Error;
use crate::value::{KeyOrigin, Kind, OVars, key_string};
use crate::vault::VaultSecrets;

const EXTENSIONS: [&str; 3] = [".yml", ".yaml", ".json"];

/// Python's `os.path.splitext(name)[1]` for a file name.
pub fn splitext_ext(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if name[..i].chars().any(|c| c != '.') => &name[i..],
        _ => "",
    }
}

fn sorted_entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out
}

fn dir_vars_files(dir: &Path, found: &mut Vec<PathBuf>, depth: usize) {
    if depth > 64 {
        return;
    }
    for (name, path) in sorted_entries(dir) {
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let ext = splitext_ext(&name);
        if path.is_dir() && ext.is_empty() {
            dir_vars_files(&path, found, depth + 1);
        } else if path.is_file() && (ext.is_empty() || EXTENSIONS.contains(&ext)) {
            found.push(path);
        }
    }
}

/// `find_vars_files(dir, name)`: the files that hold variables for `name` in `dir`.
pub fn find_vars_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let base = dir.join(name);
    for ext in std::iter::once("").chain(EXTENSIONS) {
        let mut candidate = base.clone().into_os_string();
        candidate.push(ext);
        let candidate = PathBuf::from(candidate);
        if candidate.exists() {
            let mut found = Vec::new();
            if candidate.is_dir() {
                dir_vars_files(&candidate, &mut found, 0);
            } else {
                found.push(candidate);
            }
            return found;
        }
    }
    Vec::new()
}

/// One loaded vars file.
#[derive(Debug, Clone)]
pub struct VarsFile {
    /// The file.
    pub path: PathBuf,
    /// Its variables, or why they cannot be read (reported when a host needs them).
    pub vars: Result<OVars, Error>,
    /// Warnings Ansible prints when it loads the file (duplicate keys).
    pub warnings: Vec<String>,
}

/// Loads one vars file; `Ok(None)` when it is empty (Ansible ignores those).
pub fn load_vars_file(
    path: &Path,
    secrets: &VaultSecrets,
    warnings: &mut Vec<String>,
) -> Result<Option<OVars>, Error> {
    let loaded = load_file(path, secrets)?;
    warnings.extend(loaded.warnings);
    let Some(node) = loaded.node else {
        return Ok(None);
    };
    if !node.truthy() {
        return Ok(None);
    }
    match node.kind {
        Kind::Map(pairs) => {
            let mut vars = OVars::new();
            for (k, v) in pairs {
                let mut v = v;
                v.fresh_ids();
                let origin = (k.line > 0).then(|| KeyOrigin {
                    path: path.to_path_buf(),
                    line: k.line,
                    col: (k.col > 0).then_some(k.col),
                });
                vars.insert_at(key_string(&k), v, origin);
            }
            Ok(Some(vars))
        }
        _ => Err(Error::parse(
            path,
            (node.line > 0).then_some(node.line),
            format!(
                "Could not process '{}': failed to combine variables, expected dicts but got a 'dict' and a '{}'",
                path.display(),
                node.type_name()
            ),
        )),
    }
}

/// Whether the entity is a group or a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// Looked up in `group_vars/`.
    Group,
    /// Looked up in `host_vars/`.
    Host,
}

/// The vars files of every group and host, per inventory-source directory.
#[derive(Debug, Clone, Default)]
pub struct VarsStore {
    /// The vars directory base for each source, in source order (repeats kept: Ansible merges
    /// per source, so a directory used twice is applied twice).
    pub source_dirs: Vec<PathBuf>,
    /// The playbook directory, whose `group_vars/`/`host_vars/` come after the sources'.
    pub playbook_dir: Option<PathBuf>,
    files: HashMap<(PathBuf, Entity, String), Vec<VarsFile>>,
    not_dirs: HashMap<(PathBuf, Entity), String>,
}

impl VarsStore {
    /// Finds and loads the files for the given groups and hosts in every source directory.
    pub fn load(
        source_dirs: Vec<PathBuf>,
        playbook_dir: Option<PathBuf>,
        groups: &[String],
        hosts: &[String],
        secrets: &VaultSecrets,
    ) -> Self {
        let mut store = VarsStore {
            source_dirs,
            playbook_dir,
            files: HashMap::new(),
            not_dirs: HashMap::new(),
        };
        let mut dirs: Vec<PathBuf> = Vec::new();
        for d in store.source_dirs.iter().chain(&store.playbook_dir) {
            if !dirs.contains(d) {
                dirs.push(d.clone());
            }
        }
        for dir in dirs {
            for (entity, sub, names) in [
                (Entity::Group, "group_vars", groups),
                (Entity::Host, "host_vars", hosts),
            ] {
                let opath = dir.join(sub);
                if !opath.is_dir() {
                    if opath.exists() {
                        store.not_dirs.insert(
                            (dir.clone(), entity),
                            format!(
                                "Found {sub} that is not a directory, skipping: {}",
                                opath.display()
                            ),
                        );
                    }
                    continue;
                }
                for name in names {
                    if name.starts_with('/') || name.is_empty() {
                        continue;
                    }
                    let mut loaded = Vec::new();
                    for path in find_vars_files(&opath, name) {
                        let mut warnings = Vec::new();
                        let vars = match load_vars_file(&path, secrets, &mut warnings) {
                            Ok(None) => continue,
                            Ok(Some(vars)) => Ok(vars),
                            Err(e) => Err(e),
                        };
                        loaded.push(VarsFile {
                            path,
                            vars,
                            warnings,
                        });
                    }
                    if !loaded.is_empty() {
                        store
                            .files
                            .insert((dir.clone(), entity, name.clone()), loaded);
                    }
                }
            }
        }
        store
    }

    /// `Found group_vars that is not a directory, skipping: ...` for a directory, if so.
    pub fn not_a_directory(&self, dir: &Path, entity: Entity) -> Option<&str> {
        self.not_dirs
            .get(&(dir.to_path_buf(), entity))
            .map(String::as_str)
    }

    /// The loaded files for an entity in one source directory, in merge order.
    pub fn files(&self, dir: &Path, entity: Entity, name: &str) -> &[VarsFile] {
        self.files
            .get(&(dir.to_path_buf(), entity, name.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitext_like_python() {
        assert_eq!(splitext_ext("a.yml"), ".yml");
        assert_eq!(splitext_ext("a.b.json"), ".json");
        assert_eq!(splitext_ext("noext"), "");
        assert_eq!(splitext_ext(".hidden"), "");
        assert_eq!(splitext_ext("..x"), "");
        assert_eq!(splitext_ext("foo."), ".");
    }

    #[test]
    fn first_candidate_wins_and_dirs_are_walked() {
        let t = tempfile::tempdir().unwrap();
        let gv = t.path().join("group_vars");
        std::fs::create_dir_all(gv.join("web/sub")).unwrap();
        std::fs::write(gv.join("web.yml"), "x: 1").unwrap();
        std::fs::write(gv.join("web/20-b"), "b: 1").unwrap();
        std::fs::write(gv.join("web/10-a.yml"), "a: 1").unwrap();
        std::fs::write(gv.join("web/sub/c.json"), "{\"c\": 1}").unwrap();
        std::fs::write(gv.join("web/x.txt"), "t: 1").unwrap();
        std::fs::write(gv.join("web/.h.yml"), "h: 1").unwrap();
        std::fs::write(gv.join("web/old.yml~"), "o: 1").unwrap();
        let names: Vec<String> = find_vars_files(&gv, "web")
            .iter()
            .map(|p| p.strip_prefix(&gv).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["web/10-a.yml", "web/20-b", "web/sub/c.json"]);
    }
}
