//! Kubernetes label and field selectors (`?labelSelector=`, `?fieldSelector=`), over JSON
//! objects, parsed and validated as kube-apiserver does so that a bad selector is a
//! `400 BadRequest` with the same message, never an empty list.
//!
//! Labels follow apimachinery's `labels.Parse` (lexer and grammar, qualified-name keys,
//! label values): `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, `k>1`,
//! `k<1`. Fields follow `fields.ParseSelector` (`=`, `==`, `!=`) and only the field labels
//! kube-apiserver supports for each resource (pkg/apis/core/v1/conversion.go).

use serde_json::Value;

use super::bad_request::BadRequest;

/// One requirement; the key is a label, or for fields the JSON path it selects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
    Gt(String, i64),
    Lt(String, i64),
}

/// A parsed selector (all requirements must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Req>);

/// A token of apimachinery's label selector lexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    Not,
    DoubleEq,
    Eq,
    Gt,
    Ident,
    In,
    Lt,
    NotEq,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::Not,
        "==" => Tok::DoubleEq,
        "=" => Tok::Eq,
        ">" => Tok::Gt,
        "in" => Tok::In,
        "<" => Tok::Lt,
        "!=" => Tok::NotEq,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The lexer's tokens, ending with `End`.
fn lex(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    loop {
        while i < b.len() && space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        let start = i;
        if special(b[i]) {
            // Every symbol alone is an operator; take the longest run that still is one.
            let mut end = start + 1;
            while end < b.len() && special(b[end]) && keyword(&s[start..=end]).is_some() {
                end += 1;
            }
            let op = &s[start..end];
            out.push((keyword(op).unwrap_or(Tok::Ident), op.to_string()));
            i = end;
        } else {
            while i < b.len() && !special(b[i]) && !space(b[i]) {
                i += 1;
            }
            let word = &s[start..i];
            out.push((keyword(word).unwrap_or(Tok::Ident), word.to_string()));
        }
    }
}

const NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the qualified name's name part.
fn name_like(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn dns_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && !b.iter().any(u8::is_ascii_uppercase)
    };
    if !s.split('.').all(label_ok) {
        errs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into());
    }
    errs
}

/// apimachinery's `IsQualifiedName`.
fn qualified_name_errors(key: &str) -> Vec<String> {
    let examples = "(e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is";
    let mut errs = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns_subdomain_errors(prefix)
                        .into_iter()
                        .map(|e| format!("prefix part {e}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {NAME_MSG} {examples} '{NAME_FMT}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".into());
    }
    if !name_like(name) {
        errs.push(format!("name part {NAME_MSG} {examples} '{NAME_FMT}')"));
    }
    errs
}

/// apimachinery's `IsValidLabelValue`.
fn label_value_errors(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push("must be no more than 63 characters".into());
    }
    if !v.is_empty() && !name_like(v) {
        errs.push(format!(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345', regex used for validation is '({NAME_FMT})?')"
        ));
    }
    errs
}

/// A `field.Invalid` error's text (`path: Invalid value: "v": detail`).
fn invalid(path: &str, value: &str, errs: &[String]) -> String {
    format!("{path}: Invalid value: {value:?}: {}", errs.join("; "))
}

/// apimachinery's label selector parser over the lexed tokens.
struct Parser {
    toks: Vec<(Tok, String)>,
    pos: usize,
}

impl Parser {
    /// The next token; in a values context `in`/`notin` are identifiers.
    fn peek(&self, values: bool) -> (Tok, String) {
        let (t, l) = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        match t {
            Tok::In | Tok::NotIn if values => (Tok::Ident, l),
            _ => (t, l),
        }
    }

    fn next(&mut self, values: bool) -> (Tok, String) {
        let t = self.peek(values);
        self.pos += 1;
        t
    }

