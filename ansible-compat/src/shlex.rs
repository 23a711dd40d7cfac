//! Python's `shlex.split(line, comments=True)` (POSIX mode), which the INI plugin uses to
//! tokenise host lines.
//!
//! Quotes group words and are removed, a backslash escapes the next character (inside double
//! quotes only before `"`, `\` and itself), and `#` starts a comment even in the middle of a word.

/// Why a line could not be split; the texts are Python's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShlexError {
    /// A quote was opened and never closed.
    NoClosingQuotation,
    /// The line ends with a lone backslash.
    NoEscapedCharacter,
}

impl std::fmt::Display for ShlexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShlexError::NoClosingQuotation => "No closing quotation",
            ShlexError::NoEscapedCharacter => "No escaped character",
        })
    }
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Space,
    Word,
    Quote(char),
    Escape(Escaped),
}

#[derive(Clone, Copy, PartialEq)]
enum Escaped {
    Word,
    Quote(char),
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits `line` like `shlex.split(line, comments=True)`.
pub fn split(line: &str) -> Result<Vec<String>, ShlexError> {
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut state = State::Space;
    let mut chars = line.chars();
    loop {
        let next = chars.next();
        match state {
            State::Space => match next {
                None => break,
                Some(c) if is_ws(c) => {}
                Some('#') => break,
                Some('\\') => state = State::Escape(Escaped::Word),
                Some(c @ ('\'' | '"')) => state = State::Quote(c),
                Some(c) => {
                    token.push(c);
                    state = State::Word;
                }
            },
            State::Quote(q) => {
                quoted = true;
                match next {
                    None => return Err(ShlexError::NoClosingQuotation),
                    Some(c) if c == q => state = State::Word,
                    Some('\\') if q == '"' => state = State::Escape(Escaped::Quote(q)),
                    Some(c) => token.push(c),
                }
            }
            State::Escape(from) => {
                let Some(c) = next else {
                    return Err(ShlexError::NoEscapedCharacter);
                };
                if let Escaped::Quote(q) = from
                    && c != '\\'
                    && c != q
                {
                    token.push('\\');
                }
                token.push(c);
                state = match from {
                    Escaped::Word => State::Word,
                    Escaped::Quote(q) => State::Quote(q),
                };
            }
            State::Word => match next {
                None => break,
                Some(c) if is_ws(c) => {
                    tokens.push(std::mem::take(&mut token));
                    quoted = false;
                    state = State::Space;
                }
                Some('#') => {
                    // A comment ends the word and the rest of the line.
                    tokens.push(std::mem::take(&mut token));
                    quoted = false;
                    state = State::Space;
                    break;
                }
                Some(c @ ('\'' | '"')) => state = State::Quote(c),
                Some('\\') => state = State::Escape(Escaped::Word),
                Some(c) => token.push(c),
            },
        }
    }
    if state == State::Word && (!token.is_empty() || quoted) {
        tokens.push(token);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    #[test]
    fn like_python_shlex() {
        assert_eq!(s("h1 a=1 b=\"x y\""), ["h1", "a=1", "b=x y"]);
        assert_eq!(s("h aa=abc#rest x=1"), ["h", "aa=abc"]);
        assert_eq!(s("h # c"), ["h"]);
        assert_eq!(s("x ad=\"\""), ["x", "ad="]);
        assert_eq!(s("ab=x\\ y ac='it''s'"), ["ab=x y", "ac=its"]);
        assert_eq!(s("a=\"\\\"q\\\\ \\n\""), ["a=\"q\\ \\n"]);
        assert_eq!(s("a='\\n'"), ["a=\\n"]);
        assert_eq!(s("\"\""), [""]);
        assert_eq!(s("''  b"), ["", "b"]);
        assert!(s("").is_empty());
        assert_eq!(s("h k=v ; x"), ["h", "k=v", ";", "x"]);
        assert_eq!(split("a='x"), Err(ShlexError::NoClosingQuotation));
        assert_eq!(split("a\\"), Err(ShlexError::NoEscapedCharacter));
    }
}
