//! Maps a field path (`spec.containers[0].image`) to the line it was written on.
//!
//! serde_yaml (the parser we use for values) does not keep positions, so a second,
//! event-level pass with yaml-rust2 records the line of every mapping key and sequence
//! item, and every *plain* (unquoted) scalar. The latter lets validation warn about
//! values that the kubelet's YAML 1.1 parser reads differently (`yes` → boolean).

use std::collections::HashMap;
use std::fmt;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path from the document root to a field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    /// The path extended by a key.
    pub fn key(&self, k: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    /// The path extended by an index.
    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    /// The path without its last step (the root stays the root).
    pub fn parent(&self) -> FieldPath {
        let mut p = self.clone();
        p.0.pop();
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// Line numbers of the fields of the first YAML document, plus plain scalars.
///
/// Stored as a tree of nodes (parent, step, line), so memory grows with the number of
/// nodes, not with nodes × depth.
#[derive(Debug, Default)]
pub struct LineIndex {
    nodes: Vec<(u32, Seg, usize)>,
    children: HashMap<(u32, Seg), u32>,
    root_line: Option<usize>,
    plain: Vec<(u32, String, usize)>,
    /// Number of documents in the stream (a file with `---` between two Pods has 2).
    pub documents: usize,
    /// Line where the second document starts, if any.
    pub second_document_line: Option<usize>,
}

/// The root of the node tree.
const ROOT: u32 = u32::MAX;

impl LineIndex {
    /// Index `text`, keeping every plain scalar. Parse errors are ignored here (serde_yaml
    /// reports them with lines).
    pub fn build(text: &str) -> LineIndex {
        Self::build_with(text, |_| true)
    }

    /// Index `text`, keeping only the plain scalars `keep` wants (to save memory).
    pub fn build_with(text: &str, keep: fn(&str) -> bool) -> LineIndex {
        let mut b = Builder {
            keep,
            index: LineIndex::default(),
            stack: Vec::new(),
            doc: 0,
        };
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut b, true);
        b.index
    }

    fn child(&self, parent: u32, seg: &Seg) -> Option<u32> {
        self.children.get(&(parent, seg.clone())).copied()
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line_of(&self, path: &FieldPath) -> Option<usize> {
        let mut cur = ROOT;
        let mut line = self.root_line;
        for seg in &path.0 {
            match self.child(cur, seg) {
                Some(n) => {
                    cur = n;
                    line = Some(self.nodes[n as usize].2);
                }
                None => break,
            }
        }
        line
    }

    fn path_of(&self, mut node: u32) -> FieldPath {
        let mut segs = Vec::new();
        while node != ROOT {
            let (parent, seg, _) = &self.nodes[node as usize];
            segs.push(seg.clone());
            node = *parent;
        }
        segs.reverse();
        FieldPath(segs)
    }

    /// Unquoted scalars of the first document: path, text and line.
    pub fn plain_scalars(&self) -> impl Iterator<Item = (FieldPath, &str, usize)> + '_ {
        self.plain
            .iter()
            .map(|(n, text, line)| (self.path_of(*n), text.as_str(), *line))
    }
}

enum Frame {
    Map {
        node: u32,
        pending_key: Option<String>,
        expecting_key: bool,
    },
    Seq {
        node: u32,
        next: usize,
    },
}

struct Builder {
    keep: fn(&str) -> bool,
    index: LineIndex,
    stack: Vec<Frame>,
    doc: usize,
}

impl Builder {
    /// The node `seg` below `parent`, created (with its line) on first sight. Only the first
    /// document is indexed; elsewhere this returns the root.
    fn node(&mut self, parent: u32, seg: Seg, line: usize) -> u32 {
        if self.doc != 1 {
            return ROOT;
        }
        let idx = &mut self.index;
        if let Some(n) = idx.children.get(&(parent, seg.clone())) {
            return *n;
        }
        let n = idx.nodes.len() as u32;
        idx.nodes.push((parent, seg.clone(), line));
        idx.children.insert((parent, seg), n);
        n
    }

    /// The node about to be produced, recording its line.
    fn next_value_node(&mut self, line: usize) -> Option<u32> {
        match self.stack.last_mut() {
            None => {
                if self.doc == 1 && self.index.root_line.is_none() {
                    self.index.root_line = Some(line);
                }
                Some(ROOT)
            }
            Some(Frame::Map {
                node,
                pending_key,
                expecting_key,
            }) => {
                let key = pending_key.take()?;
                *expecting_key = true;
                let parent = *node;
                Some(self.node(parent, Seg::Key(key), line))
            }
            Some(Frame::Seq { node, next }) => {
                let (parent, i) = (*node, *next);
                *next += 1;
                Some(self.node(parent, Seg::Index(i), line))
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::DocumentStart => {
                self.doc += 1;
                self.index.documents = self.doc;
                if self.doc == 2 {
                    self.index.second_document_line = Some(line);
                }
            }
            Event::Scalar(value, style, _, _) => {
                // A scalar in key position of a mapping is a key.
                if let Some(Frame::Map {
                    node,
                    pending_key,
                    expecting_key,
                }) = self.stack.last_mut()
                    && *expecting_key
                {
                    *expecting_key = false;
                    let parent = *node;
                    *pending_key = Some(value.clone());
                    self.node(parent, Seg::Key(value), line);
                    return;
                }
                if let Some(n) = self.next_value_node(line)
                    && style == TScalarStyle::Plain
                    && self.doc == 1
                    && n != ROOT
                    && (self.keep)(&value)
                {
                    self.index.plain.push((n, value, line));
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                // Complex keys (a mapping used as a key) are not tracked.
                let node = match self.stack.last_mut() {
                    Some(Frame::Map {
                        expecting_key: true,
                        ..
                    }) => None,
                    _ => self.next_value_node(line),
                };
                let node = node.unwrap_or(ROOT);
                self.stack.push(if is_map {
                    Frame::Map {
                        node,
                        pending_key: None,
                        expecting_key: true,
                    }
                } else {
                    Frame::Seq { node, next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Alias(_) => {
                let _ = self.next_value_node(line);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[Seg]) -> FieldPath {
        FieldPath(s.to_vec())
    }

    #[test]
    fn finds_lines_of_nested_fields() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: a\n    image: x\n  - name: b\n    imagee: y\n";
        let idx = LineIndex::build(text);
        let k = |s: &str| Seg::Key(s.into());
        assert_eq!(idx.line_of(&p(&[k("kind")])), Some(2));
        assert_eq!(idx.line_of(&p(&[k("metadata"), k("name")])), Some(4));
        assert_eq!(
            idx.line_of(&p(&[
                k("spec"),
                k("containers"),
                Seg::Index(1),
                k("imagee")
            ])),
            Some(10)
        );
        // Unknown path falls back to the nearest ancestor.
        assert_eq!(
            idx.line_of(&p(&[k("spec"), k("containers"), Seg::Index(1), k("nope")])),
            Some(9)
        );
        assert_eq!(idx.documents, 1);
    }

    #[test]
    fn flow_style_and_json_work() {
        let text = "{\"kind\": \"Pod\",\n \"spec\": {\"containers\": [{\"name\": \"a\"}]}}";
        let idx = LineIndex::build(text);
        let k = |s: &str| Seg::Key(s.into());
        assert_eq!(
            idx.line_of(&p(&[k("spec"), k("containers"), Seg::Index(0), k("name")])),
            Some(2)
        );
    }

    #[test]
    fn records_plain_scalars_and_documents() {
        let text = "a: yes\nb: 'no'\n---\nc: 1\n";
        let idx = LineIndex::build(text);
        let plain: Vec<_> = idx
            .plain_scalars()
            .map(|(p, v, _)| (p.to_string(), v.to_string()))
            .collect();
        assert_eq!(plain, vec![("a".to_string(), "yes".to_string())]);
        assert_eq!(idx.documents, 2);
        assert_eq!(idx.second_document_line, Some(3));
    }
}
