//! Read Ansible inventories and host patterns exactly as ansible-core 2.19 does.
//!
//! `ansible-compat` loads the inventory sources `ansible-inventory -i ...` accepts (INI files,
//! YAML/JSON files, executable inventory scripts, directories of those, host lists), applies
//! `group_vars/` and `host_vars/` with Ansible's precedence, resolves host patterns (`--limit`,
//! positional targets) and reproduces `ansible-inventory --list`, `--graph [--vars]` and
//! `--host` output byte for byte. The behaviour is checked against the real ansible-core
//! 2.19.14 by `tests/conformance.rs`; `README.md` lists what is deliberately not supported
//! (vault decryption, other inventory plugins, `hash_behaviour=merge`, ...).
//!
//! ```no_run
//! use ansible_compat::{Inventory, Value, to_ansible_json};
//!
//! let inv = Inventory::load(&["inventory/hosts.ini"])?;
//! for w in inv.warnings() {
//!     eprintln!("[WARNING]: {w}");
//! }
//! let sel = inv.select("web:&prod:!web03")?;
//! for host in &sel.hosts {
//!     let vars = inv.host_vars(host)?;
//!     println!("{host}: {}", to_ansible_json(&Value::Object(vars)));
//! }
//! print!("{}", inv.graph(None, false)?);
//! # Ok::<(), ansible_compat::Error>(())
//! ```
//!
//! Modules, one concern each:
//! - reading text like Python: `shlex` (`shlex.split`), `pylexer` and `pyliteral`
//!   (`ast.literal_eval`), `yaml_scalar` and `yaml` (PyYAML's YAML 1.1 loading), `document`
//!   (JSON-or-YAML files, vault detection);
//! - inventory sources: `ranges` and `address` (host ranges, `host:port`), `ini`,
//!   `yaml_inventory`, `script`, `sources` (files, directories, host lists);
//! - the model: `value` (typed values and their JSON form), `data` (groups and hosts),
//!   `vars_files` (`group_vars`/`host_vars`), `precedence` (variable layers);
//! - patterns: `fnmatch`, `pattern`;
//! - output: `output` (`--list`, `--graph`), `json_out` and `pyrepr` (Python-exact text);
//! - `error`.

#![deny(missing_docs)]

mod address;
mod data;
mod document;
mod error;
mod fnmatch;
mod ini;
mod json_out;
mod output;
mod pattern;
mod precedence;
mod pylexer;
mod pyliteral;
mod pyrepr;
mod ranges;
mod script;
mod shlex;
mod sources;
mod value;
mod vars_files;
mod yaml;
mod yaml_inventory;
mod yaml_scalar;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::Error;
pub use json_out::to_ansible_json;
pub use pattern::split_host_pattern;
pub use precedence::{LayerSource, VarLayer};
pub use pyliteral::{LiteralError, literal_eval};
pub use ranges::expand_hostname_range;
pub use serde_json::{Map, Value};
pub use value::{UNSAFE_KEY, plain, unsafe_text};

use data::{GroupId, HostId, InventoryData, LOCALHOST};
use pattern::{Matcher, Target};
use precedence::RawLayer;
use value::{Node, OVars};
use vars_files::{Entity, VarsStore};

/// Variables of a host or group: a JSON object.
pub type Vars = serde_json::Map<String, serde_json::Value>;

/// The hosts a pattern selected, and the warnings Ansible would print while selecting them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// Selected host names, in the order Ansible returns them.
    pub hosts: Vec<String>,
    /// Warnings such as `Could not match supplied host pattern, ignoring: X`.
    pub warnings: Vec<String>,
}

/// A loaded inventory: groups, hosts, inline variables and `group_vars`/`host_vars` files.
#[derive(Debug, Clone)]
pub struct Inventory {
    data: InventoryData,
    vars: VarsStore,
    warnings: Vec<String>,
}

/// What a host name given to the variable functions refers to.
enum HostRef {
    Host(HostId),
    Implicit(String),
}

