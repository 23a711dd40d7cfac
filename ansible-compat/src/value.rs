//! Variable values: the typed, ordered tree this crate keeps internally, and its conversion to
//! the `serde_json` values the API hands out.
//!
//! Internally a value is a [`Node`] that keeps what Python would have: key order of mappings,
//! non-string keys, dates, sets, and *unsafe* strings (Ansible's `!unsafe` / `__ansible_unsafe`:
//! never to be templated). That is what `--graph --vars` prints with Python's `str()`. In JSON,
//! an unsafe string is the one-key object `{"__ansible_unsafe": "..."}` (as `--list` prints it);
//! [`plain`] turns those back into ordinary strings (as `--host` prints them).

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::pyrepr::{float_repr, py_str};

/// Key of the one-key object that marks an unsafe (never templated) string.
pub const UNSAFE_KEY: &str = "__ansible_unsafe";
/// Key of the one-key object that holds a vault-encrypted value's ciphertext.
pub const VAULT_KEY: &str = "__ansible_vault";

/// A vault-encrypted value (`!vault` in YAML, `{"__ansible_vault": ...}` in JSON): the
/// ciphertext as written, and the file it came from. It is decrypted only when a plain value is
/// needed, as in Ansible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultText {
    /// The vault text (`$ANSIBLE_VAULT;1.1;AES256` and the hex lines).
    pub ciphertext: String,
    /// The file that holds it, when known.
    pub path: Option<PathBuf>,
}

/// A date or date-time from a YAML timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Year, month, day.
    pub date: (u32, u32, u32),
    /// Hour, minute, second, microsecond, and the UTC offset in minutes (`None`: naive).
    pub time: Option<(u32, u32, u32, u32, Option<i32>)>,
}

impl Timestamp {
    /// Python's `isoformat()` (what ansible-inventory writes in JSON).
    pub fn iso(&self) -> String {
        self.format('T')
    }

    /// Python's `str()` (`isoformat(sep=' ')`).
    pub fn text(&self) -> String {
        self.format(' ')
    }

    fn format(&self, sep: char) -> String {
        let (y, mo, d) = self.date;
        let mut out = format!("{y:04}-{mo:02}-{d:02}");
        if let Some((h, mi, s, us, tz)) = self.time {
            out.push_str(&format!("{sep}{h:02}:{mi:02}:{s:02}"));
            if us != 0 {
                out.push_str(&format!(".{us:06}"));
            }
            if let Some(off) = tz {
                let sign = if off < 0 { '-' } else { '+' };
                out.push_str(&format!(
                    "{sign}{:02}:{:02}",
                    off.abs() / 60,
                    off.abs() % 60
                ));
            }
        }
        out
    }

    /// Python's `repr()` (`datetime.date(2024, 1, 1)`, `datetime.datetime(...)`).
    pub fn repr(&self) -> String {
        let (y, mo, d) = self.date;
        let Some((h, mi, s, us, tz)) = self.time else {
            return format!("datetime.date({y}, {mo}, {d})");
        };
        let mut args = format!("{y}, {mo}, {d}, {h}, {mi}");
        if s != 0 || us != 0 {
            args.push_str(&format!(", {s}"));
        }
        if us != 0 {
            args.push_str(&format!(", {us}"));
        }
        if let Some(off) = tz {
            if off == 0 {
                args.push_str(", tzinfo=datetime.timezone.utc");
            } else {
                let secs = i64::from(off) * 60;
                let days = secs.div_euclid(86400);
                let rest = secs.rem_euclid(86400);
                let mut td = Vec::new();
                if days != 0 {
                    td.push(format!("days={days}"));
                }
                if rest != 0 {
                    td.push(format!("seconds={rest}"));
                }
                args.push_str(&format!(
                    ", tzinfo=datetime.timezone(datetime.timedelta({}))",
                    td.join(", ")
                ));
            }
        }
        format!("datetime.datetime({args})")
    }
}

