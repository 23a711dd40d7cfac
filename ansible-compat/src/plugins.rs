//! The inventory plugins ansible-core enables by default, tried in its order on one source:
//! `host_list`, `script`, `auto`, `yaml`, `ini`, `toml`. Each plugin first checks whether it
//! wants the source (`verify_file`), then parses it straight into the inventory; the first that
//! succeeds wins. A plugin that fails keeps whatever it already added (as in Ansible) and the
//! next one is tried. The failures are kept to be reported: [`Failure::render`] gives the
//! warning text Ansible prints, [`most_relevant`] the error strict loading returns.
//!
//! - `host_list`: a source that is not a path and contains a comma; each item is a host with an
//!   optional port (`parse_address` without ranges; an item it cannot parse is used as is).
//! - `script`: an executable file ([`crate::script`]).
//! - `auto`: a `.yml`/`.yaml` file that configures another plugin (`plugin: NAME`), which this
//!   crate does not run; any other YAML fails with Ansible's "no root 'plugin' key" message.
//! - `yaml`: no extension or `.yml`, `.yaml`, `.json` ([`crate::yaml_inventory`]).
//! - `ini`: anything but `.toml` ([`crate::ini`]).
//! - `toml`: `.toml` files ([`crate::toml_inventory`]).
//!
//! Whole-file vaults are decrypted before the YAML, INI and TOML readers see them.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::address::parse_address;
use crate::data::InventoryData;
use crate::document;
use crate::error::Error;
use crate::value::Node;
use crate::vars_files::splitext_ext;
use crate::vault::VaultSecrets;
use crate::{ini, script, toml_inventory, yaml_inventory};

/// ansible-core 2.19's `ini` plugin fails on every file whose path contains a comma (the path
/// is a tagged string its `Origin` refuses).
const ORIGIN_BUG: &str = "Origin.path must be <class 'NoneType'> or <class 'str'> instead of <class 'ansible.module_utils._internal._datatag._AnsibleTaggedStr'>";

/// One part of a failure's cause chain as Ansible prints it: the message and its `Origin:`.
#[derive(Debug, Clone)]
struct Segment {
    message: String,
    origin: String,
    help: Option<String>,
}

/// One plugin's failed attempt at a source.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The plugin name (`ini`, `yaml`, ...).
    pub plugin: &'static str,
    /// What went wrong.
    pub error: Error,
    chain: Vec<Segment>,
}

/// `deduplicate_message_parts` of ansible-core: messages joined with `: `, repeats dropped.
fn join_messages(parts: &[String]) -> String {
    let mut iter = parts.iter().rev();
    let mut message = iter.next().cloned().unwrap_or_default();
    for part in iter {
        if part.ends_with(&message) {
            message = part.clone();
        } else {
            message = format!("{}: {message}", part.trim_end_matches(['.', ' ']));
        }
    }
    message
}

impl Failure {
    fn new(plugin: &'static str, source: &str, error: Error) -> Failure {
        let plugin_origin = format!(
            "Origin: <inventory plugin {} with source {}>",
            crate::pyrepr::str_repr(plugin),
            crate::pyrepr::str_repr(source)
        );
        let seg = |message: String, origin: String| Segment {
            message,
            origin,
            help: None,
        };
        let chain = match (&error, plugin) {
            (Error::Vault { path, reason, .. }, "ini") => vec![
                seg("Failed to parse inventory.".into(), plugin_origin),
                seg(reason.clone(), format!("Origin: {}", path.display())),
            ],
            (Error::PluginConfig { plugin, .. }, "auto") if !is_builtin_plugin(plugin) => {
                vec![seg(
                    format!("inventory config '{source}' specifies unknown plugin '{plugin}'"),
                    plugin_origin,
                )]
            }
            (Error::Vault { path, reason, .. }, "auto") => {
                vec![seg(reason.clone(), format!("Origin: {}", path.display()))]
            }
            (Error::Parse { message, .. }, "ini") if message.starts_with(ORIGIN_BUG) => vec![seg(
                join_messages(&["Failed to parse inventory.".into(), message.clone()]),
                plugin_origin,
            )],
            (Error::Parse { path, message, .. }, "ini") => vec![seg(
                join_messages(&["Failed to parse inventory.".into(), message.clone()]),
                format!("Origin: {}", path.display()),
            )],
            (
                Error::Parse {
                    path,
                    line,
                    message,
                },
                "auto",
            ) if message.starts_with("YAML parsing failed") => {
                let at = line.map(|l| format!(":{l}")).unwrap_or_default();
                vec![seg(
                    message.clone(),
                    format!("Origin: {}{at}", path.display()),
                )]
            }
            (Error::Script { message, .. }, _) => {
                let (msg, help) =
                    match message.split_once("\nStandard error from inventory script:") {
                        Some((m, rest)) => (
                            m.to_string(),
                            Some(format!("Standard error from inventory script:{rest}")),
                        ),
                        None => (message.clone(), None),
                    };
                vec![Segment {
                    message: msg,
                    origin: plugin_origin,
                    help,
                }]
            }
            _ => vec![seg(error.message(), plugin_origin)],
        };
        Failure {
            plugin,
            error,
            chain,
        }
    }

