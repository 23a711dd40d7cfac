//! What `ansible-inventory` prints: `--list` JSON, `--graph [GROUP] [--vars]` text and `--host`.
//!
//! `--list` has one key per group (`hosts` and `children` lists, empty ones and empty groups
//! dropped, `all` never listing hosts) and `_meta` with every selected host's merged variables
//! (hosts with none are left out) and `profile: "inventory_legacy"`. `--graph` indents each level
//! with `  |` and prefixes items with `--`; groups show as `@name:` and repeat under every parent;
//! `--vars` adds sorted `{key = value}` lines using Python's `str()` of the value.

use std::collections::HashSet;

use crate::data::GroupId;
use crate::pyrepr::py_str;
use crate::value::{Kind, Node, OVars};
use crate::{Error, Inventory};

fn str_node(s: &str) -> Node {
    Node::str(s)
}

fn vars_node(vars: &OVars) -> Node {
    Node::new(Kind::Map(
        vars.iter().map(|(k, v)| (str_node(k), v.clone())).collect(),
    ))
}

/// Builds the `--list [--export]` document for the selected hosts (`available`, in selection
/// order), with the values' Python types (printed by [`crate::json_out::node_to_ansible_json`]).
pub fn list_doc(inv: &Inventory, available: &[String], export: bool) -> Result<Node, Error> {
    let data = &inv.data;
    let avail: HashSet<&str> = available.iter().map(String::as_str).collect();
    let mut results = Vec::new();
    let mut seen: HashSet<GroupId> = HashSet::new();
    let mut ctx = ListCtx {
        inv,
        avail: &avail,
        export,
        seen: &mut seen,
    };
    format_group(&mut ctx, data.all(), &mut results)?;
    let mut hostvars = Vec::new();
    for h in available {
        let vars = if export {
            inv.export_vars(h)?
        } else {
            inv.merged_vars(h)?
        };
        if vars.iter().next().is_some() {
            hostvars.push((str_node(h), vars_node(&vars)));
        }
    }
    let meta = vec![
        (str_node("hostvars"), Node::new(Kind::Map(hostvars))),
        (str_node("profile"), str_node("inventory_legacy")),
    ];
    results.push((str_node("_meta"), Node::new(Kind::Map(meta))));
    Ok(Node::new(Kind::Map(results)))
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
    results: &mut Vec<(Node, Node)>,
) -> Result<(), Error> {
    let data = &ctx.inv.data;
    let group = &data.groups[g];
    let mut entry = Vec::new();
    if g != data.all() {
        let hosts: Vec<Node> = group
            .hosts
            .iter()
            .map(|h| data.hosts[*h].name.as_str())
            .filter(|n| ctx.avail.contains(n))
            .map(str_node)
            .collect();
        if !hosts.is_empty() {
            entry.push((str_node("hosts"), Node::new(Kind::Seq(hosts))));
        }
    }
    let mut children = Vec::new();
    let mut nested = Vec::new();
    for c in &group.children {
        children.push(str_node(&data.groups[*c].name));
        if !ctx.seen.contains(c) {
            format_group(ctx, *c, &mut nested)?;
            ctx.seen.insert(*c);
        }
    }
    if !children.is_empty() {
        entry.push((str_node("children"), Node::new(Kind::Seq(children))));
    }
    if ctx.export {
        let vars = ctx.inv.group_vars(g)?;
        if vars.iter().next().is_some() {
            entry.push((str_node("vars"), vars_node(&vars)));
        }
    }
    if !entry.is_empty() {
        results.push((str_node(&group.name), Node::new(Kind::Map(entry))));
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
