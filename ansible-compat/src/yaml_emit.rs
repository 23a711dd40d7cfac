//! libyaml's emitter (`emitter.c`, 0.2.5), which PyYAML's `CSafeDumper` (and so ansible-core's
//! `AnsibleDumper`) drives: the indentation stack, block and flow collections, simple and
//! complex (`?`) keys, the choice of scalar style and the plain, quoted and literal writers with
//! their folding at the best width. It writes one document from the node graph PyYAML's
//! representer builds ([`Graph`]).

mod scalars;

use crate::yaml_style::{analyze, is_break};

/// A represented node, as PyYAML's serializer hands it to the emitter.
pub enum Graph {
    /// `*name`: a collection already written with `&name`.
    Alias(String),
    /// A scalar.
    Scalar(Scalar),
    /// A sequence; `flow` is its representer style (`[a, b]`).
    Seq {
        /// `&name` when the collection is met again later.
        anchor: Option<String>,
        /// Items.
        items: Vec<Graph>,
        /// Flow style.
        flow: bool,
    },
    /// A mapping, pairs in the order to write them.
    Map {
        /// `&name` when the collection is met again later.
        anchor: Option<String>,
        /// Key/value pairs.
        pairs: Vec<(Graph, Graph)>,
        /// Flow style.
        flow: bool,
    },
}

/// A scalar event.
pub struct Scalar {
    /// The text.
    pub text: String,
    /// An explicit tag (`!vault`), written unless the text resolves to it implicitly.
    pub tag: Option<&'static str>,
    /// The plain text would be read back with this node's tag.
    pub plain_implicit: bool,
    /// A quoted text would be read back with this node's tag (strings).
    pub quoted_implicit: bool,
    /// The representer asked for a literal block (`|`).
    pub literal: bool,
}

/// libyaml's settings.
pub struct Settings {
    /// `best_indent` (2..=9, else 2).
    pub indent: usize,
    /// `best_width` (at most `2 * indent` means 80).
    pub width: usize,
    /// `unicode`: non-ASCII characters may be written as they are.
    pub unicode: bool,
    /// The document starts with `---`.
    pub explicit_start: bool,
    /// The document ends with `...`.
    pub explicit_end: bool,
}

/// Writes `root` as a single-document stream.
pub fn emit(root: &Graph, settings: &Settings) -> String {
    let best_indent = if (2..=9).contains(&settings.indent) {
        settings.indent
    } else {
        2
    };
    let best_width = if settings.width <= best_indent * 2 {
        80
    } else {
        settings.width
    };
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        open_ended: 0,
        indent: -1,
        indents: Vec::new(),
        flow_level: 0,
        best_indent,
        best_width,
        unicode: settings.unicode,
        mapping_context: false,
        simple_key_context: false,
    };
    if settings.explicit_start {
        e.write_indent();
        e.indicator("---", true, false, false);
    }
    e.node(root, false, false);
    e.write_indent();
    if settings.explicit_end {
        e.indicator("...", true, false, false);
        e.open_ended = 0;
        e.write_indent();
    }
    if e.open_ended == 2 {
        e.indicator("...", true, false, false);
        e.write_indent();
    }
    e.out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    open_ended: u8,
    indent: isize,
    indents: Vec<isize>,
    flow_level: usize,
    best_indent: usize,
    best_width: usize,
    unicode: bool,
    mapping_context: bool,
    simple_key_context: bool,
}

/// The `!tag` a scalar is written with: libyaml's `tag_data` (handle and suffix).
fn scalar_tag(s: &Scalar) -> Option<(&'static str, &'static str)> {
    let tag = s.tag?;
    if s.plain_implicit || s.quoted_implicit {
        return None;
    }
    Some(match tag.strip_prefix("tag:yaml.org,2002:") {
        Some(suffix) => ("!!", suffix),
        None => match tag.strip_prefix('!') {
            Some(suffix) if !suffix.is_empty() => ("!", suffix),
            _ => ("", tag),
        },
    })
}

