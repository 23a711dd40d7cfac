//! Which manifests a node gets, and where they go: podfleet's inventory contract.
//!
//! * `static_pods`: list of template paths relative to the manifests root. **Additive**:
//!   a host gets the union over every layer that sets it (each of its groups, `all`,
//!   `group_vars/*` files, its own host vars), in precedence order. This is podfleet's one
//!   deliberate departure from Ansible's replace-merge: it gives DaemonSet-like placement
//!   by group ("every node in `monitoring` runs node-exporter") without repeating lists.
//! * `static_pods_exclude`: the union of these lists is removed from the result.
//! * `static_pod_path`: the node's manifest directory (normal precedence), default
//!   `/etc/kubernetes/manifests`.
//! * `static_pod_mode`: file mode of written manifests (normal precedence), default `0600`.

use ansible_compat::{Inventory, LayerSource, Value, Vars};

/// Default manifest directory (kubeadm's `staticPodPath`).
pub const DEFAULT_STATIC_POD_PATH: &str = "/etc/kubernetes/manifests";
/// Default mode for written manifests (what kubeadm uses).
pub const DEFAULT_MODE: u32 = 0o600;

/// What the inventory says about one node.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Inventory name (alias) of the host.
    pub host: String,
    /// Fully merged host vars.
    pub vars: Vars,
    /// Absolute path of the manifest directory on the node.
    pub static_pod_path: String,
    /// Mode for files podfleet writes.
    pub file_mode: u32,
    /// Template paths relative to the manifests root, in first-seen order.
    pub templates: Vec<TemplateRef>,
    /// The host's groups that `podfleet_role_groups` names: its Node's
    /// `node-role.kubernetes.io/<group>` labels (kubectl's ROLES).
    pub roles: Vec<String>,
}

/// One selected template and the layer that selected it (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRef {
    /// Path relative to the manifests root, as written in the inventory.
    pub path: String,
    /// Where `static_pods` listed it, e.g. `group "control_plane"`.
    pub listed_in: String,
}

impl TemplateRef {
    /// The file name on the node: the base name without a trailing `.j2`.
    pub fn file_name(&self) -> String {
        let base = self.path.rsplit('/').next().unwrap_or(&self.path);
        base.strip_suffix(".j2").unwrap_or(base).to_string()
    }
}

/// Describe a variable layer for messages.
pub fn describe_layer(source: &LayerSource) -> String {
    match source {
        LayerSource::InventoryGroup(g) => format!("inventory vars of group {g:?}"),
        LayerSource::GroupVarsFile { path, .. } => path.display().to_string(),
        LayerSource::InventoryHost => "the host's inventory vars".to_string(),
        LayerSource::HostVarsFile { path } => path.display().to_string(),
    }
}

/// Resolve the settings of `host`. Errors name the layer that holds the bad value.
pub fn node_settings(inv: &Inventory, host: &str) -> Result<NodeSettings, Vec<String>> {
    let mut errors = Vec::new();
    // Vault values decrypted: templates see the plaintext, as Ansible's do.
    let vars = inv.resolved_vars(host).map_err(|e| vec![e.to_string()])?;
    let layers = inv.var_layers(host).map_err(|e| vec![e.to_string()])?;
    let mut selected: Vec<TemplateRef> = Vec::new();
    let mut excluded: Vec<String> = Vec::new();
    for layer in &layers {
        let where_ = describe_layer(&layer.source);
        for (key, into_excluded) in [("static_pods", false), ("static_pods_exclude", true)] {
            let Some(v) = layer.vars.get(key) else {
                continue;
            };
            match string_list(v) {
                Some(list) => {
                    for p in list {
                        let p = normalize(&p);
                        if into_excluded {
                            excluded.push(p);
                        } else if !selected.iter().any(|t| t.path == p) {
                            selected.push(TemplateRef {
                                path: p,
                                listed_in: where_.clone(),
                            });
                        }
                    }
                }
                None => errors.push(format!(
                    "host {host}: {key} in {where_} must be a list of manifest paths, got {}",
                    short_json(v)
                )),
            }
        }
    }
    selected.retain(|t| !excluded.contains(&t.path));

    let static_pod_path = match vars.get("static_pod_path") {
        None | Some(Value::Null) => DEFAULT_STATIC_POD_PATH.to_string(),
        Some(Value::String(s)) if s.starts_with('/') => match s.trim_end_matches('/') {
            "" => "/".to_string(),
            trimmed => trimmed.to_string(),
        },
        Some(other) => {
            errors.push(format!(
                "host {host}: static_pod_path must be an absolute path, got {}",
                short_json(other)
            ));
            String::new()
        }
    };
    let file_mode = match vars.get("static_pod_mode") {
        None | Some(Value::Null) => DEFAULT_MODE,
        Some(v) => match parse_mode(v) {
            Some(m) => m,
            None => {
                errors.push(format!(
                    "host {host}: static_pod_mode must be an octal mode like \"0600\", got {}",
                    short_json(v)
                ));
                DEFAULT_MODE
            }
        },
    };
    let roles = match vars.get("podfleet_role_groups").map(string_list) {
        None => Vec::new(),
        Some(Some(names)) => {
            let groups = inv.host_group_names(host);
            names.into_iter().filter(|n| groups.contains(n)).collect()
        }
        Some(None) => {
            errors.push(format!(
                "host {host}: podfleet_role_groups must be a list of group names, got {}",
                short_json(&vars["podfleet_role_groups"])
            ));
            Vec::new()
        }
    };
    // Two templates landing on the same file name would overwrite each other.
    for (i, t) in selected.iter().enumerate() {
        if let Some(other) = selected[..i]
            .iter()
            .find(|o| o.file_name() == t.file_name())
        {
            errors.push(format!(
                "host {host}: {} and {} would both be written as {:?}",
                other.path,
                t.path,
                t.file_name()
            ));
        }
        if let Some(problem) = crate::nodedir::file_name_problem(&t.file_name()) {
            errors.push(format!(
                "host {host}: template {} (listed in {}) would be written on the node as {:?}: {problem}",
                t.path,
                t.listed_in,
                t.file_name()
            ));
        }
    }
    if errors.is_empty() {
        Ok(NodeSettings {
            host: host.to_string(),
            vars,
            static_pod_path,
            file_mode,
            templates: selected,
            roles,
        })
    } else {
        Err(errors)
    }
}

fn normalize(p: &str) -> String {
    p.trim().trim_start_matches("./").to_string()
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Null => Some(vec![]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn parse_mode(v: &Value) -> Option<u32> {
    match v {
        Value::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777),
        // YAML 1.1 reads an unquoted 0600 as the integer 384 already.
        Value::Number(n) => n.as_u64().filter(|m| *m <= 0o7777).map(|m| m as u32),
        _ => None,
    }
}

fn short_json(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..60])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_strips_j2_and_dirs() {
        let t = |p: &str| {
            TemplateRef {
                path: p.into(),
                listed_in: String::new(),
            }
            .file_name()
        };
        assert_eq!(t("control-plane/etcd.yaml.j2"), "etcd.yaml");
        assert_eq!(t("web.yaml"), "web.yaml");
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode(&Value::from("0644")), Some(0o644));
        assert_eq!(parse_mode(&Value::from(384)), Some(0o600));
        assert_eq!(parse_mode(&Value::from("rw")), None);
    }
}
