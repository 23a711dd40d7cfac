//! `podfleet status` and `podfleet events`: the fleet as agents report it, next to what was
//! pushed.

use std::time::Duration;

use comfy_table::{Cell, Color, Table};

use crate::agent::config::parse_go_duration;
use crate::coordinator::api::FleetData;
use crate::coordinator::client::{fleet_data, view_json};
use crate::coordinator::view::{FleetView, NodeCondition, SyncState, fleet_view};

use super::Globals;
use super::common::color;

/// `status` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show one node in detail.
    pub node: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_parser = ["table", "wide", "json", "yaml"], default_value = "table")]
    pub output: String,
    /// Print again every 2 seconds.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Grace period for NotReady when no coordinator runs (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "40s")]
    pub node_grace: String,
}

/// `events` arguments.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Only events last seen within this duration (e.g. 10m).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_parser = ["table", "json", "yaml"], default_value = "table")]
    pub output: String,
}

/// The inventory's hosts after `--limit`; without an inventory, every node (unless a
/// limit was asked for, which needs one).
fn hosts(g: &Globals) -> anyhow::Result<Option<Vec<String>>> {
    match g.fleet() {
        Ok(f) => Ok(Some(super::common::select_hosts(g, &f)?)),
        Err(e) if g.limit.is_some() => Err(e),
        Err(_) => Ok(None),
    }
}

fn view<'a>(data: &'a FleetData, hosts: Option<&[String]>, grace: Duration) -> FleetView<'a> {
    let grace = data.grace_secs.map(Duration::from_secs).unwrap_or(grace);
    fleet_view(
        &data.reported,
        &data.desired,
        hosts,
        jiff::Timestamp::now(),
        grace,
    )
}

/// kubectl's AGE form (`5m3s`, `3h`, `2d4h`), the same helper as the Kubernetes API's tables.
pub fn age(since: Option<&str>) -> String {
    crate::age::since(since, jiff::Timestamp::now())
}

fn paint(text: String, c: Option<Color>) -> Cell {
    match c {
        Some(c) if color() => Cell::new(text).fg(c),
        _ => Cell::new(text),
    }
}

fn condition_color(c: NodeCondition) -> Option<Color> {
    match c {
        NodeCondition::Ready => Some(Color::Green),
        NodeCondition::NotReady => Some(Color::Red),
        NodeCondition::Unknown => Some(Color::Yellow),
    }
}

fn sync_color(s: SyncState) -> Option<Color> {
    match s {
        SyncState::InSync => Some(Color::Green),
        SyncState::Pending => Some(Color::Yellow),
        SyncState::Drifted | SyncState::Missing => Some(Color::Red),
        SyncState::Unmanaged => Some(Color::Magenta),
    }
}

fn table() -> Table {
    super::table::new()
}

