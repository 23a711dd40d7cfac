//! The TOML inventory format (ansible-core's `toml` inventory plugin), for `.toml` files only.
//!
//! Top-level tables are groups; each may hold `vars` (a table), `children` (an array of group
//! names) and `hosts` (a table of host patterns, each mapping to a table of host variables).
//! Anything else is warned about and skipped; a top-level value that is not a table is skipped
//! with a warning. An empty document or one with a top-level `plugin` key is declined. The text
//! is parsed with the `toml` crate and values keep their types (strings, integers, floats,
//! booleans, dates and date-times, arrays, tables) in document order.

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::address::expand_hostpattern;
use crate::data::InventoryData;
use crate::error::Error;
use crate::pyrepr::str_repr;
use crate::value::{Kind, Node, Timestamp};

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Minutes east of UTC of an RFC 3339 offset (`Z`, `+05:30`, `-08:00`).
fn offset_minutes(text: &str) -> i32 {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits: Vec<i32> = text
        .trim_start_matches(['+', '-'])
        .split(':')
        .filter_map(|p| p.parse().ok())
        .collect();
    match digits.as_slice() {
        [h, m] => sign * (h * 60 + m),
        _ => 0,
    }
}

/// Converts a parsed TOML value to a node (Python's `tomllib` types).
fn node(text: &str, v: &Spanned<DeValue<'_>>) -> Result<Node, String> {
    let line = line_of(text, v.span().start);
    let kind = match v.get_ref() {
        DeValue::String(s) => Kind::Str(s.to_string()),
        DeValue::Integer(i) => Kind::Int(
            i128::from_str_radix(i.as_str(), i.radix())
                .map_err(|e| format!("invalid integer {}: {e}", i.as_str()))?,
        ),
        DeValue::Float(f) => Kind::Float(
            f.as_str()
                .replace('_', "")
                .parse::<f64>()
                .map_err(|e| format!("invalid float {}: {e}", f.as_str()))?,
        ),
        DeValue::Boolean(b) => Kind::Bool(*b),
        DeValue::Datetime(d) => {
            let date = d
                .date
                .map(|d| (u32::from(d.year), u32::from(d.month), u32::from(d.day)));
            let time = d.time.map(|t| {
                let offset = d.offset.map(|o| offset_minutes(&o.to_string()));
                (
                    u32::from(t.hour),
                    u32::from(t.minute),
                    u32::from(t.second.unwrap_or(0)),
                    t.nanosecond.unwrap_or(0) / 1000,
                    offset,
                )
            });
            match (date, time) {
                (Some(date), time) => Kind::Timestamp(Timestamp { date, time }),
                // A local time (Python's `datetime.time`) is kept as its ISO text.
                (None, _) => Kind::Str(d.to_string()),
            }
        }
        DeValue::Array(items) => Kind::Seq(
            items
                .iter()
                .map(|i| node(text, i))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => Kind::Map(table(text, t)?),
    };
    Ok(Node::at(kind, line))
}

fn table(text: &str, t: &DeTable<'_>) -> Result<Vec<(Node, Node)>, String> {
    t.iter()
        .map(|(k, v)| {
            let key = Node::at(
                Kind::Str(k.get_ref().to_string()),
                line_of(text, k.span().start),
            );
            Ok((key, node(text, v)?))
        })
        .collect()
}

/// Python's `type(x)` of a TOML value as the plugin's messages print it.
fn py_type(n: &Node) -> String {
    let name = match &n.kind {
        Kind::Str(_) | Kind::Unsafe(_) => "str",
        Kind::Int(_) => "int",
        Kind::Float(_) => "float",
        Kind::Bool(_) => "bool",
        Kind::Timestamp(t) if t.time.is_some() => "datetime.datetime",
        Kind::Timestamp(_) => "datetime.date",
        Kind::Seq(_) | Kind::Set(_) => "list",
        Kind::Map(_) => "dict",
        Kind::Null => "NoneType",
        Kind::Vault(_) => "EncryptedString",
    };
    format!("<class '{name}'>")
}

/// Parses a TOML inventory into `inv`.
pub fn parse(inv: &mut InventoryData, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let invalid = |line: Option<usize>, detail: String| {
        Error::parse(
            path,
            line,
            format!(
                "TOML file {} is invalid: {detail}",
                str_repr(&path.display().to_string())
            ),
        )
    };
    let text = std::str::from_utf8(bytes).map_err(|e| invalid(None, e.to_string()))?;
    let doc = DeTable::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        invalid(line, e.message().to_string())
    })?;
    let groups = table(text, doc.get_ref()).map_err(|e| invalid(None, e))?;
    if groups.is_empty() {
        return Err(Error::parse(path, None, "Parsed empty TOML file"));
    }
    if groups
        .iter()
        .any(|(k, v)| k.as_str() == Some("plugin") && v.truthy())
    {
        return Err(Error::parse(
            path,
            None,
            "Plugin configuration TOML file, not TOML inventory",
        ));
    }
    for (name, body) in &groups {
        group(inv, path, name, Some(body))?;
    }
    Ok(())
}

