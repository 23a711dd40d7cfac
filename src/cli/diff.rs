//! `podfleet diff`: what a push would do, per node.

use crate::push::{PushOptions, report};
use crate::rollout::{Gate, Rollout};
use crate::store::NodeOutcome;

use super::Globals;
use super::common::{print_invalid, select_hosts};
use super::push::ConnArgs;
use super::reporters::Lines;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exit 2 when there are changes (and still 4/2 when nodes are unreachable/failed).
    #[arg(long)]
    pub exit_code: bool,
    /// Show managed files that are no longer desired as deletions (what push --prune would do).
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Run.
pub async fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let opts = PushOptions {
        check: true,
        prune: a.prune,
        forks: a.conn.forks,
        serial: None,
        break_lock: false,
        lock_timeout: std::time::Duration::ZERO,
        lock: crate::push::lock_info(),
    };
    let fleet = g.fleet()?;
    let hosts = select_hosts(g, &fleet)?;
    let state = fleet.desired_state(&hosts);
    if state.values().any(Result::is_err) {
        print_invalid(&state);
    }
    let connect = a.conn.resolve()?;
    let out = Rollout {
        fleet: &fleet,
        state,
        opts: &opts,
        connect: &connect,
        gate: Gate::default(),
        revision: 0,
        store: None,
    }
    .run(&Lines::new(true, a.prune, true))
    .await?;
    let changed = out
        .results
        .iter()
        .filter(|r| r.outcome == NodeOutcome::Changed)
        .count();
    let in_sync = out
        .results
        .iter()
        .filter(|r| r.outcome == NodeOutcome::Ok)
        .count();
    eprintln!(
        "\n{} nodes: {changed} would change, {in_sync} in sync, {} not checked",
        out.results.len(),
        out.results.len() - changed - in_sync
    );
    let code = report::exit_code(&out.results);
    if code != 0 {
        return Ok(code);
    }
    Ok(if a.exit_code && changed > 0 { 2 } else { 0 })
}
