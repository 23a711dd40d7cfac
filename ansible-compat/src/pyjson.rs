//! The message of Python's `json.JSONDecodeError` for text that is not JSON (`Expecting value:
//! line 1 column 1 (char 0)`), as ansible-core reports it for inventory script output. This only
//! locates and names the first error the way CPython's `json` scanner does; parsing itself is
//! done by `serde_json`.

/// Python's message for the first JSON error in `text`, or `None` if Python would accept it.
pub fn decode_error(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let p = Scanner { s: &chars };
    let start = p.ws(0);
    let result = p.value(start).and_then(|end| {
        let end = p.ws(end);
        if end == chars.len() {
            Ok(end)
        } else {
            Err(("Extra data", end))
        }
    });
    result.err().map(|(msg, pos)| {
        let before = &chars[..pos.min(chars.len())];
        let line = before.iter().filter(|c| **c == '\n').count() + 1;
        let col = match before.iter().rposition(|c| *c == '\n') {
            Some(nl) => pos - nl,
            None => pos + 1,
        };
        format!("{msg}: line {line} column {col} (char {pos})")
    })
}

type Scan = Result<usize, (&'static str, usize)>;

struct Scanner<'a> {
    s: &'a [char],
}

impl Scanner<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }

    fn ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(' ' | '\t' | '\n' | '\r')) {
            i += 1;
        }
        i
    }

    fn starts(&self, i: usize, word: &str) -> bool {
        word.chars()
            .enumerate()
            .all(|(k, c)| self.at(i + k) == Some(c))
    }

    fn value(&self, i: usize) -> Scan {
        match self.at(i) {
            Some('"') => self.string(i + 1),
            Some('{') => self.object(i + 1),
            Some('[') => self.array(i + 1),
            _ => {
                for word in ["null", "true", "false", "NaN", "Infinity", "-Infinity"] {
                    if self.starts(i, word) {
                        return Ok(i + word.chars().count());
                    }
                }
                self.number(i)
            }
        }
    }

    /// `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`
    fn number(&self, i: usize) -> Scan {
        let mut j = i;
        if self.at(j) == Some('-') {
            j += 1;
        }
        let digits = |mut k: usize| {
            let from = k;
            while self.at(k).is_some_and(|c| c.is_ascii_digit()) {
                k += 1;
            }
            (k, k > from)
        };
        match self.at(j) {
            Some('0') => j += 1,
            Some(c) if c.is_ascii_digit() => j = digits(j).0,
            _ => return Err(("Expecting value", i)),
        }
        if self.at(j) == Some('.')
            && let (k, true) = digits(j + 1)
        {
            j = k;
        }
        if matches!(self.at(j), Some('e' | 'E')) {
            let mut k = j + 1;
            if matches!(self.at(k), Some('+' | '-')) {
                k += 1;
            }
            if let (k, true) = digits(k) {
                j = k;
            }
        }
        Ok(j)
    }

    fn string(&self, start: usize) -> Scan {
        let mut i = start;
        loop {
            match self.at(i) {
                None => return Err(("Unterminated string starting at", start - 1)),
                Some('"') => return Ok(i + 1),
                Some('\\') => match self.at(i + 1) {
                    Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => i += 2,
                    Some('u') => {
                        let ok =
                            (2..6).all(|k| self.at(i + k).is_some_and(|c| c.is_ascii_hexdigit()));
                        if !ok {
                            return Err(("Invalid \\uXXXX escape", i + 1));
                        }
                        i += 6;
                    }
                    None => return Err(("Unterminated string starting at", start - 1)),
                    Some(_) => return Err(("Invalid \\escape", i)),
                },
                Some(c) if (c as u32) < 0x20 => return Err(("Invalid control character at", i)),
                Some(_) => i += 1,
            }
        }
    }

    fn object(&self, i: usize) -> Scan {
        let mut i = self.ws(i);
        if self.at(i) == Some('}') {
            return Ok(i + 1);
        }
        loop {
            if self.at(i) != Some('"') {
                return Err(("Expecting property name enclosed in double quotes", i));
            }
            i = self.ws(self.string(i + 1)?);
            if self.at(i) != Some(':') {
                return Err(("Expecting ':' delimiter", i));
            }
            i = self.ws(i + 1);
            i = self.ws(self.value(i)?);
            match self.at(i) {
                Some('}') => return Ok(i + 1),
                Some(',') => i = self.ws(i + 1),
                _ => return Err(("Expecting ',' delimiter", i)),
            }
        }
    }

    fn array(&self, i: usize) -> Scan {
        let mut i = self.ws(i);
        if self.at(i) == Some(']') {
            return Ok(i + 1);
        }
        loop {
            i = self.ws(self.value(i)?);
            match self.at(i) {
                Some(']') => return Ok(i + 1),
                Some(',') => i = self.ws(i + 1),
                _ => return Err(("Expecting ',' delimiter", i)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_like_cpython() {
        let e = |t: &str| decode_error(t).unwrap_or_default();
        assert_eq!(e("not json\n"), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(e(""), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(e("{} x"), "Extra data: line 1 column 4 (char 3)");
        assert_eq!(
            e("{\n  \"a\" 1}"),
            "Expecting ':' delimiter: line 2 column 7 (char 8)"
        );
        assert_eq!(e("[1,]"), "Expecting value: line 1 column 4 (char 3)");
        assert_eq!(
            e("{'a': 1}"),
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        );
        assert_eq!(
            e("\"abc"),
            "Unterminated string starting at: line 1 column 1 (char 0)"
        );
        assert_eq!(decode_error(" {\"a\": [1, 2.5e3, null, NaN]} \n"), None);
    }
}
