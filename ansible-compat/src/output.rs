//! What `ansible-inventory` prints: `--list` JSON, `--graph [GROUP] [--vars]` text and `--host`.
//!
//! `--list` has one key per group (`hosts` and `children` lists, empty ones and empty groups
//! dropped, `all` never listing hosts) and `_meta` with every selected host's merged variables
//! (hosts with none are left out) and `profile: "inventory_legacy"`. `--graph` indents each level
//! with `  |` and prefixes items with `--`; groups show as `@name:` and repeat under every parent;
//! `--vars` adds sorted `{key = value}` lines using Python's `str()` of the value.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::data::GroupId;
use crate::pyrepr::py_str;
use crate::value::OVars;
use crate::{Error, Inventory};

/// Builds the `--list [--export]` document for the selected hosts (`available`, in selection
/// order).
pub fn list_json(inv: &Inventory, available: &[String], export: bool) -> Result<Value, Error> {
    let data = &inv.data;
    let avail: HashSet<&str> = available.iter().map(String::as_str).collect();
    let mut results = Map::new();
    let mut seen: HashSet<GroupId> = HashSet::new();
    let mut ctx = ListCtx {
        inv,
        avail: &avail,
        export,
        seen: &mut seen,
    };
    format_group(&mut ctx, data.all(), &mut results)?;
    let mut hostvars = Map::new();
    for h in available {
        let vars = if export {
            inv.export_vars(h)?.to_json(true)
        } else {
            inv.host_vars_with_unsafe(h)?
        };
        if !vars.is_empty() {
            hostvars.insert(h.clone(), Value::Object(vars));
        }
    }
    let mut meta = Map::new();
    meta.insert("hostvars".into(), Value::Object(hostvars));
    meta.insert("profile".into(), Value::String("inventory_legacy".into()));
    results.insert("_meta".into(), Value::Object(meta));
    Ok(Value::Object(results))
}

struct ListCtx<'a> {
    inv: &'a Inventory,
    avail: &'a HashSet<&'a str>,
    export: bool,
    seen: &'a mut HashSet<GroupId>,
}

fn format_group(
    ctx: &mut ListCtx<'_>,
    g: GroupId,
    results: &mut Map<String, Value>,
) -> Result<(), Error> {
    let data = &ctx.inv.data;
    let group = &data.groups[g];
    let mut entry = Map::new();
    if g != data.all() {
        let hosts: Vec<Value> = group
            .hosts
            .iter()
            .map(|h| data.hosts[*h].name.as_str())
            .filter(|n| ctx.avail.contains(n))
            .map(|n| Value::String(n.to_string()))
            .collect();
        if !hosts.is_empty() {
            entry.insert("hosts".into(), Value::Array(hosts));
        }
    }
    let mut children = Vec::new();
    let mut nested = Map::new();
    for c in &group.children {
        children.push(Value::String(data.groups[*c].name.clone()));
        if !ctx.seen.contains(c) {
            format_group(ctx, *c, &mut nested)?;
            ctx.seen.insert(*c);
        }
    }
    if !children.is_empty() {
        entry.insert("children".into(), Value::Array(children));
    }
    if ctx.export {
        let vars = ctx.inv.group_vars(g)?;
        if vars.iter().next().is_some() {
            entry.insert("vars".into(), Value::Object(vars.to_json(true)));
        }
    }
    if !entry.is_empty() {
        results.insert(group.name.clone(), Value::Object(entry));
    }
    results.extend(nested);
    Ok(())
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{}", "  |".repeat(depth), name)
    }
}

fn show_vars(vars: &OVars, depth: usize, out: &mut Vec<String>) {
    let mut items: Vec<_> = vars.iter().collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in items {
        out.push(graph_name(&format!("{{{} = {}}}", k, py_str(v)), depth));
    }
}

fn graph_group(
    inv: &Inventory,
    g: GroupId,
    depth: usize,
    with_vars: bool,
    out: &mut Vec<String>,
) -> Result<(), Error> {
    let data = &inv.data;
    let group = &data.groups[g];
    out.push(graph_name(&format!("@{}:", group.name), depth));
    for c in &group.children {
        graph_group(inv, *c, depth + 1, with_vars, out)?;
    }
    if g != data.all() {
        for h in &group.hosts {
            let name = &data.hosts[*h].name;
            out.push(graph_name(name, depth + 1));
            if with_vars {
                show_vars(&inv.decrypted(inv.merged_vars(name)?)?, depth + 2, out);
            }
        }
    }
    if with_vars {
        show_vars(&inv.decrypted(inv.group_vars(g)?)?, depth + 1, out);
    }
    Ok(())
}

/// The `--graph` text, ending with a newline.
pub fn graph(inv: &Inventory, group: Option<&str>, with_vars: bool) -> Result<String, Error> {
    let name = group.unwrap_or("all");
    let g = inv
        .data
        .group_id(name)
        .ok_or_else(|| Error::UnknownGroup(name.to_string()))?;
    let mut lines = Vec::new();
    graph_group(inv, g, 0, with_vars, &mut lines)?;
    let mut text = lines.join("\n");
    text.push('\n');
    Ok(text)
}