impl Emitter {
    fn put(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn put_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent as isize } else { 0 };
        } else if !indentless {
            self.indent += self.best_indent as isize;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put_char(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn indicator(
        &mut self,
        s: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put_char(' ');
        }
        self.put(s);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn anchor(&mut self, anchor: Option<&String>, alias: bool) {
        if let Some(name) = anchor {
            self.indicator(if alias { "*" } else { "&" }, true, false, false);
            self.put(name);
            self.whitespace = false;
            self.indention = false;
        }
    }

    /// `yaml_emitter_emit_node` in the given context.
    fn node(&mut self, g: &Graph, mapping: bool, simple_key: bool) {
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match g {
            Graph::Alias(name) => {
                self.anchor(Some(name), true);
                if self.simple_key_context {
                    self.put_char(' ');
                }
            }
            Graph::Scalar(s) => self.scalar(s),
            Graph::Seq {
                anchor,
                items,
                flow,
            } => {
                self.anchor(anchor.as_ref(), false);
                if self.flow_level > 0 || *flow || items.is_empty() {
                    self.flow_sequence(items);
                } else {
                    self.block_sequence(items);
                }
            }
            Graph::Map {
                anchor,
                pairs,
                flow,
            } => {
                self.anchor(anchor.as_ref(), false);
                if self.flow_level > 0 || *flow || pairs.is_empty() {
                    self.flow_mapping(pairs);
                } else {
                    self.block_mapping(pairs);
                }
            }
        }
    }

    fn flow_sequence(&mut self, items: &[Graph]) {
        self.indicator("[", true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            self.node(item, false, false);
        }
        self.flow_level -= 1;
        self.pop_indent();
        self.indicator("]", false, false, false);
    }

    fn flow_mapping(&mut self, pairs: &[(Graph, Graph)]) {
        self.indicator("{", true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                self.indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            if is_simple_key(k) {
                self.node(k, true, true);
                self.indicator(":", false, false, false);
            } else {
                self.indicator("?", true, false, false);
                self.node(k, true, false);
                if self.column > self.best_width {
                    self.write_indent();
                }
                self.indicator(":", true, false, false);
            }
            self.node(v, true, false);
        }
        self.flow_level -= 1;
        self.pop_indent();
        self.indicator("}", false, false, false);
    }

    fn block_sequence(&mut self, items: &[Graph]) {
        self.increase_indent(false, self.mapping_context && !self.indention);
        for item in items {
            self.write_indent();
            self.indicator("-", true, false, true);
            self.node(item, false, false);
        }
        self.pop_indent();
    }

    fn block_mapping(&mut self, pairs: &[(Graph, Graph)]) {
        self.increase_indent(false, false);
        for (k, v) in pairs {
            self.write_indent();
            if is_simple_key(k) {
                self.node(k, true, true);
                self.indicator(":", false, false, false);
            } else {
                self.indicator("?", true, false, true);
                self.node(k, true, false);
                self.write_indent();
                self.indicator(":", true, false, true);
            }
            self.node(v, true, false);
        }
        self.pop_indent();
    }

    /// `yaml_emitter_select_scalar_style`, then the tag and the text.
    fn scalar(&mut self, s: &Scalar) {
        let a = analyze(&s.text, self.unicode);
        let mut tag = scalar_tag(s);
        let mut style = if s.literal {
            Style::Literal
        } else {
            Style::Plain
        };
        if self.simple_key_context && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            let allowed = if self.flow_level > 0 {
                a.flow_plain_allowed
            } else {
                a.block_plain_allowed
            };
            if !allowed
                || (s.text.is_empty() && (self.flow_level > 0 || self.simple_key_context))
                || (tag.is_none() && !s.plain_implicit)
            {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal
            && (!a.block_allowed || self.flow_level > 0 || self.simple_key_context)
        {
            style = Style::Double;
        }
        if tag.is_none() && !s.quoted_implicit && style != Style::Plain {
            tag = Some(("!", ""));
        }
        if let Some((handle, suffix)) = tag {
            if !self.whitespace {
                self.put_char(' ');
            }
            if handle.is_empty() {
                self.put(&format!("!<{suffix}>"));
            } else {
                self.put(handle);
                self.put(suffix);
            }
            self.whitespace = false;
            self.indention = false;
        }
        self.increase_indent(true, false);
        let breaks = !self.simple_key_context;
        match style {
            Style::Plain => self.plain(&s.text, breaks),
            Style::Single => self.single(&s.text, breaks),
            Style::Double => self.double(&s.text, breaks),
            Style::Literal => self.literal(&s.text),
        }
        self.pop_indent();
    }
}

/// `yaml_emitter_check_simple_key`: a one-line scalar (or an alias, or an empty collection) of
/// at most 128 bytes with its anchor and tag.
fn is_simple_key(g: &Graph) -> bool {
    let len = match g {
        Graph::Alias(name) => name.len(),
        Graph::Scalar(s) => {
            if s.text.contains(is_break) {
                return false;
            }
            let tag = scalar_tag(s).map_or(0, |(h, suffix)| h.len() + suffix.len());
            tag + s.text.len()
        }
        Graph::Seq { anchor, items, .. } if items.is_empty() => {
            anchor.as_ref().map_or(0, String::len)
        }
        Graph::Map { anchor, pairs, .. } if pairs.is_empty() => {
            anchor.as_ref().map_or(0, String::len)
        }
        _ => return false,
    };
    len <= 128
}
