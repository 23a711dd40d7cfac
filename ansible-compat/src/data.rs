//! The inventory model: groups, hosts and their relations, as ansible-core's `InventoryData`,
//! `Group` and `Host` keep them.
//!
//! Owns group depth (longest parent chain from `all`), priorities, inline variables, the
//! parent/child graph with Ansible's loop checks, `reconcile` (parentless groups go under `all`,
//! hosts without a group go to `ungrouped`) and the host order of a group (`Group.get_hosts`).

use std::collections::{HashMap, HashSet};

use crate::diagnostics::{Warning, WarningKind};
use crate::value::{KeyOrigin, Kind, Node, OVars};

/// Index of a group in [`InventoryData::groups`].
pub type GroupId = usize;
/// Index of a host in [`InventoryData::hosts`].
pub type HostId = usize;

/// The names Ansible treats as the implicit localhost.
pub const LOCALHOST: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// Where a variable was written (file, 1-based line, 1-based column when known).
#[derive(Debug, Clone, Copy)]
pub struct VarOrigin<'a> {
    /// The inventory file.
    pub path: &'a std::path::Path,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (YAML keys); `None` underlines the whole line (INI).
    pub col: Option<usize>,
}

/// A group.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group name.
    pub name: String,
    /// Length of the longest parent chain to `all` (`all` is 0).
    pub depth: usize,
    /// `ansible_group_priority` (default 1).
    pub priority: i64,
    /// Variables set in inventory sources.
    pub vars: OVars,
    /// Child groups, in the order they were added.
    pub children: Vec<GroupId>,
    /// Parent groups, in the order they were added.
    pub parents: Vec<GroupId>,
    /// Hosts that are direct members, in the order they were added.
    pub hosts: Vec<HostId>,
}

/// A host.
#[derive(Debug, Clone)]
pub struct Host {
    /// The inventory name (alias).
    pub name: String,
    /// Variables set in inventory sources (including `ansible_port` from `host:port`).
    pub vars: OVars,
}

/// All groups and hosts of an inventory.
#[derive(Debug, Clone)]
pub struct InventoryData {
    /// Groups in creation order (`all`, `ungrouped`, then as met).
    pub groups: Vec<Group>,
    group_ids: HashMap<String, GroupId>,
    /// Hosts in creation order.
    pub hosts: Vec<Host>,
    host_ids: HashMap<String, HostId>,
    /// The first localhost-like host defined, if any.
    pub localhost: Option<HostId>,
    /// Warnings produced while building (deduplicated, in order).
    pub warnings: Vec<Warning>,
    /// (host, group) pairs ansible-core dropped from the host's groups while keeping the host
    /// in the group's host list (see `prune_ancestors`).
    pruned: HashSet<(HostId, GroupId)>,
}

/// Whether `name` is a valid Python identifier made of ASCII (ansible's `validate_variable_name`).
pub fn is_valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c == '_' || c.is_ascii_alphabetic() => {
            chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        }
        _ => false,
    };
    ok && !matches!(
        name,
        "False" | "None" | "True" | "false" | "none" | "not" | "true"
    )
}

impl Default for InventoryData {
    fn default() -> Self {
        Self::new()
    }
}

impl InventoryData {
    /// An inventory with only `all` and its child `ungrouped`.
    pub fn new() -> Self {
        let mut inv = InventoryData {
            groups: Vec::new(),
            group_ids: HashMap::new(),
            hosts: Vec::new(),
            host_ids: HashMap::new(),
            localhost: None,
            warnings: Vec::new(),
            pruned: HashSet::new(),
        };
        inv.add_group("all").expect("valid name");
        inv.add_group("ungrouped").expect("valid name");
        inv.add_child("all", "ungrouped").expect("no loop");
        inv
    }

    /// Records a warning once.
    pub fn warn(&mut self, msg: impl Into<String>) {
        self.push_warning(WarningKind::Warning, msg.into());
    }

    /// Records a deprecation warning once.
    pub fn deprecate(&mut self, msg: impl Into<String>) {
        self.push_warning(WarningKind::Deprecation, msg.into());
    }

    fn push_warning(&mut self, kind: WarningKind, message: String) {
        let w = Warning { kind, message };
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    /// Looks a group up by name.
    pub fn group_id(&self, name: &str) -> Option<GroupId> {
        self.group_ids.get(name).copied()
    }

    /// Looks a host up by name.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.host_ids.get(name).copied()
    }

