//! `podfleet inventory`: the same output as `ansible-inventory`, including its leniency: a
//! source that cannot be parsed is a warning, not an error (commands that change nodes load
//! strictly instead, see [`Globals::fleet`]).

use ansible_compat::{Inventory, LoadMode, OutputFormat};

use super::Globals;

/// Arguments (mirroring ansible-inventory's).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["list", "graph", "host"])))]
#[command(group(clap::ArgGroup::new("format").args(["yaml", "toml"])))]
pub struct Args {
    /// Output all hosts and groups, like `ansible-inventory --list` (honours --limit).
    #[arg(long)]
    pub list: bool,
    /// Output the group tree like `ansible-inventory --graph [GROUP]`.
    #[arg(long, value_name = "GROUP", num_args = 0..=1, default_missing_value = "all")]
    pub graph: Option<String>,
    /// Output one host's merged variables.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// With --graph, add variables.
    #[arg(long)]
    pub vars: bool,
    /// YAML instead of JSON (--list, --host), in Ansible's group-tree shape.
    #[arg(short = 'y', long)]
    pub yaml: bool,
    /// TOML instead of JSON (--list, --host).
    #[arg(long)]
    pub toml: bool,
    /// With --list/--host: variables as they are written (group vars on groups), not merged
    /// per host; vault values stay encrypted.
    #[arg(long)]
    pub export: bool,
}

/// Run.
pub fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let options = g.load_options(LoadMode::Lenient)?;
    let inv = Inventory::load_with(&g.inventory_sources(), &options)?;
    eprint!("{}", inv.warnings_text());
    let format = if a.yaml {
        OutputFormat::Yaml
    } else if a.toml {
        OutputFormat::Toml
    } else {
        OutputFormat::Json
    };
    let text = if a.list {
        inv.list_text(g.limit.as_deref(), format, a.export)?
    } else if let Some(group) = a.graph {
        let group = (group != "all").then_some(group.as_str());
        inv.graph(group, a.vars)?
    } else if let Some(host) = a.host {
        inv.host_text(&host, format, a.export)?
    } else {
        unreachable!("clap requires one of --list, --graph, --host")
    };
    // Ansible prints nothing and exits 1 when there is nothing to print (e.g. `--toml` of an
    // empty inventory).
    if text.is_empty() {
        return Ok(1);
    }
    print!("{text}");
    Ok(0)
}