    fn parse(&mut self) -> Result<Vec<Req>, String> {
        let mut reqs = Vec::new();
        loop {
            match self.peek(true) {
                (Tok::Ident | Tok::Not, _) => {
                    reqs.push(
                        self.requirement()
                            .map_err(|e| format!("unable to parse requirement: {e}"))?,
                    );
                    match self.next(true) {
                        (Tok::End, _) => return Ok(reqs),
                        (Tok::Comma, _) => {
                            let (t, l) = self.peek(true);
                            if t != Tok::Ident && t != Tok::Not {
                                return Err(format!("found '{l}', expected: identifier after ','"));
                            }
                        }
                        (_, l) => {
                            return Err(format!("found '{l}', expected: ',' or 'end of string'"));
                        }
                    }
                }
                (Tok::End, _) => return Ok(reqs),
                (_, l) => {
                    return Err(format!(
                        "found '{l}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Req, String> {
        let (mut t, mut key) = self.next(true);
        let absent = t == Tok::Not;
        if absent {
            (t, key) = self.next(true);
        }
        if t != Tok::Ident {
            return Err(format!("found '{key}', expected: identifier"));
        }
        let errs = qualified_name_errors(&key);
        if !errs.is_empty() {
            return Err(invalid("<nil>", &key, &errs));
        }
        if absent {
            // `!k` takes no operator; whatever follows is the caller's to judge.
            return Ok(Req::Absent(key));
        }
        if matches!(self.peek(true).0, Tok::End | Tok::Comma) {
            return Ok(Req::Exists(key));
        }
        let (op, lit) = self.next(false);
        let values = match op {
            Tok::In | Tok::NotIn => self.set()?,
            Tok::Eq | Tok::DoubleEq | Tok::NotEq | Tok::Gt | Tok::Lt => vec![self.exact()?],
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        };
        let mut errs = Vec::new();
        let int = |v: &str| v.parse::<i64>();
        if matches!(op, Tok::Gt | Tok::Lt) && int(&values[0]).is_err() {
            errs.push(format!(
                "values[0]: Invalid value: {:?}: for 'Gt', 'Lt' operators, the value must be an integer",
                values[0]
            ));
        }
        for (i, v) in values.iter().enumerate() {
            let e = label_value_errors(v);
            if !e.is_empty() {
                errs.push(invalid(&format!("values[{i}][{key}]"), v, &e));
            }
        }
        match errs.len() {
            0 => {}
            1 => return Err(errs.remove(0)),
            _ => return Err(format!("[{}]", errs.join(", "))),
        }
        let one = values[0].clone();
        Ok(match op {
            Tok::In => Req::In(key, values),
            Tok::NotIn => Req::NotIn(key, values),
            Tok::NotEq => Req::Ne(key, one),
            Tok::Gt => Req::Gt(key, int(&one).unwrap_or_default()),
            Tok::Lt => Req::Lt(key, int(&one).unwrap_or_default()),
            _ => Req::Eq(key, one),
        })
    }

    /// `(a,b,…)`: empty members are the empty value.
    fn set(&mut self) -> Result<Vec<String>, String> {
        let (t, l) = self.next(true);
        if t != Tok::OpenPar {
            return Err(format!("found '{l}' expected: '('"));
        }
        let (t, l) = self.peek(true);
        let mut out: Vec<String> = Vec::new();
        let add = |v: String, out: &mut Vec<String>| {
            if !out.contains(&v) {
                out.push(v);
            }
        };
        match t {
            Tok::ClosedPar => {
                self.next(true);
                return Ok(vec![String::new()]);
            }
            Tok::Ident | Tok::Comma => {}
            _ => return Err(format!("found '{l}', expected: ',', ')' or identifier")),
        }
        loop {
            match self.next(true) {
                (Tok::Ident, v) => {
                    add(v, &mut out);
                    match self.peek(true) {
                        (Tok::Comma, _) => continue,
                        (Tok::ClosedPar, _) => break,
                        (_, l2) => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                (Tok::Comma, _) => {
                    if out.is_empty() {
                        add(String::new(), &mut out);
                    }
                    match self.peek(true).0 {
                        Tok::ClosedPar => {
                            add(String::new(), &mut out);
                            break;
                        }
                        Tok::Comma => {
                            self.next(true);
                            add(String::new(), &mut out);
                        }
                        _ => {}
                    }
                }
                (_, l) => return Err(format!("found '{l}', expected: ',', or identifier")),
            }
        }
        if self.next(true).0 != Tok::ClosedPar {
            return Err(format!("found '{l}', expected: ')'"));
        }
        out.sort();
        Ok(out)
    }

    fn exact(&mut self) -> Result<String, String> {
        if matches!(self.peek(true).0, Tok::End | Tok::Comma) {
            return Ok(String::new());
        }
        match self.next(true) {
            (Tok::Ident, v) => Ok(v),
            (_, l) => Err(format!("found '{l}', expected: identifier")),
        }
    }
}

/// The field labels kube-apiserver accepts for `resource`: (label, JSON path, value when the
/// field is absent).
fn field_labels(resource: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match resource {
        "pods" => &[
            ("metadata.name", "metadata.name", ""),
            ("metadata.namespace", "metadata.namespace", ""),
            ("spec.nodeName", "spec.nodeName", ""),
            ("spec.host", "spec.nodeName", ""),
            ("spec.restartPolicy", "spec.restartPolicy", ""),
            ("spec.schedulerName", "spec.schedulerName", ""),
            ("spec.serviceAccountName", "spec.serviceAccountName", ""),
            ("spec.hostNetwork", "spec.hostNetwork", "false"),
            ("status.phase", "status.phase", ""),
            ("status.podIP", "status.podIP", ""),
            ("status.podIPs", "status.podIP", ""),
            ("status.nominatedNodeName", "status.nominatedNodeName", ""),
        ],
        "events" => &[
            ("metadata.name", "metadata.name", ""),
            ("metadata.namespace", "metadata.namespace", ""),
            ("involvedObject.kind", "involvedObject.kind", ""),
            ("involvedObject.namespace", "involvedObject.namespace", ""),
            ("involvedObject.name", "involvedObject.name", ""),
            ("involvedObject.uid", "involvedObject.uid", ""),
            ("involvedObject.apiVersion", "involvedObject.apiVersion", ""),
            (
                "involvedObject.resourceVersion",
                "involvedObject.resourceVersion",
                "",
            ),
            ("involvedObject.fieldPath", "involvedObject.fieldPath", ""),
            ("reason", "reason", ""),
            ("reportingComponent", "reportingComponent", ""),
            ("source", "source.component", ""),
            ("type", "type", ""),
        ],
        "nodes" => &[
            ("metadata.name", "metadata.name", ""),
            ("spec.unschedulable", "spec.unschedulable", "false"),
        ],
        "namespaces" => &[
            ("metadata.name", "metadata.name", ""),
            ("status.phase", "status.phase", ""),
        ],
        _ => &[("metadata.name", "metadata.name", "")],
    }
}

/// The value a field selector compares for `path` (absent fields are `default`).
fn field_value(obj: &Value, path: &str, default: &str) -> String {
    let mut v = obj;
    for part in path.split('.') {
        match v.get(part) {
            Some(x) => v = x,
            None => return default.to_string(),
        }
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Null => default.to_string(),
        other => other.to_string(),
    }
}

impl Selector {
    /// Whether the selector requires `key` to equal `value` (so it can only match such
    /// objects).
    pub fn requires(&self, key: &str, value: &str) -> bool {
        self.0
            .iter()
            .any(|r| matches!(r, Req::Eq(k, v) if k == key && v == value))
    }

    /// Parse a label selector; `Err` is kube-apiserver's message.
    pub fn labels(s: &str) -> Result<Selector, BadRequest> {
        Self::parse_labels(s).map_err(BadRequest)
    }

    fn parse_labels(s: &str) -> Result<Selector, String> {
        Parser {
            toks: lex(s),
            pos: 0,
        }
        .parse()
        .map(Selector)
    }

    /// Parse a field selector for `resource`: `=`, `==`, `!=` on the field labels
    /// kube-apiserver supports for it. `Err` is kube-apiserver's message.
    pub fn fields(resource: &str, s: &str) -> Result<Selector, BadRequest> {
        Self::parse_fields(resource, s).map_err(BadRequest)
    }

    fn parse_fields(resource: &str, s: &str) -> Result<Selector, String> {
        let mut reqs = Vec::new();
        let mut parts = split_unescaped(s);
        parts.sort();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let (label, ne, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, false, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let value = value
                .replace("\\,", ",")
                .replace("\\=", "=")
                .replace("\\\\", "\\");
            let Some((_, path, _)) = field_labels(resource).iter().find(|f| f.0 == label) else {
                return Err(format!("field label not supported: {label}"));
            };
            reqs.push(if ne {
                Req::Ne(path.to_string(), value)
            } else {
                Req::Eq(path.to_string(), value)
            });
        }
        Ok(Selector(reqs))
    }

    /// The value a field selector names for `key` (e.g. `spec.nodeName`).
    pub fn wanted(&self, key: &str) -> Option<&str> {
        self.0.iter().find_map(|r| match r {
            Req::Eq(k, v) if k == key => Some(v.as_str()),
            _ => None,
        })
    }

    /// Do the object's labels match?
    pub fn matches_labels(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        self.matches(|k| labels.get(k).and_then(Value::as_str).map(str::to_string))
    }

    /// Do the object's fields match? Keys are the JSON paths [`Selector::fields`] made;
    /// an absent field compares as its default (`""`, or `false` for booleans).
    pub fn matches_fields(&self, obj: &Value) -> bool {
        self.matches(|path| {
            let boolean = ["spec.hostNetwork", "spec.unschedulable"].contains(&path);
            let default = if boolean { "false" } else { "" };
            Some(field_value(obj, path, default))
        })
    }

    fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k).as_deref() == Some(v.as_str()),
            // Like the API server: `!=` also matches objects without the key.
            Req::Ne(k, v) => get(k).as_deref() != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
            Req::Exists(k) => get(k).is_some(),
            Req::Absent(k) => get(k).is_none(),
            Req::Gt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            Req::Lt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }
}

/// Split a field selector on commas not escaped with a backslash.
fn split_unescaped(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut escaped) = (Vec::new(), String::new(), false);
    for c in s.chars() {
        match c {
            ',' if !escaped => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
        escaped = c == '\\' && !escaped;
    }
    out.push(cur);
    out
}

#[cfg(test)]
#[path = "selector_tests.rs"]
mod tests;