    /// The group `all`.
    pub fn all(&self) -> GroupId {
        0
    }

    /// Adds a group if new (warning about characters Ansible calls invalid); returns its name.
    pub fn add_group(&mut self, name: &str) -> Result<String, String> {
        if name.is_empty() {
            return Err(format!("Invalid empty/false group name provided: {name}"));
        }
        if self.group_ids.contains_key(name) {
            return Ok(name.to_string());
        }
        let invalid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || !(c == '_' || c.is_alphanumeric()))
            || name.chars().any(|c| !(c == '_' || c.is_alphanumeric()));
        if invalid {
            self.warn("Invalid characters were found in group names but not replaced, use -vvvv to see details");
        }
        self.group_ids.insert(name.to_string(), self.groups.len());
        self.groups.push(Group {
            name: name.to_string(),
            depth: 0,
            priority: 1,
            vars: OVars::new(),
            children: Vec::new(),
            parents: Vec::new(),
            hosts: Vec::new(),
        });
        Ok(name.to_string())
    }

    /// Adds a host if new (with `ansible_port` when `port` is given; a port on a later
    /// definition of the same host is ignored, as in Ansible) and puts it in `group`.
    pub fn add_host(
        &mut self,
        name: &str,
        group: Option<&str>,
        port: Option<u64>,
    ) -> Result<HostId, String> {
        if name.is_empty() {
            return Err(format!("Invalid empty host name provided: {name}"));
        }
        let gid = match group {
            Some(g) => Some(
                self.group_id(g)
                    .ok_or_else(|| format!("Could not find group {g} in inventory"))?,
            ),
            None => None,
        };
        let hid = match self.host_id(name) {
            Some(h) => h,
            None => {
                let mut vars = OVars::new();
                if let Some(p) = port.filter(|p| *p != 0) {
                    vars.insert("ansible_port".into(), Node::new(Kind::Int(p.into())));
                }
                let hid = self.hosts.len();
                self.hosts.push(Host {
                    name: name.to_string(),
                    vars,
                });
                self.host_ids.insert(name.to_string(), hid);
                if LOCALHOST.contains(&name) {
                    match self.localhost {
                        None => self.localhost = Some(hid),
                        Some(first) => {
                            let first = self.hosts[first].name.clone();
                            self.warn(format!(
                                "A duplicate localhost-like entry was found ({name}). First found localhost was {first}"
                            ));
                        }
                    }
                }
                hid
            }
        };
        if let Some(g) = gid
            && !self.groups[g].hosts.contains(&hid)
        {
            self.groups[g].hosts.push(hid);
        }
        Ok(hid)
    }

    /// Sets a variable on the group named `entity`, or else the host of that name.
    pub fn set_variable(&mut self, entity: &str, key: &str, value: Node) -> Result<(), String> {
        self.set_variable_at(entity, key, value, None)
    }

    /// [`InventoryData::set_variable`] for a key written at `origin` (named by the warning
    /// about invalid variable names).
    pub fn set_variable_at(
        &mut self,
        entity: &str,
        key: &str,
        value: Node,
        origin: Option<VarOrigin<'_>>,
    ) -> Result<(), String> {
        let mut value = value;
        value.fresh_ids();
        let key_origin = origin.map(|o| KeyOrigin {
            path: o.path.to_path_buf(),
            line: o.line,
            col: o.col,
        });
        if !is_valid_var_name(key) {
            let context = match origin {
                Some(o) => crate::diagnostics::source_context(o.path, o.line, o.col),
                None => format!("Origin: <unknown>\n\n{key}"),
            };
            self.deprecate(format!(
                "Accepting inventory variable with invalid name {}. This feature will be removed from ansible-core version 2.23.\n{context}\n\nVariable names must be strings starting with a letter or underscore character, and contain only letters, numbers and underscores.",
                crate::pyrepr::str_repr(key)
            ));
        }
        if let Some(g) = self.group_id(entity) {
            if key == "ansible_group_priority" {
                self.groups[g].priority = py_int_value(&value).ok_or_else(|| match &value.kind {
                    Kind::Str(s) | Kind::Unsafe(s) => {
                        format!("invalid literal for int() with base 10: {}", crate::pyrepr::str_repr(s))
                    }
                    _ => format!(
                        "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                        value.type_name()
                    ),
                })?;
            } else {
                self.groups[g]
                    .vars
                    .insert_at(key.to_string(), value, key_origin);
            }
            Ok(())
        } else if let Some(h) = self.host_id(entity) {
            self.hosts[h]
                .vars
                .insert_at(key.to_string(), value, key_origin);
            Ok(())
        } else {
            Err(format!("Could not identify group or host named {entity}"))
        }
    }

    /// Ancestors of a group (all groups reachable through parents).
    pub fn ancestors(&self, g: GroupId) -> HashSet<GroupId> {
        let mut seen = HashSet::new();
        let mut todo: Vec<GroupId> = self.groups[g].parents.clone();
        while let Some(p) = todo.pop() {
            if seen.insert(p) {
                todo.extend(self.groups[p].parents.iter().copied());
            }
        }
        seen
    }

    /// Adds a group or host (`child`) to `group`, as `InventoryData.add_child`.
    pub fn add_child(&mut self, group: &str, child: &str) -> Result<(), String> {
        let g = self
            .group_id(group)
            .ok_or_else(|| format!("{group} is not a known group"))?;
        if let Some(c) = self.group_id(child) {
            self.add_child_group(g, c)
        } else if let Some(h) = self.host_id(child) {
            if !self.groups[g].hosts.contains(&h) {
                self.groups[g].hosts.push(h);
            }
            Ok(())
        } else {
            Err(format!("{child} is not a known host nor group"))
        }
    }

    fn add_child_group(&mut self, parent: GroupId, child: GroupId) -> Result<(), String> {
        if parent == child {
            return Err("can't add group to itself".into());
        }
        if self.groups[parent].children.contains(&child) {
            return Ok(());
        }
        if self.ancestors(parent).contains(&child) {
            return Err(format!(
                "Adding group '{}' as child to '{}' creates a recursive dependency loop.",
                self.groups[child].name, self.groups[parent].name
            ));
        }
        self.groups[parent].children.push(child);
        let d = (self.groups[parent].depth + 1).max(self.groups[child].depth);
        self.groups[child].depth = d;
        self.propagate_depth(child);
        if !self.groups[child].parents.contains(&parent) {
            self.groups[child].parents.push(parent);
        }
        Ok(())
    }

    /// `Group._check_children_depth`: children are deeper than their parents.
    fn propagate_depth(&mut self, g: GroupId) {
        let mut todo = vec![g];
        while let Some(p) = todo.pop() {
            let d = self.groups[p].depth + 1;
            for c in self.groups[p].children.clone() {
                if self.groups[c].depth < d {
                    self.groups[c].depth = d;
                    todo.push(c);
                }
            }
        }
    }

    /// All groups a host belongs to, directly or through ancestors (Ansible's `host.groups`).
    pub fn host_groups(&self, h: HostId) -> Vec<GroupId> {
        let mut out: Vec<GroupId> = Vec::new();
        for (gid, g) in self.groups.iter().enumerate() {
            if g.hosts.contains(&h) {
                let mut anc: Vec<GroupId> = self.ancestors(gid).into_iter().collect();
                anc.sort_unstable();
                for a in anc.into_iter().chain(std::iter::once(gid)) {
                    if !out.contains(&a) && !self.pruned.contains(&(h, a)) {
                        out.push(a);
                    }
                }
            }
        }
        out
    }

    /// The rest of `Host.remove_group` once `g` is gone from the host's groups: every ancestor
    /// of `g` (but `all`) that none of the host's remaining groups descends from goes too, even
    /// a group the host is a direct member of (as ansible-core does when it takes a host out of
    /// `ungrouped`).
    fn prune_ancestors(&mut self, h: HostId, g: GroupId) {
        let mut ancestors: Vec<GroupId> = self.ancestors(g).into_iter().collect();
        ancestors.sort_unstable();
        for old in ancestors {
            if old == self.all() {
                continue;
            }
            let kept = self
                .host_groups(h)
                .iter()
                .any(|c| self.ancestors(*c).contains(&old));
            if !kept && self.host_groups(h).contains(&old) {
                self.pruned.insert((h, old));
                self.prune_ancestors(h, old);
            }
        }
    }

    /// `InventoryData.reconcile_inventory`, run once after all sources are parsed.
    pub fn reconcile(&mut self) -> Result<(), String> {
        for g in 0..self.groups.len() {
            if g != self.all() && self.groups[g].parents.is_empty() {
                self.add_child_group(self.all(), g)?;
            }
        }
        let ungrouped = self.group_id("ungrouped").expect("ungrouped exists");
        for h in 0..self.hosts.len() {
            let groups = self.host_groups(h);
            if groups.contains(&ungrouped) {
                let direct = self.groups[ungrouped].hosts.contains(&h);
                if direct && groups.iter().any(|g| *g != self.all() && *g != ungrouped) {
                    self.groups[ungrouped].hosts.retain(|x| *x != h);
                    self.pruned.insert((h, ungrouped));
                    self.prune_ancestors(h, ungrouped);
                }
            } else if groups.is_empty() || groups == [self.all()] {
                self.groups[ungrouped].hosts.push(h);
            }
        }
        let mut conflicts: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| self.group_ids.contains_key(&h.name))
            .map(|h| h.name.clone())
            .collect();
        conflicts.sort();
        for c in conflicts {
            self.warn(format!("Found both group and host with same name: {c}"));
        }
        Ok(())
    }

    /// `Group.get_hosts`: hosts of the group and its descendants, breadth first, without
    /// duplicates. Ansible walks each level as a Python set, so for groups whose descendants
    /// branch at two levels or more its order varies between runs; this walks levels in list
    /// order, which is one of the orders Ansible can produce.
    pub fn group_hosts(&self, g: GroupId) -> Vec<HostId> {
        let mut ordered: Vec<GroupId> = vec![g];
        ordered.extend(self.groups[g].children.iter().copied());
        let mut seen: HashSet<GroupId> = ordered.iter().copied().collect();
        let mut level: Vec<GroupId> = ordered.clone();
        while !level.is_empty() {
            let mut next = Vec::new();
            for p in &level {
                for c in &self.groups[*p].children {
                    if seen.insert(*c) {
                        ordered.push(*c);
                        next.push(*c);
                    }
                }
            }
            level = next;
        }
        let mut hosts = Vec::new();
        let mut seen_h = HashSet::new();
        for kid in ordered {
            for h in &self.groups[kid].hosts {
                if seen_h.insert(*h) {
                    hosts.push(*h);
                }
            }
        }
        hosts
    }
}

