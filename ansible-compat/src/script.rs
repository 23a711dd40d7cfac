//! Executable inventory scripts (ansible-core's `script` inventory plugin).
//!
//! The script is run with `--list` and must print a JSON object of groups (each a list of hosts
//! or an object with `hosts`, `vars`, `children`). Host variables come from `_meta.hostvars`, or,
//! when that is missing, from running the script with `--host NAME` for each host.

use std::path::Path;
use std::process::Command;

use crate::data::InventoryData;
use crate::error::Error;
use crate::value::{Kind, Node, key_string};

/// Runs the script; its standard output, and the help text naming its standard error.
fn run(path: &Path, args: &[&str]) -> Result<(String, String), Error> {
    let err = |m: String| Error::Script {
        path: path.to_path_buf(),
        message: m,
    };
    let shown = std::iter::once(path.display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(path).args(args).output().map_err(|e| {
        err(format!(
            "Failed to execute inventory script command '{shown}': {e}"
        ))
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let help = if stderr.trim().is_empty() {
        String::new()
    } else {
        format!(
            "\nStandard error from inventory script:\n{}",
            stderr.trim_end()
        )
    };
    if !out.status.success() {
        let code = out
            .status
            .code()
            .map_or_else(|| "(signal)".to_string(), |c| c.to_string());
        return Err(err(format!(
            "Inventory script returned non-zero exit code {code}.{help}"
        )));
    }
    let stdout = String::from_utf8(out.stdout)
        .map_err(|_| err(format!("Inventory script result contained characters that cannot be interpreted as UTF-8.{help}")))?;
    Ok((stdout, help))
}

/// A deprecation of the script plugin as ansible-core 2.19 words it.
fn deprecation(msg: &str, path: &Path) -> String {
    format!(
        "{msg} This feature will be removed from inventory plugin 'script' in ansible-core version 2.23.\nOrigin: <inventory script output from {}>",
        crate::pyrepr::str_repr(&path.display().to_string())
    )
}

/// Parses script output; the error is ansible-core's, with Python's JSON message.
fn parse_json(text: &str, path: &Path, what: &str, help: &str) -> Result<Node, Error> {
    if let Some(node) = crate::document::load_json(text) {
        return Ok(node);
    }
    let detail = crate::pyjson::decode_error(text).unwrap_or_else(|| "invalid JSON".into());
    let message = if what.is_empty() {
        format!(
            "Unable to get JSON decoder for inventory script result: Value could not be parsed as JSON: {detail}{help}"
        )
    } else {
        format!("{what} could not be parsed as JSON: {detail}{help}")
    };
    Err(Error::Script {
        path: path.to_path_buf(),
        message,
    })
}

/// Runs the executable at `path` and adds what it prints to `inv`.
pub fn parse(inv: &mut InventoryData, path: &Path) -> Result<(), Error> {
    let serr = |m: String| Error::Script {
        path: path.to_path_buf(),
        message: m,
    };
    let (out, help) = run(path, &["--list"])?;
    let root = parse_json(&out, path, "", &help)?;
    let Kind::Map(groups) = &root.kind else {
        return Err(serr(format!(
            "Unable to get JSON decoder for inventory script result: Value is '{}' instead of 'dict'.",
            root.type_name()
        )));
    };
    let mut meta_hostvars: Option<&Vec<(Node, Node)>> = None;
    let mut hosts: Vec<String> = Vec::new();
    for (name, data) in groups {
        let gname = key_string(name);
        if gname == "_meta" {
            let hv = match &data.kind {
                Kind::Map(m) => m
                    .iter()
                    .find(|(k, _)| k.as_str() == Some("hostvars"))
                    .map(|(_, v)| v),
                _ => None,
            };
            match hv.map(|v| &v.kind) {
                Some(Kind::Map(m)) => meta_hostvars = Some(m),
                other => {
                    let t = other.map_or("NoneType", |_| hv.unwrap_or(&root).type_name());
                    return Err(serr(format!(
                        "Value contains '_meta.hostvars' which is '{t}' instead of 'dict'."
                    )));
                }
            }
            continue;
        }
        inv.add_group(&gname).map_err(serr)?;
        let sections: Vec<(String, Node)> = match &data.kind {
            Kind::Map(m)
                if m.iter()
                    .any(|(k, _)| matches!(k.as_str(), Some("hosts" | "vars" | "children"))) =>
            {
                m.iter().map(|(k, v)| (key_string(k), v.clone())).collect()
            }
            Kind::Map(_) => {
                inv.deprecate(deprecation(
                    &format!("Treating malformed group '{gname}' as the sole host of that group. Variables provided in this manner cannot be templated."),
                    path,
                ));
                let host = Node::new(Kind::Seq(vec![Node::new(Kind::Str(gname.clone()))]));
                vec![("hosts".into(), host), ("vars".into(), data.clone())]
            }
            _ => {
                inv.deprecate(deprecation(
                    &format!(
                        "Group '{gname}' was converted to 'dict' from '{}'.",
                        data.type_name()
                    ),
                    path,
                ));
                vec![("hosts".into(), data.clone())]
            }
        };
        if let Some((_, h)) = sections.iter().find(|(k, _)| k == "hosts") {
            let Kind::Seq(items) = &h.kind else {
                return Err(serr(format!(
                    "Value contains '{gname}.hosts' which is '{}' instead of 'list'.",
                    h.type_name()
                )));
            };
            for item in items {
                let Some(hn) = item.as_str() else {
                    return Err(serr(format!(
                        "Invalid host name supplied, expected a string but got {} for {}",
                        item.py_type(),
                        key_string(item)
                    )));
                };
                if !hosts.iter().any(|x| x == hn) {
                    hosts.push(hn.to_string());
                }
                inv.add_host(hn, Some(&gname), None).map_err(serr)?;
            }
        }
        if let Some((_, v)) = sections.iter().find(|(k, _)| k == "vars") {
            let Kind::Map(vars) = &v.kind else {
                return Err(serr(format!(
                    "Value contains '{gname}.vars' which is '{}' instead of 'dict'.",
                    v.type_name()
                )));
            };
            for (k, val) in vars {
                let mut val = val.clone();
                crate::document::set_vault_path(&mut val, path);
                inv.set_variable(&gname, &key_string(k), val)
                    .map_err(serr)?;
            }
        }
        if let Some((_, c)) = sections.iter().find(|(k, _)| k == "children") {
            let names: Vec<String> = match &c.kind {
                Kind::Seq(items) => items.iter().map(key_string).collect(),
                Kind::Map(m) => m.iter().map(|(k, _)| key_string(k)).collect(),
                Kind::Str(s) => s.chars().map(String::from).collect(),
                _ => return Err(serr(format!("'{}' object is not iterable", c.type_name()))),
            };
            for child in names {
                inv.add_group(&child).map_err(serr)?;
                inv.add_child(&gname, &child).map_err(serr)?;
            }
        }
    }
    if meta_hostvars.is_none() {
        inv.deprecate(deprecation(
            "Inventory scripts should always provide 'meta.hostvars'. Host variables will be collected by running the inventory script with the '--host' option for each host.",
            path,
        ));
    }
    for host in &hosts {
        let got: Node = match meta_hostvars {
            Some(m) => m
                .iter()
                .find(|(k, _)| k.as_str() == Some(host.as_str()))
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| Node::new(Kind::Map(Vec::new()))),
            None => {
                let (out, help) = run(path, &["--host", host])?;
                if out.trim().is_empty() {
                    Node::new(Kind::Map(Vec::new()))
                } else {
                    parse_json(
                        &out,
                        path,
                        &format!("Inventory script result for host '{host}'"),
                        &help,
                    )?
                }
            }
        };
        let Kind::Map(vars) = &got.kind else {
            return Err(serr(format!(
                "Invalid data from file, expected dictionary and got:\n\n{}",
                crate::pyrepr::py_str(&got)
            )));
        };
        inv.add_host(host, None, None).map_err(serr)?;
        for (k, v) in vars {
            let mut v = v.clone();
            crate::document::set_vault_path(&mut v, path);
            inv.set_variable(host, &key_string(k), v).map_err(serr)?;
        }
    }
    Ok(())
}