    /// The warning Ansible prints for this failure (without `[WARNING]: `), e.g.
    /// `Failed to parse inventory with 'ini' plugin: Failed to parse inventory: ...` followed by
    /// the cause chain and each cause's `Origin:`.
    pub fn render(&self) -> String {
        let first = format!("Failed to parse inventory with '{}' plugin.", self.plugin);
        let mut parts = vec![first.clone()];
        parts.extend(self.chain.iter().map(|s| s.message.clone()));
        let mut out = format!("{}\n\n{first}\n", join_messages(&parts));
        for s in &self.chain {
            out.push_str(&format!(
                "\n<<< caused by >>>\n\n{}\n{}\n",
                s.message, s.origin
            ));
            if let Some(help) = &s.help {
                out.push_str(&format!("\n{help}\n"));
            }
        }
        out.trim().to_string()
    }
}

/// Whether ansible-core itself ships an inventory plugin of this name (the `auto` plugin would
/// run it; any other name is unknown unless a collection provides it).
fn is_builtin_plugin(name: &str) -> bool {
    let short = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    matches!(
        short,
        "advanced_host_list"
            | "auto"
            | "constructed"
            | "generator"
            | "host_list"
            | "ini"
            | "script"
            | "toml"
            | "yaml"
    )
}

fn exists_readable(path: &Path) -> bool {
    path.is_file() && std::fs::File::open(path).is_ok()
}

/// The file's bytes, read once, decrypted once.
struct Content<'a> {
    path: &'a Path,
    secrets: &'a VaultSecrets,
    bytes: Option<Result<Vec<u8>, Error>>,
    yaml: Option<Result<Option<Node>, Error>>,
}

impl Content<'_> {
    fn bytes(&mut self) -> Result<Vec<u8>, Error> {
        if self.bytes.is_none() {
            let read = std::fs::read(self.path)
                .map_err(|e| Error::io(self.path, e))
                .and_then(|b| {
                    document::decrypt_file(&b, self.path, self.secrets).map(|c| c.into_owned())
                });
            self.bytes = Some(read);
        }
        self.bytes.clone().unwrap_or_else(|| Ok(Vec::new()))
    }

    /// The YAML/JSON document; its loading warnings go to `inv` the first time.
    fn yaml(&mut self, inv: &mut InventoryData) -> Result<Option<Node>, Error> {
        if self.yaml.is_none() {
            let loaded = self
                .bytes()
                .and_then(|b| document::load_bytes(&b, self.path))
                .map(|l| {
                    for w in l.warnings {
                        inv.warn(w);
                    }
                    l.node
                });
            self.yaml = Some(loaded);
        }
        self.yaml.clone().unwrap_or(Ok(None))
    }
}

/// Why no plugin parsed a source.
#[derive(Debug, Clone, Default)]
pub struct Unparsed {
    /// Each plugin's failure, in the order they were tried.
    pub failures: Vec<Failure>,
    /// Whether the file loaded as a YAML/JSON mapping (then the YAML error is the one to show).
    yaml_mapping: bool,
}

