//! Python's `ast.literal_eval`, as the INI plugin applies it to every variable value.
//!
//! [`literal_eval`] accepts exactly the Python literal syntax: numbers (with `_`, hex, octal,
//! binary, floats, complex), strings and bytes with all prefixes, escapes and implicit
//! concatenation, `True`/`False`/`None`, `...`, tuples, lists, dicts, sets and `set()`, unary
//! `+`/`-` on numbers and `real ± complex`. Anything else is an error, in which case the INI plugin
//! keeps the raw text ([`parse_ini_value`]). Results are mapped the way the INI plugin and
//! ansible-inventory's JSON encoder map them: tuples and sets become lists, bytes become text,
//! complex numbers and `...` become their `str()`, and dict keys become JSON object keys.

use serde_json::Value;

use crate::pylexer::{Lit, Tok, tokenize};
use crate::pyrepr::float_repr;
use crate::value::{Kind as NKind, Node, same_key, to_json};

/// Why `literal_eval` rejected a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralError {
    /// Python would raise `SyntaxError` or `ValueError`: the INI plugin keeps the raw string.
    NotALiteral,
    /// Python would raise `TypeError` (an unhashable dict key or set item), which the INI plugin
    /// does not catch: the whole source fails with this message.
    Unhashable(String),
}

/// Maximum nesting accepted (Python's parser gives up at a similar depth with a `SyntaxError`).
const MAX_DEPTH: usize = 100;

/// The INI plugin's `_parse_value`: `literal_eval`, keeping the raw text when that fails.
pub fn parse_ini_value(v: &str) -> Result<Node, LiteralError> {
    match literal_node(v) {
        Ok(node) => Ok(node),
        Err(LiteralError::NotALiteral) => Ok(Node::str(v)),
        Err(e) => Err(e),
    }
}

/// Evaluates `src` like Python's `ast.literal_eval` and converts the result as the INI plugin
/// and ansible-inventory's `--list` JSON do (tuples and sets become lists, complex numbers and
/// `...` their `str()`, bytes an unsafe string `{"__ansible_unsafe": ...}`).
pub fn literal_eval(src: &str) -> Result<Value, LiteralError> {
    literal_node(src).map(|n| to_json(&n, true))
}

fn literal_node(src: &str) -> Result<Node, LiteralError> {
    let src = src.trim_start_matches([' ', '\t']);
    let tokens = tokenize(src).ok_or(LiteralError::NotALiteral)?;
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        depth: 0,
    };
    let lit = p.expr()?;
    if p.pos != p.toks.len() {
        return Err(LiteralError::NotALiteral);
    }
    check_hashable(&lit)?;
    Ok(to_node(&lit))
}

fn check_hashable(lit: &Lit) -> Result<(), LiteralError> {
    fn hashable(l: &Lit) -> Result<(), LiteralError> {
        match l {
            Lit::List(_) => Err(LiteralError::Unhashable("unhashable type: 'list'".into())),
            Lit::Dict(_) => Err(LiteralError::Unhashable("unhashable type: 'dict'".into())),
            Lit::Set(_) => Err(LiteralError::Unhashable("unhashable type: 'set'".into())),
            Lit::Tuple(items) => items.iter().try_for_each(hashable),
            _ => Ok(()),
        }
    }
    match lit {
        Lit::Tuple(items) | Lit::List(items) => items.iter().try_for_each(check_hashable),
        Lit::Set(items) => items
            .iter()
            .try_for_each(|i| hashable(i).and_then(|_| check_hashable(i))),
        Lit::Dict(items) => items.iter().try_for_each(|(k, v)| {
            hashable(k)
                .and_then(|_| check_hashable(k))
                .and_then(|_| check_hashable(v))
        }),
        _ => Ok(()),
    }
}

