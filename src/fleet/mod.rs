//! Desired state: for every selected host, the rendered and validated manifest files.
//!
//! inventory + manifests ──render──▶ `NodeDesired` (file name → bytes + hashes). Pure
//! apart from reading the template files once.

pub mod render;
pub mod selection;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ansible_compat::{Inventory, LoadOptions, Vars};
use minijinja::Value as JValue;

use crate::manifest::{self, Diagnostic, ValidPod};
pub use selection::{DEFAULT_MODE, DEFAULT_STATIC_POD_PATH, NodeSettings, TemplateRef};

/// One file podfleet wants on a node.
#[derive(Debug, Clone)]
pub struct DesiredFile {
    /// File name in the node's manifest directory.
    pub name: String,
    /// Template path relative to the manifests root.
    pub template: String,
    /// Rendered bytes.
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`.
    pub sha256: String,
    /// The validated pod.
    pub pod: ValidPod,
}

/// Everything podfleet wants on one node.
#[derive(Debug, Clone)]
pub struct NodeDesired {
    /// Inventory settings (vars, path, mode).
    pub settings: NodeSettings,
    /// File name → desired file.
    pub files: BTreeMap<String, DesiredFile>,
}

/// Per selected host: its desired state, or everything wrong with it.
pub type DesiredState = BTreeMap<String, Result<NodeDesired, Vec<Diagnostic>>>;

/// A loaded inventory plus the manifests root it refers to.
pub struct Fleet {
    /// The parsed inventory.
    pub inventory: Inventory,
    /// Directory that `static_pods` paths are relative to.
    pub manifests_root: PathBuf,
    /// Each host's resolved variables, read once at load (hosts whose vault values cannot
    /// be decrypted are missing; they fail when pushed).
    resolved: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

impl Fleet {
    /// Load inventory sources with `options` and remember the manifests root.
    pub fn load(
        sources: &[PathBuf],
        manifests_root: &Path,
        options: &LoadOptions,
    ) -> anyhow::Result<Fleet> {
        let inventory = Inventory::load_with(sources, options)?;
        // A vars file that cannot be read or parsed (a YAML error in group_vars/) breaks the
        // inventory, not some hosts' manifests: refuse the whole run, as Ansible does.
        let mut resolved = BTreeMap::new();
        for host in inventory.hosts() {
            match inventory.resolved_vars(&host) {
                Ok(vars) => {
                    resolved.insert(host, vars);
                }
                Err(
                    e @ (ansible_compat::Error::Parse { .. } | ansible_compat::Error::Io { .. }),
                ) => anyhow::bail!("inventory: {e} (nothing was done)"),
                // Vault values that cannot be decrypted fail that host when it is pushed.
                Err(_) => {}
            }
        }
        Ok(Fleet {
            inventory,
            manifests_root: manifests_root.to_path_buf(),
            resolved,
        })
    }

    /// Hosts matching a `--limit` pattern (all hosts when `None`), with Ansible's warnings.
    pub fn select(&self, limit: Option<&str>) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        match limit {
            None => Ok((self.inventory.hosts(), vec![])),
            Some(p) => {
                let sel = self.inventory.select(p)?;
                Ok((sel.hosts, sel.warnings))
            }
        }
    }

    /// Render and validate the manifests of `hosts`.
    pub fn desired_state(&self, hosts: &[String]) -> DesiredState {
        let mut renderer = render::Renderer::new();
        let mut compiled: BTreeMap<String, Result<(), Diagnostic>> = BTreeMap::new();
        let hostvars = self.hostvars();
        let groups = JValue::from(minijinja::value::Serde(self.inventory.groups_magic()));
        let mut out = DesiredState::new();
        for host in hosts {
            let result = self.node_desired(host, &mut renderer, &mut compiled, &hostvars, &groups);
            out.insert(host.clone(), result);
        }
        out
    }

    fn hostvars(&self) -> JValue {
        let mut all = BTreeMap::new();
        for (h, vars) in &self.resolved {
            let mut v = vars.clone();
            add_magic_scalars(&mut v, h, &self.inventory.host_group_names(h));
            all.insert(h.clone(), v);
        }
        JValue::from(minijinja::value::Serde(&all))
    }

    fn node_desired(
        &self,
        host: &str,
        renderer: &mut render::Renderer,
        compiled: &mut BTreeMap<String, Result<(), Diagnostic>>,
        hostvars: &JValue,
        groups: &JValue,
    ) -> Result<NodeDesired, Vec<Diagnostic>> {
        let settings = selection::node_settings(&self.inventory, host).map_err(|errs| {
            errs.into_iter()
                .map(|m| Diagnostic::at("inventory", None, m))
                .collect::<Vec<_>>()
        })?;
        let mut ctx: BTreeMap<String, JValue> = BTreeMap::new();
        let mut vars = settings.vars.clone();
        add_magic_scalars(&mut vars, host, &self.inventory.host_group_names(host));
        for (k, v) in &vars {
            ctx.insert(k.clone(), JValue::from(minijinja::value::Serde(v)));
        }
        ctx.insert("groups".into(), groups.clone());
        ctx.insert("hostvars".into(), hostvars.clone());

        let mut diags = Vec::new();
        let mut files = BTreeMap::new();
        for t in &settings.templates {
            let shown = self.manifests_root.join(&t.path).display().to_string();
            let status = compiled.entry(t.path.clone()).or_insert_with(|| {
                let path = self.manifests_root.join(&t.path);
                match std::fs::read_to_string(&path) {
                    Ok(src) => renderer
                        .add(&t.path, &src)
                        .map_err(|e| Diagnostic::at(&shown, e.line, e.message)),
                    Err(e) => Err(Diagnostic::at(
                        &shown,
                        None,
                        format!(
                            "cannot read template listed in static_pods ({}): {e}",
                            t.listed_in
                        ),
                    )),
                }
            });
            if let Err(d) = status {
                diags.push(d.clone());
                continue;
            }
            let rendered = match renderer.render(&t.path, &ctx) {
                Ok(r) => r,
                Err(e) => {
                    diags.push(Diagnostic::at(
                        &shown,
                        e.line,
                        format!("{} (rendering for host {host})", e.message),
                    ));
                    continue;
                }
            };
            let label = format!("{shown} (rendered for {host})");
            match manifest::check(&label, rendered.as_bytes()) {
                Ok(pod) => {
                    let bytes = rendered.into_bytes();
                    let name = t.file_name();
                    files.insert(
                        name.clone(),
                        DesiredFile {
                            name,
                            template: t.path.clone(),
                            sha256: manifest::content_sha256(&bytes),
                            bytes,
                            pod,
                        },
                    );
                }
                Err(mut d) => diags.append(&mut d),
            }
        }
        diags.extend(duplicate_pods(host, &files));
        if diags.is_empty() {
            Ok(NodeDesired { settings, files })
        } else {
            Err(diags)
        }
    }
}

/// The magic variables Ansible sets per host that manifests may use.
fn add_magic_scalars(vars: &mut Vars, host: &str, group_names: &[String]) {
    vars.insert("inventory_hostname".into(), host.into());
    let short = host.split('.').next().unwrap_or(host);
    vars.insert("inventory_hostname_short".into(), short.into());
    vars.insert("group_names".into(), group_names.to_vec().into());
}

/// Two files defining the same namespace/name on one node: the kubelet would run only one.
fn duplicate_pods(host: &str, files: &BTreeMap<String, DesiredFile>) -> Vec<Diagnostic> {
    let mut seen: BTreeMap<String, &DesiredFile> = BTreeMap::new();
    let mut out = Vec::new();
    for f in files.values() {
        if let Some(first) = seen.get(&f.pod.key()) {
            out.push(Diagnostic::at(
                &f.template,
                None,
                format!(
                    "pod {} on host {host} is also defined by {} (as {}); the kubelet would run only one of them",
                    f.pod.key(),
                    first.template,
                    first.name
                ),
            ));
        } else {
            seen.insert(f.pod.key(), f);
        }
    }
    out
}

/// Group identical diagnostics across hosts so a bad template is reported once.
pub fn summarize(state: &DesiredState) -> Vec<String> {
    // Sorted by file, then line number (not as text: line 9 before line 10).
    let mut grouped: BTreeMap<(String, usize, String), BTreeSet<String>> = BTreeMap::new();
    for (host, r) in state {
        if let Err(diags) = r {
            for d in diags {
                // The host is part of the label for rendered files; group by the rest.
                let text = d
                    .to_string()
                    .replace(&format!(" (rendered for {host})"), "")
                    .replace(&format!(" (rendering for host {host})"), "");
                let file = d
                    .file
                    .replace(&format!(" (rendered for {host})"), "")
                    .replace(&format!(" (rendering for host {host})"), "");
                grouped
                    .entry((file, d.line.unwrap_or(0), text))
                    .or_default()
                    .insert(host.clone());
            }
        }
    }
    grouped
        .into_iter()
        .map(|((_, _, text), hosts)| {
            let hosts: Vec<_> = hosts.into_iter().collect();
            format!("{text} [{}]", hosts.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_sort_by_file_then_line_number() {
        let d = |f: &str, l| Diagnostic::at(f, Some(l), "bad");
        let state: DesiredState = [
            (
                "h1".to_string(),
                Err(vec![d("b.yaml", 2), d("a.yaml", 10), d("a.yaml", 9)]),
            ),
            ("h2".to_string(), Err(vec![d("a.yaml", 10)])),
        ]
        .into();
        let lines = summarize(&state);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("a.yaml:9"), "{lines:?}");
        assert!(lines[1].starts_with("a.yaml:10") && lines[1].ends_with("[h1, h2]"));
        assert!(lines[2].starts_with("b.yaml:2"), "{lines:?}");
    }
}
