//! Python's tokenizer, as far as literals need it: numbers (with `_`, hex, octal, binary,
//! floats, imaginary), string and bytes literals (all prefixes, escapes, triple quotes), names,
//! `...` and the punctuation of containers. Used by [`crate::pyliteral`].

/// A parsed Python literal, before conversion to JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    None,
    Bool(bool),
    Int(i128),
    BigInt(f64),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    Ellipsis,
    Tuple(Vec<Lit>),
    List(Vec<Lit>),
    Set(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

/// A Python token that can appear in a literal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Num(Lit),
    Str {
        bytes: bool,
        value: Vec<u8>,
        text: String,
        fstring: bool,
    },
    Name(String),
    Op(char),
    Ellipsis,
}

/// Splits `src` into Python tokens; `None` on anything Python's tokenizer would reject or that
/// cannot be part of a literal.
pub(crate) fn tokenize(src: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\x0c' => i += 1,
            '\n' | '\r' => i += 1,
            '#' => break,
            '(' | ')' | '[' | ']' | '{' | '}' | ',' | ':' | '+' | '-' => {
                out.push(Tok::Op(c));
                i += 1;
            }
            '.' if chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') => {
                out.push(Tok::Ellipsis);
                i += 3;
            }
            '.' if chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                let (lit, n) = number(&chars[i..])?;
                out.push(Tok::Num(lit));
                i += n;
            }
            c if c.is_ascii_digit() => {
                let (lit, n) = number(&chars[i..])?;
                out.push(Tok::Num(lit));
                i += n;
            }
            c if c == '_' || c.is_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i] == '_' || chars[i].is_alphanumeric()) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if i < chars.len() && (chars[i] == '\'' || chars[i] == '"') {
                    let prefix = word.to_ascii_lowercase();
                    if matches!(
                        prefix.as_str(),
                        "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
                    ) {
                        let (tok, n) = string(&chars[i..], &prefix)?;
                        out.push(tok);
                        i += n;
                        continue;
                    }
                }
                out.push(Tok::Name(word));
            }
            '\'' | '"' => {
                let (tok, n) = string(&chars[i..], "")?;
                out.push(tok);
                i += n;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Reads `digit (_? digit)*` in the given radix; returns the digits without underscores.
fn digitpart(chars: &[char], radix: u32) -> (String, usize) {
    let mut s = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_digit(radix) {
            s.push(chars[i]);
            i += 1;
        } else if chars[i] == '_'
            && !s.is_empty()
            && chars.get(i + 1).is_some_and(|c| c.is_digit(radix))
        {
            i += 1;
        } else {
            break;
        }
    }
    (s, i)
}

fn number(chars: &[char]) -> Option<(Lit, usize)> {
    let end_ok = |i: usize| {
        !chars
            .get(i)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    };
    if chars[0] == '0' && chars.len() > 1 && matches!(chars[1], 'x' | 'X' | 'o' | 'O' | 'b' | 'B') {
        let radix = match chars[1] {
            'x' | 'X' => 16,
            'o' | 'O' => 8,
            _ => 2,
        };
        let mut i = 2;
        if chars.get(i) == Some(&'_') {
            i += 1;
        }
        let (digits, n) = digitpart(&chars[i..], radix);
        if digits.is_empty() || !end_ok(i + n) {
            return None;
        }
        return Some((int_lit(&digits, radix), i + n));
    }
    let (int_part, mut i) = digitpart(chars, 10);
    let mut is_float = false;
    let mut text = int_part.clone();
    if chars.get(i) == Some(&'.') {
        is_float = true;
        i += 1;
        let (frac, n) = digitpart(&chars[i..], 10);
        if n == 0 && chars.get(i) == Some(&'_') {
            return None;
        }
        text.push('.');
        text.push_str(&frac);
        i += n;
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        let mut exp = String::from("e");
        if matches!(chars.get(j), Some('+' | '-')) {
            exp.push(chars[j]);
            j += 1;
        }
        let (digits, n) = digitpart(&chars[j..], 10);
        if digits.is_empty() {
            return None;
        }
        exp.push_str(&digits);
        text.push_str(&exp);
        i = j + n;
        is_float = true;
    }
    if matches!(chars.get(i), Some('j' | 'J')) {
        if !end_ok(i + 1) {
            return None;
        }
        let im: f64 = normalise_float(&text).parse().ok()?;
        return Some((Lit::Complex(0.0, im), i + 1));
    }
    if !end_ok(i) {
        return None;
    }
    if is_float {
        let f: f64 = normalise_float(&text).parse().ok()?;
        return Some((Lit::Float(f), i));
    }
    // Decimal integers may not have leading zeros unless they are all zeros.
    if int_part.len() > 1 && int_part.starts_with('0') && int_part.chars().any(|c| c != '0') {
        return None;
    }
    if int_part.len() > 4300 {
        return None;
    }
    Some((int_lit(&int_part, 10), i))
}

