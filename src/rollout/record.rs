//! A run as history and history as a run: the revision a push records (files, outcomes,
//! groups and roles per node), the desired state an earlier revision describes (for
//! rollback), and what each node was just sent (for the health gate).

use std::collections::BTreeMap;

use crate::fleet::{DesiredFile, DesiredState, Fleet, NodeDesired, selection};
use crate::manifest::{self, Diagnostic};
use crate::store::{FileRev, NodeRevision, Revision, Store};

use super::RunOutput;

/// Build the history entry of a run.
pub fn revision_of(
    id: u64,
    command: &str,
    limit: Option<String>,
    out: &RunOutput,
) -> (Revision, Vec<(String, Vec<u8>)>) {
    let mut nodes = BTreeMap::new();
    let mut blobs = Vec::new();
    for r in &out.results {
        let mut files = BTreeMap::new();
        if let Some(Ok(d)) = out.state.get(&r.node) {
            for f in d.files.values() {
                files.insert(
                    f.name.clone(),
                    FileRev {
                        sha256: f.sha256.clone(),
                        template: f.template.clone(),
                        canonical_hash: f.pod.canonical_hash.clone(),
                        pod: f.pod.key(),
                        mode: d.settings.file_mode,
                    },
                );
                blobs.push((f.sha256.clone(), f.bytes.clone()));
            }
        }
        nodes.insert(
            r.node.clone(),
            NodeRevision {
                dir: r.dir.clone(),
                files,
                outcome: r.outcome,
                message: r.message.clone(),
                revision: id,
                groups: out.groups.get(&r.node).cloned().unwrap_or_default(),
                roles: match out.state.get(&r.node) {
                    Some(Ok(d)) => d.settings.roles.clone(),
                    _ => Vec::new(),
                },
            },
        );
    }
    let rev = Revision {
        id,
        time: jiff::Timestamp::now().to_string(),
        user: crate::push::lock_info().owner,
        command: command.to_string(),
        limit,
        nodes,
        duration_ms: 0,
    };
    (rev, blobs)
}

/// The desired state of `hosts` as revision `rev` left them: its file contents from the blob
/// store, validated again; the manifest directory and mode it used. Hosts the revision did
/// not reach are left out, each with a warning (the second part).
pub async fn revision_state(
    fleet: &Fleet,
    hosts: &[String],
    rev: &Revision,
    store: &dyn Store,
) -> anyhow::Result<(DesiredState, Vec<String>)> {
    let mut state = DesiredState::new();
    let mut warnings = Vec::new();
    for host in hosts {
        let Some(node) = rev.nodes.get(host).filter(|n| n.outcome.applied()) else {
            warnings.push(format!(
                "{host}: revision {} did not write this node; left alone",
                rev.id
            ));
            continue;
        };
        state.insert(
            host.clone(),
            node_state(fleet, host, node, rev.id, store).await?,
        );
    }
    Ok((state, warnings))
}

/// One node's desired state from a recorded [`NodeRevision`] of revision `rev_id`.
pub async fn node_state(
    fleet: &Fleet,
    host: &str,
    node: &NodeRevision,
    rev_id: u64,
    store: &dyn Store,
) -> anyhow::Result<Result<NodeDesired, Vec<Diagnostic>>> {
    let mut settings = match selection::node_settings(&fleet.inventory, host) {
        Ok(s) => s,
        Err(errs) => {
            let d = errs
                .into_iter()
                .map(|m| Diagnostic::at("inventory", None, m));
            return Ok(Err(d.collect()));
        }
    };
    settings.static_pod_path = node.dir.clone();
    if let Some(mode) = node.files.values().map(|f| f.mode).find(|m| *m != 0) {
        settings.file_mode = mode;
    }
    let mut files = BTreeMap::new();
    let mut diags = Vec::new();
    for (name, f) in &node.files {
        let Some(bytes) = store.blob(&f.sha256).await? else {
            diags.push(Diagnostic::at(
                name,
                None,
                format!(
                    "the content of revision {rev_id} ({}) is not in the store",
                    f.sha256
                ),
            ));
            continue;
        };
        match manifest::check(name, &bytes) {
            Ok(pod) => {
                files.insert(
                    name.clone(),
                    DesiredFile {
                        name: name.clone(),
                        template: f.template.clone(),
                        sha256: f.sha256.clone(),
                        bytes,
                        pod,
                    },
                );
            }
            Err(d) => diags.extend(d),
        }
    }
    Ok(if diags.is_empty() {
        Ok(NodeDesired { settings, files })
    } else {
        Err(diags)
    })
}

/// The files pushed to each node that applied them, as the view's "desired".
pub fn pushed(out: &RunOutput) -> BTreeMap<String, NodeRevision> {
    let mut m = BTreeMap::new();
    for r in out.results.iter().filter(|r| r.outcome.applied()) {
        if let Some(Ok(d)) = out.state.get(&r.node) {
            let files = d
                .files
                .values()
                .map(|f| {
                    let rev = FileRev {
                        sha256: f.sha256.clone(),
                        template: f.template.clone(),
                        canonical_hash: f.pod.canonical_hash.clone(),
                        pod: f.pod.key(),
                        mode: d.settings.file_mode,
                    };
                    (f.name.clone(), rev)
                })
                .collect();
            m.insert(
                r.node.clone(),
                NodeRevision {
                    dir: r.dir.clone(),
                    files,
                    outcome: r.outcome,
                    message: None,
                    revision: 0,
                    groups: vec![],
                    roles: vec![],
                },
            );
        }
    }
    m
}