/// A loaded value with the 1-based line where it starts (0 when unknown).
///
/// `id` stands for Python's object identity of a list or dict: a clone is the same Python
/// object (ansible-core shares group variable values between the hosts it merges them into), a
/// value stored by a new `set_variable` call gets fresh identities ([`Node::fresh_ids`]). The
/// YAML output writes a collection met twice as an anchor and aliases, as PyYAML does. 0 means
/// "never aliased". Equality ignores it.
#[derive(Debug, Clone)]
pub struct Node {
    /// The typed content.
    pub kind: Kind,
    /// 1-based line of the node, 0 if unknown (JSON documents, INI values).
    pub line: usize,
    /// Identity of a collection for YAML anchors (0: none).
    pub id: u64,
    /// 1-based column of a YAML scalar (0 if unknown), for messages that point at a key.
    pub col: usize,
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.kind == other.kind && self.line == other.line
    }
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The content of a [`Node`], with the types Python would have.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `None`.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int` (ints beyond `i128` are kept as `Float`).
    Int(i128),
    /// `float`.
    Float(f64),
    /// `str`.
    Str(String),
    /// A `str` not to be templated (`!unsafe`, `__ansible_unsafe`).
    Unsafe(String),
    /// A YAML timestamp (`datetime.date` / `datetime.datetime`).
    Timestamp(Timestamp),
    /// A vault-encrypted string (`!vault`), decrypted on demand.
    Vault(Box<VaultText>),
    /// `list` (also tuples).
    Seq(Vec<Node>),
    /// `set` (YAML `!!set`); a list in JSON.
    Set(Vec<Node>),
    /// `dict`, in insertion order, keys with their types.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node without a known line.
    pub fn new(kind: Kind) -> Node {
        Node::at(kind, 0)
    }

    /// A node at a 1-based line.
    pub fn at(kind: Kind, line: usize) -> Node {
        Node {
            kind,
            line,
            id: 0,
            col: 0,
        }
    }

    /// Gives this collection and every collection inside it a new identity (a new Python
    /// object, as each `set_variable` call and each loaded vars file makes).
    pub fn fresh_ids(&mut self) {
        match &mut self.kind {
            Kind::Seq(items) | Kind::Set(items) => items.iter_mut().for_each(Node::fresh_ids),
            Kind::Map(pairs) => pairs.iter_mut().for_each(|(_, v)| v.fresh_ids()),
            _ => return,
        }
        self.id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A plain string node.
    pub fn str(s: impl Into<String>) -> Node {
        Node::new(Kind::Str(s.into()))
    }

    /// The string content of a `Str`/`Unsafe` node.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) | Kind::Unsafe(s) => Some(s),
            _ => None,
        }
    }

    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match &self.kind {
            Kind::Null => false,
            Kind::Bool(b) => *b,
            Kind::Int(i) => *i != 0,
            Kind::Float(f) => *f != 0.0,
            Kind::Str(s) | Kind::Unsafe(s) => !s.is_empty(),
            Kind::Timestamp(_) | Kind::Vault(_) => true,
            Kind::Seq(v) | Kind::Set(v) => !v.is_empty(),
            Kind::Map(v) => !v.is_empty(),
        }
    }

    /// Python's type name (`str`, `int`, `dict`, ...).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "NoneType",
            Kind::Bool(_) => "bool",
            Kind::Int(_) => "int",
            Kind::Float(_) => "float",
            Kind::Str(_) | Kind::Unsafe(_) => "str",
            Kind::Timestamp(t) if t.time.is_some() => "datetime",
            Kind::Timestamp(_) => "date",
            Kind::Vault(_) => "EncryptedString",
            Kind::Seq(_) => "list",
            Kind::Set(_) => "set",
            Kind::Map(_) => "dict",
        }
    }

    /// Python's `type(x)` as ansible-core 2.19 prints it in warnings (loaded values are
    /// "tagged" subclasses).
    pub fn py_type(&self) -> String {
        match self.kind {
            Kind::Null => "<class 'NoneType'>".into(),
            Kind::Bool(_) => "<class 'bool'>".into(),
            Kind::Vault(_) => "<class 'ansible.parsing.vault.EncryptedString'>".into(),
            _ => {
                let t = match self.kind {
                    Kind::Timestamp(t) if t.time.is_some() => "DateTime".to_string(),
                    _ => {
                        let n = self.type_name();
                        n[..1].to_uppercase() + &n[1..]
                    }
                };
                format!("<class 'ansible.module_utils._internal._datatag._AnsibleTagged{t}'>")
            }
        }
    }
}

/// The JSON object key Python's `json.dumps` gives a dict key.
pub fn key_string(node: &Node) -> String {
    match &node.kind {
        Kind::Str(s) | Kind::Unsafe(s) => s.clone(),
        Kind::Null => "null".into(),
        Kind::Bool(b) => b.to_string(),
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => float_repr(*f),
        _ => py_str(node),
    }
}

/// Equality of dict keys as Python sees it (`1 == 1.0 == True`).
pub fn same_key(a: &Node, b: &Node) -> bool {
    let num = |n: &Node| match n.kind {
        Kind::Int(i) => Some(i as f64),
        Kind::Float(f) => Some(f),
        Kind::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => match (&a.kind, &b.kind) {
            (Kind::Str(x) | Kind::Unsafe(x), Kind::Str(y) | Kind::Unsafe(y)) => x == y,
            (x, y) => x == y,
        },
        _ => false,
    }
}

/// Where a variable's name was written: file, 1-based line, 1-based column (YAML only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOrigin {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, when known.
    pub col: Option<usize>,
}

/// Top-level variables in insertion order (a Python `dict` of `str` keys). Each key may know
/// where it was first written (a Python dict keeps its first key object, and with it that
/// key's origin, when a later value replaces the first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OVars {
    items: Vec<(String, Node)>,
    index: HashMap<String, usize>,
    origins: HashMap<String, KeyOrigin>,
}

impl OVars {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` (a new key goes last, an existing one keeps its place).
    pub fn insert(&mut self, key: String, value: Node) {
        match self.index.get(&key) {
            Some(&i) => self.items[i].1 = value,
            None => {
                self.index.insert(key.clone(), self.items.len());
                self.items.push((key, value));
            }
        }
    }

    /// Sets `key` written at `origin` (the origin is kept only for a new key).
    pub fn insert_at(&mut self, key: String, value: Node, origin: Option<KeyOrigin>) {
        if !self.index.contains_key(&key)
            && let Some(o) = origin
        {
            self.origins.insert(key.clone(), o);
        }
        self.insert(key, value);
    }

    /// Where `key` was first written, if known.
    pub fn origin(&self, key: &str) -> Option<&KeyOrigin> {
        self.origins.get(key)
    }

    /// Adds every entry of `other`, later winning.
    pub fn extend(&mut self, other: &OVars) {
        for (k, v) in &other.items {
            self.insert_at(k.clone(), v.clone(), other.origins.get(k).cloned());
        }
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.items.iter().map(|(k, v)| (k, v))
    }

    /// Keeps the entries `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.items.retain(|(k, _)| keep(k));
        self.origins.retain(|k, _| keep(k));
        self.index = self
            .items
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
    }

    /// The JSON object (unsafe strings as markers when `keep_unsafe`).
    pub fn to_json(&self, keep_unsafe: bool) -> Map<String, Value> {
        self.items
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v, keep_unsafe)))
            .collect()
    }
}

