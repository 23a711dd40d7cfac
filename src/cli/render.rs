//! `podfleet render`: the rendered per-node sets.

use std::path::PathBuf;

use anyhow::Context as _;

use super::Globals;
use super::common::{print_invalid, select_hosts};

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write DIR/<host>/<file> instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Run.
pub fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let fleet = g.fleet()?;
    let hosts = select_hosts(g, &fleet)?;
    let state = fleet.desired_state(&hosts);
    for (host, r) in &state {
        let Ok(node) = r else { continue };
        for f in node.files.values() {
            match &a.out {
                Some(dir) => {
                    let d = dir.join(host);
                    std::fs::create_dir_all(&d)
                        .with_context(|| format!("cannot create {}", d.display()))?;
                    std::fs::write(d.join(&f.name), &f.bytes)
                        .with_context(|| format!("cannot write {}", d.join(&f.name).display()))?;
                }
                None => {
                    println!(
                        "# ==> {host}: {}/{} (from {})",
                        node.settings.static_pod_path, f.name, f.template
                    );
                    print!("{}", String::from_utf8_lossy(&f.bytes));
                    if !f.bytes.ends_with(b"\n") {
                        println!();
                    }
                }
            }
        }
    }
    let bad = state.values().any(|r| r.is_err());
    if bad {
        print_invalid(&state);
        return Ok(1);
    }
    Ok(0)
}