impl Inventory {
    /// Load sources in order like repeated `ansible-inventory -i A -i B`: each a file (INI,
    /// YAML/JSON, executable script) or directory (or a comma-separated host list). Later
    /// sources win on conflicting variables.
    pub fn load<P: AsRef<Path>>(sources: &[P]) -> Result<Inventory, Error> {
        let mut data = InventoryData::new();
        let mut dirs = Vec::new();
        let mut any_parsed = false;
        for s in sources {
            let s = s.as_ref();
            if sources::load_source(&mut data, s, 0)? {
                any_parsed = true;
            } else {
                data.warn(format!(
                    "Unable to parse {} as an inventory source",
                    s.display()
                ));
            }
            if !sources::is_host_list(s) {
                let dir = if s.is_dir() {
                    s.to_path_buf()
                } else {
                    match s.parent() {
                        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                        _ => PathBuf::from("."),
                    }
                };
                dirs.push(std::fs::canonicalize(&dir).unwrap_or(dir));
            }
        }
        if !any_parsed {
            data.warn("No inventory was parsed, only implicit localhost is available");
        }
        Self::finish(data, dirs)
    }

    /// Parses INI inventory text (no `group_vars`/`host_vars`); errors name `<string>`.
    pub fn from_ini_str(text: &str) -> Result<Inventory, Error> {
        let mut data = InventoryData::new();
        ini::parse(&mut data, Path::new("<string>"), text.as_bytes())?;
        Self::finish(data, Vec::new())
    }

    /// Parses YAML or JSON inventory text (no `group_vars`/`host_vars`); errors name `<string>`.
    pub fn from_yaml_str(text: &str) -> Result<Inventory, Error> {
        let path = Path::new("<string>");
        let mut data = InventoryData::new();
        let loaded = document::load_bytes(text.as_bytes(), path)?;
        for w in loaded.warnings {
            data.warn(w);
        }
        match yaml_inventory::parse(&mut data, path, loaded.node.as_ref())? {
            yaml_inventory::Outcome::Parsed => Self::finish(data, Vec::new()),
            yaml_inventory::Outcome::Declined(e) => Err(e),
        }
    }

    fn finish(mut data: InventoryData, dirs: Vec<PathBuf>) -> Result<Inventory, Error> {
        data.reconcile().map_err(Error::Inventory)?;
        let groups: Vec<String> = data.groups.iter().map(|g| g.name.clone()).collect();
        let mut hosts: Vec<String> = data.hosts.iter().map(|h| h.name.clone()).collect();
        for l in LOCALHOST {
            if !hosts.iter().any(|h| h == l) {
                hosts.push(l.to_string());
            }
        }
        let mut file_warnings = Vec::new();
        let vars = VarsStore::load(dirs, &groups, &hosts, &mut file_warnings);
        for w in file_warnings {
            data.warn(w);
        }
        let mut inv = Inventory {
            warnings: Vec::new(),
            data,
            vars,
        };
        inv.warnings = inv.data.warnings.clone();
        inv.warn_reserved();
        Ok(inv)
    }

    /// Adds "Found variable using reserved name" for variables that reach a host (Ansible warns
    /// when it merges a host's variables).
    fn warn_reserved(&mut self) {
        let mut names: Vec<String> = Vec::new();
        let mut note = |vars: &OVars| {
            for (k, _) in vars.iter() {
                if precedence::is_reserved(k) && !names.contains(k) {
                    names.push(k.clone());
                }
            }
        };
        for (gid, g) in self.data.groups.iter().enumerate() {
            if self.data.group_hosts(gid).is_empty() {
                continue;
            }
            note(&g.vars);
            for dir in &self.vars.source_dirs {
                for f in self.vars.files(dir, Entity::Group, &g.name) {
                    if let Ok(v) = &f.vars {
                        note(v);
                    }
                }
            }
        }
        for h in &self.data.hosts {
            note(&h.vars);
            for dir in &self.vars.source_dirs {
                for f in self.vars.files(dir, Entity::Host, &h.name) {
                    if let Ok(v) = &f.vars {
                        note(v);
                    }
                }
            }
        }
        for n in names {
            let w = format!(
                "Found variable using reserved name {}.",
                pyrepr::str_repr(&n)
            );
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
    }

    /// Warnings Ansible would print while loading (unknown YAML group keys, invalid group
    /// characters, duplicate YAML keys, ...), each once, in order.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// All hosts in inventory order (what pattern `all` returns), not including implicit localhost.
    pub fn hosts(&self) -> Vec<String> {
        self.names(&self.data.group_hosts(self.data.all()))
    }

    fn names(&self, ids: &[HostId]) -> Vec<String> {
        ids.iter()
            .map(|h| self.data.hosts[*h].name.clone())
            .collect()
    }

    /// Whether the host is in the inventory (the implicit localhost is not).
    pub fn has_host(&self, host: &str) -> bool {
        self.data.host_id(host).is_some()
    }

    /// All group names (including `all` and `ungrouped`), sorted.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.data.groups.iter().map(|g| g.name.clone()).collect();
        names.sort();
        names
    }

