//! How libyaml and PyYAML's `SafeRepresenter` decide the form of a scalar in
//! ansible-core's YAML output: the scalar's text and implicit type, libyaml's analysis of
//! which styles can hold it (`yaml_emitter_analyze_scalar`), and Python's ordering of mapping
//! keys.

use crate::pyrepr::float_repr;
use crate::value::{Kind, Node};
use crate::yaml_scalar::ScalarTag;

/// libyaml's `yaml_emitter_analyze_scalar` result.
pub struct Analysis {
    /// The value has line breaks.
    pub multiline: bool,
    /// It may be written plain in flow context.
    pub flow_plain_allowed: bool,
    /// It may be written plain in block context.
    pub block_plain_allowed: bool,
    /// It may be single-quoted.
    pub single_quoted_allowed: bool,
    /// It may be a literal or folded block.
    pub block_allowed: bool,
}

/// Whether `c` is a YAML line break.
pub fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A blank, a break or the end of the text.
fn is_blankz(c: Option<char>) -> bool {
    matches!(c, None | Some(' ' | '\t' | '\0')) || c.is_some_and(is_break)
}

/// libyaml's `IS_PRINTABLE` (no NEL, no characters beyond the BMP, no BOM, no U+FFFE/U+FFFF).
pub fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0A
        || (0x20..=0x7E).contains(&v)
        || (0xA0..=0xD7FF).contains(&v)
        || ((0xE000..=0xFFFD).contains(&v) && v != 0xFEFF)
}

/// libyaml's `yaml_emitter_analyze_scalar`: which styles can write `value` (`unicode`: the
/// emitter may write non-ASCII characters as they are).
pub fn analyze(value: &str, unicode: bool) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = value.chars().collect();
    let mut block_indicators = value.starts_with("---") || value.starts_with("...");
    let mut flow_indicators = block_indicators;
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = is_blankz(chars.get(i + 1).copied());
        let last = i + 1 == chars.len();
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_indicators = true;
                block_indicators = true;
            }
            if c == '?' || c == ':' {
                flow_indicators = true;
                block_indicators |= followed_by_whitespace;
            }
            if c == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_indicators = true;
            }
            if c == ':' {
                flow_indicators = true;
                block_indicators |= followed_by_whitespace;
            }
            if c == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if !is_printable(c) || (!c.is_ascii() && !unicode) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blankz(Some(c));
    }
    let plain = !(leading_space
        || leading_break
        || trailing_space
        || trailing_break
        || break_space
        || space_break
        || special
        || line_breaks);
    Analysis {
        multiline: line_breaks,
        flow_plain_allowed: plain && !flow_indicators,
        block_plain_allowed: plain && !block_indicators,
        single_quoted_allowed: !(break_space || space_break || special),
        block_allowed: !(trailing_space || space_break || special),
    }
}

/// The text and implicit type of a scalar node, as `SafeRepresenter` builds it.
pub fn scalar_text(node: &Node) -> Option<(String, ScalarTag)> {
    Some(match &node.kind {
        Kind::Null => ("null".into(), ScalarTag::Null),
        Kind::Bool(b) => (if *b { "true" } else { "false" }.into(), ScalarTag::Bool),
        Kind::Int(i) => (i.to_string(), ScalarTag::Int),
        Kind::Float(f) => {
            let text = if f.is_nan() {
                ".nan".to_string()
            } else if f.is_infinite() {
                if *f > 0.0 { ".inf" } else { "-.inf" }.to_string()
            } else {
                let r = float_repr(*f).to_lowercase();
                if !r.contains('.') && r.contains('e') {
                    r.replacen('e', ".0e", 1)
                } else {
                    r
                }
            };
            (text, ScalarTag::Float)
        }
        Kind::Str(s) | Kind::Unsafe(s) => (s.clone(), ScalarTag::Str),
        Kind::Timestamp(t) => (t.text(), ScalarTag::Timestamp),
        _ => return None,
    })
}

/// Which keys Python can order among themselves: numbers, strings, dates.
pub fn key_class(n: &Node) -> Option<u8> {
    match &n.kind {
        Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => Some(0),
        Kind::Str(_) | Kind::Unsafe(_) => Some(1),
        Kind::Timestamp(t) => Some(if t.time.is_some() { 2 } else { 3 }),
        _ => None,
    }
}

/// Python's `<` between two keys of the same class.
pub fn key_cmp(a: &Node, b: &Node) -> std::cmp::Ordering {
    let num = |n: &Node| match n.kind {
        Kind::Int(i) => i as f64,
        Kind::Float(f) => f,
        Kind::Bool(b) => f64::from(u8::from(b)),
        _ => 0.0,
    };
    match (&a.kind, &b.kind) {
        (Kind::Timestamp(x), Kind::Timestamp(y)) => x.iso().cmp(&y.iso()),
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => num(a)
                .partial_cmp(&num(b))
                .unwrap_or(std::cmp::Ordering::Equal),
        },
    }
}