/// Converts a node to JSON: unsafe strings as `{"__ansible_unsafe": ...}` when `keep_unsafe`,
/// else as plain strings; dates as their ISO form; sets as lists.
pub fn to_json(node: &Node, keep_unsafe: bool) -> Value {
    match &node.kind {
        Kind::Null => Value::Null,
        Kind::Vault(v) => {
            let mut m = Map::new();
            m.insert(VAULT_KEY.to_string(), Value::String(v.ciphertext.clone()));
            Value::Object(m)
        }
        Kind::Bool(b) => Value::Bool(*b),
        Kind::Int(i) => int_value(*i),
        Kind::Float(f) => float_value(*f),
        Kind::Str(s) => Value::String(s.clone()),
        Kind::Unsafe(s) if keep_unsafe => unsafe_string(s.clone()),
        Kind::Unsafe(s) => Value::String(s.clone()),
        Kind::Timestamp(t) => Value::String(t.iso()),
        Kind::Seq(items) | Kind::Set(items) => {
            Value::Array(items.iter().map(|n| to_json(n, keep_unsafe)).collect())
        }
        Kind::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (key_string(k), to_json(v, keep_unsafe)))
                .collect(),
        ),
    }
}

/// Converts a JSON value to a node as Python's `json.loads` would build it: objects are dicts in
/// the map's iteration order, integers are ints, other numbers floats. Marker objects
/// (`__ansible_unsafe`, `__ansible_vault`) stay ordinary dicts.
pub fn from_json(v: &Value) -> Node {
    Node::new(match v {
        Value::Null => Kind::Null,
        Value::Bool(b) => Kind::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Kind::Int(i.into()),
            (None, Some(u)) => Kind::Int(u.into()),
            _ => Kind::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Kind::Str(s.clone()),
        Value::Array(items) => Kind::Seq(items.iter().map(from_json).collect()),
        Value::Object(m) => Kind::Map(
            m.iter()
                .map(|(k, v)| (Node::str(k.clone()), from_json(v)))
                .collect(),
        ),
    })
}

