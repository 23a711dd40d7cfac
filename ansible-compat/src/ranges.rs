//! Host ranges: `web[01:10]`, `db-[a:f]`, `x[1:9:2]`, several per name.
//!
//! This is ansible-core's `expand_hostname_range`, including its quirks: the first `[` and the
//! first `]` delimit the range, an alphabetic bound is looked up as a *substring* of
//! `string.ascii_letters`, a zero-padded begin requires an end of the same length, and numeric
//! bounds accept anything Python's `int()` accepts.

const ASCII_LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Python's `int(s)` for a `str`: surrounding whitespace, an optional sign, decimal digits with
/// single underscores between them.
pub fn py_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: i128 = clean.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Python's `str.zfill(width)`.
fn zfill(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_string();
    }
    let pad = "0".repeat(width - len);
    match s.strip_prefix(['-', '+']) {
        Some(rest) => format!("{}{}{}", &s[..1], pad, rest),
        None => format!("{pad}{s}"),
    }
}

fn int_err(s: &str) -> String {
    format!("invalid literal for int() with base 10: '{s}'")
}

/// Expands every range in `line`; a name without `[` expands to itself.
pub fn expand_hostname_range(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    expand_into(line, &mut out, 0)?;
    Ok(out)
}

fn expand_into(line: &str, out: &mut Vec<String>, depth: usize) -> Result<(), String> {
    if depth > 64 {
        return Err("host range nesting too deep".into());
    }
    if line.is_empty() {
        return Ok(());
    }
    let replaced = line.replacen('[', "|", 1).replacen(']', "|", 1);
    let parts: Vec<&str> = replaced.split('|').collect();
    if parts.len() < 3 {
        return Err(format!(
            "not enough values to unpack (expected 3, got {})",
            parts.len()
        ));
    }
    if parts.len() > 3 {
        return Err("too many values to unpack (expected 3)".into());
    }
    let (head, nrange, tail) = (parts[0], parts[1], parts[2]);
    let bounds: Vec<&str> = nrange.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err("host range must be begin:end or begin:end:step".into());
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    let step = bounds.get(2).copied();
    if end.is_empty() {
        return Err("host range must specify end value".into());
    }
    let width = if beg.starts_with('0') && beg.chars().count() > 1 {
        let w = beg.chars().count();
        if w != end.chars().count() {
            return Err("host range must specify equal-length begin and end formats".into());
        }
        Some(w)
    } else {
        None
    };
    let fill = |x: String| match width {
        Some(w) => zfill(&x, w),
        None => x,
    };
    let mut seq: Option<Vec<String>> = None;
    if let (Some(ib), Some(ie)) = (ASCII_LETTERS.find(beg), ASCII_LETTERS.find(end)) {
        if ib > ie {
            return Err("host range must have begin <= end".into());
        }
        let stepv = match step {
            None => Some(1),
            Some(s) => py_int(s),
        };
        if let Some(stepv) = stepv.filter(|s| *s != 0) {
            let letters: Vec<char> = ASCII_LETTERS.chars().collect();
            let mut v = Vec::new();
            if stepv > 0 {
                let mut i = ib as i128;
                while i <= ie as i128 {
                    v.push(letters[i as usize].to_string());
                    i += stepv;
                }
            }
            seq = Some(v);
        }
    }
    let seq = match seq {
        Some(s) => s,
        None => {
            let b = py_int(beg).ok_or_else(|| int_err(beg))?;
            let e = py_int(end).ok_or_else(|| int_err(end))?;
            let st = match step {
                None => 1,
                Some(s) => py_int(s).ok_or_else(|| int_err(s))?,
            };
            if st == 0 {
                return Err("range() arg 3 must not be zero".into());
            }
            let stop = e + 1;
            let count = if st > 0 {
                if stop > b {
                    (stop - b + st - 1) / st
                } else {
                    0
                }
            } else if b > stop {
                (b - stop + (-st) - 1) / (-st)
            } else {
                0
            };
            if count > 1_000_000 {
                return Err("host range is too large".into());
            }
            (0..count).map(|k| (b + k * st).to_string()).collect()
        }
    };
    for item in seq {
        let name = format!("{head}{}{tail}", fill(item));
        if name.contains('[') {
            expand_into(&name, out, depth + 1)?;
        } else {
            out.push(name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(s: &str) -> Vec<String> {
        expand_hostname_range(s).unwrap()
    }

    #[test]
    fn numeric_padded_step() {
        assert_eq!(ex("web[1:3]"), ["web1", "web2", "web3"]);
        assert_eq!(ex("www[01:05:2].x"), ["www01.x", "www03.x", "www05.x"]);
        assert_eq!(ex("n[:2]"), ["n0", "n1", "n2"]);
        assert_eq!(ex("n[5:1]"), Vec::<String>::new());
        assert_eq!(ex("n[5:3:-1]"), ["n5"]);
        assert_eq!(ex("n[5:1:-2]"), ["n5", "n3"]);
        assert_eq!(ex("n[08:10]"), ["n08", "n09", "n10"]);
    }

    #[test]
    fn alpha_and_multiple() {
        assert_eq!(ex("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(ex("db-[x:B]"), ["db-x", "db-y", "db-z", "db-A", "db-B"]);
        assert_eq!(
            ex("h[a:e:2]"),
            ["h-a", "h-c", "h-e"].map(|s| s.replace('-', ""))
        );
        assert_eq!(ex("h[ab:cd]"), ["ha", "hb", "hc"]);
        assert_eq!(ex("r[1:2]n[a:b]"), ["r1na", "r1nb", "r2na", "r2nb"]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            expand_hostname_range("n[1]").unwrap_err(),
            "host range must be begin:end or begin:end:step"
        );
        assert_eq!(
            expand_hostname_range("n[1:]").unwrap_err(),
            "host range must specify end value"
        );
        assert_eq!(
            expand_hostname_range("n[01:100]").unwrap_err(),
            "host range must specify equal-length begin and end formats"
        );
        assert_eq!(
            expand_hostname_range("n[c:a]").unwrap_err(),
            "host range must have begin <= end"
        );
        assert_eq!(
            expand_hostname_range("n[1:x]").unwrap_err(),
            "invalid literal for int() with base 10: 'x'"
        );
        assert!(expand_hostname_range("n[1:2").is_err());
    }

    #[test]
    fn py_int_rules() {
        assert_eq!(py_int(" 1_0 "), Some(10));
        assert_eq!(py_int("-3"), Some(-3));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int(""), None);
    }
}
