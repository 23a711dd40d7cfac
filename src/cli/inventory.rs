//! `podfleet inventory`: the same output as `ansible-inventory`.

use super::Globals;

/// Arguments (mirroring ansible-inventory's).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["list", "graph", "host"])))]
pub struct Args {
    /// Output all hosts and groups as JSON, like `ansible-inventory --list` (honours --limit).
    #[arg(long)]
    pub list: bool,
    /// Output the group tree like `ansible-inventory --graph [GROUP]`.
    #[arg(long, value_name = "GROUP", num_args = 0..=1, default_missing_value = "all")]
    pub graph: Option<String>,
    /// Output one host's merged variables as JSON.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// With --graph, add variables.
    #[arg(long)]
    pub vars: bool,
    /// With --list, YAML instead of JSON.
    #[arg(short = 'y', long)]
    pub yaml: bool,
}

/// Run.
pub fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let fleet = g.fleet()?;
    let inv = &fleet.inventory;
    if a.list {
        let v = inv.list_json(g.limit.as_deref())?;
        if a.yaml {
            print!("{}", serde_yaml::to_string(&v)?);
        } else {
            println!("{}", ansible_compat::to_ansible_json(&v));
        }
    } else if let Some(group) = a.graph {
        let group = if group == "all" {
            None
        } else {
            Some(group.as_str())
        };
        print!("{}", inv.graph(group, a.vars)?);
    } else if let Some(host) = a.host {
        if !inv.has_host(&host) {
            anyhow::bail!("You must pass a single valid host to --host parameter");
        }
        println!(
            "{}",
            ansible_compat::to_ansible_json(&ansible_compat::Value::Object(inv.host_vars(&host)?))
        );
    }
    Ok(0)
}
