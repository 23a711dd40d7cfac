//! Read Ansible inventories and host patterns exactly as ansible-core 2.19 does.
//!
//! `ansible-compat` loads the inventory sources `ansible-inventory -i ...` accepts (INI, YAML,
//! JSON and TOML files, executable inventory scripts, directories of those, host lists such as
//! `a,b,c`), decrypts Ansible Vault data, applies `group_vars/` and `host_vars/` (next to the
//! sources and in the playbook directory) with Ansible's precedence, resolves host patterns
//! (`--limit`, positional targets) and reproduces `ansible-inventory --list` (JSON, YAML, TOML),
//! `--graph [--vars]` and `--host` output byte for byte. Sources that cannot be parsed are
//! errors ([`LoadMode::Strict`]) or Ansible's warnings ([`LoadMode::Lenient`]). The behaviour is
//! checked against the real ansible-core 2.19.14 by the tests; `README.md` lists what is and is
//! not matched.
//!
//! ```no_run
//! use ansible_compat::{Inventory, LoadOptions, OutputFormat, Value, to_ansible_json};
//!
//! let inv = Inventory::load_with(&["inventory/hosts.ini"], &LoadOptions::lenient())?;
//! eprint!("{}", inv.warnings_text());
//! let sel = inv.select("web:&prod:!web03")?;
//! for host in &sel.hosts {
//!     let vars = inv.resolved_vars(host)?;
//!     println!("{host}: {}", to_ansible_json(&Value::Object(vars)));
//! }
//! print!("{}", inv.list_text(None, OutputFormat::Yaml, false)?);
//! print!("{}", inv.graph(None, false)?);
//! # Ok::<(), ansible_compat::Error>(())
//! ```
//!
//! Modules, one concern each:
//! - reading text like Python: `shlex` (`shlex.split`), `pylexer` and `pyliteral`
//!   (`ast.literal_eval`), `yaml_scalar` and `yaml` (PyYAML's YAML 1.1 loading), `document`
//!   (JSON-or-YAML files);
//! - inventory sources: `options` (how to load), `sources` (paths, directories), `plugins`
//!   (which reader takes a file, failures), `ranges` and `address` (host ranges,
//!   `host:port`), `ini`, `yaml_inventory`, `toml_inventory`, `script`;
//! - secrets: `vault`;
//! - the model: `value` (typed values and their JSON form), `data` (groups and hosts),
//!   `vars_files` (`group_vars`/`host_vars`), `precedence` and `host_vars` (variable layers);
//! - patterns: `fnmatch`, `pattern`;
//! - output: `output` (`--list` JSON, `--graph`), `output_docs` (`--list`/`--host` as YAML and
//!   TOML), `json_out` (`json.dumps`), `yaml_out`, `yaml_emit` and `yaml_style` (PyYAML's
//!   representer and libyaml's emitter), `toml_out`, `pyrepr` and `py_printable` (Python's
//!   `repr`), `diagnostics` (warnings as printed);
//! - [`python`], public: Python's `str()`/`repr()`, `json.dumps` and `yaml.dump` of
//!   `serde_json` values as ansible-core's templates and `to_json`/`to_yaml` filters write them;
//! - `error`.

#![deny(missing_docs)]

mod address;
mod data;
mod diagnostics;
mod document;
mod error;
mod fnmatch;
mod host_vars;
mod ini;
mod json_out;
mod options;
mod output;
mod output_docs;
mod pattern;
mod plugins;
mod precedence;
mod py_printable;
mod pyjson;
mod pylexer;
mod pyliteral;
mod pyrepr;
pub mod python;
mod ranges;
mod script;
mod shlex;
mod sources;
mod toml_inventory;
mod toml_out;
mod value;
mod vars_files;
mod vault;
mod yaml;
mod yaml_emit;
mod yaml_inventory;
mod yaml_out;
mod yaml_scalar;
mod yaml_style;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use diagnostics::{Warning, WarningKind};
pub use error::Error;
pub use json_out::to_ansible_json;
pub use options::{LoadMode, LoadOptions, PlaybookDir};
pub use output_docs::OutputFormat;
pub use pattern::split_host_pattern;
pub use precedence::{LayerSource, VarLayer};
pub use pyliteral::{LiteralError, literal_eval};
pub use ranges::expand_hostname_range;
pub use serde_json::{Map, Value};
pub use value::{UNSAFE_KEY, VAULT_KEY, plain, unsafe_text};
pub use vault::VaultSecrets;

