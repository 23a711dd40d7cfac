//! YAML 1.1 loading with PyYAML `SafeLoader` semantics plus Ansible's tags.
//!
//! Events come from `saphyr-parser` (which reports scalar styles and lines); this module composes
//! them into nodes (anchors, aliases, `<<` merge keys) and constructs typed [`Node`]s with
//! PyYAML's resolver ([`crate::yaml_scalar`]): plain scalars are typed, quoted ones stay strings.
//! Ansible's `!unsafe` (string not to be templated) and `!vault` (encrypted value, kept as ciphertext)
//! are understood; duplicate keys produce Ansible's warning and the last value wins.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::document::Loaded;
use crate::error::Error;
use crate::pyrepr::{float_repr, str_repr};
use crate::value::{Kind, Node, VaultText, key_string, same_key};
use crate::yaml_scalar::{self as sc, Scalar, ScalarTag};

const CORE: &str = "tag:yaml.org,2002:";
/// Constructed nodes allowed per document (guards against alias bombs).
const MAX_NODES: usize = 2_000_000;
/// Nesting allowed (Python would hit its recursion limit around here).
const MAX_DEPTH: usize = 400;

/// A key/value pair of a composed mapping.
type RawPair = (Rc<Raw>, Rc<Raw>);

#[derive(Debug)]
enum Raw {
    Scalar {
        value: String,
        plain: bool,
        tag: Option<String>,
        line: usize,
        col: usize,
    },
    Seq {
        items: Vec<Rc<Raw>>,
        tag: Option<String>,
        line: usize,
    },
    Map {
        pairs: Vec<RawPair>,
        tag: Option<String>,
        line: usize,
    },
}

impl Raw {
    fn line(&self) -> usize {
        match self {
            Raw::Scalar { line, .. } | Raw::Seq { line, .. } | Raw::Map { line, .. } => *line,
        }
    }

    fn id(&self) -> &'static str {
        match self {
            Raw::Scalar { .. } => "scalar",
            Raw::Seq { .. } => "sequence",
            Raw::Map { .. } => "mapping",
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Rc<Raw>>,
        tag: Option<String>,
        anchor: usize,
        line: usize,
    },
    Map {
        pairs: Vec<RawPair>,
        key: Option<Rc<Raw>>,
        tag: Option<String>,
        anchor: usize,
        line: usize,
    },
}

fn yaml_err(path: &Path, line: usize, msg: impl std::fmt::Display) -> Error {
    Error::parse(
        path,
        (line > 0).then_some(line),
        format!("YAML parsing failed: {msg}"),
    )
}

/// Parses `text` into one document (PyYAML's `yaml.load`: a second document is an error).
pub fn load(text: &str, path: &Path) -> Result<Loaded, Error> {
    let root = compose(text, path)?;
    let mut c = Constructor {
        path,
        warnings: Vec::new(),
        nodes: 0,
    };
    let node = match root {
        Some(raw) => Some(c.construct(&raw, false, 0)?),
        None => None,
    };
    Ok(Loaded {
        node,
        warnings: c.warnings,
    })
}

fn compose(text: &str, path: &Path) -> Result<Option<Rc<Raw>>, Error> {
    let mut anchors: HashMap<usize, Rc<Raw>> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Rc<Raw>> = None;
    let mut documents = 0;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| yaml_err(path, e.marker().line(), e.info()))?;
        let line = span.start.line();
        let done: Option<(Rc<Raw>, usize)> = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(yaml_err(
                        path,
                        line,
                        "expected a single document in the stream but found another document",
                    ));
                }
                None
            }
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| yaml_err(path, line, "found undefined or recursive alias"))?;
                Some((node, 0))
            }
            Event::Scalar(value, style, anchor, tag) => {
                let node = Raw::Scalar {
                    value: value.into_owned(),
                    plain: style == ScalarStyle::Plain,
                    tag: tag.map(|t| format!("{}{}", t.handle, t.suffix)),
                    line,
                    col: span.start.col() + 1,
                };
                Some((Rc::new(node), anchor))
            }
            Event::SequenceStart(anchor, tag) => {
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    tag: tag.map(|t| format!("{}{}", t.handle, t.suffix)),
                    anchor,
                    line,
                });
                None
            }
            Event::MappingStart(anchor, tag) => {
                stack.push(Frame::Map {
                    pairs: Vec::new(),
                    key: None,
                    tag: tag.map(|t| format!("{}{}", t.handle, t.suffix)),
                    anchor,
                    line,
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    tag,
                    anchor,
                    line,
                }) => Some((Rc::new(Raw::Seq { items, tag, line }), anchor)),
                Some(Frame::Map {
                    pairs,
                    tag,
                    anchor,
                    line,
                    ..
                }) => Some((Rc::new(Raw::Map { pairs, tag, line }), anchor)),
                None => return Err(yaml_err(path, line, "unbalanced collection end")),
            },
            _ => None,
        };
        let Some((node, anchor)) = done else { continue };
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { pairs, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => pairs.push((k, node)),
            },
        }
    }
    Ok(root)
}

