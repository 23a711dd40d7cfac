//! Python's text forms of JSON-like values, as ansible-core 2.19 writes them in templates.
//!
//! - [`str`] and [`repr`]: Python's `str()`/`repr()` (`True`, `None`, `1e-05`, `['a', 1]`,
//!   `{'k': 'v'}`); [`template_str`] is what `{{ value }}` writes into a `template` module
//!   output (`str()`, but `None` writes nothing).
//! - [`json_dumps`] with [`JsonOptions`]: `json.dumps` with ansible-core's encoder, as the
//!   `to_json` and `to_nice_json` filters call it ([`to_json`], [`to_nice_json`]).
//! - [`yaml_dump`] with [`YamlOptions`]: `yaml.dump(Dumper=AnsibleDumper)` (PyYAML's
//!   representer with libyaml's emitter), as the `to_yaml` and `to_nice_yaml` filters call it
//!   ([`to_yaml`], [`to_nice_yaml`]).
//!
//! Values are `serde_json` values read as Python's `json.loads` builds them: objects are dicts
//! in the map's iteration order (insertion order only when `serde_json` is built with its
//! `preserve_order` feature; otherwise sorted), integers are `int`, other numbers `float`.
//! Objects such as `{"__ansible_unsafe": ...}` are ordinary dicts: pass plain values
//! ([`crate::plain`], [`crate::Inventory::resolved_vars`]).
//!
//! ```
//! use ansible_compat::python;
//! use serde_json::json;
//!
//! let v = json!({"a": [1, 2.0, "x"], "b": null});
//! assert_eq!(python::str(&v), "{'a': [1, 2.0, 'x'], 'b': None}");
//! assert_eq!(python::to_json(&v), r#"{"a": [1, 2.0, "x"], "b": null}"#);
//! assert_eq!(python::to_yaml(&v), "a: [1, 2.0, x]\nb: null\n");
//! assert_eq!(python::to_nice_yaml(&v), "a:\n- 1\n- 2.0\n- x\nb: null\n");
//! ```

use serde_json::Value;

use crate::value::from_json;
use crate::{json_out, pyrepr, yaml_out};

pub use crate::pyrepr::{float_repr, str_repr};

/// Python's `str(value)`: a string is itself, anything else its [`repr`]. This is what
/// Jinja2 in ansible-core writes for `{{ value }}`, except for `None` (see [`template_str`]).
pub fn str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        _ => repr(value),
    }
}

/// Python's `repr(value)`: strings quoted and escaped as Python does (`'it'`, `"it's"`,
/// `'\x01'`), `True`/`False`/`None`, floats as [`float_repr`], lists `[a, b]` and dicts
/// `{'k': v}` in iteration order, their items as `repr`.
pub fn repr(value: &Value) -> String {
    pyrepr::py_repr(&from_json(value))
}

/// What `{{ value }}` writes into the output of ansible-core's `template` module: `str(value)`,
/// except that `None` writes nothing (ansible-core's finalizer; `None` inside a container is
/// still `None`).
pub fn template_str(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        _ => str(value),
    }
}

/// Options of Python's `json.dumps` that the `to_json` filters pass on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonOptions {
    /// `indent`: `None` writes one line; `Some(n)` puts every item of a non-empty list or dict
    /// on its own line, indented by `n` spaces per level (`Some(0)`: new lines, no indent).
    pub indent: Option<usize>,
    /// `sort_keys`: write dict items sorted by key (code point order) instead of in order.
    pub sort_keys: bool,
    /// `ensure_ascii`: write every character beyond `~` as `\uXXXX` (UTF-16 surrogate pairs
    /// beyond the BMP); else only control characters are escaped.
    pub ensure_ascii: bool,
    /// `separators=(item_separator, key_separator)`; `None` is Python's default: `(", ", ": ")`
    /// without `indent`, `(",", ": ")` with it.
    pub separators: Option<(String, String)>,
}

impl Default for JsonOptions {
    /// `json.dumps`'s defaults, which are also `to_json`'s.
    fn default() -> Self {
        JsonOptions {
            indent: None,
            sort_keys: false,
            ensure_ascii: true,
            separators: None,
        }
    }
}

impl JsonOptions {
    /// The `to_json` filter: `json.dumps(a, cls=AnsibleJSONEncoder)`: one line, `", "` and
    /// `": "`, keys in order, non-ASCII escaped.
    pub fn to_json() -> Self {
        JsonOptions::default()
    }

    /// The `to_nice_json` filter: `json.dumps(a, indent=4, sort_keys=True, separators=(',',
    /// ': '))`, non-ASCII escaped.
    pub fn to_nice_json() -> Self {
        JsonOptions {
            indent: Some(4),
            sort_keys: true,
            ensure_ascii: true,
            separators: Some((",".into(), ": ".into())),
        }
    }
}