    /// The `groups` magic variable: every group (including `all` and `ungrouped`) mapped to its
    /// hosts, descendants included, in inventory order.
    pub fn groups_magic(&self) -> BTreeMap<String, Vec<String>> {
        (0..self.data.groups.len())
            .map(|g| {
                (
                    self.data.groups[g].name.clone(),
                    self.names(&self.data.group_hosts(g)),
                )
            })
            .collect()
    }

    /// The `group_names` magic variable for a host: its groups (ancestors included), sorted,
    /// without `all` but with `ungrouped` when the host is in it. Empty for unknown hosts and
    /// the implicit localhost.
    pub fn host_group_names(&self, host: &str) -> Vec<String> {
        let Some(h) = self.data.host_id(host) else {
            return Vec::new();
        };
        let mut names: Vec<String> = self
            .data
            .host_groups(h)
            .into_iter()
            .filter(|g| *g != self.data.all())
            .map(|g| self.data.groups[g].name.clone())
            .collect();
        names.sort();
        names
    }

    fn resolve_host(&self, host: &str) -> Result<HostRef, Error> {
        if let Some(h) = self.data.host_id(host) {
            return Ok(HostRef::Host(h));
        }
        if LOCALHOST.contains(&host) {
            return Ok(match self.data.localhost {
                Some(h) => HostRef::Host(h),
                None => HostRef::Implicit(host.to_string()),
            });
        }
        Err(Error::UnknownHost(host.to_string()))
    }

    fn file_layers(
        &self,
        entity: Entity,
        name: &str,
        make: impl Fn(PathBuf) -> LayerSource,
    ) -> Result<Vec<RawLayer>, Error> {
        let mut out = Vec::new();
        for dir in &self.vars.source_dirs {
            for f in self.vars.files(dir, entity, name) {
                out.push(RawLayer {
                    source: make(f.path.clone()),
                    vars: strip_internal(f.vars.clone()?),
                });
            }
        }
        Ok(out)
    }

    fn raw_layers(&self, host: &str) -> Result<Vec<RawLayer>, Error> {
        let all = self.data.all();
        let (name, groups, host_vars) = match self.resolve_host(host)? {
            HostRef::Host(h) => {
                let groups: Vec<GroupId> = self
                    .data
                    .host_groups(h)
                    .into_iter()
                    .filter(|g| *g != all)
                    .collect();
                (
                    self.data.hosts[h].name.clone(),
                    groups,
                    self.data.hosts[h].vars.clone(),
                )
            }
            HostRef::Implicit(n) => {
                let mut v = OVars::new();
                v.insert("ansible_connection".into(), Node::str("local"));
                (n, Vec::new(), v)
            }
        };
        let sorted = precedence::sort_groups(&self.data, &groups);
        let mut layers = vec![RawLayer {
            source: LayerSource::InventoryGroup("all".into()),
            vars: strip_internal(self.data.groups[all].vars.clone()),
        }];
        for g in &sorted {
            let grp = &self.data.groups[*g];
            layers.push(RawLayer {
                source: LayerSource::InventoryGroup(grp.name.clone()),
                vars: strip_internal(grp.vars.clone()),
            });
        }
        layers.extend(self.file_layers(Entity::Group, "all", |path| {
            LayerSource::GroupVarsFile {
                group: "all".into(),
                path,
            }
        })?);
        for dir in &self.vars.source_dirs {
            for g in &sorted {
                let gname = &self.data.groups[*g].name;
                for f in self.vars.files(dir, Entity::Group, gname) {
                    layers.push(RawLayer {
                        source: LayerSource::GroupVarsFile {
                            group: gname.clone(),
                            path: f.path.clone(),
                        },
                        vars: strip_internal(f.vars.clone()?),
                    });
                }
            }
        }
        layers.push(RawLayer {
            source: LayerSource::InventoryHost,
            vars: strip_internal(host_vars),
        });
        layers.extend(
            self.file_layers(Entity::Host, &name, |path| LayerSource::HostVarsFile {
                path,
            })?,
        );
        Ok(layers)
    }

