//! `podfleet rollback REV`: push the files an earlier revision wrote, as a new revision.
//! Same rules as push (lock, atomic writes, `--check`, `-D`, `--prune`, `--serial`).

use crate::rollout::record::revision_state;

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
    let (state, warnings) = revision_state(&fleet, &hosts, &rev, store.as_ref()).await?;
    for w in warnings {
        eprintln!("[WARNING]: {w}");
    }
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
