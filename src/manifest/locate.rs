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
#[derive(Debug, Default)]
pub struct LineIndex {
    lines: HashMap<FieldPath, usize>,
    plain: Vec<(FieldPath, String, usize)>,
    /// Number of documents in the stream (a file with `---` between two Pods has 2).
    pub documents: usize,
    /// Line where the second document starts, if any.
    pub second_document_line: Option<usize>,
}

impl LineIndex {
    /// Index `text`. Parse errors are ignored here (serde_yaml reports them with lines).
    pub fn build(text: &str) -> LineIndex {
        let mut b = Builder::default();
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut b, true);
        b.index
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line_of(&self, path: &FieldPath) -> Option<usize> {
        let mut p = path.clone();
        loop {
            if let Some(l) = self.lines.get(&p) {
                return Some(*l);
            }
            if p.0.is_empty() {
                return None;
            }
            p.0.pop();
        }
    }

    /// Unquoted scalars of the first document: path, text and line.
    pub fn plain_scalars(&self) -> &[(FieldPath, String, usize)] {
        &self.plain
    }
}

enum Frame {
    Map {
        path: FieldPath,
        pending_key: Option<String>,
        expecting_key: bool,
    },
    Seq {
        path: FieldPath,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    index: LineIndex,
    stack: Vec<Frame>,
    doc: usize,
}

impl Builder {
    /// Path of the node that is about to be produced, recording its line.
    fn next_value_path(&mut self, line: usize) -> Option<FieldPath> {
        match self.stack.last_mut() {
            None => Some(FieldPath::default()),
            Some(Frame::Map {
                path,
                pending_key,
                expecting_key,
            }) => {
                let key = pending_key.take()?;
                *expecting_key = true;
                Some(path.key(&key))
            }
            Some(Frame::Seq { path, next }) => {
                let p = path.index(*next);
                *next += 1;
                let _ = line;
                Some(p)
            }
        }
    }

    fn record(&mut self, path: &FieldPath, line: usize) {
        if self.doc == 1 {
            self.index.lines.entry(path.clone()).or_insert(line);
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
                    path,
                    pending_key,
                    expecting_key,
                }) = self.stack.last_mut()
                    && *expecting_key
                {
                    *expecting_key = false;
                    let p = path.key(&value);
                    *pending_key = Some(value);
                    self.record(&p, line);
                    return;
                }
                if let Some(p) = self.next_value_path(line) {
                    self.record(&p, line);
                    if style == TScalarStyle::Plain && self.doc == 1 {
                        self.index.plain.push((p, value, line));
                    }
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                // Complex keys (a mapping used as a key) are not tracked.
                let path = match self.stack.last_mut() {
                    Some(Frame::Map {
                        expecting_key: true,
                        ..
                    }) => None,
                    _ => self.next_value_path(line),
                };
                let path = path.unwrap_or_default();
                self.record(&path, line);
                self.stack.push(if is_map {
                    Frame::Map {
                        path,
                        pending_key: None,
                        expecting_key: true,
                    }
                } else {
                    Frame::Seq { path, next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Alias(_) => {
                let _ = self.next_value_path(line);
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
            .iter()
            .map(|(p, v, _)| (p.to_string(), v.clone()))
            .collect();
        assert_eq!(plain, vec![("a".to_string(), "yes".to_string())]);
        assert_eq!(idx.documents, 2);
        assert_eq!(idx.second_document_line, Some(3));
    }
}