fn complex_str(re: f64, im: f64) -> String {
    // Python's complex repr: floats that are integers print without ".0".
    fn part(x: f64) -> String {
        let r = float_repr(x);
        r.strip_suffix(".0").map(str::to_string).unwrap_or(r)
    }
    if re == 0.0 && !re.is_sign_negative() {
        format!("{}j", part(im))
    } else {
        let sign = if im < 0.0
            || (im == 0.0 && im.is_sign_negative())
            || im.is_nan() && im.is_sign_negative()
        {
            "-"
        } else {
            "+"
        };
        format!("({}{}{}j)", part(re), sign, part(im.abs()))
    }
}

fn to_node(lit: &Lit) -> Node {
    Node::new(match lit {
        Lit::None => NKind::Null,
        Lit::Bool(b) => NKind::Bool(*b),
        Lit::Int(i) => NKind::Int(*i),
        Lit::BigInt(f) | Lit::Float(f) => NKind::Float(*f),
        Lit::Complex(re, im) => NKind::Str(complex_str(*re, *im)),
        Lit::Str(s) => NKind::Str(s.clone()),
        // The INI plugin marks only `str` results as trusted; decoded bytes stay untrusted.
        Lit::Bytes(b) => NKind::Unsafe(String::from_utf8_lossy(b).into_owned()),
        Lit::Ellipsis => NKind::Str("...".into()),
        Lit::Tuple(items) | Lit::List(items) => NKind::Seq(items.iter().map(to_node).collect()),
        Lit::Set(items) => {
            let mut out: Vec<Node> = Vec::new();
            for n in items.iter().map(to_node) {
                if !out.iter().any(|o| same_key(o, &n)) {
                    out.push(n);
                }
            }
            NKind::Seq(out)
        }
        Lit::Dict(items) => {
            let mut out: Vec<(Node, Node)> = Vec::new();
            for (k, v) in items {
                let (k, v) = (to_node(k), to_node(v));
                match out.iter_mut().find(|(ek, _)| same_key(ek, &k)) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k, v)),
                }
            }
            NKind::Map(out)
        }
    })
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// What kind of AST node an expression was, as far as `literal_eval`'s number rules care.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A bare numeric constant (`Constant` of int/float/complex).
    Num,
    /// A sign applied to a numeric constant (`UnaryOp`).
    Signed,
    /// Anything else.
    Other,
}

