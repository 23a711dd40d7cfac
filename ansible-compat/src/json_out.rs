//! Python's `json.dumps` as ansible-core calls it.
//!
//! ansible-inventory prints `json.dumps(sort_keys=True, indent=4)` with strings written as UTF-8
//! (no `\uXXXX` escapes for non-ASCII); the `to_json`/`to_nice_json` filters call `json.dumps`
//! with their own options ([`JsonOptions`]). Floats are written with Python's `repr`, `NaN` and
//! `Infinity` as Python writes them. The output does not depend on the map ordering `serde_json`
//! was compiled with when keys are sorted.

use serde_json::Value;

use crate::pyrepr::float_repr;
use crate::python::JsonOptions;
use crate::value::{Kind, Node, UNSAFE_KEY, VAULT_KEY, from_json, key_string};

/// ansible-inventory's options: `sort_keys=True, indent=4`, UTF-8 strings.
fn inventory_options() -> JsonOptions {
    JsonOptions {
        indent: Some(4),
        sort_keys: true,
        ensure_ascii: false,
        separators: None,
    }
}

/// Serialises `value` exactly as ansible-inventory prints JSON (`sort_keys=True`, `indent=4`,
/// non-ASCII left as is, Python float formatting), without a trailing newline.
pub fn to_ansible_json(value: &Value) -> String {
    dumps(&from_json(value), &inventory_options(), false)
}

/// Serialises a typed value as ansible-inventory prints it: like [`to_ansible_json`], but
/// exact where `serde_json` values cannot be (`Infinity`, `NaN`, integers beyond 64 bits).
/// Unsafe strings are `{"__ansible_unsafe": ...}` objects when `keep_unsafe`, vault values
/// always `{"__ansible_vault": ...}`.
pub fn node_to_ansible_json(node: &Node, keep_unsafe: bool) -> String {
    dumps(node, &inventory_options(), keep_unsafe)
}

/// `json.dumps(node, **opts)`. Dates are written as their ISO form and sets as lists (as
/// ansible-core's encoders do); unsafe strings are marker objects when `keep_unsafe`, else
/// strings; vault values are always `{"__ansible_vault": ciphertext}`.
pub fn dumps(node: &Node, opts: &JsonOptions, keep_unsafe: bool) -> String {
    let (item_sep, key_sep) = match &opts.separators {
        Some((i, k)) => (i.as_str(), k.as_str()),
        None if opts.indent.is_some() => (",", ": "),
        None => (", ", ": "),
    };
    let mut w = Writer {
        out: String::new(),
        opts,
        item_sep,
        key_sep,
        keep_unsafe,
    };
    w.node(node, 0);
    w.out
}

struct Writer<'a> {
    out: String,
    opts: &'a JsonOptions,
    item_sep: &'a str,
    key_sep: &'a str,
    keep_unsafe: bool,
}

impl Writer<'_> {
    fn newline(&mut self, level: usize) {
        if let Some(n) = self.opts.indent {
            self.out.push('\n');
            self.out.push_str(&" ".repeat(n * level));
        }
    }

    fn node(&mut self, node: &Node, level: usize) {
        match &node.kind {
            Kind::Null => self.out.push_str("null"),
            Kind::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Kind::Int(i) => self.out.push_str(&i.to_string()),
            Kind::Float(f) if f.is_nan() => self.out.push_str("NaN"),
            Kind::Float(f) if f.is_infinite() => {
                self.out
                    .push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" });
            }
            Kind::Float(f) => self.out.push_str(&float_repr(*f)),
            Kind::Str(s) => self.string(s),
            Kind::Unsafe(s) if self.keep_unsafe => self.marker(UNSAFE_KEY, s, level),
            Kind::Unsafe(s) => self.string(s),
            Kind::Vault(v) => self.marker(VAULT_KEY, &v.ciphertext, level),
            Kind::Timestamp(t) => self.string(&t.iso()),
            Kind::Seq(items) | Kind::Set(items) => {
                if items.is_empty() {
                    self.out.push_str("[]");
                    return;
                }
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(self.item_sep);
                    }
                    self.newline(level + 1);
                    self.node(item, level + 1);
                }
                self.newline(level);
                self.out.push(']');
            }
            Kind::Map(pairs) => {
                let mut items: Vec<(String, &Node)> =
                    pairs.iter().map(|(k, v)| (key_string(k), v)).collect();
                if self.opts.sort_keys {
                    items.sort_by(|a, b| a.0.cmp(&b.0));
                }
                self.object(items, level);
            }
        }
    }

    fn marker(&mut self, key: &str, text: &str, level: usize) {
        let value = Node::str(text);
        self.object(vec![(key.to_string(), &value)], level);
    }

    fn object(&mut self, items: Vec<(String, &Node)>, level: usize) {
        if items.is_empty() {
            self.out.push_str("{}");
            return;
        }
        self.out.push('{');
        for (i, (k, v)) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push_str(self.item_sep);
            }
            self.newline(level + 1);
            self.string(&k);
            self.out.push_str(self.key_sep);
            self.node(v, level + 1);
        }
        self.newline(level);
        self.out.push('}');
    }

    /// `encode_basestring` / `encode_basestring_ascii`.
    fn string(&mut self, s: &str) {
        let out = &mut self.out;
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
                c if self.opts.ensure_ascii && (c as u32) > 0x7e => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
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

    #[test]
    fn filter_options() {
        let v = from_json(&json!(["é😀\u{7f}", {"k": [1.5, null]}, {}]));
        assert_eq!(
            dumps(&v, &JsonOptions::to_json(), false),
            r#"["\u00e9\ud83d\ude00\u007f", {"k": [1.5, null]}, {}]"#
        );
        let nice = dumps(&v, &JsonOptions::to_nice_json(), false);
        assert_eq!(
            nice,
            "[\n    \"\\u00e9\\ud83d\\ude00\\u007f\",\n    {\n        \"k\": [\n            1.5,\n            null\n        ]\n    },\n    {}\n]"
        );
    }
}