fn group(
    inv: &mut InventoryData,
    path: &Path,
    name: &Node,
    body: Option<&Node>,
) -> Result<(), Error> {
    let gname = crate::value::key_string(name);
    let err = |line: usize, m: String| Error::parse(path, (line > 0).then_some(line), m);
    let Some(Kind::Map(sections)) = body.map(|b| &b.kind) else {
        if body.is_some() {
            inv.warn(format!(
                "Skipping '{gname}' as this is not a valid group definition"
            ));
        } else {
            inv.add_group(&gname).map_err(|m| err(name.line, m))?;
        }
        return Ok(());
    };
    inv.add_group(&gname).map_err(|m| err(name.line, m))?;
    for (key, data) in sections {
        let requires = |what: &str| {
            err(
                data.line,
                format!(
                    "Invalid \"{}\" entry for \"{gname}\" group, requires a {what}, found \"{}\" instead.",
                    key.as_str().unwrap_or_default(),
                    py_type(data)
                ),
            )
        };
        match key.as_str() {
            Some("vars") => {
                let Kind::Map(vars) = &data.kind else {
                    return Err(requires("dict"));
                };
                for (var, value) in vars {
                    inv.set_variable(&gname, &crate::value::key_string(var), value.clone())
                        .map_err(|m| err(var.line, m))?;
                }
            }
            Some("children") => {
                let Kind::Seq(children) = &data.kind else {
                    return Err(requires("list"));
                };
                for child in children {
                    group(inv, path, child, None)?;
                    inv.add_child(&gname, &crate::value::key_string(child))
                        .map_err(|m| err(child.line, m))?;
                }
            }
            Some("hosts") => {
                let Kind::Map(hosts) = &data.kind else {
                    return Err(requires("dict"));
                };
                for (pattern, vars) in hosts {
                    let p = crate::value::key_string(pattern);
                    let (names, port) =
                        expand_hostpattern(&p).map_err(|m| err(pattern.line, m))?;
                    let Kind::Map(pairs) = &vars.kind else {
                        return Err(err(
                            vars.line,
                            format!(
                                "Invalid data from file, expected dictionary and got:\n\n{}",
                                crate::pyrepr::py_str(vars)
                            ),
                        ));
                    };
                    for h in &names {
                        inv.add_host(h, Some(&gname), port)
                            .map_err(|m| err(pattern.line, m))?;
                        for (k, v) in pairs {
                            inv.set_variable(h, &crate::value::key_string(k), v.clone())
                                .map_err(|m| err(k.line, m))?;
                        }
                    }
                }
            }
            _ => inv.warn(format!(
                "Skipping unexpected key \"{}\" in group \"{gname}\", only \"vars\", \"children\" and \"hosts\" are valid",
                crate::value::key_string(key)
            )),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::to_json;
    use serde_json::json;

    #[test]
    fn values_keep_types_and_order() {
        let text = "[web.hosts.h1]\nb = 2\na = 0x10\nf = 1_000.5\nd = 2024-01-02\nt = 1979-05-27T07:32:00-08:00\nl = [1, \"x\"]\n";
        let doc = DeTable::parse(text).unwrap();
        let web = &table(text, doc.get_ref()).unwrap()[0].1;
        let hosts = match &web.kind {
            Kind::Map(p) => &p[0].1,
            _ => unreachable!(),
        };
        let h1 = match &hosts.kind {
            Kind::Map(p) => &p[0].1,
            _ => unreachable!(),
        };
        assert_eq!(
            to_json(h1, true),
            json!({"b": 2, "a": 16, "f": 1000.5, "d": "2024-01-02", "t": "1979-05-27T07:32:00-08:00", "l": [1, "x"]})
        );
        let keys: Vec<String> = match &h1.kind {
            Kind::Map(p) => p.iter().map(|(k, _)| crate::value::key_string(k)).collect(),
            _ => unreachable!(),
        };
        assert_eq!(keys, ["b", "a", "f", "d", "t", "l"]);
    }
}
