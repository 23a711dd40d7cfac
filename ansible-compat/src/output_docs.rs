//! `ansible-inventory --list` and `--host` in each output format, as the exact text printed.
//!
//! `--list --yaml` is the group tree (`InventoryCLI.yaml_inventory`): each group maps to
//! `children` (nested groups, a group already shown elsewhere as `{}`), `hosts` (each host's
//! merged variables the first time it appears, `{}` afterwards) and, with `--export`, `vars`;
//! empty keys and empty groups are dropped. `--list --toml` (`toml_inventory`) is flat: one
//! table per group with `children` (names), `hosts` and `vars`, groups in traversal order, a
//! group reached twice written twice with the later (variable-less) copy winning, as in
//! ansible-core. JSON is [`crate::output::list_json`].

use std::collections::HashSet;

use crate::data::{GroupId, HostId};
use crate::error::Error;
use crate::value::{Kind, Node, OVars};
use crate::{Inventory, json_out, toml_out, yaml_out};

/// The output format of `--list` and `--host` (`--yaml`, `--toml`, or JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// JSON (`json.dumps(sort_keys=True, indent=4)`), the default.
    #[default]
    Json,
    /// `--yaml`.
    Yaml,
    /// `--toml`.
    Toml,
}

fn str_node(s: &str) -> Node {
    Node::str(s)
}

fn map_node(pairs: Vec<(Node, Node)>) -> Node {
    Node::new(Kind::Map(pairs))
}

fn vars_node(vars: &OVars) -> Node {
    map_node(vars.iter().map(|(k, v)| (str_node(k), v.clone())).collect())
}

/// `dict.update`: existing keys keep their place and take the new value.
fn update(into: &mut Vec<(Node, Node)>, from: Vec<(Node, Node)>) {
    for (k, v) in from {
        match into.iter_mut().find(|(ek, _)| ek.as_str() == k.as_str()) {
            Some(slot) => slot.1 = v,
            None => into.push((k, v)),
        }
    }
}

struct Docs<'a> {
    inv: &'a Inventory,
    avail: HashSet<HostId>,
    export: bool,
    seen_hosts: HashSet<HostId>,
    seen_groups: HashSet<GroupId>,
}

impl Docs<'_> {
    fn host_vars(&mut self, h: HostId) -> Result<Node, Error> {
        if !self.seen_hosts.insert(h) {
            return Ok(map_node(Vec::new()));
        }
        let name = &self.inv.data.hosts[h].name;
        let vars = if self.export {
            self.inv.export_vars(name)?
        } else {
            self.inv.merged_vars(name)?
        };
        Ok(vars_node(&vars))
    }

    fn group_vars(&self, g: GroupId) -> Result<Option<Node>, Error> {
        if !self.export {
            return Ok(None);
        }
        let vars = self.inv.group_vars(g)?;
        Ok((vars.iter().next().is_some()).then(|| vars_node(&vars)))
    }

    /// `yaml_inventory`'s `format_group`: `{name: {...}}`, or nothing for an empty group.
    fn yaml_group(&mut self, g: GroupId) -> Result<Vec<(Node, Node)>, Error> {
        let data = &self.inv.data;
        let group = &data.groups[g];
        let mut children = Vec::new();
        for &c in &group.children {
            if data.groups[c].name == "all" {
                continue;
            }
            if self.seen_groups.contains(&c) {
                update(
                    &mut children,
                    vec![(str_node(&data.groups[c].name), map_node(Vec::new()))],
                );
            } else {
                let sub = self.yaml_group(c)?;
                update(&mut children, sub);
                self.seen_groups.insert(c);
            }
        }
        let mut hosts = Vec::new();
        if g != data.all() {
            for &h in &group.hosts {
                if self.avail.contains(&h) {
                    let vars = self.host_vars(h)?;
                    update(&mut hosts, vec![(str_node(&data.hosts[h].name), vars)]);
                }
            }
        }
        let mut entry = Vec::new();
        if !children.is_empty() {
            entry.push((str_node("children"), map_node(children)));
        }
        if !hosts.is_empty() {
            entry.push((str_node("hosts"), map_node(hosts)));
        }
        if let Some(v) = self.group_vars(g)? {
            entry.push((str_node("vars"), v));
        }
        Ok(if entry.is_empty() {
            Vec::new()
        } else {
            vec![(str_node(&group.name), map_node(entry))]
        })
    }

    /// `toml_inventory`'s `format_group`: this group's table, then its sub-groups' tables.
    fn toml_group(&mut self, g: GroupId, has_ungrouped: bool) -> Result<Vec<(Node, Node)>, Error> {
        let data = &self.inv.data;
        let group = &data.groups[g];
        let is_all = g == data.all();
        let mut results: Vec<(Node, Node)> = vec![(str_node(&group.name), map_node(Vec::new()))];
        let mut children = Vec::new();
        for &c in &group.children {
            if data.groups[c].name == "ungrouped" && !has_ungrouped {
                continue;
            }
            if !is_all {
                children.push(str_node(&data.groups[c].name));
            }
            let sub = self.toml_group(c, has_ungrouped)?;
            update(&mut results, sub);
        }
        let mut hosts = Vec::new();
        if !is_all {
            for &h in &group.hosts {
                if self.avail.contains(&h) {
                    let vars = self.host_vars(h)?;
                    hosts.push((str_node(&data.hosts[h].name), vars));
                }
            }
        }
        let mut entry = Vec::new();
        if !children.is_empty() {
            entry.push((str_node("children"), Node::new(Kind::Seq(children))));
        }
        if !hosts.is_empty() {
            entry.push((str_node("hosts"), map_node(hosts)));
        }
        if let Some(v) = self.group_vars(g)? {
            entry.push((str_node("vars"), v));
        }
        if entry.is_empty() {
            results.retain(|(k, _)| k.as_str() != Some(group.name.as_str()));
        } else {
            results[0].1 = map_node(entry);
        }
        Ok(results)
    }
}