struct Constructor<'a> {
    path: &'a Path,
    warnings: Vec<String>,
    nodes: usize,
}

/// What a scalar's (possibly implicit) tag says to build.
fn effective_tag(tag: &Option<String>, plain: bool, value: &str) -> Option<ScalarTag> {
    match tag.as_deref() {
        None if plain => Some(sc::resolve_plain(value)),
        None | Some("!") => Some(ScalarTag::Str),
        Some(t) => match t.strip_prefix(CORE) {
            Some("str") | Some("python/unicode") => Some(ScalarTag::Str),
            Some("int") => Some(ScalarTag::Int),
            Some("float") => Some(ScalarTag::Float),
            Some("bool") => Some(ScalarTag::Bool),
            Some("null") => Some(ScalarTag::Null),
            Some("timestamp") => Some(ScalarTag::Timestamp),
            _ => None,
        },
    }
}

/// Python's `repr()` of a key, for the duplicate-key warning.
fn key_repr(n: &Node) -> String {
    match &n.kind {
        Kind::Str(s) | Kind::Unsafe(s) => str_repr(s),
        Kind::Null => "None".into(),
        Kind::Bool(b) => if *b { "True" } else { "False" }.into(),
        Kind::Float(f) => float_repr(*f),
        _ => key_string(n),
    }
}

