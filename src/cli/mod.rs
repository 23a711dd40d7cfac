//! Command-line interface: clap definitions and dispatch. One file per subcommand; no
//! logic here beyond wiring and printing.

mod agent;
mod agent_logs;
mod common;
mod completions;
mod demo;
mod diff;
mod enroll;
mod history;
mod install;
mod inventory;
mod kubeconfig;
mod log_flags;
mod logs;
mod push;
mod render;
mod reporters;
mod rollback;
mod serve;
mod status;
mod table;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use common::Globals;

/// podfleet: declare, diff, push, run and watch Kubernetes static pods across a fleet.
#[derive(Debug, Parser)]
#[command(name = "podfleet", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the inventory as ansible-inventory does (--list, --graph, --host).
    Inventory(inventory::Args),
    /// Render every selected node's manifests (to stdout or --out DIR/<host>/<file>).
    Render(render::Args),
    /// Render and validate every selected node's manifests; exit 1 with all errors.
    Validate(validate::Args),
    /// Show what a push would change on each node (unified diffs, drift, unmanaged files).
    Diff(diff::Args),
    /// Write the rendered manifests into each node's manifest directory, atomically.
    Push(push::Args),
    /// Push the files an earlier revision wrote again, as a new revision.
    Rollback(rollback::RollbackArgs),
    /// List push revisions, or show one.
    History(history::Args),
    /// Run the on-node agent (reconcile a manifest directory into pods), or query it.
    Agent(Box<agent::Args>),
    /// Run the coordinator: agents report over gRPC (mutual TLS) into the store.
    Serve(serve::Args),
    /// Show the fleet: nodes, static pods, and whether each runs what was pushed (SYNC).
    Status(status::Args),
    /// Show events agents reported (starts, back-offs, probe failures, invalid manifests).
    Events(status::EventsArgs),
    /// Print container logs from the fleet through the coordinator (kubectl logs's flags).
    Logs(logs::Args),
    /// Print a kubeconfig for the coordinator's read-only Kubernetes API (kubectl).
    Kubeconfig(kubeconfig::Args),
    /// Print a shell completion script.
    Completions(completions::Args),
    /// Start a local demo fleet: one agent per inventory host, push, wait for health.
    Up(demo::UpArgs),
    /// Stop the demo fleet started by `up` and remove what it created.
    Down(demo::DownArgs),
}

/// Parse arguments and run; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Inventory(a) => inventory::run(&cli.globals, a),
        Command::Render(a) => render::run(&cli.globals, a),
        Command::Validate(a) => validate::run(&cli.globals, a),
        Command::Diff(a) => diff::run(&cli.globals, a).await,
        Command::Push(a) => push::run(&cli.globals, a).await,
        Command::History(a) => history::run(&cli.globals, a).await,
        Command::Rollback(a) => rollback::run(&cli.globals, a).await,
        Command::Agent(a) => agent::run(&cli.globals, *a).await,
        Command::Serve(a) => serve::run(&cli.globals, a).await,
        Command::Status(a) => status::run(&cli.globals, a).await,
        Command::Events(a) => status::events(&cli.globals, a).await,
        Command::Logs(a) => logs::run(&cli.globals, a).await,
        Command::Kubeconfig(a) => kubeconfig::run(&cli.globals, a),
        Command::Completions(a) => completions::run(a),
        Command::Up(a) => demo::up(&cli.globals, a).await,
        Command::Down(a) => demo::down(a).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ERROR! {e:#}");
            1
        }
    }
}

impl Command {
    /// Long-running servers (agent, coordinator, demo fleet), as opposed to commands whose
    /// output may be piped into `head`.
    pub fn is_daemon(&self) -> bool {
        matches!(self, Command::Agent(a) if a.action.is_none())
            || matches!(self, Command::Serve(_) | Command::Up(_))
    }

    /// Commands that change nodes and record it (push, rollback): a reader that goes away
    /// (`| head`) must not stop them half-way.
    pub fn changes_nodes(&self) -> bool {
        matches!(self, Command::Push(_) | Command::Rollback(_))
    }

    /// Log level when neither PODFLEET_LOG nor RUST_LOG is set: daemons say more.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Agent(a) if a.action.is_none() => "info",
            Command::Serve(_) => "info",
            _ => "warn",
        }
    }
}

/// Default inventory when neither -i nor the environment names one.
pub fn default_inventory() -> Vec<PathBuf> {
    vec![PathBuf::from("inventory")]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn the_agent_has_its_own_directory_flag_and_keeps_the_old_name() {
        use clap::Parser as _;
        for flag in ["--agent-dir", "--state-dir"] {
            let cli =
                super::Cli::try_parse_from(["podfleet", "agent", "status", flag, "/x"]).unwrap();
            let super::Command::Agent(a) = cli.command else {
                panic!("not agent");
            };
            let Some(super::agent::Action::Status(s)) = a.action else {
                panic!("not status");
            };
            assert_eq!(s.dir.state_dir.as_deref(), Some(std::path::Path::new("/x")));
        }
    }
}
