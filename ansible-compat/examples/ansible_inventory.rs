//! A small `ansible-inventory` look-alike built on `ansible-compat`, handy for comparing with
//! the real tool:
//!
//! ```text
//! cargo run -p ansible-compat --example ansible_inventory -- -i hosts --list [--limit PATTERN]
//! cargo run -p ansible-compat --example ansible_inventory -- -i hosts --graph [GROUP] [--vars]
//! cargo run -p ansible-compat --example ansible_inventory -- -i hosts --host HOST
//! cargo run -p ansible-compat --example ansible_inventory -- -i hosts --select PATTERN
//! ```

use std::process::ExitCode;

use ansible_compat::{Inventory, Value, to_ansible_json};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let (mut sources, mut mode, mut arg, mut limit, mut vars) =
        (Vec::new(), String::new(), None, None, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-i" | "--inventory" => sources.extend(args.next()),
            "--list" | "--graph" | "--host" | "--select" => {
                mode = a.clone();
                if a != "--list" && args.peek().is_some_and(|v| !v.starts_with('-')) {
                    arg = args.next();
                }
            }
            "-l" | "--limit" => limit = args.next(),
            "--vars" => vars = true,
            other => {
                eprintln!("unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    let inv = match Inventory::load(&sources) {
        Ok(inv) => inv,
        Err(e) => {
            eprintln!("[ERROR]: {e}");
            return ExitCode::FAILURE;
        }
    };
    for w in inv.warnings() {
        eprintln!("[WARNING]: {w}");
    }
    let out = match mode.as_str() {
        "--graph" => inv
            .graph(arg.as_deref(), vars)
            .map(|g| g.trim_end().to_string()),
        "--host" => inv
            .host_vars(arg.as_deref().unwrap_or(""))
            .map(|v| to_ansible_json(&Value::Object(v))),
        "--select" => inv
            .select_limited(arg.as_deref().unwrap_or("all"), limit.as_deref())
            .map(|s| {
                for w in &s.warnings {
                    eprintln!("[WARNING]: {w}");
                }
                s.hosts.join("\n")
            }),
        _ => inv.list_json(limit.as_deref()).map(|v| to_ansible_json(&v)),
    };
    match out {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("[ERROR]: {e}");
            ExitCode::FAILURE
        }
    }
}