    /// The layers merged into [`Inventory::host_vars`], lowest precedence first, each with where
    /// it came from: `all` group, the host's other groups (sorted by depth, priority, name),
    /// `group_vars/all` files, `group_vars/<group>` files (source by source), the host's inline
    /// vars, `host_vars` files. Unsafe strings are kept as `{"__ansible_unsafe": ...}`;
    /// Ansible's internal names are removed. The implicit localhost (`localhost`, `127.0.0.1`,
    /// `::1` when not in the inventory) has the inline var `ansible_connection: local`.
    pub fn var_layers(&self, host: &str) -> Result<Vec<VarLayer>, Error> {
        Ok(self
            .raw_layers(host)?
            .iter()
            .map(RawLayer::public)
            .collect())
    }

    /// The merged variables with their Python types and order (for `--graph --vars`).
    fn merged_vars(&self, host: &str) -> Result<OVars, Error> {
        Ok(precedence::merge_layers(&self.raw_layers(host)?))
    }

    /// The host's fully merged vars exactly as `ansible-inventory --host H` prints them
    /// (unsafe strings as plain strings).
    pub fn host_vars(&self, host: &str) -> Result<Vars, Error> {
        Ok(self.merged_vars(host)?.to_json(false))
    }

    /// Like [`Inventory::host_vars`], but strings Ansible must not template (`!unsafe`) stay
    /// wrapped as `{"__ansible_unsafe": "..."}`, as `--list` prints them.
    pub fn host_vars_with_unsafe(&self, host: &str) -> Result<Vars, Error> {
        Ok(self.merged_vars(host)?.to_json(true))
    }

    /// A group's own variables as `--graph --vars` shows them: inventory vars, then its
    /// `group_vars` files, plus `ansible_group_priority` when not 1.
    fn group_vars(&self, g: GroupId) -> Result<OVars, Error> {
        let grp = &self.data.groups[g];
        let mut vars = grp.vars.clone();
        for layer in self.file_layers(Entity::Group, &grp.name, |path| {
            LayerSource::HostVarsFile { path }
        })? {
            vars.extend(&layer.vars);
        }
        if grp.priority != 1 {
            vars.insert(
                "ansible_group_priority".into(),
                Node::new(value::Kind::Int(grp.priority.into())),
            );
        }
        Ok(strip_internal(vars))
    }

    fn evaluate(
        &self,
        pattern: &str,
        limit: Option<&str>,
        expand_files: bool,
    ) -> Result<Selection, Error> {
        let mut m = Matcher::new(&self.data);
        let terms = if expand_files {
            pattern::expand_limit(pattern)?
        } else {
            split_host_pattern(pattern)
        };
        let mut hosts = m.evaluate(&terms)?;
        if let Some(limit) = limit {
            let subset = pattern::expand_limit(limit)?;
            if !subset.is_empty() {
                let keep: std::collections::HashSet<Target> =
                    m.evaluate(&subset)?.into_iter().collect();
                hosts.retain(|h| keep.contains(h));
            }
        }
        let hosts = pattern::dedup(hosts)
            .into_iter()
            .map(|t| match t {
                Target::Host(h) => self.data.hosts[h].name.clone(),
                Target::Implicit(n) => n,
            })
            .collect();
        Ok(Selection {
            hosts,
            warnings: m.warnings,
        })
    }

    /// Resolve a host pattern (positional target or `--limit` string) to hosts, in the order
    /// Ansible returns them. `@file` terms read one pattern per line. A pattern naming
    /// `localhost`/`127.0.0.1`/`::1` that matches nothing else selects the implicit localhost.
    pub fn select(&self, pattern: &str) -> Result<Selection, Error> {
        self.evaluate(pattern, None, true)
    }

    /// `ansible PATTERN --limit LIMIT`: the hosts of `pattern` that `limit` also selects.
    pub fn select_limited(&self, pattern: &str, limit: Option<&str>) -> Result<Selection, Error> {
        self.evaluate(pattern, limit, false)
    }

    /// Exactly `ansible-inventory --list [--limit L]` as a JSON value (including 2.19's
    /// `_meta.profile`); print it with [`to_ansible_json`].
    pub fn list_json(&self, limit: Option<&str>) -> Result<Value, Error> {
        let sel = self.select_limited("all", limit)?;
        output::list_json(self, &sel.hosts)
    }

    /// Exactly `ansible-inventory --graph [GROUP] [--vars]` text, with the trailing newline.
    pub fn graph(&self, group: Option<&str>, with_vars: bool) -> Result<String, Error> {
        output::graph(self, group, with_vars)
    }
}

fn strip_internal(mut vars: OVars) -> OVars {
    vars.retain(|k| !precedence::is_internal(k));
    vars
}