/// Python's `json.dumps(value, **opts)` with ansible-core's encoder: floats as Python's `repr`
/// (`1e-05`, `1e+16`, `-0.0`), integers exact, strings escaped as Python does.
pub fn json_dumps(value: &Value, opts: &JsonOptions) -> String {
    json_out::dumps(&from_json(value), opts, false)
}

/// `{{ value | to_json }}`.
pub fn to_json(value: &Value) -> String {
    json_dumps(value, &JsonOptions::to_json())
}

/// `{{ value | to_nice_json }}`.
pub fn to_nice_json(value: &Value) -> String {
    json_dumps(value, &JsonOptions::to_nice_json())
}

/// Options of PyYAML's `yaml.dump` that the `to_yaml` filters pass on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlOptions {
    /// `indent`: spaces per nesting level of block mappings (and of nested sequences); libyaml
    /// uses 2 for values outside 2..=9. Sequences in a mapping are not indented.
    pub indent: usize,
    /// `width`: the column past which long scalars and flow collections are folded at a space;
    /// libyaml uses 80 for values up to `2 * indent`; `usize::MAX` never folds.
    pub width: usize,
    /// `default_flow_style`: `Some(false)` writes every non-empty collection in block style,
    /// `Some(true)` in flow style (`[a, b]`, `{k: v}`), `None` writes a collection in flow
    /// style when all its items (keys and values) are scalars and in block style otherwise.
    pub default_flow_style: Option<bool>,
    /// `sort_keys`: write mappings sorted by key.
    pub sort_keys: bool,
    /// `allow_unicode`: write non-ASCII characters as they are; else a string holding any is
    /// double-quoted with `\xXX`/`\uXXXX`/`\UXXXXXXXX` escapes. libyaml escapes characters
    /// beyond the BMP either way.
    pub allow_unicode: bool,
    /// `explicit_start`: begin with `---`.
    pub explicit_start: bool,
    /// `explicit_end`: end with `...`.
    pub explicit_end: bool,
}

impl Default for YamlOptions {
    /// `yaml.dump`'s defaults (block style, indent 2, width 80, sorted keys, no unicode).
    fn default() -> Self {
        YamlOptions {
            indent: 2,
            width: 80,
            default_flow_style: Some(false),
            sort_keys: true,
            allow_unicode: false,
            explicit_start: false,
            explicit_end: false,
        }
    }
}

impl YamlOptions {
    /// The `to_yaml` filter: `yaml.dump(a, Dumper=AnsibleDumper, allow_unicode=True,
    /// default_flow_style=None)`.
    pub fn to_yaml() -> Self {
        YamlOptions {
            default_flow_style: None,
            allow_unicode: true,
            ..YamlOptions::default()
        }
    }

    /// The `to_nice_yaml` filter: `yaml.dump(a, Dumper=AnsibleDumper, indent=4,
    /// allow_unicode=True, default_flow_style=False)`.
    pub fn to_nice_yaml() -> Self {
        YamlOptions {
            indent: 4,
            default_flow_style: Some(false),
            allow_unicode: true,
            ..YamlOptions::default()
        }
    }
}

/// PyYAML's `yaml.dump(value, Dumper=AnsibleDumper, **opts)` with libyaml's emitter (as
/// ansible-core uses it when libyaml is installed): YAML 1.1 quoting (`'yes'`, `'0755'`,
/// `''`), folding at `width`, escapes, a trailing newline.
pub fn yaml_dump(value: &Value, opts: &YamlOptions) -> String {
    yaml_out::dump(&from_json(value), opts)
}

/// `{{ value | to_yaml }}`.
pub fn to_yaml(value: &Value) -> String {
    yaml_dump(value, &YamlOptions::to_yaml())
}

/// `{{ value | to_nice_yaml }}`.
pub fn to_nice_yaml(value: &Value) -> String {
    yaml_dump(value, &YamlOptions::to_nice_yaml())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Kind;
    use serde_json::json;

    #[test]
    fn str_repr_and_template() {
        let v = json!(["it's", 1e16, -0.0, null, true, {"k": "\u{1}"}, u64::MAX]);
        let want = "[\"it's\", 1e+16, -0.0, None, True, {'k': '\\x01'}, 18446744073709551615]";
        assert_eq!(str(&v), want);
        assert_eq!(repr(&json!("a'b\"")), "'a\\'b\"'");
        assert_eq!(str(&json!("a'b")), "a'b");
        assert_eq!(template_str(&Value::Null), "");
        assert_eq!(template_str(&json!([null])), "[None]");
        assert!(matches!(from_json(&json!(1.0)).kind, Kind::Float(_)));
    }
}
