//! Options shared by every subcommand and the helpers that turn them into a fleet.

use std::path::PathBuf;

use ansible_compat::{LoadMode, LoadOptions, PlaybookDir, VaultSecrets};
use clap::Args;

use crate::fleet::{self, DesiredState, Fleet};
use crate::store::{Store, default_state_dir};
use crate::transport::TransportError;

/// Options accepted by every command.
#[derive(Debug, Clone, Args)]
pub struct Globals {
    /// Inventory file or directory; repeat for several sources (later ones win).
    /// Defaults to $PODFLEET_INVENTORY, then $ANSIBLE_INVENTORY, then ./inventory.
    #[arg(short = 'i', long = "inventory", global = true, value_name = "PATH")]
    pub inventory: Vec<PathBuf>,
    /// Limit to hosts matching an Ansible host pattern (e.g. 'web:&edge:!web3', '@retry.txt').
    #[arg(short = 'l', long = "limit", global = true, value_name = "PATTERN")]
    pub limit: Option<String>,
    /// Directory that static_pods paths are relative to.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "PODFLEET_MANIFESTS",
        hide_env_values = true,
        default_value = "manifests"
    )]
    pub manifests: PathBuf,
    /// Where podfleet keeps its store (push history, coordinator state).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "PODFLEET_STATE_DIR",
        hide_env_values = true
    )]
    pub state_dir: Option<PathBuf>,
    /// Playbook directory whose group_vars/ and host_vars/ also apply (as ansible-inventory's
    /// --playbook-dir; by default the current directory's count for host variables).
    #[arg(long, global = true, value_name = "DIR")]
    pub playbook_dir: Option<PathBuf>,
    /// Vault password file for encrypted inventory files and `!vault` values (repeatable;
    /// executable files are run as Ansible runs them). Also $ANSIBLE_VAULT_PASSWORD_FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub vault_password_file: Vec<String>,
    /// Vault identity `[LABEL@]FILE` (repeatable), as Ansible's --vault-id.
    #[arg(long, global = true, value_name = "ID")]
    pub vault_id: Vec<String>,
}

impl Globals {
    /// Inventory sources after applying the environment defaults.
    pub fn inventory_sources(&self) -> Vec<PathBuf> {
        if !self.inventory.is_empty() {
            return self.inventory.clone();
        }
        for var in ["PODFLEET_INVENTORY", "ANSIBLE_INVENTORY"] {
            if let Ok(v) = std::env::var(var) {
                let list: Vec<PathBuf> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
                    .collect();
                if !list.is_empty() {
                    return list;
                }
            }
        }
        super::default_inventory()
    }

    /// How to load the inventory: playbook dir and vault secrets from the flags, `mode` as
    /// given (strict for commands that act on nodes, lenient for `podfleet inventory`).
    pub fn load_options(&self, mode: LoadMode) -> anyhow::Result<LoadOptions> {
        let env_file = std::env::var("ANSIBLE_VAULT_PASSWORD_FILE").ok();
        Ok(LoadOptions {
            mode,
            playbook_dir: self
                .playbook_dir
                .as_ref()
                .map_or(PlaybookDir::Implicit, |d| PlaybookDir::Dir(d.clone())),
            vault: VaultSecrets::from_cli(
                &self.vault_id,
                &self.vault_password_file,
                env_file.as_deref(),
            )?,
            cwd: None,
        })
    }

    /// Load the inventory strictly (every source must parse: commands that change nodes never
    /// act on a partial inventory) and remember the manifests root.
    pub fn fleet(&self) -> anyhow::Result<Fleet> {
        let sources = self.inventory_sources();
        for s in &sources {
            // A source with a comma that is not a path is a host list, as in Ansible.
            let host_list = s.to_string_lossy().contains(',');
            if !s.exists() && !host_list {
                anyhow::bail!(
                    "inventory source {} does not exist (use -i PATH or set PODFLEET_INVENTORY)",
                    s.display()
                );
            }
        }
        let options = self.load_options(LoadMode::Strict)?;
        let f = Fleet::load(&sources, &self.manifests, &options)?;
        eprint!("{}", f.inventory.warnings_text());
        Ok(f)
    }

