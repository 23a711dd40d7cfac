//! The YAML/JSON inventory format (ansible-core's `yaml` inventory plugin).
//!
//! Top-level keys are groups; each group may hold `hosts`, `vars` and `children` (recursively),
//! any of which may be null or a single string (shorthand for a one-key mapping). Unknown keys
//! and non-mapping group bodies are warned about and skipped. Host keys may carry ranges and a
//! `:port`. A file with a top-level `plugin:` key configures an inventory plugin and is declined.

use std::path::Path;

use crate::address::expand_hostpattern;
use crate::data::{InventoryData, VarOrigin};
use crate::error::Error;
use crate::pyrepr::float_repr;
use crate::value::{Kind, Node, key_string};

/// Python's `str()` of a node used as a key in messages.
fn py_str_key(n: &Node) -> String {
    match &n.kind {
        Kind::Str(s) | Kind::Unsafe(s) => s.clone(),
        Kind::Null => "None".into(),
        Kind::Bool(b) => if *b { "True" } else { "False" }.into(),
        Kind::Float(f) => float_repr(*f),
        _ => key_string(n),
    }
}

/// Adds the inventory in `root` (already loaded from `path`) to `inv`, as the `yaml` plugin's
/// `parse`; a document that is not an inventory is an error (the next plugin gets the file).
pub fn parse(inv: &mut InventoryData, path: &Path, root: Option<&Node>) -> Result<(), Error> {
    let decline = |m: String| Err(Error::parse(path, None, m));
    let Some(root) = root.filter(|r| r.truthy()) else {
        return decline("Parsed empty YAML file".into());
    };
    let Kind::Map(pairs) = &root.kind else {
        return decline(format!(
            "YAML inventory has invalid structure, it should be a dictionary, got: {}",
            root.py_type()
        ));
    };
    if let Some((_, plugin)) = pairs.iter().find(|(k, _)| k.as_str() == Some("plugin"))
        && plugin.truthy()
    {
        return decline("Plugin configuration YAML file, not YAML inventory".into());
    }
    let mut p = YamlParser { inv, path };
    for (name, body) in pairs {
        p.group(name, body)?;
    }
    Ok(())
}

/// The value of a truthy top-level `plugin:` key (an inventory plugin configuration file).
pub fn plugin_name(root: Option<&Node>) -> Option<String> {
    let Kind::Map(pairs) = &root?.kind else {
        return None;
    };
    pairs
        .iter()
        .find(|(k, _)| k.as_str() == Some("plugin"))
        .filter(|(_, v)| v.truthy())
        .map(|(_, v)| py_str_key(v))
}

struct YamlParser<'a> {
    inv: &'a mut InventoryData,
    path: &'a Path,
}

/// Where a key was written (JSON documents have no lines).
fn origin(path: &Path, line: usize, col: usize) -> Option<VarOrigin<'_>> {
    (line > 0).then_some(VarOrigin {
        path,
        line,
        col: (col > 0).then_some(col),
    })
}

