//! The INI inventory format (ansible-core's `ini` inventory plugin).
//!
//! Parsing starts in an implicit `[ungrouped]` section. Section headers are `[g]`, `[g:hosts]`,
//! `[g:children]` and `[g:vars]`; `:vars` and `:children` may name groups declared later in the
//! file, and names still undeclared at the end are errors. Host lines are split with
//! [`crate::shlex`] (comments on) into a host pattern (ranges, `:port`) and `key=value` pairs;
//! `:vars` lines are split at the first `=`. Every value goes through
//! [`crate::pyliteral::parse_ini_value`].

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::address::expand_hostpattern;
use crate::data::{InventoryData, VarOrigin};
use crate::error::Error;
use crate::pyliteral::{LiteralError, parse_ini_value};
use crate::pyrepr::str_repr;
use crate::shlex;
use crate::value::Node;

static SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$").unwrap());
static GROUPNAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^:\]\s]+)\s*(?:\#.*)?$").unwrap());

/// Python's `str.splitlines()` separators.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Python's `str.splitlines()`.
pub fn splitlines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if is_line_break(c) {
            out.push(&text[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r'
                && let Some((_, '\n')) = it.peek()
            {
                it.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The origin of a variable set on `line` (strings parsed with `from_ini_str` have none).
fn origin(path: &Path, line: usize) -> Option<VarOrigin<'_>> {
    (path != Path::new("<string>")).then_some(VarOrigin {
        path,
        line,
        col: None,
    })
}

/// Decodes the file like the plugin: UTF-8, but comment lines that are not UTF-8 become empty.
fn decode(bytes: &[u8], path: &Path) -> Result<Vec<String>, Error> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(splitlines(text).into_iter().map(str::to_string).collect());
    }
    let mut lines = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if matches!(raw.first(), Some(b'#' | b';')) {
            lines.push(String::new());
            continue;
        }
        let line = std::str::from_utf8(raw).map_err(|e| {
            Error::parse(path, Some(i + 1), format!("line is not valid UTF-8: {e}"))
        })?;
        lines.push(line.to_string());
    }
    Ok(lines)
}

#[derive(Debug, PartialEq)]
enum State {
    Hosts,
    Children,
    Vars,
}

struct Pending {
    name: String,
    line: usize,
    state: State,
    parents: Vec<String>,
}

/// Parses an INI inventory into `inv`.
pub fn parse(inv: &mut InventoryData, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let lines = decode(bytes, path)?;
    let mut pending: Vec<Pending> = Vec::new();
    let mut group = "ungrouped".to_string();
    let mut state = State::Hosts;
    for (idx, raw) in lines.iter().enumerate() {
        let lineno = idx + 1;
        let err = |m: String| Error::parse(path, Some(lineno), m);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(m) = SECTION.captures(line) {
            group = m[1].to_string();
            let tag = m.get(2).map(|t| t.as_str());
            state = match tag.unwrap_or("hosts") {
                "hosts" => State::Hosts,
                "children" => State::Children,
                "vars" => State::Vars,
                other => {
                    return Err(err(format!(
                        "Section [{group}:{other}] has unknown type: {other}"
                    )));
                }
            };
            // Either [g] or [g:children] declares g; [g:vars] alone must be declared later.
            if inv.group_id(&group).is_none() {
                if state == State::Vars && !pending.iter().any(|p| p.name == group) {
                    pending.push(Pending {
                        name: group.clone(),
                        line: lineno,
                        state: State::Vars,
                        parents: Vec::new(),
                    });
                }
                inv.add_group(&group).map_err(err)?;
            }
            if state != State::Vars
                && let Some(i) = pending.iter().position(|p| p.name == group)
            {
                if pending[i].state == State::Children {
                    add_pending_children(inv, &group, &mut pending).map_err(err)?;
                } else {
                    pending.remove(i);
                }
            }
            continue;
        } else if line.starts_with('[') && line.ends_with(']') {
            return Err(err(format!(
                "Invalid section entry: '{line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters"
            )));
        }
        match state {
            State::Hosts => {
                let (hosts, port, vars) = parse_host_definition(line).map_err(err)?;
                for h in &hosts {
                    inv.add_host(h, Some(&group), port).map_err(err)?;
                    for (k, v) in &vars {
                        inv.set_variable_at(h, k, v.clone(), origin(path, lineno))
                            .map_err(err)?;
                    }
                }
            }
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(err(format!("Expected key=value, got: {line}")));
                };
                let value = parse_value(v.trim()).map_err(err)?;
                inv.set_variable_at(&group, k.trim(), value, origin(path, lineno))
                    .map_err(err)?;
            }
            State::Children => {
                let child = GROUPNAME
                    .captures(line)
                    .map(|m| m[1].to_string())
                    .ok_or_else(|| err(format!("Expected group name, got: {line}")))?;
                if inv.group_id(&child).is_none() {
                    match pending.iter_mut().find(|p| p.name == child) {
                        Some(p) => p.parents.push(group.clone()),
                        None => pending.push(Pending {
                            name: child,
                            line: lineno,
                            state: State::Children,
                            parents: vec![group.clone()],
                        }),
                    }
                } else {
                    inv.add_child(&group, &child).map_err(err)?;
                }
            }
        }
    }
    if let Some(p) = pending.first() {
        let msg = match p.state {
            State::Vars => format!(
                "Section [{}:vars] not valid for undefined group {}.",
                p.name,
                str_repr(&p.name)
            ),
            _ => format!(
                "Section [{}:children] includes undefined group {}.",
                p.parents.last().map(String::as_str).unwrap_or(""),
                str_repr(&p.name)
            ),
        };
        return Err(Error::parse(path, Some(p.line), msg));
    }
    Ok(())
}