use data::{HostId, InventoryData, LOCALHOST};
use pattern::{Matcher, Target};
use vars_files::VarsStore;

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

/// Plaintexts of vault values already decrypted (or why they could not be).
type DecryptCache = Arc<Mutex<HashMap<String, Result<String, String>>>>;

/// A loaded inventory: groups, hosts, inline variables and `group_vars`/`host_vars` files.
#[derive(Debug, Clone)]
pub struct Inventory {
    data: InventoryData,
    vars: VarsStore,
    diagnostics: Vec<Warning>,
    warnings: Vec<String>,
    secrets: VaultSecrets,
    decrypt_cache: DecryptCache,
    explicit_playbook_dir: bool,
}

impl Inventory {
    /// Load sources in order like repeated `ansible-inventory -i A -i B`: each a file (INI,
    /// YAML/JSON, TOML, executable script) or directory, or a comma-separated host list. Later
    /// sources win on conflicting variables. Strict: a source that cannot be parsed is an error;
    /// the working directory is the playbook directory; no vault password. Same as
    /// `load_with(sources, &LoadOptions::default())`.
    pub fn load<P: AsRef<Path>>(sources: &[P]) -> Result<Inventory, Error> {
        Self::load_with(sources, &LoadOptions::default())
    }

    /// Load sources with [`LoadOptions`]: strict or lenient ([`LoadMode`]), `--playbook-dir`
    /// ([`PlaybookDir`]), vault secrets ([`VaultSecrets`]) and the working directory. In
    /// lenient mode the returned inventory carries Ansible's warnings for every source that
    /// could not be parsed ([`Inventory::warnings_text`]); in strict mode the first such source
    /// fails the load with an error that names it.
    pub fn load_with<P: AsRef<Path>>(
        sources: &[P],
        options: &LoadOptions,
    ) -> Result<Inventory, Error> {
        let cwd = options.cwd();
        let mut loader = sources::SourceLoader {
            data: InventoryData::new(),
            secrets: &options.vault,
            strict: options.mode == LoadMode::Strict,
            cwd: cwd.clone(),
        };
        for w in options.vault.warnings() {
            loader.data.warn(w.clone());
        }
        let mut dirs = Vec::new();
        let mut any_parsed = false;
        for s in sources {
            let raw = s.as_ref().to_string_lossy().into_owned();
            if raw.is_empty() {
                continue;
            }
            let source = if raw.contains(',') {
                raw
            } else {
                sources::unfrack_path(Path::new(&raw), Some(&cwd))
                    .to_string_lossy()
                    .into_owned()
            };
            any_parsed |= loader.parse_source(&source, 0)?;
            if let Some(dir) = sources::vars_dir(&source, &cwd) {
                dirs.push(dir);
            }
        }
        let mut data = loader.data;
        if any_parsed {
            data.reconcile().map_err(Error::Inventory)?;
        } else {
            data.warn("No inventory was parsed, only implicit localhost is available");
        }
        Self::finish(data, dirs, options)
    }

    /// Parses INI inventory text (no `group_vars`/`host_vars`); errors name `<string>`.
    pub fn from_ini_str(text: &str) -> Result<Inventory, Error> {
        let mut data = InventoryData::new();
        ini::parse(&mut data, Path::new("<string>"), text.as_bytes())?;
        data.reconcile().map_err(Error::Inventory)?;
        Self::finish(data, Vec::new(), &Self::string_options())
    }

    /// Parses YAML or JSON inventory text (no `group_vars`/`host_vars`); errors name `<string>`.
    pub fn from_yaml_str(text: &str) -> Result<Inventory, Error> {
        let path = Path::new("<string>");
        let mut data = InventoryData::new();
        let loaded = document::load_bytes(text.as_bytes(), path)?;
        for w in loaded.warnings {
            data.warn(w);
        }
        yaml_inventory::parse(&mut data, path, loaded.node.as_ref())?;
        data.reconcile().map_err(Error::Inventory)?;
        Self::finish(data, Vec::new(), &Self::string_options())
    }

    /// Parses a TOML inventory text (no `group_vars`/`host_vars`); errors name `<string>`.
    pub fn from_toml_str(text: &str) -> Result<Inventory, Error> {
        let mut data = InventoryData::new();
        toml_inventory::parse(&mut data, Path::new("<string>"), text.as_bytes())?;
        data.reconcile().map_err(Error::Inventory)?;
        Self::finish(data, Vec::new(), &Self::string_options())
    }

