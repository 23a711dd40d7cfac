//! Python text forms of values: `repr(float)`, `str(value)` and `repr(value)`.
//!
//! ansible-inventory prints floats with Python's `repr` (in JSON too) and prints `--graph --vars`
//! lines with `'{%s = %s}' % (key, value)`, i.e. Python's `str()` of the value, which uses `repr()`
//! for the items of lists and dicts. This module reproduces those forms for [`Node`] values.

use crate::py_printable::is_printable;
use crate::value::{Kind, Node};

/// Python's `repr()` of a float (`1e-05`, `1000.0`, `1.2345678901234568e+16`, `inf`, `nan`).
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` yields the shortest round-tripping digits, as Python's repr does.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let decpt = exp + 1;
    let sign = if x < 0.0 { "-" } else { "" };
    let body = if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(1);
        let mut s = first.to_string();
        if !rest.is_empty() {
            s.push('.');
            s.push_str(rest);
        }
        let e = decpt - 1;
        format!("{s}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else if decpt <= 0 {
        format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
    } else if decpt as usize >= digits.len() {
        format!("{}{}.0", digits, "0".repeat(decpt as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(decpt as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{body}")
}

/// Python's `str()` of a value, as ansible-inventory's `--graph --vars` prints it.
pub fn py_str(v: &Node) -> String {
    match &v.kind {
        Kind::Str(s) | Kind::Unsafe(s) => s.clone(),
        Kind::Vault(v) => v.ciphertext.clone(),
        Kind::Timestamp(t) => t.text(),
        _ => py_repr(v),
    }
}

/// Python's `repr()` of a value (`'a'`, `True`, `None`, `[1, 'x']`, `{'k': 1}`, `{1, 2}`).
pub fn py_repr(v: &Node) -> String {
    let mut out = String::new();
    write_repr(v, &mut out);
    out
}

fn write_items<'a>(items: impl Iterator<Item = &'a Node>, out: &mut String) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_repr(item, out);
    }
}

fn write_repr(v: &Node, out: &mut String) {
    match &v.kind {
        Kind::Null => out.push_str("None"),
        Kind::Vault(v) => out.push_str(&str_repr(&v.ciphertext)),
        Kind::Bool(true) => out.push_str("True"),
        Kind::Bool(false) => out.push_str("False"),
        Kind::Int(i) => out.push_str(&i.to_string()),
        Kind::Float(f) => out.push_str(&float_repr(*f)),
        Kind::Str(s) | Kind::Unsafe(s) => out.push_str(&str_repr(s)),
        Kind::Timestamp(t) => out.push_str(&t.repr()),
        Kind::Seq(items) => {
            out.push('[');
            write_items(items.iter(), out);
            out.push(']');
        }
        Kind::Set(items) if items.is_empty() => out.push_str("set()"),
        Kind::Set(items) => {
            out.push('{');
            write_items(items.iter(), out);
            out.push('}');
        }
        Kind::Map(pairs) => {
            out.push('{');
            for (i, (k, item)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(k, out);
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr()` of a `str`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a `bytes` value (`b'ok\\n'`).
pub fn bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = format!("b{quote}");
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b if char::from(b) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn floats_like_python() {
        let cases = [
            (1000.0, "1000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5, "1.5"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (685230.15, "685230.15"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e300, "1e+300"),
            (-2.5e-7, "-2.5e-07"),
            (f64::INFINITY, "inf"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(x), want, "{x}");
        }
    }

    #[test]
    fn str_and_repr() {
        let n = |k: Kind| Node::new(k);
        assert_eq!(py_str(&Node::str("a b")), "a b");
        assert_eq!(py_str(&n(Kind::Bool(true))), "True");
        assert_eq!(py_str(&n(Kind::Null)), "None");
        let map = n(Kind::Map(vec![
            (Node::str("b"), Node::str("c")),
            (n(Kind::Int(1)), n(Kind::Unsafe("u".into()))),
        ]));
        assert_eq!(
            py_str(&n(Kind::Seq(vec![n(Kind::Int(1)), Node::str("x"), map]))),
            "[1, 'x', {'b': 'c', 1: 'u'}]"
        );
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a'\"b"), "'a\\'\"b'");
        assert_eq!(str_repr("\u{1}\u{e9}\u{a0}"), "'\\x01\u{e9}\\xa0'");
        assert_eq!(py_str(&n(Kind::Unsafe("{{ x }}".into()))), "{{ x }}");
        assert_eq!(py_str(&n(Kind::Set(vec![]))), "[]".replace("[]", "set()"));
    }
}
