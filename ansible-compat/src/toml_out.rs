//! TOML text exactly as ansible-inventory prints it with `--toml`: `tomli_w.dumps(data)`
//! (tomli-w 1.2). Within a table, plain values come first (`key = value`), then sub-tables as
//! `[a.b]` sections separated by empty lines; arrays are written one item per line with a
//! trailing comma; a non-empty list of tables becomes `[[name]]` sections unless every table
//! fits inline in 100 columns; strings use basic quotes with short escapes. Keys keep their
//! insertion order. `null`, vault values and sets cannot be written, as in Python.

use crate::error::Error;
use crate::pyrepr::float_repr;
use crate::value::{Kind, Node};

const MAX_LINE_LENGTH: usize = 100;
const INDENT: &str = "    ";

/// Serialises a mapping `node` as `tomli_w.dumps` does (empty text for an empty mapping).
pub fn to_toml(node: &Node) -> Result<String, Error> {
    let mut out = String::new();
    table_chunks(node, "", false, &mut out)?;
    Ok(out)
}

fn pairs(node: &Node) -> &[(Node, Node)] {
    match &node.kind {
        Kind::Map(p) => p,
        _ => &[],
    }
}

fn is_aot(node: &Node) -> bool {
    matches!(&node.kind, Kind::Seq(items) if !items.is_empty() && items.iter().all(|i| matches!(i.kind, Kind::Map(_))))
}

fn table_chunks(table: &Node, name: &str, inside_aot: bool, out: &mut String) -> Result<(), Error> {
    let mut literals: Vec<(&Node, &Node)> = Vec::new();
    let mut tables: Vec<(&Node, &Node, bool)> = Vec::new();
    for (k, v) in pairs(table) {
        if matches!(v.kind, Kind::Map(_)) {
            tables.push((k, v, false));
        } else if is_aot(v) {
            let Kind::Seq(items) = &v.kind else {
                unreachable!("is_aot checked a list")
            };
            let inline = items
                .iter()
                .map(suitable_inline)
                .collect::<Result<Vec<bool>, Error>>()?;
            if inline.iter().all(|x| *x) {
                literals.push((k, v));
            } else {
                tables.extend(items.iter().map(|t| (k, t, true)));
            }
        } else {
            literals.push((k, v));
        }
    }
    let mut yielded = false;
    if inside_aot || (!name.is_empty() && (!literals.is_empty() || tables.is_empty())) {
        yielded = true;
        if inside_aot {
            out.push_str(&format!("[[{name}]]\n"));
        } else {
            out.push_str(&format!("[{name}]\n"));
        }
    }
    for (k, v) in literals {
        yielded = true;
        out.push_str(&format!("{} = {}\n", key_part(k)?, literal(v, 0)?));
    }
    for (k, v, in_aot) in tables {
        if yielded {
            out.push('\n');
        } else {
            yielded = true;
        }
        let part = key_part(k)?;
        let display = if name.is_empty() {
            part
        } else {
            format!("{name}.{part}")
        };
        table_chunks(v, &display, in_aot, out)?;
    }
    Ok(())
}

fn not_serializable(node: &Node) -> Error {
    let t = match &node.kind {
        Kind::Null => "NoneType",
        Kind::Vault(_) => "EncryptedString",
        Kind::Set(_) => "_AnsibleTaggedSet",
        _ => node.type_name(),
    };
    Error::Output(format!("Object of type '{t}' is not TOML serializable"))
}

fn literal(node: &Node, nest: usize) -> Result<String, Error> {
    Ok(match &node.kind {
        Kind::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => float_repr(*f),
        Kind::Timestamp(t) => t.text(),
        Kind::Str(s) | Kind::Unsafe(s) => string(s),
        Kind::Seq(items) => {
            if items.is_empty() {
                return Ok("[]".into());
            }
            let item_indent = INDENT.repeat(nest + 1);
            let rendered = items
                .iter()
                .map(|i| Ok(format!("{item_indent}{}", literal(i, nest + 1)?)))
                .collect::<Result<Vec<_>, Error>>()?;
            format!("[\n{},\n{}]", rendered.join(",\n"), INDENT.repeat(nest))
        }
        Kind::Map(_) => inline_table(node)?,
        _ => return Err(not_serializable(node)),
    })
}

fn inline_table(node: &Node) -> Result<String, Error> {
    let p = pairs(node);
    if p.is_empty() {
        return Ok("{}".into());
    }
    let items = p
        .iter()
        .map(|(k, v)| Ok(format!("{} = {}", key_part(k)?, literal(v, 0)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(format!("{{ {} }}", items.join(", ")))
}

fn suitable_inline(node: &Node) -> Result<bool, Error> {
    let rendered = format!("{INDENT}{},", inline_table(node)?);
    Ok(rendered.chars().count() <= MAX_LINE_LENGTH && !rendered.contains('\n'))
}

fn key_part(k: &Node) -> Result<String, Error> {
    let Some(s) = k.as_str() else {
        return Err(Error::Output(format!(
            "Invalid mapping key '{}' of type '{}'. A string is required.",
            crate::pyrepr::py_str(k),
            k.type_name()
        )));
    };
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(s.to_string())
    } else {
        Ok(string(s))
    }
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\u{8}' => out.push_str("\\b"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push('\t'),
            c if (c as u32) < 32 || c as u32 == 127 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: Vec<(&str, Node)>) -> Node {
        Node::new(Kind::Map(
            pairs.into_iter().map(|(k, v)| (Node::str(k), v)).collect(),
        ))
    }

    #[test]
    fn layout_like_tomli_w() {
        let doc = map(vec![(
            "web",
            map(vec![
                (
                    "children",
                    Node::new(Kind::Seq(vec![Node::str("a"), Node::str("b c")])),
                ),
                (
                    "hosts",
                    map(vec![(
                        "h1",
                        map(vec![
                            ("x", Node::str("q\"\t")),
                            ("n", Node::new(Kind::Float(1e16))),
                        ]),
                    )]),
                ),
            ]),
        )]);
        assert_eq!(
            to_toml(&doc).unwrap(),
            "[web]\nchildren = [\n    \"a\",\n    \"b c\",\n]\n\n[web.hosts.h1]\nx = \"q\\\"\t\"\nn = 1e+16\n"
        );
        assert!(to_toml(&map(vec![("a", Node::new(Kind::Null))])).is_err());
    }
}