    fn string_options() -> LoadOptions {
        LoadOptions {
            playbook_dir: PlaybookDir::None,
            ..LoadOptions::default()
        }
    }

    fn finish(
        data: InventoryData,
        dirs: Vec<PathBuf>,
        options: &LoadOptions,
    ) -> Result<Inventory, Error> {
        let groups: Vec<String> = data.groups.iter().map(|g| g.name.clone()).collect();
        let mut hosts: Vec<String> = data.hosts.iter().map(|h| h.name.clone()).collect();
        for l in LOCALHOST {
            if !hosts.iter().any(|h| h == l) {
                hosts.push(l.to_string());
            }
        }
        let playbook = options.playbook_dir();
        let vars = VarsStore::load(
            dirs,
            playbook.as_ref().map(|(d, _)| d.clone()),
            &groups,
            &hosts,
            &options.vault,
        );
        let mut inv = Inventory {
            diagnostics: data.warnings.clone(),
            warnings: Vec::new(),
            data,
            vars,
            secrets: options.vault.clone(),
            decrypt_cache: Arc::default(),
            explicit_playbook_dir: playbook.is_some_and(|(_, explicit)| explicit),
        };
        inv.warn_vars();
        inv.warnings = inv.diagnostics.iter().map(|w| w.message.clone()).collect();
        Ok(inv)
    }

    /// Adds the warnings Ansible prints while it computes each host's variables for `--list`
    /// (hosts in `all` order): a `group_vars`/`host_vars` path that is not a directory, a vars
    /// file's duplicate keys (when the file is first read), then "Found variable using reserved
    /// name" for the host's variables, each with where the name was first written.
    fn warn_vars(&mut self) {
        let mut out: Vec<Warning> = Vec::new();
        let mut push = |message: String| {
            let w = Warning {
                kind: WarningKind::Warning,
                message,
            };
            if !out.contains(&w) {
                out.push(w);
            }
        };
        let mut read: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
        for host in self.hosts() {
            for (dir, entity, name) in self.vars_lookups(&host) {
                if let Some(w) = self.vars.not_a_directory(&dir, entity) {
                    push(w.to_string());
                }
                for f in self.vars.files(&dir, entity, &name) {
                    if read.insert(f.path.clone()) {
                        f.warnings.iter().for_each(|w| push(w.clone()));
                    }
                }
            }
            let Ok(vars) = self.merged_vars(&host) else {
                continue;
            };
            for (k, _) in vars.iter() {
                if !precedence::is_reserved(k) {
                    continue;
                }
                let context = match vars.origin(k) {
                    Some(o) => diagnostics::source_context(&o.path, o.line, o.col),
                    None => format!("Origin: <unknown>\n\n{k}"),
                };
                push(format!(
                    "Found variable using reserved name {}.\n{context}",
                    pyrepr::str_repr(k)
                ));
            }
        }
        for w in out {
            if !self.diagnostics.contains(&w) {
                self.diagnostics.push(w);
            }
        }
    }

    /// The messages Ansible would print while loading (unknown YAML group keys, invalid group
    /// characters, duplicate YAML keys, sources that could not be parsed, ...), each once, in
    /// order, without the `[WARNING]: ` prefix. A message may span several lines.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The same messages with their kind (warning or deprecation).
    pub fn diagnostics(&self) -> &[Warning] {
        &self.diagnostics
    }

    /// Exactly what `ansible-inventory --list` prints on stderr for these sources
    /// (`[WARNING]: ...`, `[DEPRECATION WARNING]: ...` lines and blocks).
    pub fn warnings_text(&self) -> String {
        diagnostics::render(&self.diagnostics)
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
        self.list_json_with(limit, false)
    }

    /// `ansible-inventory --list [--limit L] [--export]` as a JSON value: with `export`, groups
    /// carry their own `vars` and hosts only their own variables (inline and `host_vars`).
    pub fn list_json_with(&self, limit: Option<&str>, export: bool) -> Result<Value, Error> {
        let sel = self.select_limited("all", limit)?;
        Ok(value::to_json(
            &output::list_doc(self, &sel.hosts, export)?,
            true,
        ))
    }

    /// Exactly `ansible-inventory --graph [GROUP] [--vars]` text, with the trailing newline.
    pub fn graph(&self, group: Option<&str>, with_vars: bool) -> Result<String, Error> {
        output::graph(self, group, with_vars)
    }
}