type R = Result<(Lit, Kind), LiteralError>;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Op(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Lit, LiteralError> {
        Ok(self.expr_kind()?.0)
    }

    fn expr_kind(&mut self) -> R {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(LiteralError::NotALiteral);
        }
        let r = self.binary();
        self.depth -= 1;
        r
    }

    /// `signed_real (+|-) complex_constant`, or a single term.
    fn binary(&mut self) -> R {
        let left = self.unary()?;
        let op = match self.peek() {
            Some(Tok::Op(c @ ('+' | '-'))) => *c,
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.unary()?;
        if matches!(self.peek(), Some(Tok::Op('+' | '-'))) {
            return Err(LiteralError::NotALiteral);
        }
        let re = match (&left.0, left.1) {
            (Lit::Int(i), Kind::Num | Kind::Signed) => *i as f64,
            (Lit::BigInt(f) | Lit::Float(f), Kind::Num | Kind::Signed) => *f,
            _ => return Err(LiteralError::NotALiteral),
        };
        match right {
            (Lit::Complex(_, im), Kind::Num) => {
                let im = if op == '+' { im } else { -im };
                let re = if op == '+' { re + 0.0 } else { re - 0.0 };
                Ok((Lit::Complex(re, im), Kind::Other))
            }
            _ => Err(LiteralError::NotALiteral),
        }
    }

    /// A term with an optional single sign.
    fn unary(&mut self) -> R {
        let neg = match self.peek() {
            Some(Tok::Op('-')) => true,
            Some(Tok::Op('+')) => false,
            _ => return self.atom(),
        };
        self.pos += 1;
        let (atom, kind) = self.unary()?;
        if kind != Kind::Num {
            return Err(LiteralError::NotALiteral);
        }
        let v = match atom {
            Lit::Int(i) if neg => Lit::Int(-i),
            Lit::BigInt(f) if neg => Lit::BigInt(-f),
            Lit::Float(f) if neg => Lit::Float(-f),
            Lit::Complex(re, im) if neg => Lit::Complex(-re, -im),
            l => l,
        };
        Ok((v, Kind::Signed))
    }

    fn atom(&mut self) -> R {
        let tok = self.peek().cloned().ok_or(LiteralError::NotALiteral)?;
        self.pos += 1;
        let lit = match tok {
            Tok::Num(l) => return Ok((l, Kind::Num)),
            Tok::Ellipsis => Lit::Ellipsis,
            Tok::Name(n) => match n.as_str() {
                "True" => Lit::Bool(true),
                "False" => Lit::Bool(false),
                "None" => Lit::None,
                "set" if self.eat('(') && self.eat(')') => Lit::Set(Vec::new()),
                _ => return Err(LiteralError::NotALiteral),
            },
            Tok::Str {
                bytes,
                value,
                text,
                fstring,
            } => {
                let (mut value, mut text, mut fstring) = (value, text, fstring);
                while let Some(Tok::Str {
                    bytes: b2,
                    value: v2,
                    text: t2,
                    fstring: f2,
                }) = self.peek().cloned()
                {
                    if b2 != bytes {
                        return Err(LiteralError::NotALiteral);
                    }
                    value.extend(v2);
                    text.push_str(&t2);
                    fstring |= f2;
                    self.pos += 1;
                }
                if fstring {
                    return Err(LiteralError::NotALiteral);
                }
                if bytes {
                    Lit::Bytes(value)
                } else {
                    Lit::Str(text)
                }
            }
            Tok::Op('(') => {
                if self.eat(')') {
                    return Ok((Lit::Tuple(Vec::new()), Kind::Other));
                }
                let first = self.expr_kind()?;
                if self.eat(')') {
                    // Parentheses leave no trace in the AST.
                    return Ok(first);
                }
                let mut items = vec![first.0];
                if !self.eat(',') {
                    return Err(LiteralError::NotALiteral);
                }
                items.extend(self.seq_rest(')')?);
                Lit::Tuple(items)
            }
            Tok::Op('[') => Lit::List(self.seq_rest(']')?),
            Tok::Op('{') => self.brace()?,
            _ => return Err(LiteralError::NotALiteral),
        };
        Ok((lit, Kind::Other))
    }

    /// Items up to `close`, comma separated with an optional trailing comma.
    fn seq_rest(&mut self, close: char) -> Result<Vec<Lit>, LiteralError> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.expr()?);
            if self.eat(close) {
                return Ok(items);
            }
            if !self.eat(',') {
                return Err(LiteralError::NotALiteral);
            }
        }
    }

    fn brace(&mut self) -> Result<Lit, LiteralError> {
        if self.eat('}') {
            return Ok(Lit::Dict(Vec::new()));
        }
        let first = self.expr()?;
        if self.eat(':') {
            let v = self.expr()?;
            let mut items = vec![(first, v)];
            loop {
                if self.eat('}') {
                    break;
                }
                if !self.eat(',') {
                    return Err(LiteralError::NotALiteral);
                }
                if self.eat('}') {
                    break;
                }
                let k = self.expr()?;
                if !self.eat(':') {
                    return Err(LiteralError::NotALiteral);
                }
                let v = self.expr()?;
                items.push((k, v));
            }
            return Ok(Lit::Dict(items));
        }
        let mut items = vec![first];
        if self.eat('}') {
            return Ok(Lit::Set(items));
        }
        if !self.eat(',') {
            return Err(LiteralError::NotALiteral);
        }
        items.extend(self.seq_rest('}')?);
        Ok(Lit::Set(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(s: &str) -> Value {
        to_json(&parse_ini_value(s).unwrap(), true)
    }

    #[test]
    fn numbers() {
        assert_eq!(ev("1"), json!(1));
        assert_eq!(ev("1.5"), json!(1.5));
        assert_eq!(ev("-5"), json!(-5));
        assert_eq!(ev("0x1f"), json!(31));
        assert_eq!(ev("-0x1F"), json!(-31));
        assert_eq!(ev("0o17"), json!(15));
        assert_eq!(ev("0b101"), json!(5));
        assert_eq!(ev("1_000"), json!(1000));
        assert_eq!(ev("1e3"), json!(1000.0));
        assert_eq!(ev("1.e3"), json!(1000.0));
        assert_eq!(ev(".5"), json!(0.5));
        assert_eq!(ev("007.5"), json!(7.5));
        assert_eq!(ev("00"), json!(0));
        assert_eq!(ev("0755"), json!("0755"));
        assert_eq!(ev("1__0"), json!("1__0"));
        assert_eq!(ev("1_"), json!("1_"));
        assert_eq!(ev("8080"), json!(8080));
        assert_eq!(ev("1abc"), json!("1abc"));
        assert_eq!(ev("--1"), json!("--1"));
        assert_eq!(ev("-(1)"), json!(-1));
        assert_eq!(ev("3+4j"), json!("(3+4j)"));
        assert_eq!(ev("2j"), json!("2j"));
        assert_eq!(ev("1+1"), json!("1+1"));
        assert_eq!(ev("1e400"), json!("inf"));
    }

    #[test]
    fn constants_and_strings() {
        assert_eq!(ev("True"), json!(true));
        assert_eq!(ev("FALSE"), json!("FALSE"));
        assert_eq!(ev("true"), json!("true"));
        assert_eq!(ev("None"), json!(null));
        assert_eq!(ev("..."), json!("..."));
        assert_eq!(ev("'quoted'"), json!("quoted"));
        assert_eq!(ev("\"a\" 'b'"), json!("ab"));
        assert_eq!(ev("'a\\tb\\x41\\u00e9\\101'"), json!("a\tbAéA"));
        assert_eq!(ev("r'a\\tb'"), json!("a\\tb"));
        assert_eq!(ev("b'xx'"), json!({"__ansible_unsafe": "xx"}));
        assert_eq!(ev("f'x'"), json!("f'x'"));
        assert_eq!(ev("'a' b'c'"), json!("'a' b'c'"));
        assert_eq!(ev("'\\q'"), json!("\\q"));
        assert_eq!(ev("hello world"), json!("hello world"));
        assert_eq!(ev(""), json!(""));
        assert_eq!(ev("  1"), json!(1));
        assert_eq!(ev("1  # trailing comment"), json!(1));
    }

    #[test]
    fn containers() {
        assert_eq!(ev("[1,2]"), json!([1, 2]));
        assert_eq!(ev("(1,2)"), json!([1, 2]));
        assert_eq!(ev("()"), json!([]));
        assert_eq!(ev("(1)"), json!(1));
        assert_eq!(ev("{1,2,1}"), json!([1, 2]));
        assert_eq!(ev("set()"), json!([]));
        assert_eq!(
            ev("{'k': (1,2), 2: None, 'k': 3}"),
            json!({"k": 3, "2": null})
        );
        assert_eq!(
            ev("[1, [2, {'a': [True]}],]"),
            json!([1, [2, {"a": [true]}]])
        );
        assert_eq!(ev("[1,x]"), json!("[1,x]"));
        assert_eq!(ev("-(-1)"), json!("-(-1)"));
        assert_eq!(ev("-(1+2j)"), json!("-(1+2j)"));
        assert_eq!(ev("-1-2j"), json!("(-1-2j)"));
    }

    #[test]
    fn unhashable_is_an_error() {
        assert!(matches!(
            literal_eval("{[1]: 2}"),
            Err(LiteralError::Unhashable(_))
        ));
        assert!(matches!(
            literal_eval("{[1], 2}"),
            Err(LiteralError::Unhashable(_))
        ));
    }
}
