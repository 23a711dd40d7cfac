//! Values that the kubelet reads differently from us.
//!
//! The kubelet converts manifests with sigs.k8s.io/yaml (go-yaml v2, YAML 1.1 rules):
//! an unquoted `yes`, `no`, `on`, `off`, `y`, `n` is a boolean there and `0644` is octal.
//! serde_yaml follows YAML 1.2, where both stay a string / decimal. A label written
//! `enabled: yes` therefore passes here but makes the kubelet reject the whole file.

use serde_json::Value;

use super::locate::{LineIndex, Seg};

const YAML11_BOOLS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// Whether a plain scalar could be typed differently by YAML 1.1 (the only ones
/// [`check`] looks at; the line index keeps just these).
pub fn suspicious(text: &str) -> bool {
    YAML11_BOOLS.contains(&text)
        || (text.len() > 1 && text.starts_with('0') && text.chars().all(|c| c.is_ascii_digit()))
}

/// `(line, message)` for every plain scalar that YAML 1.1 would type differently.
pub fn check(index: &LineIndex, value: &Value) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (path, text, line) in index.plain_scalars() {
        let Some(v) = lookup(value, &path.0) else {
            continue;
        };
        if v.is_string() && YAML11_BOOLS.contains(&text) {
            out.push((
                line,
                format!(
                    "{path}: unquoted {text:?} is a boolean to the kubelet's YAML 1.1 parser, which will reject this file; quote it: \"{text}\""
                ),
            ));
        }
        let octal =
            text.len() > 1 && text.starts_with('0') && text.chars().all(|c| c.is_ascii_digit());
        if v.is_number() && octal {
            out.push((
                line,
                format!(
                    "{path}: {text} is octal to the kubelet's YAML 1.1 parser but decimal here; write it in decimal or quote it"
                ),
            ));
        }
    }
    out
}

fn lookup<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path {
        cur = match seg {
            Seg::Key(k) => cur.get(k)?,
            Seg::Index(i) => cur.get(*i)?,
        };
    }
    Some(cur)
}