fn normalise_float(text: &str) -> String {
    let t = if text.starts_with('.') {
        format!("0{text}")
    } else {
        text.to_string()
    };
    t.replace(".e", ".0e")
}

fn int_lit(digits: &str, radix: u32) -> Lit {
    match i128::from_str_radix(digits, radix) {
        Ok(v) => Lit::Int(v),
        Err(_) => {
            let mut f = 0f64;
            for c in digits.chars() {
                f = f * radix as f64 + c.to_digit(radix).unwrap_or(0) as f64;
            }
            Lit::BigInt(f)
        }
    }
}

/// Reads a string literal starting at a quote; `prefix` is the lower-cased prefix.
fn string(chars: &[char], prefix: &str) -> Option<(Tok, usize)> {
    let raw = prefix.contains('r');
    let bytes = prefix.contains('b');
    let fstring = prefix.contains('f');
    let q = chars[0];
    let triple = chars.len() >= 3 && chars[1] == q && chars[2] == q;
    let mut i = if triple { 3 } else { 1 };
    let mut buf: Vec<u8> = Vec::new();
    let mut text = String::new();
    let push = |c: char, buf: &mut Vec<u8>, text: &mut String| {
        text.push(c);
        let mut tmp = [0u8; 4];
        buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
    };
    loop {
        let c = *chars.get(i)?;
        if bytes && !c.is_ascii() {
            return None;
        }
        if c == q && (!triple || (chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q))) {
            i += if triple { 3 } else { 1 };
            break;
        }
        if (c == '\n' || c == '\r') && !triple {
            return None;
        }
        if c != '\\' {
            push(c, &mut buf, &mut text);
            i += 1;
            continue;
        }
        let e = *chars.get(i + 1)?;
        if raw {
            push('\\', &mut buf, &mut text);
            push(e, &mut buf, &mut text);
            i += 2;
            continue;
        }
        i += 2;
        let simple = match e {
            '\n' => Some(None),
            '\\' => Some(Some('\\')),
            '\'' => Some(Some('\'')),
            '"' => Some(Some('"')),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'n' => Some(Some('\n')),
            'r' => Some(Some('\r')),
            't' => Some(Some('\t')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(ch) = simple {
            if let Some(ch) = ch {
                push(ch, &mut buf, &mut text);
            }
            continue;
        }
        match e {
            '0'..='7' => {
                let mut v = e.to_digit(8)?;
                let mut n = 0;
                while n < 2 && chars.get(i).is_some_and(|c| c.is_digit(8)) {
                    v = v * 8 + chars[i].to_digit(8)?;
                    i += 1;
                    n += 1;
                }
                if bytes {
                    buf.push((v & 0xff) as u8);
                } else {
                    push(char::from_u32(v)?, &mut buf, &mut text);
                }
            }
            'x' => {
                let h: String = chars.get(i..i + 2)?.iter().collect();
                let v = u32::from_str_radix(&h, 16).ok()?;
                if h.len() != 2 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                i += 2;
                if bytes {
                    buf.push(v as u8);
                } else {
                    push(char::from_u32(v)?, &mut buf, &mut text);
                }
            }
            'u' | 'U' if !bytes => {
                let n = if e == 'u' { 4 } else { 8 };
                let h: String = chars.get(i..i + n)?.iter().collect();
                if !h.chars().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                let v = u32::from_str_radix(&h, 16).ok()?;
                i += n;
                push(char::from_u32(v)?, &mut buf, &mut text);
            }
            // `\N{NAME}` needs the Unicode name database; treated as not a literal.
            'N' if !bytes => return None,
            other => {
                push('\\', &mut buf, &mut text);
                push(other, &mut buf, &mut text);
            }
        }
    }
    Some((
        Tok::Str {
            bytes,
            value: buf,
            text,
            fstring,
        },
        i,
    ))
}
