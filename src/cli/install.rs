//! `podfleet agent install`: put the agent on each node over SSH. It copies the binary
//! (sha256-checked on the node, then renamed into place), installs the systemd unit for
//! the node's manifest directory, enrols the node if it has no certificate yet, and starts
//! the agent. Idempotent: what is already current is left alone. `--check` only tells.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::coordinator::pki::Pki;
use crate::transport::scripts::sh_quote;
use crate::transport::{Transport, TransportError, nodefs};

use super::Globals;
use super::common::{coordinator_url, on_node, print_host_results, run_jobs, select_hosts};
use super::enroll::{config_dir, credentials};
use super::push::ConnArgs;

/// The unit in the repository; its ExecStart is rewritten per node.
const UNIT: &str = include_str!("../agent/podfleet-agent.service");

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Coordinator address for enrolment (HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    pub coordinator: String,
    /// The binary to install (default: this podfleet).
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,
    /// Show what would be done, change nothing.
    #[arg(short = 'C', long)]
    pub check: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Where things go on one node (host vars `podfleet_bin_dir`, `podfleet_unit_dir`,
/// `podfleet_config_dir`, `static_pod_path`).
struct Layout {
    bin: String,
    unit: String,
    config: String,
    manifests: String,
}

fn var(vars: &serde_json::Map<String, serde_json::Value>, key: &str, default: &str) -> String {
    vars.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_string()
}

fn unit_for(host: &str, l: &Layout) -> String {
    let exec = format!(
        "ExecStart={} agent --pod-manifest-path {} --state-dir /var/lib/podfleet-agent --node-name {host} --pki-dir {} $PODFLEET_AGENT_ARGS",
        l.bin, l.manifests, l.config
    );
    UNIT.lines()
        .map(|line| {
            if line.starts_with("ExecStart=") {
                exec.clone()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// What the node has: systemd, and the sha256 of the binary and unit if present.
struct Found {
    systemd: bool,
    bin: Option<String>,
    unit: Option<String>,
    enrolled: bool,
}

async fn probe(t: &dyn Transport, l: &Layout) -> Result<Found, TransportError> {
    let script = format!(
        "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo systemd; fi\n\
         [ -f {b} ] && echo \"bin $(sha256sum < {b} | cut -d' ' -f1)\"\n\
         [ -f {u} ] && echo \"unit $(sha256sum < {u} | cut -d' ' -f1)\"\n\
         [ -f {c} ] && echo enrolled\n\
         exit 0\n",
        b = sh_quote(&l.bin),
        u = sh_quote(&format!("{}/podfleet-agent.service", l.unit)),
        c = sh_quote(&format!("{}/node.crt", l.config)),
    );
    let out = t.run_script(&script).await?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k} ")).map(str::to_string))
    };
    Ok(Found {
        systemd: text.lines().any(|l| l == "systemd"),
        bin: field("bin"),
        unit: field("unit"),
        enrolled: text.lines().any(|l| l == "enrolled"),
    })
}

/// Copy `bytes` to `path`: base64 on stdin, sha256-checked on the node, mode 0755, renamed
/// into place (a failed check leaves the old binary untouched).
async fn copy_binary(
    t: &dyn Transport,
    path: &str,
    bytes: &[u8],
    sha: &str,
) -> Result<(), TransportError> {
    use base64::Engine as _;
    let (dir, name) = path.rsplit_once('/').unwrap_or((".", path));
    let tmp = format!("{dir}/.{name}.tmp");
    let mut s = format!(
        "set -e\nmkdir -p {d}\numask 077\nbase64 -d > {t} <<'PODFLEET_EOF'\n",
        d = sh_quote(dir),
        t = sh_quote(&tmp)
    );
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    for chunk in enc.as_bytes().chunks(76) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    let _ = write!(
        s,
        "PODFLEET_EOF\ngot=$(sha256sum < {t} | cut -d' ' -f1)\nif [ \"$got\" != {sha} ]; then rm -f {t}; echo \"checksum mismatch: $got\" >&2; exit 3; fi\nchmod 0755 {t}\nsync {t} 2>/dev/null || sync\nmv -f {t} {p}\necho DONE\n",
        t = sh_quote(&tmp),
        p = sh_quote(path),
        sha = sh_quote(sha)
    );
    let out = t.run_script(&s).await?;
    if out.status == 0 && String::from_utf8_lossy(&out.stdout).contains("DONE") {
        Ok(())
    } else {
        Err(TransportError::Failed(format!(
            "cannot install {path}: {}",
            out.stderr_text()
        )))
    }
}

/// Install on one node; the actions taken (or that would be), or why not.
async fn install_node(
    host: &str,
    t: &dyn Transport,
    l: &Layout,
    a: &InstallArgs,
    pki: &Pki,
    binary: &[u8],
    coordinator: &str,
) -> Result<(Vec<String>, bool), TransportError> {
    let found = probe(t, l).await?;
    let sha = crate::manifest::content_sha256(binary);
    let unit = unit_for(host, l);
    let unit_path = format!("{}/podfleet-agent.service", l.unit);
    let mut actions = Vec::new();
    if found.bin.as_deref() != Some(sha.as_str()) {
        actions.push(format!(
            "copy the binary to {} (sha256 {})",
            l.bin,
            &sha[..12]
        ));
    }
    if found.unit.as_deref() != Some(crate::manifest::content_sha256(unit.as_bytes()).as_str()) {
        actions.push(format!("install {unit_path}"));
    }
    if !found.enrolled {
        actions.push(format!("enrol the node (certificate in {})", l.config));
    }
    if a.check {
        return Ok((actions, found.systemd));
    }
    if found.bin.as_deref() != Some(sha.as_str()) {
        copy_binary(t, &l.bin, binary, &sha).await?;
    }
    if actions.iter().any(|x| x.starts_with("install")) {
        nodefs::install_files(t, &[(unit_path.clone(), unit.into_bytes(), 0o644)]).await?;
    }
    if !found.enrolled {
        let pem = pki
            .node_cert(host, 365)
            .map_err(|e| TransportError::Failed(e.to_string()))?;
        nodefs::install_files(
            t,
            &credentials(&l.config, pki, coordinator, pem.cert, pem.key),
        )
        .await?;
    }
    if !found.systemd {
        return Err(TransportError::Failed(format!(
            "no systemd on this node: the binary, unit ({unit_path}) and certificate are in place, but the agent must be started another way, e.g.: {} agent --pod-manifest-path {} --state-dir /var/lib/podfleet-agent --node-name {host} --pki-dir {}",
            l.bin, l.manifests, l.config
        )));
    }
    let start = if actions.is_empty() {
        "systemctl is-active --quiet podfleet-agent || systemctl start podfleet-agent"
    } else {
        "systemctl daemon-reload && systemctl enable podfleet-agent >/dev/null 2>&1 && systemctl restart podfleet-agent"
    };
    let out = t.run_script(&format!("{start}\n")).await?;
    if out.status != 0 {
        return Err(TransportError::Failed(format!(
            "the agent did not start: {}",
            out.stderr_text()
        )));
    }
    Ok((actions, true))
}

/// Run.
pub async fn run(g: &Globals, a: InstallArgs) -> anyhow::Result<i32> {
    let fleet = g.fleet()?;
    let hosts = select_hosts(g, &fleet)?;
    let pki = Pki::load(&g.state_dir())?;
    let exe = match &a.binary {
        Some(p) => p.clone(),
        None => std::env::current_exe()?,
    };
    let binary =
        std::fs::read(&exe).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", exe.display()))?;
    let (defaults, ssh) = a.conn.resolve()?;
    let coordinator = coordinator_url(&a.coordinator);
    let jobs = hosts.iter().map(|host| {
        let (vars, target) = crate::rollout::jobs::host_target(&fleet, host, &defaults);
        let layout = Layout {
            bin: format!(
                "{}/podfleet",
                var(&vars, "podfleet_bin_dir", "/usr/local/bin")
            ),
            unit: var(&vars, "podfleet_unit_dir", "/etc/systemd/system"),
            config: config_dir(&vars),
            manifests: var(
                &vars,
                "static_pod_path",
                crate::fleet::DEFAULT_STATIC_POD_PATH,
            ),
        };
        let (a, pki, ssh, binary, coordinator) = (&a, &pki, &ssh, &binary, &coordinator);
        let work = async move {
            on_node(target, ssh, async |t| {
                install_node(host, t, &layout, a, pki, binary, coordinator).await
            })
            .await
            .map(|(actions, systemd)| summary(&actions, systemd, a.check))
        };
        (host.clone(), work)
    });
    let results = run_jobs(jobs, a.conn.forks).await;
    Ok(print_host_results(results))
}

/// The host line: (changed, message).
fn summary(actions: &[String], systemd: bool, check: bool) -> (bool, String) {
    if actions.is_empty() {
        return (
            false,
            "binary, unit and certificate are current; agent running".into(),
        );
    }
    let todo = actions.join("; ");
    if !check {
        return (true, format!("{todo}; agent started"));
    }
    let start = if systemd {
        "start the agent with systemd"
    } else {
        "no systemd: the agent would have to be started by hand"
    };
    (true, format!("would {todo}; {start}"))
}