impl Constructor<'_> {
    fn err(&self, line: usize, msg: impl std::fmt::Display) -> Error {
        yaml_err(self.path, line, msg)
    }

    fn construct(&mut self, raw: &Raw, unsafe_str: bool, depth: usize) -> Result<Node, Error> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.err(raw.line(), "document too large (alias expansion)"));
        }
        if depth > MAX_DEPTH {
            return Err(self.err(raw.line(), "document nested too deeply"));
        }
        let tag = match raw {
            Raw::Scalar { tag, .. } | Raw::Seq { tag, .. } | Raw::Map { tag, .. } => tag.as_deref(),
        };
        match tag {
            Some("!unsafe") => return self.construct_untagged(raw, true, depth),
            Some("!vault") | Some("!vault-encrypted") => {
                return match raw {
                    Raw::Scalar { value, line, .. } => Ok(Node::at(
                        Kind::Vault(Box::new(VaultText {
                            ciphertext: value.clone(),
                            path: Some(self.path.to_path_buf()),
                        })),
                        *line,
                    )),
                    _ => Err(self.err(
                        raw.line(),
                        format!("the {:?} tag requires a string value", tag.unwrap_or("")),
                    )),
                };
            }
            _ => {}
        }
        let line = raw.line();
        match raw {
            Raw::Scalar {
                value,
                plain,
                tag,
                line,
                col,
            } => {
                let Some(t) = effective_tag(tag, *plain, value) else {
                    let t = tag.as_deref().unwrap_or("");
                    if matches!(
                        t.strip_prefix(CORE),
                        Some("map" | "seq" | "set" | "omap" | "pairs" | "python/dict")
                    ) {
                        return Err(self.err(
                            *line,
                            format!(
                                "expected a {} node, but found scalar",
                                if t.ends_with("seq") {
                                    "sequence"
                                } else {
                                    "mapping"
                                }
                            ),
                        ));
                    }
                    return Err(self.err(
                        *line,
                        format!(
                            "Could not determine a constructor for the tag {}.",
                            str_repr(t)
                        ),
                    ));
                };
                let kind = self
                    .scalar(t, value, unsafe_str)
                    .map_err(|m| self.err(*line, m))?;
                Ok(Node {
                    col: *col,
                    ..Node::at(kind, *line)
                })
            }
            Raw::Seq { items, tag, .. } => {
                match tag.as_deref() {
                    None | Some("!") => {}
                    Some(t) if t == format!("{CORE}seq") => {}
                    Some(t) => return Err(self.unknown_collection_tag(t, line, "sequence")),
                }
                let items = items
                    .iter()
                    .map(|i| self.construct(i, unsafe_str, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Node::at(Kind::Seq(items), line))
            }
            Raw::Map { tag, .. } => {
                let as_set = match tag.as_deref() {
                    None | Some("!") => false,
                    Some(t) if t == format!("{CORE}map") || t == format!("{CORE}python/dict") => {
                        false
                    }
                    Some(t) if t == format!("{CORE}set") => true,
                    Some(t) => return Err(self.unknown_collection_tag(t, line, "mapping")),
                };
                let pairs = self.mapping(raw, unsafe_str, depth)?;
                if as_set {
                    return Ok(Node::at(
                        Kind::Set(pairs.into_iter().map(|(k, _)| k).collect()),
                        line,
                    ));
                }
                Ok(Node::at(Kind::Map(pairs), line))
            }
        }
    }

    fn unknown_collection_tag(&self, tag: &str, line: usize, found: &str) -> Error {
        if matches!(
            tag.strip_prefix(CORE),
            Some("str" | "int" | "float" | "bool" | "null" | "timestamp" | "binary")
        ) {
            return self.err(line, format!("expected a scalar node, but found {found}"));
        }
        self.err(
            line,
            format!(
                "Could not determine a constructor for the tag {}.",
                str_repr(tag)
            ),
        )
    }

    /// `!unsafe`: the node is resolved as if it had no tag (quoting ignored), strings untrusted.
    fn construct_untagged(
        &mut self,
        raw: &Raw,
        unsafe_str: bool,
        depth: usize,
    ) -> Result<Node, Error> {
        match raw {
            Raw::Scalar { value, line, .. } => {
                let t = sc::resolve_plain(value);
                let kind = self
                    .scalar(t, value, unsafe_str)
                    .map_err(|m| self.err(*line, m))?;
                Ok(Node::at(kind, *line))
            }
            Raw::Seq { items, line, .. } => {
                let items = items
                    .iter()
                    .map(|i| self.construct(i, unsafe_str, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Node::at(Kind::Seq(items), *line))
            }
            Raw::Map { line, .. } => Ok(Node::at(
                Kind::Map(self.mapping(raw, unsafe_str, depth)?),
                *line,
            )),
        }
    }

    fn scalar(&self, tag: ScalarTag, value: &str, unsafe_str: bool) -> Result<Kind, String> {
        Ok(match tag {
            ScalarTag::Str => {
                if unsafe_str {
                    Kind::Unsafe(value.to_string())
                } else {
                    Kind::Str(value.to_string())
                }
            }
            ScalarTag::Bool => Kind::Bool(sc::construct_bool(value)?),
            ScalarTag::Int => match sc::construct_int(value)? {
                Scalar::Int(i) => Kind::Int(i),
                Scalar::Float(f) => Kind::Float(f),
            },
            ScalarTag::Float => Kind::Float(sc::construct_float(value)?),
            ScalarTag::Null => Kind::Null,
            ScalarTag::Timestamp => Kind::Timestamp(sc::construct_timestamp(value)?),
            ScalarTag::Merge => {
                return Err(
                    "Could not determine a constructor for the tag 'tag:yaml.org,2002:merge'."
                        .into(),
                );
            }
            ScalarTag::Value => {
                return Err(
                    "Could not determine a constructor for the tag 'tag:yaml.org,2002:value'."
                        .into(),
                );
            }
        })
    }

    /// PyYAML's `flatten_mapping`: `<<` merges go first so the mapping's own keys win.
    fn flatten(&self, raw: &Raw, depth: usize) -> Result<Vec<RawPair>, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err(raw.line(), "document nested too deeply"));
        }
        let Raw::Map { pairs, .. } = raw else {
            return Ok(Vec::new());
        };
        let mut merge: Vec<RawPair> = Vec::new();
        let mut own: Vec<RawPair> = Vec::new();
        for (k, v) in pairs {
            let is_merge = match &**k {
                Raw::Scalar {
                    value, plain, tag, ..
                } => {
                    tag.as_deref() == Some("tag:yaml.org,2002:merge")
                        || (tag.is_none() && *plain && value == "<<")
                }
                _ => false,
            };
            if !is_merge {
                own.push((k.clone(), v.clone()));
                continue;
            }
            match &**v {
                Raw::Map { .. } => merge.extend(self.flatten(v, depth + 1)?),
                Raw::Seq { items, .. } => {
                    let mut sub = Vec::new();
                    for item in items {
                        if !matches!(&**item, Raw::Map { .. }) {
                            return Err(self.err(
                                item.line(),
                                format!("expected a mapping for merging, but found {}", item.id()),
                            ));
                        }
                        sub.push(self.flatten(item, depth + 1)?);
                    }
                    for s in sub.into_iter().rev() {
                        merge.extend(s);
                    }
                }
                other => {
                    return Err(self.err(
                        other.line(),
                        format!(
                            "expected a mapping or list of mappings for merging, but found {}",
                            other.id()
                        ),
                    ));
                }
            }
        }
        merge.extend(own);
        Ok(merge)
    }

    fn mapping(
        &mut self,
        raw: &Raw,
        unsafe_str: bool,
        depth: usize,
    ) -> Result<Vec<(Node, Node)>, Error> {
        let flat = self.flatten(raw, depth)?;
        let mut out: Vec<(Node, Node)> = Vec::new();
        for (k, v) in flat {
            // `=` as a key is a plain string (flatten_mapping retags it).
            let key = match &*k {
                Raw::Scalar {
                    value,
                    plain: true,
                    tag: None,
                    line,
                    ..
                } if value == "=" => Node::at(
                    if unsafe_str {
                        Kind::Unsafe("=".into())
                    } else {
                        Kind::Str("=".into())
                    },
                    *line,
                ),
                _ => self.construct(&k, unsafe_str, depth + 1)?,
            };
            if matches!(key.kind, Kind::Seq(_) | Kind::Map(_)) {
                return Err(self.err(
                    k.line(),
                    "while constructing a mapping found unhashable key",
                ));
            }
            let value = self.construct(&v, unsafe_str, depth + 1)?;
            match out.iter_mut().find(|(ek, _)| same_key(ek, &key)) {
                Some(slot) => {
                    self.warnings.push(format!(
                        "Found duplicate mapping key {}.\n{}\n\nUsing last defined value only.",
                        key_repr(&key),
                        crate::diagnostics::source_context(
                            self.path,
                            key.line,
                            (key.col > 0).then_some(key.col)
                        ),
                    ));
                    slot.1 = value;
                }
                None => out.push((key, value)),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::to_value;
    use serde_json::json;

    fn val(text: &str) -> serde_json::Value {
        let p = Path::new("t.yml");
        to_value(&load(text, p).unwrap().node.unwrap())
    }

    #[test]
    fn typing_like_pyyaml() {
        let v = val(
            "a: yes\nb: 'yes'\nc: 0755\nd: 0x1f\ne: ~\nf:\ng: 1e3\nh: 1.0e+3\ni: 2024-01-01\nj: \"0755\"\nk: 1_000\n",
        );
        assert_eq!(
            v,
            json!({"a": true, "b": "yes", "c": 493, "d": 31, "e": null, "f": null, "g": "1e3", "h": 1000.0,
                   "i": "2024-01-01", "j": "0755", "k": 1000})
        );
    }

    #[test]
    fn tags_and_merges() {
        let v = val(
            "b: &b {a: 1, c: 3}\nm:\n  <<: *b\n  a: 2\nu: !unsafe '{{ x }}'\nn: !unsafe 'yes'\ns: !!str 123\nt: !!set {x, y}\n",
        );
        assert_eq!(
            v,
            json!({"b": {"a": 1, "c": 3}, "m": {"a": 2, "c": 3}, "u": {"__ansible_unsafe": "{{ x }}"}, "n": true,
                   "s": "123", "t": ["x", "y"]})
        );
        let loaded = load("m:\n  <<: {a: 1}\n  a: 2\n", Path::new("t.yml")).unwrap();
        assert_eq!(loaded.warnings.len(), 1);
    }

    #[test]
    fn errors_name_lines() {
        let e = load("a: 1\nb: =\n", Path::new("t.yml")).err().unwrap();
        assert_eq!(e.line(), Some(2));
        let e = load("a: 1\n---\nb: 2\n", Path::new("t.yml")).err().unwrap();
        assert!(e.to_string().contains("single document"), "{e}");
        assert!(load("a: !foo x", Path::new("t.yml")).is_err());
        assert!(load("", Path::new("t.yml")).unwrap().node.is_none());
    }
}