/// Render the view as tables (the format `podfleet status` prints).
pub fn render(v: &FleetView, wide: bool) -> String {
    let mut nodes = table();
    nodes.set_header(["NODE", "STATUS", "AGENT", "RUNTIME", "LAST SEEN", "PODS"]);
    for n in &v.nodes {
        let seen = match n.silent_secs {
            Some(s) => format!("{s}s ago"),
            None => "never".into(),
        };
        nodes.add_row(vec![
            Cell::new(&n.name),
            paint(format!("{:?}", n.condition), condition_color(n.condition)),
            Cell::new(if n.agent_version.is_empty() {
                "-"
            } else {
                &n.agent_version
            }),
            Cell::new(if n.runtime.is_empty() {
                "-"
            } else {
                &n.runtime
            }),
            Cell::new(seen),
            Cell::new(n.pods),
        ]);
    }
    let mut pods = table();
    let mut header = vec![
        "NAMESPACE",
        "NAME",
        "NODE",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "SYNC",
    ];
    if wide {
        header.extend(["FILE", "IP", "MESSAGE"]);
    }
    pods.set_header(header);
    for p in &v.pods {
        let status = if p.status.is_empty() {
            "-".to_string()
        } else {
            p.status.to_string()
        };
        let mut row = vec![
            Cell::new(&p.namespace),
            Cell::new(&p.name),
            Cell::new(&p.node),
            Cell::new(format!("{}/{}", p.ready, p.total)),
            Cell::new(status),
            Cell::new(p.restarts),
            Cell::new(if p.started.is_some() {
                age(p.started.as_deref())
            } else {
                "-".into()
            }),
            paint(format!("{:?}", p.sync), sync_color(p.sync)),
        ];
        if wide {
            row.push(Cell::new(&p.file));
            row.push(Cell::new(if p.ip.is_empty() { "<none>" } else { &p.ip }));
            row.push(Cell::new(&p.last_error));
        }
        pods.add_row(row);
    }
    let mut out = format!("{}\n\n", super::table::render(nodes));
    if v.pods.is_empty() {
        out.push_str("No static pods reported or pushed.\n");
    } else {
        out.push_str(&format!("{}\n", super::table::render(pods)));
    }
    for n in &v.nodes {
        for i in &n.issues {
            out.push_str(&format!("[WARNING]: {}: invalid manifest {i}\n", n.name));
        }
    }
    out
}

fn node_detail(data: &FleetData, v: &FleetView, node: &str) -> anyhow::Result<String> {
    let Some(row) = v.nodes.iter().find(|n| n.name == node) else {
        anyhow::bail!("node {node:?} is not in the inventory and never reported");
    };
    let rec = data.reported.nodes.iter().find(|n| n.name == node);
    let mut out = format!(
        "Node:          {}\nStatus:        {:?}\nAgent:         {}\nRuntime:       {}\nAddress:       {}\nAgent started: {}\nLast seen:     {}\nConnected:     {}\n",
        row.name,
        row.condition,
        if row.agent_version.is_empty() {
            "-"
        } else {
            &row.agent_version
        },
        if row.runtime.is_empty() {
            "-"
        } else {
            &row.runtime
        },
        rec.map(|r| r.node_ip.as_str()).unwrap_or("-"),
        rec.map(|r| crate::age::to_seconds(&r.started_at))
            .unwrap_or_else(|| "-".into()),
        row.last_seen
            .as_deref()
            .map(crate::age::to_seconds)
            .unwrap_or_else(|| "never".into()),
        if data.connected.iter().any(|c| c == node) {
            "yes"
        } else {
            "no"
        },
    );
    if let Some(d) = data.desired.get(node) {
        out.push_str(&format!(
            "Revision:      {} ({} files in {})\n",
            d.revision,
            d.files.len(),
            d.dir
        ));
    }
    for i in &row.issues {
        out.push_str(&format!("Problem:       {i}\n"));
    }
    out.push_str("\nPods:\n");
    for p in v.pods.iter().filter(|p| p.node == node) {
        out.push_str(&format!(
            "  {}/{} ({}): {} {}/{} restarts={} sync={:?}{}\n",
            p.namespace,
            p.name,
            p.file,
            if p.status.is_empty() { "-" } else { &p.status },
            p.ready,
            p.total,
            p.restarts,
            p.sync,
            if p.last_error.is_empty() {
                String::new()
            } else {
                format!(" error: {}", p.last_error)
            }
        ));
        if let Some(rec) = data
            .reported
            .pods
            .iter()
            .find(|r| r.node == node && r.name == p.name)
        {
            for c in &rec.containers {
                out.push_str(&format!(
                    "    container {}: {}{} ready={} restarts={}\n",
                    c.name,
                    c.state,
                    if c.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", c.reason)
                    },
                    c.ready,
                    c.restarts
                ));
            }
        }
    }
    let events: Vec<_> = data
        .reported
        .events
        .iter()
        .filter(|e| e.node == node)
        .collect();
    if !events.is_empty() {
        out.push_str("\nEvents:\n");
        for e in events.iter().rev().take(20).rev() {
            out.push_str(&format!(
                "  {:<7} {:<16} {:<28} (x{}, {}) {}\n",
                e.kind,
                e.reason,
                e.object,
                e.count,
                age(Some(&e.last_time)),
                e.message
            ));
        }
    }
    Ok(out)
}