    /// The state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(default_state_dir)
    }

    /// Open the push history store.
    pub async fn store(&self) -> anyhow::Result<Box<dyn Store>> {
        crate::coordinator::client::open_store(&self.state_dir()).await
    }
}

/// Select hosts with `--limit`, printing Ansible's warnings; an empty selection is
/// Ansible's "no hosts" error.
pub fn select_hosts(globals: &Globals, fleet: &Fleet) -> anyhow::Result<Vec<String>> {
    let (hosts, warnings) = fleet.select(globals.limit.as_deref())?;
    for w in warnings {
        eprintln!("[WARNING]: {w}");
    }
    if hosts.is_empty() {
        anyhow::bail!(
            "Specified inventory, host pattern and/or --limit leaves us with no hosts to target."
        );
    }
    Ok(hosts)
}

/// Print validation errors (grouped across hosts) to stderr.
pub fn print_invalid(state: &DesiredState) {
    for line in fleet::summarize(state) {
        eprintln!("{line}");
    }
}

/// Whether to colour stdout.
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && crate::term::stdout_is_tty()
}

/// A coordinator address as a URL: `HOST:PORT` means mutual TLS (`https://`).
pub fn coordinator_url(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_string()
    } else {
        format!("https://{addr}")
    }
}

/// Connect to a node, run `work` over its transport, close it.
pub async fn on_node<T>(
    target: Result<crate::transport::Target, crate::transport::target::InvalidTarget>,
    ssh: &crate::transport::ssh::SshOptions,
    work: impl AsyncFnOnce(&dyn crate::transport::Transport) -> Result<T, TransportError>,
) -> Result<T, TransportError> {
    let target = target.map_err(|e| TransportError::Failed(e.0))?;
    let t = crate::transport::connect(&target, ssh).await?;
    let r = work(t.as_ref()).await;
    t.close().await;
    r
}

/// Run per-host jobs `forks` at a time (the one host runner, `fanout`); results sorted by
/// host, a panicking job as its host's failure.
pub async fn run_jobs<F>(
    jobs: impl IntoIterator<Item = (String, F)>,
    forks: usize,
) -> Vec<(String, HostResult)>
where
    F: std::future::Future<Output = HostResult>,
{
    let mut results: Vec<(String, HostResult)> =
        crate::fanout::for_each_host(jobs, forks, &|_, _| {})
            .await
            .into_iter()
            .map(|(host, r)| {
                (
                    host,
                    r.unwrap_or_else(|why| Err(TransportError::Failed(why.to_string()))),
                )
            })
            .collect();
    results.sort_by(|x, y| x.0.cmp(&y.0));
    results
}

/// One host's outcome: (changed, message), or why it failed.
pub type HostResult = Result<(bool, String), TransportError>;

/// Print Ansible-style host lines (`ok:`/`changed:`/`fatal:`) and return the exit code
/// (0, 2 failed, 4 unreachable).
pub fn print_host_results(results: Vec<(String, HostResult)>) -> i32 {
    let mut code = 0;
    for (host, r) in results {
        match r {
            Ok((false, msg)) => println!("ok: [{host}] => {msg}"),
            Ok((true, msg)) => println!("changed: [{host}] => {msg}"),
            Err(e) if e.is_unreachable() => {
                println!("fatal: [{host}]: UNREACHABLE! => {e}");
                code = code.max(4);
            }
            Err(e) => {
                println!("fatal: [{host}]: FAILED! => {e}");
                code = code.max(2);
            }
        }
    }
    code
}

/// The agent's directory flag, for the agent and the commands that talk to it.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentDir {
    /// Agent state directory (socket, records, emptyDir volumes); `--state-dir` is its older
    /// name. Default /var/lib/podfleet-agent.
    #[arg(
        long = "agent-dir",
        alias = "state-dir",
        value_name = "DIR",
        env = "PODFLEET_AGENT_STATE_DIR",
        hide_env_values = true
    )]
    pub state_dir: Option<PathBuf>,
}

impl AgentDir {
    /// The directory, or the default.
    pub fn path(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(crate::agent::default_state_dir)
    }

    /// The agent's local API socket.
    pub fn socket(&self) -> PathBuf {
        self.path().join("agent.sock")
    }
}
