//! `podfleet history [REV]`.

use super::Globals;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show this revision in detail.
    pub rev: Option<u64>,
    /// Output format.
    #[arg(short = 'o', long, value_parser = ["table", "json", "yaml"], default_value = "table")]
    pub output: String,
}

/// Run.
pub async fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let store = g.store().await?;
    match a.rev {
        None => {
            let revs = store.revisions().await?;
            match a.output.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&revs)?),
                "yaml" => print!("{}", serde_yaml::to_string(&revs)?),
                _ => {
                    let mut t = super::table::new();
                    t.set_header(["REV", "TIME", "USER", "COMMAND", "LIMIT", "NODES"]);
                    for r in revs {
                        let nodes: Vec<String> =
                            r.outcomes.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        t.add_row([
                            r.id.to_string(),
                            crate::age::to_seconds(&r.time),
                            r.user,
                            r.command,
                            r.limit.unwrap_or_default(),
                            nodes.join(" "),
                        ]);
                    }
                    println!("{}", super::table::render(t));
                }
            }
        }
        Some(id) => {
            let Some(rev) = store.revision(id).await? else {
                anyhow::bail!("no revision {id}; `podfleet history` lists them");
            };
            match a.output.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&rev)?),
                "yaml" => print!("{}", serde_yaml::to_string(&rev)?),
                _ => {
                    println!(
                        "revision {}  {}  by {}  ({})",
                        rev.id,
                        crate::age::to_seconds(&rev.time),
                        rev.user,
                        rev.command
                    );
                    if let Some(l) = &rev.limit {
                        println!("limit: {l}");
                    }
                    let mut t = super::table::new();
                    t.set_header(["NODE", "OUTCOME", "FILE", "SHA256", "POD"]);
                    for (node, n) in &rev.nodes {
                        let outcome = serde_json::to_value(n.outcome)?
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        if n.files.is_empty() {
                            t.add_row([
                                node.clone(),
                                outcome.clone(),
                                String::new(),
                                String::new(),
                                n.message.clone().unwrap_or_default(),
                            ]);
                        }
                        for (name, f) in &n.files {
                            t.add_row([
                                node.clone(),
                                outcome.clone(),
                                format!("{}/{name}", n.dir),
                                f.sha256[..12.min(f.sha256.len())].to_string(),
                                f.pod.clone(),
                            ]);
                        }
                    }
                    println!("{}", super::table::render(t));
                }
            }
        }
    }
    Ok(0)
}
