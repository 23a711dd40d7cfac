//! JSON text exactly as ansible-inventory prints it.
//!
//! ansible-inventory uses `json.dumps(sort_keys=True, indent=4)` with strings written as UTF-8
//! (no `\uXXXX` escapes for non-ASCII) and floats written with Python's `repr`. This writer does
//! the same whatever map ordering `serde_json` was compiled with.

use serde_json::Value;

use crate::pyrepr::float_repr;
use crate::value::{Kind, Node, key_string, to_json};

/// Serialises `value` exactly as ansible-inventory prints JSON (`sort_keys=True`, `indent=4`,
/// non-ASCII left as is, Python float formatting), without a trailing newline.
pub fn to_ansible_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, 0, &mut out);
    out
}

fn indent(level: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_value(v: &Value, level: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                let f = n.as_f64().unwrap_or(0.0);
                out.push_str(&float_repr(f));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(level + 1, out);
                write_value(item, level + 1, out);
            }
            indent(level, out);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(level + 1, out);
                write_str(k, out);
                out.push_str(": ");
                write_value(&map[k.as_str()], level + 1, out);
            }
            indent(level, out);
            out.push('}');
        }
    }
}

/// Serialises a typed value as ansible-inventory prints it: like [`to_ansible_json`], but
/// exact where `serde_json` values cannot be (`Infinity`, `NaN`, integers beyond 64 bits).
/// Unsafe strings are `{"__ansible_unsafe": ...}` objects when `keep_unsafe`, vault values
/// always `{"__ansible_vault": ...}`.
pub fn node_to_ansible_json(node: &Node, keep_unsafe: bool) -> String {
    let mut out = String::new();
    write_node(node, keep_unsafe, 0, &mut out);
    out
}

fn write_node(node: &Node, keep_unsafe: bool, level: usize, out: &mut String) {
    match &node.kind {
        Kind::Float(f) if !f.is_finite() => out.push_str(if f.is_nan() {
            "NaN"
        } else if *f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }),
        Kind::Int(i) => out.push_str(&i.to_string()),
        Kind::Seq(items) | Kind::Set(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(level + 1, out);
                write_node(item, keep_unsafe, level + 1, out);
            }
            indent(level, out);
            out.push(']');
        }
        Kind::Map(pairs) => {
            if pairs.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut items: Vec<(String, &Node)> =
                pairs.iter().map(|(k, v)| (key_string(k), v)).collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(level + 1, out);
                write_str(&k, out);
                out.push_str(": ");
                write_node(v, keep_unsafe, level + 1, out);
            }
            indent(level, out);
            out.push('}');
        }
        _ => write_value(&to_json(node, keep_unsafe), level, out),
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        let v = json!({"b": [1, 2.0, 1e-5, "é\u{1}\t"], "a": {}, "c": [], "d": null, "e": true});
        let want = "{\n    \"a\": {},\n    \"b\": [\n        1,\n        2.0,\n        1e-05,\n        \"é\\u0001\\t\"\n    ],\n    \"c\": [],\n    \"d\": null,\n    \"e\": true\n}";
        assert_eq!(to_ansible_json(&v), want);
    }
}