fn add_pending_children(
    inv: &mut InventoryData,
    group: &str,
    pending: &mut Vec<Pending>,
) -> Result<(), String> {
    let Some(i) = pending.iter().position(|p| p.name == group) else {
        return Ok(());
    };
    let parents = pending[i].parents.clone();
    for parent in &parents {
        inv.add_child(parent, group)?;
        if pending
            .iter()
            .any(|p| &p.name == parent && p.state == State::Children)
        {
            add_pending_children(inv, parent, pending)?;
        }
    }
    if let Some(i) = pending.iter().position(|p| p.name == group) {
        pending.remove(i);
    }
    Ok(())
}

fn parse_value(v: &str) -> Result<Node, String> {
    parse_ini_value(v).map_err(|e| match e {
        LiteralError::Unhashable(m) => m,
        LiteralError::NotALiteral => unreachable!("parse_ini_value keeps raw strings"),
    })
}

type HostDef = (Vec<String>, Option<u64>, Vec<(String, Node)>);

fn parse_host_definition(line: &str) -> Result<HostDef, String> {
    let tokens =
        shlex::split(line).map_err(|e| format!("Error parsing host definition '{line}': {e}"))?;
    let first = tokens
        .first()
        .ok_or_else(|| "list index out of range".to_string())?;
    let (hosts, port) = expand_hostpattern(first)?;
    if first.trim().ends_with(':') && port.is_none() {
        return Err(format!(
            "Invalid host pattern '{first}' supplied, ending in ':' is not allowed, this character is reserved to provide a port."
        ));
    }
    if hosts.iter().any(|h| h.trim() == "---") {
        return Err(format!(
            "Invalid host pattern '{first}' supplied, '---' is normally a sign this is a YAML file."
        ));
    }
    let mut vars: Vec<(String, Node)> = Vec::new();
    for t in &tokens[1..] {
        let Some((k, v)) = t.split_once('=') else {
            return Err(format!(
                "Expected key=value host variable assignment, got: {t}"
            ));
        };
        let value = parse_value(v)?;
        match vars.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = value,
            None => vars.push((k.to_string(), value)),
        }
    }
    Ok((hosts, port, vars))
}