/// Offers `source` (not a directory) to each plugin in turn; the failures when none parsed it.
pub fn parse_file(
    inv: &mut InventoryData,
    source: &str,
    path: &Path,
    secrets: &VaultSecrets,
) -> Result<(), Unparsed> {
    let mut failures = Vec::new();
    if crate::sources::is_host_list(source, path) {
        match load_host_list(inv, source) {
            Ok(()) => return Ok(()),
            Err(e) => failures.push(Failure::new("host_list", source, e)),
        }
    }
    let readable = exists_readable(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = splitext_ext(&name).to_string();
    let executable =
        readable && std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    let mut content = Content {
        path,
        secrets,
        bytes: None,
        yaml: None,
    };
    let mut attempt =
        |plugin: &'static str,
         wants: bool,
         inv: &mut InventoryData,
         run: &mut dyn FnMut(&mut InventoryData, &mut Content) -> Result<(), Error>|
         -> bool {
            if !wants {
                return false;
            }
            match run(inv, &mut content) {
                Ok(()) => true,
                Err(e) => {
                    failures.push(Failure::new(plugin, source, e));
                    false
                }
            }
        };
    let done = attempt("script", executable, inv, &mut |inv, _| {
        script::parse(inv, path)
    }) || attempt(
        "auto",
        readable && (source.ends_with(".yml") || source.ends_with(".yaml")),
        inv,
        &mut |inv, c| auto_plugin(inv, c, source),
    ) || attempt(
        "yaml",
        readable && matches!(ext.as_str(), "" | ".yml" | ".yaml" | ".json"),
        inv,
        &mut |inv, c| {
            let root = c.yaml(inv)?;
            yaml_inventory::parse(inv, path, root.as_ref())
        },
    ) || attempt("ini", readable && ext != ".toml", inv, &mut |inv, c| {
        if source.contains(',') {
            return Err(Error::parse(path, None, ORIGIN_BUG));
        }
        ini::parse(inv, path, &c.bytes()?)
    }) || attempt("toml", readable && ext == ".toml", inv, &mut |inv, c| {
        toml_inventory::parse(inv, path, &c.bytes()?)
    });
    if done {
        return Ok(());
    }
    let yaml_mapping = matches!(
        &content.yaml,
        Some(Ok(Some(Node {
            kind: crate::value::Kind::Map(_),
            ..
        })))
    );
    Err(Unparsed {
        failures,
        yaml_mapping,
    })
}

/// The `auto` plugin: only inventory plugin configuration files, which are not supported.
fn auto_plugin(inv: &mut InventoryData, content: &mut Content, source: &str) -> Result<(), Error> {
    let root = content.yaml(inv)?;
    match yaml_inventory::plugin_name(root.as_ref()) {
        Some(plugin) => Err(Error::PluginConfig {
            path: content.path.to_path_buf(),
            plugin,
        }),
        None => Err(Error::parse(
            content.path,
            None,
            format!(
                "no root 'plugin' key found, '{source}' is not a valid YAML inventory plugin config file"
            ),
        )),
    }
}

/// The `host_list` plugin: `a,b:2222,[::1]:22,` adds hosts to `ungrouped`.
fn load_host_list(inv: &mut InventoryData, list: &str) -> Result<(), Error> {
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
            inv.add_host(&host, Some("ungrouped"), port).map_err(|e| {
                Error::Inventory(format!("Invalid data from string, could not parse: {e}"))
            })?;
        }
    }
    Ok(())
}

/// The error strict loading reports for a source nothing could parse: the failure of the
/// reader the file was most likely meant for.
pub fn most_relevant(path: &Path, unparsed: Unparsed) -> Error {
    let source = path.display().to_string();
    let Unparsed {
        failures,
        yaml_mapping,
    } = unparsed;
    if failures.is_empty() {
        if !path.exists() {
            return Error::SourceNotFound {
                path: path.to_path_buf(),
            };
        }
        return Error::Unparsed(source);
    }
    let by = |p: &str| {
        failures
            .iter()
            .find(|f| f.plugin == p)
            .map(|f| f.error.clone())
    };
    if let Some(e) = failures.iter().find_map(|f| match &f.error {
        e @ (Error::PluginConfig { .. } | Error::Vault { .. }) => Some(e.clone()),
        _ => None,
    }) {
        return e;
    }
    let bytes = std::fs::read(path).unwrap_or_default();
    let script_like = bytes.starts_with(b"#!");
    if script_like && let Some(e) = by("script") {
        return e;
    }
    if let Some(e) = by("toml") {
        return e;
    }
    let Some(ini_err) = by("ini") else {
        return by("yaml")
            .or_else(|| failures.into_iter().next().map(|f| f.error))
            .unwrap_or(Error::Unparsed(source));
    };
    if let Some(yaml_err) = by("yaml") {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let has_ext = !splitext_ext(&name).is_empty();
        if has_ext || yaml_mapping || looks_like_yaml(&ini_err, &bytes) {
            return yaml_err;
        }
    }
    ini_err
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
    fn messages_join_like_ansible() {
        let parts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            join_messages(&parts(&["Failed to parse inventory.", "Bad thing."])),
            "Failed to parse inventory: Bad thing."
        );
        assert_eq!(
            join_messages(&parts(&["Outer: Inner", "Inner"])),
            "Outer: Inner"
        );
    }
}
