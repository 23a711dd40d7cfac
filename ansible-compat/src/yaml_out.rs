//! YAML text exactly as ansible-inventory prints it: `yaml.dump(data, Dumper=AnsibleDumper,
//! default_flow_style=False, allow_unicode=True)`, i.e. PyYAML's `SafeRepresenter` (keys sorted,
//! `repr`-based floats, ISO dates) driving libyaml's emitter (block style, indent 2, width 80).
//!
//! Scalars are written plain when libyaml's analysis allows it and the plain text would be read
//! back as the same type (so `'yes'`, `'0755'`, `'1.5'`, `''` are quoted), else single-quoted,
//! else double-quoted with escapes; long plain and quoted scalars are folded at spaces past
//! column 80. Mappings nest with 2 spaces, sequences inside mappings are not indented, empty
//! collections are `{}`/`[]`. Unsafe strings are plain strings; vault values are written as
//! `!vault |` literal blocks holding their ciphertext.

use std::collections::{HashMap, HashSet};

use crate::error::Error;
use crate::value::{Kind, Node};
use crate::yaml_scalar::{ScalarTag, resolve_plain};
use crate::yaml_style::{analyze, is_break, is_printable, key_class, key_cmp, scalar_text};

const BEST_WIDTH: usize = 80;
const INDENT: usize = 2;

