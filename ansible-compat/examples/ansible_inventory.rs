//! A small `ansible-inventory` look-alike built on `ansible-compat`, handy for comparing with
//! the real tool. Like `ansible-inventory` with its default configuration it warns about
//! sources it cannot parse and goes on (`--strict` refuses them instead):
//!
//! ```text
//! cargo run -p ansible-compat --example ansible_inventory -- -i hosts --list [--limit PATTERN] [--export] [--yaml|--toml]
//! cargo run -p ansible-compat --example ansible_inventory -- -i hosts --graph [GROUP] [--vars]
//! cargo run -p ansible-compat --example ansible_inventory -- -i hosts --host HOST [--yaml|--toml]
//! cargo run -p ansible-compat --example ansible_inventory -- -i hosts --select PATTERN
//!   [--playbook-dir DIR] [--vault-password-file FILE] [--vault-id [LABEL@]FILE] [--strict]
//! ```
//!
//! `$ANSIBLE_VAULT_PASSWORD_FILE` is read as Ansible reads it.

use std::process::ExitCode;

use ansible_compat::{Inventory, LoadMode, LoadOptions, OutputFormat, PlaybookDir, VaultSecrets};

#[derive(Default)]
struct Args {
    sources: Vec<String>,
    mode: String,
    arg: Option<String>,
    limit: Option<String>,
    vars: bool,
    export: bool,
    format: OutputFormat,
    strict: bool,
    playbook_dir: Option<String>,
    vault_ids: Vec<String>,
    password_files: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1).peekable();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "-i" | "--inventory" => a.sources.push(value("-i")?),
            "-l" | "--limit" => a.limit = Some(value("--limit")?),
            "--playbook-dir" => a.playbook_dir = Some(value("--playbook-dir")?),
            "--vault-id" => a.vault_ids.push(value("--vault-id")?),
            "--vault-password-file" => a.password_files.push(value("--vault-password-file")?),
            "--vars" => a.vars = true,
            "--export" => a.export = true,
            "--strict" => a.strict = true,
            "-y" | "--yaml" => a.format = OutputFormat::Yaml,
            "--toml" => a.format = OutputFormat::Toml,
            "--list" | "--graph" | "--host" | "--select" => {
                a.mode = flag.clone();
                if flag != "--list" && it.peek().is_some_and(|v| !v.starts_with('-')) {
                    a.arg = it.next();
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn run(a: &Args) -> Result<String, ansible_compat::Error> {
    let env_file = std::env::var("ANSIBLE_VAULT_PASSWORD_FILE").ok();
    let options = LoadOptions {
        mode: if a.strict {
            LoadMode::Strict
        } else {
            LoadMode::Lenient
        },
        playbook_dir: a
            .playbook_dir
            .as_ref()
            .map_or(PlaybookDir::Implicit, |d| PlaybookDir::Dir(d.into())),
        vault: VaultSecrets::from_cli(&a.vault_ids, &a.password_files, env_file.as_deref())?,
        cwd: None,
    };
    let inv = Inventory::load_with(&a.sources, &options)?;
    eprint!("{}", inv.warnings_text());
    match a.mode.as_str() {
        "--graph" => inv.graph(a.arg.as_deref(), a.vars),
        "--host" => inv.host_text(a.arg.as_deref().unwrap_or(""), a.format, a.export),
        "--select" => {
            let s = inv.select_limited(a.arg.as_deref().unwrap_or("all"), a.limit.as_deref())?;
            for w in &s.warnings {
                eprintln!("[WARNING]: {w}");
            }
            Ok(s.hosts.iter().map(|h| format!("{h}\n")).collect())
        }
        _ => inv.list_text(a.limit.as_deref(), a.format, a.export),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        // Ansible prints nothing and exits 1 when there is nothing to print (`--toml`).
        Ok(text) if text.is_empty() => ExitCode::FAILURE,
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("[ERROR]: {e}");
            ExitCode::FAILURE
        }
    }
}