/// Write all of `text` to stdout at once (a closed pipe, as with `| head`, is not an error).
fn print_all(text: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Run `status`.
pub async fn run(g: &Globals, a: Args) -> anyhow::Result<i32> {
    let grace = parse_go_duration(&a.node_grace)
        .ok_or_else(|| anyhow::anyhow!("--node-grace {:?} is not a duration", a.node_grace))?;
    let hosts = hosts(g)?;
    loop {
        // The common case, and the one that must be fast on a big fleet: the running
        // coordinator computes the view from memory and we print it as is.
        if a.node.is_none()
            && a.output != "yaml"
            && let Some(json) = view_json(&g.state_dir(), hosts.as_deref()).await?
        {
            let text = if a.output == "json" {
                json
            } else {
                render(&serde_json::from_slice(&json)?, a.output == "wide").into_bytes()
            };
            if a.watch && crate::term::stdout_is_tty() {
                print!("\x1b[2J\x1b[H");
            }
            print_all(&text)?;
            if !a.watch {
                return Ok(0);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            println!();
            continue;
        }
        let data = fleet_data(&g.state_dir()).await?;
        let v = view(&data, hosts.as_deref(), grace);
        let text = match (&a.node, a.output.as_str()) {
            (Some(n), "json") => {
                serde_json::to_string_pretty(&(
                    v.nodes.iter().find(|r| &r.name == n),
                    v.pods.iter().filter(|p| &p.node == n).collect::<Vec<_>>(),
                ))? + "\n"
            }
            (Some(n), _) => node_detail(&data, &v, n)?,
            (None, "json") => serde_json::to_string_pretty(&v)? + "\n",
            (None, "yaml") => serde_yaml::to_string(&v)?,
            (None, o) => render(&v, o == "wide"),
        };
        if a.watch && crate::term::stdout_is_tty() {
            print!("\x1b[2J\x1b[H");
        }
        print_all(text.as_bytes())?;
        if !a.watch {
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!();
    }
}

/// Run `events`.
pub async fn events(g: &Globals, a: EventsArgs) -> anyhow::Result<i32> {
    let hosts = hosts(g)?;
    let since = match &a.since {
        Some(s) => Some(
            parse_go_duration(s)
                .ok_or_else(|| anyhow::anyhow!("--since {s:?} is not a duration like 10m"))?,
        ),
        None => None,
    };
    let data = fleet_data(&g.state_dir()).await?;
    let now = jiff::Timestamp::now();
    let events: Vec<_> = data
        .reported
        .events
        .iter()
        .filter(|e| hosts.as_ref().is_none_or(|h| h.contains(&e.node)))
        .filter(|e| {
            since.is_none_or(|d| {
                e.last_time
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|t| now.duration_since(t).as_secs() <= d.as_secs() as i64)
            })
        })
        .collect();
    match a.output.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&events)?),
        "yaml" => print!("{}", serde_yaml::to_string(&events)?),
        _ => {
            if events.is_empty() {
                println!("No events found.");
                return Ok(0);
            }
            let mut t = table();
            t.set_header(["LAST SEEN", "NODE", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
            for e in events {
                let kind = if e.kind == "Warning" {
                    Some(Color::Yellow)
                } else {
                    None
                };
                let count = if e.count > 1 {
                    format!(" (x{})", e.count)
                } else {
                    String::new()
                };
                t.add_row(vec![
                    Cell::new(age(Some(&e.last_time)) + &count),
                    Cell::new(&e.node),
                    paint(e.kind.clone(), kind),
                    Cell::new(&e.reason),
                    Cell::new(format!("pod/{}", e.object)),
                    Cell::new(&e.message),
                ]);
            }
            println!("{}", super::table::render(t));
        }
    }
    Ok(0)
}