impl YamlParser<'_> {
    fn err(&self, line: usize, msg: impl Into<String>) -> Error {
        Error::parse(self.path, (line > 0).then_some(line), msg)
    }

    fn group(&mut self, name: &Node, body: &Node) -> Result<String, Error> {
        let label = py_str_key(name);
        if !matches!(body.kind, Kind::Map(_) | Kind::Null) {
            self.inv.warn(format!(
                "Skipping '{label}' as this is not a valid group definition"
            ));
            return Ok(label);
        }
        let group = match &name.kind {
            Kind::Str(s) | Kind::Unsafe(s) if !s.is_empty() => s.clone(),
            Kind::Str(_) | Kind::Null | Kind::Bool(false) => {
                return Err(self.err(
                    name.line,
                    format!("Unable to add group {label}: Invalid empty/false group name provided: {label}"),
                ));
            }
            _ => {
                return Err(self.err(
                    name.line,
                    format!(
                        "Unable to add group {label}: Invalid group name supplied, expected a string but got {} for {label}",
                        name.py_type()
                    ),
                ));
            }
        };
        self.inv
            .add_group(&group)
            .map_err(|m| self.err(name.line, m))?;
        let Kind::Map(sections) = &body.kind else {
            return Ok(group);
        };
        // String shorthand and type checks for the three known sections.
        let mut normalised: Vec<(&Node, Node)> = Vec::new();
        for (key, value) in sections {
            let mut value = value.clone();
            if let Some(section @ ("vars" | "children" | "hosts")) = key.as_str() {
                if let Kind::Str(s) | Kind::Unsafe(s) = &value.kind {
                    let k = Node::at(Kind::Str(s.clone()), value.line);
                    value = Node::at(Kind::Map(vec![(k, Node::new(Kind::Null))]), value.line);
                }
                if !matches!(value.kind, Kind::Map(_) | Kind::Null) {
                    return Err(self.err(
                        value.line,
                        format!(
                            "Invalid \"{section}\" entry for \"{group}\" group, requires a dictionary, found \"{}\" instead.",
                            value.py_type()
                        ),
                    ));
                }
            }
            normalised.push((key, value));
        }
        for (key, value) in &normalised {
            let key_label = py_str_key(key);
            let entries = match &value.kind {
                Kind::Null => continue,
                Kind::Map(entries) => entries,
                _ => {
                    self.inv.warn(format!(
                        "Skipping key ({key_label}) in group ({group}) as it is not a mapping, it is a {}",
                        value.py_type()
                    ));
                    continue;
                }
            };
            match key.as_str() {
                Some("vars") => {
                    for (var, v) in entries {
                        let origin = origin(self.path, var.line, var.col);
                        self.inv.set_variable_at(&group, &key_string(var), v.clone(), origin).map_err(|m| self.err(var.line, m))?;
                    }
                }
                Some("children") => {
                    for (sub, sub_body) in entries {
                        let child = self.group(sub, sub_body)?;
                        self.inv.add_child(&group, &child).map_err(|m| self.err(sub.line, m))?;
                    }
                }
                Some("hosts") => {
                    for (pattern, host_vars) in entries {
                        self.hosts(&group, pattern, host_vars)?;
                    }
                }
                _ => self.inv.warn(format!(
                    "Skipping unexpected key ({key_label}) in group ({group}), only \"vars\", \"children\" and \"hosts\" are valid"
                )),
            }
        }
        Ok(group)
    }

    fn hosts(&mut self, group: &str, pattern: &Node, vars: &Node) -> Result<(), Error> {
        let Some(p) = pattern.as_str() else {
            return Err(self.err(
                pattern.line,
                format!(
                    "Host pattern {} must be a string. Enclose integers/floats in quotation marks.",
                    py_str_key(pattern)
                ),
            ));
        };
        let (hosts, port) = expand_hostpattern(p).map_err(|m| self.err(pattern.line, m))?;
        let empty = Node::new(Kind::Map(Vec::new()));
        let vars = if vars.truthy() { vars } else { &empty };
        let Kind::Map(pairs) = &vars.kind else {
            let shown = crate::pyrepr::py_str(vars);
            return Err(self.err(
                vars.line,
                format!("Invalid data from file, expected dictionary and got:\n\n{shown}"),
            ));
        };
        let mut values = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            values.push((key_string(k), v.clone(), k.line, k.col));
        }
        for h in &hosts {
            self.inv
                .add_host(h, Some(group), port)
                .map_err(|m| self.err(pattern.line, m))?;
            for (k, v, line, col) in &values {
                let origin = origin(self.path, *line, *col);
                self.inv
                    .set_variable_at(h, k, v.clone(), origin)
                    .map_err(|m| self.err(*line, m))?;
            }
        }
        Ok(())
    }
}