/// Wraps `s` as an unsafe string.
pub fn unsafe_string(s: String) -> Value {
    let mut m = Map::new();
    m.insert(UNSAFE_KEY.to_string(), Value::String(s));
    Value::Object(m)
}

/// The text of an unsafe-string marker (`{"__ansible_unsafe": "..."}`), if `v` is one.
pub fn unsafe_text(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get(UNSAFE_KEY).and_then(Value::as_str),
        _ => None,
    }
}

/// A copy of `v` with every unsafe-string marker replaced by its plain string.
pub fn plain(v: &Value) -> Value {
    if let Some(s) = unsafe_text(v) {
        return Value::String(s.to_string());
    }
    match v {
        Value::Array(items) => Value::Array(items.iter().map(plain).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
        other => other.clone(),
    }
}

/// An integer as a JSON number (beyond `i64`/`u64`, the nearest float: `serde_json` can hold no more).
pub fn int_value(i: i128) -> Value {
    if let Ok(v) = i64::try_from(i) {
        Value::from(v)
    } else if let Ok(v) = u64::try_from(i) {
        Value::from(v)
    } else {
        float_value(i as f64)
    }
}

/// A float as a JSON value. Non-finite floats cannot be held by `serde_json`, so they become
/// the strings Python's `str()` gives (`inf`, `-inf`, `nan`).
pub fn float_value(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => Value::String(float_repr(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_like_python() {
        let d = Timestamp {
            date: (2024, 1, 1),
            time: None,
        };
        assert_eq!(
            (d.iso(), d.text(), d.repr()),
            (
                "2024-01-01".into(),
                "2024-01-01".into(),
                "datetime.date(2024, 1, 1)".into()
            )
        );
        let t = Timestamp {
            date: (2001, 12, 14),
            time: Some((21, 59, 43, 100000, Some(-300))),
        };
        assert_eq!(t.iso(), "2001-12-14T21:59:43.100000-05:00");
        assert_eq!(t.text(), "2001-12-14 21:59:43.100000-05:00");
        assert_eq!(
            t.repr(),
            "datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400)))"
        );
    }

    #[test]
    fn ordered_vars_replace_in_place() {
        let mut v = OVars::new();
        v.insert("b".into(), Node::str("1"));
        v.insert("a".into(), Node::str("2"));
        v.insert("b".into(), Node::str("3"));
        let keys: Vec<&String> = v.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(v.iter().next().and_then(|(_, n)| n.as_str()), Some("3"));
    }
}
