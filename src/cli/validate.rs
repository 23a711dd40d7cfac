//! `podfleet validate`: render and validate, report every error.

use super::Globals;
use super::common::{print_invalid, select_hosts};

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run.
pub fn run(g: &Globals, _a: Args) -> anyhow::Result<i32> {
    let fleet = g.fleet()?;
    let hosts = select_hosts(g, &fleet)?;
    let state = fleet.desired_state(&hosts);
    let bad = state.values().filter(|r| r.is_err()).count();
    let files: usize = state
        .values()
        .filter_map(|r| r.as_ref().ok())
        .map(|n| n.files.len())
        .sum();
    if bad > 0 {
        print_invalid(&state);
        eprintln!("{bad} of {} hosts have invalid manifests", state.len());
        return Ok(1);
    }
    println!("{} hosts, {files} manifests: all valid", state.len());
    Ok(0)
}
