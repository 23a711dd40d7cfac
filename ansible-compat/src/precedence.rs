//! Variable precedence: which layers make up a host's variables, and in what order.
//!
//! Lowest first (ansible-core's `VariableManager.get_vars` with the default
//! `VARIABLE_PRECEDENCE`, inventory part only):
//! 1. the inventory's `all` group vars;
//! 2. the inventory vars of the host's other groups, sorted by `(depth, ansible_group_priority,
//!    name)` ([`sort_groups`]);
//! 3. `group_vars/all` files, source by source;
//! 4. `group_vars/<group>` files, source by source, groups sorted as in 2 within each source;
//! 5. the inventory's host vars;
//! 6. `host_vars/<host>` files, source by source.
//!
//! Layers are merged by replacing whole top-level keys (`hash_behaviour=replace`), and Ansible's
//! internal names (`inventory_file`, `groups`, `playbook_dir`, ...) are dropped.

use std::path::PathBuf;

use crate::Vars;
use crate::data::{GroupId, InventoryData};
use crate::value::OVars;

/// Variable names ansible-inventory removes from what it prints (`C.INTERNAL_STATIC_VARS`).
pub const INTERNAL_STATIC_VARS: [&str; 33] = [
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "role_uuid",
];

/// Names Ansible warns about as variables ("Found variable using reserved name"):
/// playbook keywords and a few template globals (`get_reserved_names()` of ansible-core 2.19,
/// without `vars`, which Ansible skips).
pub const RESERVED_NAMES: [&str; 74] = [
    "action",
    "always",
    "any_errors_fatal",
    "args",
    "async",
    "async_val",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "block",
    "changed_when",
    "check_mode",
    "collections",
    "connection",
    "cycler",
    "debugger",
    "delay",
    "delegate_facts",
    "delegate_to",
    "dict",
    "diff",
    "environment",
    "fact_path",
    "failed_when",
    "force_handlers",
    "gather_facts",
    "gather_timeout",
    "handlers",
    "hosts",
    "ignore_errors",
    "ignore_unreachable",
    "joiner",
    "lipsum",
    "local_action",
    "lookup",
    "loop",
    "loop_control",
    "loop_with",
    "max_fail_percentage",
    "module_defaults",
    "name",
    "namespace",
    "no_log",
    "notify",
    "now",
    "omit",
    "order",
    "poll",
    "port",
    "post_tasks",
    "pre_tasks",
    "q",
    "query",
    "range",
    "register",
    "remote_user",
    "rescue",
    "retries",
    "roles",
    "run_once",
    "serial",
    "strategy",
    "tags",
    "tasks",
    "throttle",
    "timeout",
    "undef",
    "until",
    "vars_files",
    "vars_prompt",
    "when",
    "with_",
];

/// Whether Ansible warns about a variable with this name.
pub fn is_reserved(name: &str) -> bool {
    RESERVED_NAMES.contains(&name)
}

/// Whether ansible-inventory drops this top-level variable name from its output.
pub fn is_internal(name: &str) -> bool {
    INTERNAL_STATIC_VARS.contains(&name)
}

/// Where a [`VarLayer`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSource {
    /// Variables an inventory source set on a group (`[g:vars]`, YAML `vars:`, script `vars`).
    InventoryGroup(String),
    /// A file under `group_vars/` for the named group.
    GroupVarsFile {
        /// The group the file belongs to.
        group: String,
        /// The file.
        path: PathBuf,
    },
    /// Variables an inventory source set on the host (inline `k=v`, YAML host mapping, script).
    InventoryHost,
    /// A file under `host_vars/` for the host.
    HostVarsFile {
        /// The file.
        path: PathBuf,
    },
}

/// One set of variables that contributes to a host's variables.
#[derive(Debug, Clone, PartialEq)]
pub struct VarLayer {
    /// Where the variables come from.
    pub source: LayerSource,
    /// The variables (unsafe strings kept as `{"__ansible_unsafe": ...}` objects).
    pub vars: Vars,
}

/// `sort_groups`: by depth, then `ansible_group_priority`, then name.
pub fn sort_groups(data: &InventoryData, groups: &[GroupId]) -> Vec<GroupId> {
    let mut out = groups.to_vec();
    out.sort_by(|a, b| {
        let (ga, gb) = (&data.groups[*a], &data.groups[*b]);
        (ga.depth, ga.priority, &ga.name).cmp(&(gb.depth, gb.priority, &gb.name))
    });
    out
}

/// A layer as kept internally (typed, ordered values).
#[derive(Debug, Clone)]
pub struct RawLayer {
    /// Where the variables come from.
    pub source: LayerSource,
    /// The variables, internal names already removed.
    pub vars: OVars,
}

impl RawLayer {
    /// The public form (unsafe strings as `{"__ansible_unsafe": ...}`).
    pub fn public(&self) -> VarLayer {
        VarLayer {
            source: self.source.clone(),
            vars: self.vars.to_json(true),
        }
    }
}

/// Replace-merges layers (later wins) and drops Ansible's internal names.
pub fn merge_layers(layers: &[RawLayer]) -> OVars {
    let mut out = OVars::new();
    for layer in layers {
        out.extend(&layer.vars);
    }
    out.retain(|k| !is_internal(k));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Kind, Node};

    #[test]
    fn sorting_by_depth_priority_name() {
        let mut inv = InventoryData::new();
        for g in ["b_group", "a_group", "parent", "child"] {
            inv.add_group(g).unwrap();
        }
        inv.add_child("parent", "child").unwrap();
        inv.set_variable(
            "a_group",
            "ansible_group_priority",
            Node::new(Kind::Int(10)),
        )
        .unwrap();
        inv.reconcile().unwrap();
        let ids: Vec<GroupId> = ["child", "a_group", "parent", "b_group"]
            .iter()
            .map(|n| inv.group_id(n).unwrap())
            .collect();
        let names: Vec<&str> = sort_groups(&inv, &ids)
            .iter()
            .map(|g| inv.groups[*g].name.as_str())
            .collect();
        assert_eq!(names, ["b_group", "parent", "a_group", "child"]);
    }

    #[test]
    fn merge_replaces_and_drops_internal() {
        let layer = |pairs: &[(&str, &str)]| {
            let mut vars = OVars::new();
            for (k, v) in pairs {
                vars.insert(k.to_string(), Node::str(*v));
            }
            RawLayer {
                source: LayerSource::InventoryHost,
                vars,
            }
        };
        let merged = merge_layers(&[
            layer(&[("a", "1"), ("b", "1")]),
            layer(&[("a", "2"), ("groups", "x")]),
        ]);
        assert_eq!(
            serde_json::Value::Object(merged.to_json(true)),
            serde_json::json!({"a": "2", "b": "1"})
        );
    }
}
