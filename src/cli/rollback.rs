//! `podfleet rollback REV`: push the files an earlier revision wrote, as a new revision.
//! Same rules as push (lock, atomic writes, `--check`, `-D`, `--prune`, `--serial`).

use crate::fleet::{DesiredFile, DesiredState, NodeDesired, selection};
use crate::manifest::{self, Diagnostic};
use crate::store::{NodeRevision, Revision, Store};

use super::Globals;
use super::common::select_hosts;
use super::push as push_cli;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The revision to go back to (see `podfleet history`).
    pub revision: u64,
    #[command(flatten)]
    pub push: push_cli::Args,
}

/// The desired state of `hosts` as revision `rev` left them: its file contents from the blob
/// store, validated again; the manifest directory and mode it used. Hosts the revision did
/// not reach are left out (with a warning).
pub async fn revision_state(
    fleet: &crate::fleet::Fleet,
    hosts: &[String],
    rev: &Revision,
    store: &dyn Store,
) -> anyhow::Result<DesiredState> {
    let mut state = DesiredState::new();
    for host in hosts {
        let Some(node) = rev.nodes.get(host).filter(|n| n.outcome.applied()) else {
            eprintln!(
                "[WARNING]: {host}: revision {} did not write this node; left alone",
                rev.id
            );
            continue;
        };
        state.insert(
            host.clone(),
            node_state(fleet, host, node, rev.id, store).await?,
        );
    }
    Ok(state)
}

/// One node's desired state from a recorded [`NodeRevision`] of revision `rev_id`.
pub async fn node_state(
    fleet: &crate::fleet::Fleet,
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
    let mut files = std::collections::BTreeMap::new();
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

/// Run.
pub async fn run(g: &Globals, a: RollbackArgs) -> anyhow::Result<i32> {
    let store = g.store().await?;
    let Some(rev) = store.revision(a.revision).await? else {
        anyhow::bail!(
            "there is no revision {} (podfleet history lists them)",
            a.revision
        );
    };
    let fleet = g.fleet()?;
    let hosts = select_hosts(g, &fleet)?;
    let state = revision_state(&fleet, &hosts, &rev, store.as_ref()).await?;
    if state.is_empty() {
        anyhow::bail!("revision {} wrote none of the selected hosts", rev.id);
    }
    let p = &a.push;
    let mut command = format!("rollback {}", rev.id);
    if p.prune {
        command.push_str(" --prune");
    }
    let record = (!p.check).then_some(store.as_ref());
    push_cli::push_state(g, &fleet, state, p, &command, record).await
}