impl Inventory {
    /// Exactly what `ansible-inventory --list [--limit L] [--export] [--yaml|--toml]` prints on
    /// stdout, trailing newline included. An empty string means Ansible prints nothing and
    /// exits 1 (a `--toml` inventory with no group to show). Values TOML cannot hold (`null`,
    /// vault values) are an [`Error::Output`], as Ansible fails on them.
    pub fn list_text(
        &self,
        limit: Option<&str>,
        format: OutputFormat,
        export: bool,
    ) -> Result<String, Error> {
        let sel = self.select_limited("all", limit)?;
        if format == OutputFormat::Json {
            let doc = crate::output::list_doc(self, &sel.hosts, export)?;
            return Ok(format!("{}\n", json_out::node_to_ansible_json(&doc, true)));
        }
        let avail: HashSet<HostId> = sel
            .hosts
            .iter()
            .filter_map(|h| self.data.host_id(h))
            .collect();
        let mut docs = Docs {
            inv: self,
            avail,
            export,
            seen_hosts: HashSet::new(),
            seen_groups: HashSet::new(),
        };
        let all = self.data.all();
        if format == OutputFormat::Yaml {
            let doc = map_node(docs.yaml_group(all)?);
            return yaml_out::to_yaml(&doc);
        }
        let has_ungrouped = self
            .data
            .group_id("ungrouped")
            .is_some_and(|u| !self.data.groups[u].hosts.is_empty());
        let doc = map_node(docs.toml_group(all, has_ungrouped)?);
        toml_out::to_toml(&doc)
    }

    /// Exactly what `ansible-inventory --host PATTERN [--export] [--yaml|--toml]` prints: the
    /// variables of the one host the pattern selects (an error unless exactly one).
    pub fn host_text(
        &self,
        pattern: &str,
        format: OutputFormat,
        export: bool,
    ) -> Result<String, Error> {
        let sel = self.select(pattern)?;
        let [host] = sel.hosts.as_slice() else {
            return Err(Error::UnknownHost(pattern.to_string()));
        };
        let vars = if export {
            self.export_vars(host)?
        } else {
            self.merged_vars(host)?
        };
        match format {
            OutputFormat::Json => Ok(format!(
                "{}\n",
                json_out::node_to_ansible_json(&vars_node(&vars), false)
            )),
            OutputFormat::Yaml => yaml_out::to_yaml(&vars_node(&vars)),
            OutputFormat::Toml => toml_out::to_toml(&vars_node(&vars)),
        }
    }
}