/// Serialises `node` as ansible-inventory's YAML output (ending with a newline).
pub fn to_yaml(node: &Node) -> Result<String, Error> {
    let mut anchors = Anchors::default();
    anchors.walk(node);
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        anchors: anchors.names,
        emitted: HashSet::new(),
    };
    e.node(node, 0, Context::Root)?;
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    Ok(e.out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Root,
    MappingValue,
    SequenceItem,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// PyYAML's `Serializer.anchor_node`: collections met a second time get an anchor name,
/// numbered in the order of those second meetings.
#[derive(Default)]
struct Anchors {
    seen: HashSet<u64>,
    names: HashMap<u64, String>,
}

impl Anchors {
    fn walk(&mut self, node: &Node) {
        let collection = matches!(node.kind, Kind::Seq(_) | Kind::Set(_) | Kind::Map(_));
        if node.id != 0 && collection && !self.seen.insert(node.id) {
            if !self.names.contains_key(&node.id) {
                let name = format!("id{:03}", self.names.len() + 1);
                self.names.insert(node.id, name);
            }
            return;
        }
        match &node.kind {
            Kind::Seq(items) | Kind::Set(items) => items.iter().for_each(|i| self.walk(i)),
            Kind::Map(pairs) => {
                for (k, v) in sorted_pairs(pairs) {
                    self.walk(k);
                    self.walk(v);
                }
            }
            _ => {}
        }
    }
}

/// `represent_mapping`'s order: sorted by key, or as is when the keys cannot be compared.
fn sorted_pairs(pairs: &[(Node, Node)]) -> Vec<&(Node, Node)> {
    let mut sorted: Vec<&(Node, Node)> = pairs.iter().collect();
    let comparable = pairs
        .windows(2)
        .all(|w| key_class(&w[0].0).is_some() && key_class(&w[0].0) == key_class(&w[1].0));
    if comparable {
        sorted.sort_by(|a, b| key_cmp(&a.0, &b.0));
    }
    sorted
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    anchors: HashMap<u64, String>,
    emitted: HashSet<u64>,
}

impl Emitter {
    fn put(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(" ");
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn indicator(
        &mut self,
        ind: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(" ");
        }
        self.put(ind);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn node(&mut self, node: &Node, indent: usize, ctx: Context) -> Result<(), Error> {
        if let Some(name) = self.anchors.get(&node.id).cloned() {
            if !self.emitted.insert(node.id) {
                self.indicator(&format!("*{name}"), true, false, false);
                return Ok(());
            }
            self.indicator(&format!("&{name}"), true, false, false);
        }
        match &node.kind {
            Kind::Map(pairs) if pairs.is_empty() => self.indicator("{}", true, false, false),
            Kind::Seq(items) if items.is_empty() => self.indicator("[]", true, false, false),
            Kind::Set(items) if items.is_empty() => self.indicator("[]", true, false, false),
            Kind::Map(pairs) => self.mapping(pairs, indent, ctx)?,
            Kind::Seq(items) | Kind::Set(items) => {
                let inner = match ctx {
                    Context::MappingValue => indent,
                    Context::Root => 0,
                    Context::SequenceItem => indent + INDENT,
                };
                for item in items {
                    self.write_indent(inner);
                    self.indicator("-", true, false, true);
                    self.node(item, inner, Context::SequenceItem)?;
                }
            }
            Kind::Vault(v) => {
                self.put_tag("!vault");
                self.literal(&v.ciphertext, indent + INDENT);
            }
            _ => {
                let (text, tag) =
                    scalar_text(node).unwrap_or_else(|| (String::new(), ScalarTag::Null));
                self.scalar(&text, tag, indent + INDENT, false);
            }
        }
        Ok(())
    }

    fn put_tag(&mut self, tag: &str) {
        if !self.whitespace {
            self.put(" ");
        }
        self.put(tag);
        self.whitespace = false;
        self.indention = false;
    }

    fn mapping(
        &mut self,
        pairs: &[(Node, Node)],
        indent: usize,
        ctx: Context,
    ) -> Result<(), Error> {
        let inner = match ctx {
            Context::Root => 0,
            _ => indent + INDENT,
        };
        for (k, v) in sorted_pairs(pairs) {
            self.write_indent(inner);
            let (text, ktag) =
                scalar_text(k).unwrap_or_else(|| (crate::pyrepr::py_str(k), ScalarTag::Str));
            let simple = !text.contains(is_break) && text.chars().count() <= 128;
            if simple {
                self.scalar(&text, ktag, inner + INDENT, true);
                self.indicator(":", false, false, false);
            } else {
                self.indicator("?", true, false, true);
                self.scalar(&text, ktag, inner + INDENT, false);
                self.write_indent(inner);
                self.indicator(":", true, false, true);
            }
            self.node(v, inner, Context::MappingValue)?;
        }
        Ok(())
    }

    fn scalar(&mut self, text: &str, tag: ScalarTag, indent: usize, simple_key: bool) {
        let a = analyze(text);
        let plain_implicit = resolve_plain(text) == tag;
        let mut style = Style::Plain;
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain
            && (!a.block_plain_allowed || (text.is_empty() && simple_key) || !plain_implicit)
        {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        let breaks = !simple_key;
        match style {
            Style::Plain => self.plain(text, indent, breaks),
            Style::Single => self.single(text, indent, breaks),
            Style::Double => self.double(text, indent, breaks),
        }
    }

    fn plain(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace && !text.is_empty() {
            self.put(" ");
        }
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(" ");
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(&c.to_string());
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn single(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        self.indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(" ");
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                if c == '\'' {
                    self.put("'");
                }
                self.put(&c.to_string());
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if breaks {
            self.write_indent(indent);
        }
        self.indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn double(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        self.indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                let esc = match c {
                    '\0' => "0".to_string(),
                    '\u{7}' => "a".into(),
                    '\u{8}' => "b".into(),
                    '\t' => "t".into(),
                    '\n' => "n".into(),
                    '\u{b}' => "v".into(),
                    '\u{c}' => "f".into(),
                    '\r' => "r".into(),
                    '\u{1b}' => "e".into(),
                    '"' => "\"".into(),
                    '\\' => "\\".into(),
                    '\u{85}' => "N".into(),
                    '\u{a0}' => "_".into(),
                    '\u{2028}' => "L".into(),
                    '\u{2029}' => "P".into(),
                    c if (c as u32) <= 0xFF => format!("x{:02X}", c as u32),
                    c if (c as u32) <= 0xFFFF => format!("u{:04X}", c as u32),
                    c => format!("U{:08X}", c as u32),
                };
                self.put("\\");
                self.put(&esc);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                {
                    self.write_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put("\\");
                    }
                } else {
                    self.put(" ");
                }
                spaces = true;
            } else {
                self.put(&c.to_string());
                spaces = false;
            }
        }
        self.indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// A `|` literal block (the vault ciphertext).
    fn literal(&mut self, text: &str, indent: usize) {
        self.indicator("|", true, false, false);
        if text.starts_with([' ', '\n']) {
            self.put(&INDENT.to_string());
        }
        let chomp = if !text.ends_with('\n') {
            "-"
        } else if text == "\n" || text.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        self.put(chomp);
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in text.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(&c.to_string());
                self.indention = false;
                breaks = false;
            }
        }
    }
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
    fn quoting_like_pyyaml() {
        let doc = map(vec![
            ("b", Node::str("yes")),
            ("a", Node::str("plain text")),
            ("c", Node::str("")),
            ("d", Node::str("a\tb")),
            ("e", Node::str("it's")),
            ("f", Node::str("- x")),
            ("g", Node::new(Kind::Float(1e20))),
            (
                "h",
                Node::new(Kind::Seq(vec![
                    Node::str("x"),
                    Node::new(Kind::Seq(vec![])),
                ])),
            ),
        ]);
        assert_eq!(
            to_yaml(&doc).unwrap(),
            "a: plain text\nb: 'yes'\nc: ''\nd: \"a\\tb\"\ne: it's\nf: '- x'\ng: 1.0e+20\nh:\n- x\n- []\n"
        );
        assert_eq!(to_yaml(&map(vec![])).unwrap(), "{}\n");
        let floats = map(vec![
            ("a", Node::new(Kind::Float(f64::INFINITY))),
            ("b", Node::new(Kind::Float(f64::NEG_INFINITY))),
            ("c", Node::new(Kind::Float(f64::NAN))),
            ("d", Node::new(Kind::Float(1e-5))),
        ]);
        assert_eq!(
            to_yaml(&floats).unwrap(),
            "a: .inf\nb: -.inf\nc: .nan\nd: 1.0e-05\n"
        );
    }
}