/// Python's `int(value)` for a priority.
fn py_int_value(v: &Node) -> Option<i64> {
    match &v.kind {
        Kind::Bool(b) => Some(i64::from(*b)),
        Kind::Int(i) => i64::try_from(*i).ok(),
        Kind::Float(f) if f.is_finite() => Some(f.trunc() as i64),
        Kind::Str(s) | Kind::Unsafe(s) => {
            crate::ranges::py_int(s).and_then(|i| i64::try_from(i).ok())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_longest_chain() {
        let mut inv = InventoryData::new();
        for g in ["a", "b", "c"] {
            inv.add_group(g).unwrap();
        }
        inv.add_child("a", "c").unwrap();
        inv.add_child("a", "b").unwrap();
        inv.add_child("b", "c").unwrap();
        inv.reconcile().unwrap();
        let d = |n: &str| inv.groups[inv.group_id(n).unwrap()].depth;
        assert_eq!(
            (d("all"), d("a"), d("b"), d("c"), d("ungrouped")),
            (0, 1, 2, 3, 1)
        );
        assert!(inv.add_child("c", "a").is_err());
    }

    #[test]
    fn ungrouped_and_ports() {
        let mut inv = InventoryData::new();
        inv.add_group("web").unwrap();
        inv.add_host("h1", Some("ungrouped"), Some(22)).unwrap();
        inv.add_host("h1", Some("web"), Some(33)).unwrap();
        inv.add_host("h2", Some("ungrouped"), None).unwrap();
        inv.reconcile().unwrap();
        let ug = inv.group_id("ungrouped").unwrap();
        assert_eq!(inv.groups[ug].hosts, vec![1]);
        let port = inv.hosts[0]
            .vars
            .iter()
            .find(|(k, _)| *k == "ansible_port")
            .map(|(_, n)| n.kind.clone());
        assert_eq!(port, Some(Kind::Int(22)));
    }
}
