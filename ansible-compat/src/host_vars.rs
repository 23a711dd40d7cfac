//! A host's and a group's variables: the layers Ansible merges (see [`crate::precedence`]), the
//! merged result in its several printed forms, and vault decryption of the values.

use std::path::PathBuf;

use crate::data::{GroupId, LOCALHOST};
use crate::error::Error;
use crate::precedence::{self, LayerSource, RawLayer, VarLayer};
use crate::value::{self, Kind, Node, OVars, VaultText};
use crate::vars_files::Entity;
use crate::{Inventory, Vars};

/// What a host name given to the variable functions refers to.
pub(crate) enum HostRef {
    Host(crate::data::HostId),
    Implicit(String),
}

fn strip_internal(mut vars: OVars) -> OVars {
    vars.retain(|k| !precedence::is_internal(k));
    vars
}

impl Inventory {
    pub(crate) fn resolve_host(&self, host: &str) -> Result<HostRef, Error> {
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

    /// The vars files of an entity: every source directory's, then the playbook directory's
    /// (only when `with_playbook`).
    fn file_layers(
        &self,
        entity: Entity,
        name: &str,
        with_playbook: bool,
        make: impl Fn(PathBuf) -> LayerSource,
    ) -> Result<Vec<RawLayer>, Error> {
        let mut out = Vec::new();
        let playbook = self.vars.playbook_dir.iter().filter(|_| with_playbook);
        for dir in self.vars.source_dirs.iter().chain(playbook) {
            for f in self.vars.files(dir, entity, name) {
                out.push(RawLayer {
                    source: make(f.path.clone()),
                    vars: strip_internal(f.vars.clone()?),
                });
            }
        }
        Ok(out)
    }

    /// The host's name, groups (without `all`, sorted by precedence) and inline variables.
    fn host_parts(&self, host: &str) -> Result<(String, Vec<GroupId>, OVars), Error> {
        let all = self.data.all();
        Ok(match self.resolve_host(host)? {
            HostRef::Host(h) => {
                let groups: Vec<GroupId> = self
                    .data
                    .host_groups(h)
                    .into_iter()
                    .filter(|g| *g != all)
                    .collect();
                (
                    self.data.hosts[h].name.clone(),
                    precedence::sort_groups(&self.data, &groups),
                    self.data.hosts[h].vars.clone(),
                )
            }
            HostRef::Implicit(n) => {
                let mut v = OVars::new();
                v.insert("ansible_connection".into(), Node::str("local"));
                (n, Vec::new(), v)
            }
        })
    }

    /// The `group_vars`/`host_vars` lookups Ansible makes for a host, in order: `all` in every
    /// source directory then the playbook directory, the host's groups (sorted) source by
    /// source then in the playbook directory, then the host.
    pub(crate) fn vars_lookups(&self, host: &str) -> Vec<(PathBuf, Entity, String)> {
        let Ok((name, sorted, _)) = self.host_parts(host) else {
            return Vec::new();
        };
        let dirs: Vec<&PathBuf> = self
            .vars
            .source_dirs
            .iter()
            .chain(&self.vars.playbook_dir)
            .collect();
        let mut out = Vec::new();
        for d in &dirs {
            out.push(((*d).clone(), Entity::Group, "all".to_string()));
        }
        for d in &dirs {
            for g in &sorted {
                out.push((
                    (*d).clone(),
                    Entity::Group,
                    self.data.groups[*g].name.clone(),
                ));
            }
        }
        for d in &dirs {
            out.push(((*d).clone(), Entity::Host, name.clone()));
        }
        out
    }

    pub(crate) fn raw_layers(&self, host: &str) -> Result<Vec<RawLayer>, Error> {
        let all = self.data.all();
        let (name, sorted, host_vars) = self.host_parts(host)?;
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
        layers.extend(self.file_layers(Entity::Group, "all", true, |path| {
            LayerSource::GroupVarsFile {
                group: "all".into(),
                path,
            }
        })?);
        let playbook = self.vars.playbook_dir.iter();
        for dir in self.vars.source_dirs.iter().chain(playbook) {
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
        layers.extend(self.file_layers(Entity::Host, &name, true, |path| {
            LayerSource::HostVarsFile { path }
        })?);
        Ok(layers)
    }

    /// The layers merged into [`Inventory::host_vars`], lowest precedence first, each with where
    /// it came from: `all` group, the host's other groups (sorted by depth, priority, name),
    /// `group_vars/all` files (each source's, then the playbook directory's),
    /// `group_vars/<group>` files (source by source, then the playbook directory's), the
    /// host's inline vars, `host_vars` files (sources', then the playbook directory's). Unsafe
    /// strings and vault values are kept as `{"__ansible_unsafe": ...}` /
    /// `{"__ansible_vault": ...}`; Ansible's internal names are removed. The implicit localhost
    /// (`localhost`, `127.0.0.1`, `::1` when not in the inventory) has the inline var
    /// `ansible_connection: local`.
    pub fn var_layers(&self, host: &str) -> Result<Vec<VarLayer>, Error> {
        Ok(self
            .raw_layers(host)?
            .iter()
            .map(RawLayer::public)
            .collect())
    }

    /// The merged variables with their Python types and order.
    pub(crate) fn merged_vars(&self, host: &str) -> Result<OVars, Error> {
        Ok(precedence::merge_layers(&self.raw_layers(host)?))
    }

    /// What `--export` shows for a host: its inline variables, then its `host_vars` files
    /// (sources', then an explicit `--playbook-dir`'s).
    pub(crate) fn export_vars(&self, host: &str) -> Result<OVars, Error> {
        let (name, _, vars) = self.host_parts(host)?;
        let mut out = strip_internal(vars);
        for layer in self.file_layers(Entity::Host, &name, self.explicit_playbook_dir, |path| {
            LayerSource::HostVarsFile { path }
        })? {
            out.extend(&layer.vars);
        }
        Ok(out)
    }

    /// The host's fully merged vars exactly as `ansible-inventory --host H` prints them:
    /// unsafe strings as plain strings, vault values as `{"__ansible_vault": CIPHERTEXT}`.
    /// Use [`Inventory::resolved_vars`] for the values to act on.
    pub fn host_vars(&self, host: &str) -> Result<Vars, Error> {
        Ok(self.merged_vars(host)?.to_json(false))
    }

    /// Like [`Inventory::host_vars`], but strings Ansible must not template (`!unsafe`) stay
    /// wrapped as `{"__ansible_unsafe": "..."}`, as `--list` prints them.
    pub fn host_vars_with_unsafe(&self, host: &str) -> Result<Vars, Error> {
        Ok(self.merged_vars(host)?.to_json(true))
    }

    /// The host's merged variables with every vault value decrypted (plain strings) and unsafe
    /// strings as plain strings: the values a tool acting on the host uses. A vault value that
    /// cannot be decrypted (no password given, or none fits) is an [`Error::Vault`] naming the
    /// file, line and variable.
    pub fn resolved_vars(&self, host: &str) -> Result<Vars, Error> {
        let merged = self.decrypted(self.merged_vars(host)?)?;
        Ok(merged.to_json(false))
    }

    /// `vars` with every vault value replaced by its plaintext.
    pub(crate) fn decrypted(&self, vars: OVars) -> Result<OVars, Error> {
        let mut out = OVars::new();
        for (k, v) in vars.iter() {
            out.insert(k.clone(), self.decrypt_node(k, v)?);
        }
        Ok(out)
    }

    fn decrypt_node(&self, var: &str, node: &Node) -> Result<Node, Error> {
        let kind = match &node.kind {
            Kind::Vault(v) => Kind::Str(self.decrypt_value(var, node.line, v)?),
            Kind::Seq(items) => Kind::Seq(
                items
                    .iter()
                    .map(|n| self.decrypt_node(var, n))
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Map(pairs) => Kind::Map(
                pairs
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.decrypt_node(var, v)?)))
                    .collect::<Result<_, Error>>()?,
            ),
            other => other.clone(),
        };
        Ok(Node {
            kind,
            ..node.clone()
        })
    }

