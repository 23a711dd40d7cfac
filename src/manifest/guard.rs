//! A bound on a manifest's shape, checked before any parser builds anything from it.
//!
//! One streaming pass over the YAML events (yaml-rust2's event parser keeps only a stack of
//! open collections) counts nesting depth and nodes, with aliases counted as the nodes they
//! expand to, and stops at the first limit crossed. A Pod needs little nesting (about ten
//! levels for the deepest fields), so the limits are far above any real manifest and far
//! below what would let one hostile file take the memory or time of the agent or `validate`.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

/// Deepest nesting of mappings and sequences accepted (aliases count at their use site).
pub const MAX_DEPTH: usize = 64;
/// Most YAML nodes accepted in one file, aliases counted as the nodes they expand to.
pub const MAX_NODES: u64 = 100_000;

/// Why a file was refused: the line where the limit was crossed and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooBig {
    /// 1-based line.
    pub line: usize,
    /// What was exceeded.
    pub message: String,
}

struct Open {
    anchor: usize,
    nodes_at_start: u64,
    depth: usize,
    max_depth: usize,
}

/// Check `text` against [`MAX_DEPTH`] and [`MAX_NODES`]. Syntax errors are not reported here
/// (the full parser reports them with better words); the pass just stops at one.
pub fn check(text: &str) -> Result<(), TooBig> {
    check_with(text, MAX_DEPTH, MAX_NODES)
}

/// [`check`] with explicit limits.
pub fn check_with(text: &str, max_depth: usize, max_nodes: u64) -> Result<(), TooBig> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    // Anchor id → (nodes it stands for, depth below it).
    let mut anchors: HashMap<usize, (u64, usize)> = HashMap::new();
    let mut nodes: u64 = 0;
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) if e.info().contains("recursion limit") => {
                return Err(TooBig {
                    line: e.marker().line(),
                    message: format!(
                        "nesting deeper than {max_depth} levels (a Pod needs about ten); refusing to parse it"
                    ),
                });
            }
            // A syntax error: the full parser reports it with better words, but it must not
            // meet a nesting it cannot handle in linear time (libyaml's flow levels).
            Err(_) => return flow_depth(text, max_depth),
        };
        let line = mark.line();
        let depth = stack.len();
        let too_deep = || TooBig {
            line,
            message: format!(
                "nesting deeper than {max_depth} levels (a Pod needs about ten); refusing to parse it"
            ),
        };
        let too_many = || TooBig {
            line,
            message: format!(
                "more than {max_nodes} YAML nodes (counting what aliases expand to); refusing to parse it"
            ),
        };
        match event {
            Event::StreamEnd => return Ok(()),
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                nodes += 1;
                if depth + 1 > max_depth {
                    return Err(too_deep());
                }
                stack.push(Open {
                    anchor,
                    nodes_at_start: nodes,
                    depth: depth + 1,
                    max_depth: depth + 1,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(open) = stack.pop() {
                    if open.anchor != 0 {
                        anchors.insert(
                            open.anchor,
                            (
                                nodes - open.nodes_at_start + 1,
                                open.max_depth - open.depth + 1,
                            ),
                        );
                    }
                    if let Some(parent) = stack.last_mut() {
                        parent.max_depth = parent.max_depth.max(open.max_depth);
                    }
                }
            }
            Event::Scalar(_, _, anchor, _) => {
                nodes += 1;
                if anchor != 0 {
                    anchors.insert(anchor, (1, 0));
                }
            }
            Event::Alias(anchor) => {
                let (size, below) = anchors.get(&anchor).copied().unwrap_or((1, 0));
                nodes = nodes.saturating_add(size);
                let reach = depth + below;
                if reach > max_depth {
                    return Err(too_deep());
                }
                if let Some(open) = stack.last_mut() {
                    open.max_depth = open.max_depth.max(reach);
                }
            }
            _ => {}
        }
        if nodes > max_nodes {
            return Err(too_many());
        }
    }
}

/// A conservative count of flow nesting (every `[`/`{`, even in quotes: it only runs on
/// text the event parser could not read, where a refusal beats a quadratic parse).
fn flow_depth(text: &str, max_depth: usize) -> Result<(), TooBig> {
    let (mut depth, mut line) = (0usize, 1usize);
    for b in text.bytes() {
        match b {
            b'\n' => line += 1,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(TooBig {
                        line,
                        message: format!(
                            "nesting deeper than {max_depth} levels (a Pod needs about ten); refusing to parse it"
                        ),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_manifests_pass() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {x: y}}\nspec:\n  containers:\n  - name: c\n    image: i\n    livenessProbe: {httpGet: {path: /, port: 80, httpHeaders: [{name: a, value: b}]}}\n";
        assert_eq!(check(pod), Ok(()));
        assert_eq!(check(""), Ok(()));
        assert_eq!(check("{\"kind\": \"Pod\"}"), Ok(()));
    }

    #[test]
    fn deep_block_and_flow_nesting_is_refused_early() {
        let block = format!("{}x", "- ".repeat(16_000));
        let e = check(&block).unwrap_err();
        assert!(
            e.message.starts_with("nesting deeper than 64 levels"),
            "{e:?}"
        );
        assert_eq!(e.line, 1);
        let flow = "{a: ".repeat(100_000);
        assert!(
            check(&flow)
                .unwrap_err()
                .message
                .starts_with("nesting deeper")
        );
        let lines: String = (0..100)
            .map(|i| format!("{}a{i}:\n", " ".repeat(i)))
            .collect();
        assert_eq!(check(&lines).unwrap_err().line, 65);
        // A syntax error early on does not let deep flow nesting through to libyaml.
        let sneaky = format!("a: b: c\n{}", "{a: ".repeat(100_000));
        assert!(
            check(&sneaky)
                .unwrap_err()
                .message
                .starts_with("nesting deeper")
        );
        // Exactly at the limit is fine.
        assert_eq!(check(&format!("{}x", "- ".repeat(64))), Ok(()));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = (b'a' + i - 1) as char;
            let cur = (b'a' + i) as char;
            s.push_str(&format!(
                "{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let e = check(&s).unwrap_err();
        assert!(
            e.message.starts_with("more than 100000 YAML nodes"),
            "{e:?}"
        );
        // An alias to a deep anchor counts its depth where it is used.
        let deep = format!(
            "a: &d {}x{}\nb: {}*d{}\n",
            "[".repeat(40),
            "]".repeat(40),
            "[".repeat(30),
            "]".repeat(30)
        );
        assert!(
            check(&deep)
                .unwrap_err()
                .message
                .starts_with("nesting deeper")
        );
    }

    #[test]
    fn too_many_nodes_is_refused() {
        let many = "- 1\n".repeat(100_001);
        assert!(check(&many).unwrap_err().message.starts_with("more than"));
    }
}
