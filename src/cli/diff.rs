//! `podfleet diff`: what a push would do, per node.

use crate::push::{NodeResult, Reporter, report};
use crate::store::NodeOutcome;

use super::Globals;
use super::common::color;
use super::push::{ConnArgs, execute};
use crate::push::PushOptions;

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

struct DiffReporter {
    prune: bool,
}

impl Reporter for DiffReporter {
    fn node_done(&self, r: &NodeResult) {
        let c = color();
        print!("{}", report::node_diff(r, c));
        println!("{}", report::status_line(r, c));
        for n in report::notes(r, self.prune) {
            println!("{n}");
        }
    }
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
    let (_fleet, out) = execute(g, &opts, &a.conn, 0, &DiffReporter { prune: a.prune }).await?;
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
