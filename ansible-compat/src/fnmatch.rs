//! Shell-style globs as Python's `fnmatch.translate` turns them into regular expressions.
//!
//! `*` matches anything (including nothing), `?` one character, `[seq]` one character in the
//! set (ranges like `a-z`, empty ranges dropped), `[!seq]` one not in it; a `[` without a closing
//! `]` is literal. Matching is case-sensitive and must cover the whole name.

use regex::Regex;

/// Translates a glob to an anchored regular expression (Rust `regex` syntax).
pub fn translate(pat: &str) -> String {
    let p: Vec<char> = pat.chars().collect();
    let n = p.len();
    let mut out = String::from(r"\A(?s:");
    let mut i = 0;
    let mut last_star = false;
    while i < n {
        let c = p[i];
        i += 1;
        if c == '*' {
            if !last_star {
                out.push_str(".*");
            }
            last_star = true;
            continue;
        }
        last_star = false;
        match c {
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < n && p[j] == '!' {
                    j += 1;
                }
                if j < n && p[j] == ']' {
                    j += 1;
                }
                while j < n && p[j] != ']' {
                    j += 1;
                }
                if j >= n {
                    out.push_str(r"\[");
                    continue;
                }
                out.push_str(&class(&p[i..j]));
                i = j + 1;
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(r")\z");
    out
}

/// Builds the character class for the text between `[` and `]`, following `fnmatch.translate`.
fn class(stuff: &[char]) -> String {
    let (negate, body) = match stuff.first() {
        Some('!') => (true, &stuff[1..]),
        _ => (false, stuff),
    };
    // Split into chunks at hyphens that form ranges (the first character is never a range
    // separator, so `[-a]` and `[!-a]` are literal hyphens).
    let mut chunks: Vec<Vec<char>> = Vec::new();
    if body.contains(&'-') {
        let mut start = 0;
        let mut k = 1;
        while let Some(pos) = body
            .iter()
            .enumerate()
            .skip(k)
            .find(|(_, c)| **c == '-')
            .map(|(i, _)| i)
        {
            chunks.push(body[start..pos].to_vec());
            start = pos + 1;
            k = pos + 3;
        }
        let rest = body[start.min(body.len())..].to_vec();
        if rest.is_empty() {
            if let Some(last) = chunks.last_mut() {
                last.push('-');
            }
        } else {
            chunks.push(rest);
        }
        // Remove empty ranges (like `z-a`), which are invalid in a regex.
        let mut k = chunks.len();
        while k > 1 {
            k -= 1;
            let (a, b) = (chunks[k - 1].last().copied(), chunks[k].first().copied());
            if let (Some(a), Some(b)) = (a, b)
                && a > b
            {
                let mut merged = chunks[k - 1][..chunks[k - 1].len() - 1].to_vec();
                merged.extend_from_slice(&chunks[k][1..]);
                chunks[k - 1] = merged;
                chunks.remove(k);
            }
        }
    } else {
        chunks.push(body.to_vec());
    }
    let is_empty = chunks.iter().all(Vec::is_empty);
    if is_empty {
        return if negate {
            "(?s:.)".into()
        } else {
            "(?:[^\\s\\S])".into()
        };
    }
    let mut out = String::from(if negate { "[^" } else { "[" });
    for (idx, chunk) in chunks.iter().enumerate() {
        if idx > 0 {
            out.push('-');
        }
        for c in chunk {
            if c.is_alphanumeric() {
                out.push(*c);
            } else {
                out.push_str(&format!("\\x{{{:x}}}", *c as u32));
            }
        }
    }
    out.push(']');
    out
}

/// Compiles a glob.
pub fn compile(pat: &str) -> Result<Regex, regex::Error> {
    Regex::new(&translate(pat))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        compile(p).unwrap().is_match(s)
    }

    #[test]
    fn globs() {
        assert!(m("web*", "web1"));
        assert!(m("*", ""));
        assert!(!m("web*", "aweb1"));
        assert!(m("web?", "web1"));
        assert!(!m("web?", "web12"));
        assert!(m("db[12]", "db2"));
        assert!(!m("db[!12]", "db2"));
        assert!(m("db[!12]", "db3"));
        assert!(m("web[1:2]", "web:"));
        assert!(m("n[a-c]", "nb"));
        assert!(!m("n[c-a]", "nb"));
        assert!(m("x[", "x["));
        assert!(m("x[]]", "x]"));
        assert!(m("x[-a]", "x-"));
        assert!(m("a.b", "a.b"));
        assert!(!m("a.b", "axb"));
        assert!(!m("WEB", "web"));
        assert!(m("*.example.com", "w.example.com"));
        assert!(m("x[a-]", "x-"));
        assert!(m("x[!]", "x[!]"));
        assert!(!m("x[!]]", "x]"));
        assert!(!m("x[]-a]", "x-"));
        assert!(m("x[a-c-e]", "x-") && !m("x[a-c-e]", "xd"));
    }
}
