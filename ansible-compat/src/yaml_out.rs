//! YAML text exactly as ansible-core writes it: `yaml.dump(data, Dumper=AnsibleDumper, ...)`,
//! i.e. PyYAML's `SafeRepresenter` (sorted keys, `repr`-based floats, ISO dates, anchors for
//! collections met twice, flow or block style per `default_flow_style`) driving libyaml's
//! emitter ([`crate::yaml_emit`]).
//!
//! ansible-inventory's `--yaml` output is `yaml.dump(data, Dumper=AnsibleDumper,
//! default_flow_style=False, allow_unicode=True)` ([`to_yaml`]); the `to_yaml` and
//! `to_nice_yaml` filters pass their own options ([`dump`]). Unsafe strings are plain strings;
//! vault values are written as `!vault |` literal blocks holding their ciphertext.

use std::collections::{HashMap, HashSet};

use crate::error::Error;
use crate::python::YamlOptions;
use crate::value::{Kind, Node};
use crate::yaml_emit::{Graph, Scalar, Settings, emit};
use crate::yaml_scalar::{ScalarTag, resolve_plain};
use crate::yaml_style::{key_class, key_cmp, scalar_text};

/// Serialises `node` as ansible-inventory's YAML output (ending with a newline).
pub fn to_yaml(node: &Node) -> Result<String, Error> {
    let opts = YamlOptions {
        allow_unicode: true,
        ..YamlOptions::default()
    };
    Ok(dump(node, &opts))
}

/// `yaml.dump(node, Dumper=AnsibleDumper, **opts)` with libyaml's emitter.
pub fn dump(node: &Node, opts: &YamlOptions) -> String {
    let mut anchors = Anchors {
        sort_keys: opts.sort_keys,
        ..Anchors::default()
    };
    anchors.walk(node);
    let mut r = Representer {
        opts,
        anchors: anchors.names,
        emitted: HashSet::new(),
    };
    let graph = r.represent(node);
    emit(
        &graph,
        &Settings {
            indent: opts.indent,
            width: opts.width,
            unicode: opts.allow_unicode,
            explicit_start: opts.explicit_start,
            explicit_end: opts.explicit_end,
        },
    )
}

/// PyYAML's `Serializer.anchor_node`: collections met a second time get an anchor name,
/// numbered in the order of those second meetings.
#[derive(Default)]
struct Anchors {
    sort_keys: bool,
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
                for (k, v) in ordered_pairs(pairs, self.sort_keys) {
                    self.walk(k);
                    self.walk(v);
                }
            }
            _ => {}
        }
    }
}

/// `represent_mapping`'s order: sorted by key when `sort_keys` and the keys can be compared,
/// else as is.
fn ordered_pairs(pairs: &[(Node, Node)], sort_keys: bool) -> Vec<&(Node, Node)> {
    let mut sorted: Vec<&(Node, Node)> = pairs.iter().collect();
    let comparable = pairs
        .windows(2)
        .all(|w| key_class(&w[0].0).is_some() && key_class(&w[0].0) == key_class(&w[1].0));
    if sort_keys && comparable {
        sorted.sort_by(|a, b| key_cmp(&a.0, &b.0));
    }
    sorted
}

/// PyYAML's `SafeRepresenter` (with ansible-core's vault representer) and the serializer's
/// anchors and aliases.
struct Representer<'a> {
    opts: &'a YamlOptions,
    anchors: HashMap<u64, String>,
    emitted: HashSet<u64>,
}

impl Representer<'_> {
    /// `represent_sequence`/`represent_mapping`'s style: `default_flow_style`, or when it is
    /// `None`, flow style exactly when every item is a scalar without a requested style.
    fn flow<'g>(&self, mut items: impl Iterator<Item = &'g Graph>) -> bool {
        self.opts
            .default_flow_style
            .unwrap_or_else(|| items.all(|g| matches!(g, Graph::Scalar(s) if !s.literal)))
    }

    fn represent(&mut self, node: &Node) -> Graph {
        let anchor = self.anchors.get(&node.id).cloned();
        if let Some(name) = &anchor
            && !self.emitted.insert(node.id)
        {
            return Graph::Alias(name.clone());
        }
        match &node.kind {
            Kind::Seq(items) | Kind::Set(items) => {
                let items: Vec<Graph> = items.iter().map(|i| self.represent(i)).collect();
                let flow = self.flow(items.iter());
                Graph::Seq {
                    anchor,
                    items,
                    flow,
                }
            }
            Kind::Map(pairs) => {
                let pairs: Vec<(Graph, Graph)> = ordered_pairs(pairs, self.opts.sort_keys)
                    .into_iter()
                    .map(|(k, v)| (self.key(k), self.represent(v)))
                    .collect();
                let flow = self.flow(pairs.iter().flat_map(|(k, v)| [k, v]));
                Graph::Map {
                    anchor,
                    pairs,
                    flow,
                }
            }
            Kind::Vault(v) => Graph::Scalar(Scalar {
                text: v.ciphertext.clone(),
                tag: Some("!vault"),
                plain_implicit: false,
                quoted_implicit: false,
                literal: true,
            }),
            _ => {
                let (text, tag) =
                    scalar_text(node).unwrap_or_else(|| (String::new(), ScalarTag::Null));
                scalar(text, tag)
            }
        }
    }

    fn key(&mut self, k: &Node) -> Graph {
        match scalar_text(k) {
            Some((text, tag)) => scalar(text, tag),
            None => scalar(crate::pyrepr::py_str(k), ScalarTag::Str),
        }
    }
}

/// A scalar with the serializer's implicit flags.
fn scalar(text: String, tag: ScalarTag) -> Graph {
    Graph::Scalar(Scalar {
        plain_implicit: resolve_plain(&text) == tag,
        quoted_implicit: tag == ScalarTag::Str,
        text,
        tag: None,
        literal: false,
    })
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

    #[test]
    fn flow_style_and_indent() {
        let doc = map(vec![
            (
                "b",
                Node::new(Kind::Seq(vec![Node::str("x"), Node::str("")])),
            ),
            ("a", map(vec![("k", Node::new(Kind::Seq(vec![])))])),
        ]);
        let flow = YamlOptions {
            default_flow_style: None,
            ..YamlOptions::default()
        };
        assert_eq!(dump(&doc, &flow), "a:\n  k: []\nb: [x, '']\n");
        let nice = YamlOptions {
            indent: 4,
            ..YamlOptions::default()
        };
        assert_eq!(dump(&doc, &nice), "a:\n    k: []\nb:\n- x\n- ''\n");
    }
}