    /// Decrypts one vault value (cached per ciphertext, like Ansible's key cache).
    fn decrypt_value(&self, var: &str, line: usize, v: &VaultText) -> Result<String, Error> {
        let cached = self
            .decrypt_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&v.ciphertext).cloned());
        let result = match cached {
            Some(r) => r,
            None => {
                let r = self
                    .secrets
                    .decrypt(v.ciphertext.as_bytes())
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                if let Ok(mut c) = self.decrypt_cache.lock() {
                    c.insert(v.ciphertext.clone(), r.clone());
                }
                r
            }
        };
        result.map_err(|reason| Error::Vault {
            path: v.path.clone().unwrap_or_else(|| PathBuf::from("<unknown>")),
            line: (line > 0).then_some(line),
            what: format!(
                "the vaulted value of variable {}",
                crate::pyrepr::str_repr(var)
            ),
            reason,
        })
    }

    /// A group's own variables as `--graph --vars` and `--export` show them: inventory vars,
    /// then its `group_vars` files (sources', then an explicit `--playbook-dir`'s), plus
    /// `ansible_group_priority` when not 1.
    pub(crate) fn group_vars(&self, g: GroupId) -> Result<OVars, Error> {
        let grp = &self.data.groups[g];
        let mut vars = grp.vars.clone();
        for layer in self.file_layers(
            Entity::Group,
            &grp.name,
            self.explicit_playbook_dir,
            |path| LayerSource::HostVarsFile { path },
        )? {
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
}
