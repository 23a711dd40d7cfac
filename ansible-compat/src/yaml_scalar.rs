//! PyYAML's YAML 1.1 scalar rules (`SafeLoader`): which tag a plain scalar resolves to, and how
//! `!!int`, `!!float`, `!!bool` and `!!timestamp` scalars are constructed.
//!
//! Plain (unquoted) scalars: `yes/No/ON/off/true/FALSE...` are booleans, `0755` is octal, `0x1f`
//! hex, `0b101` binary, `1_000` an int, `190:20:30` sexagesimal, `1.5`/`1.0e+3`/`.inf`/`.nan`
//! floats (but `1e3` is a string: YAML 1.1 floats need a dot and a signed exponent), `~`, `null`
//! and the empty scalar are null, `2024-01-01` is a date. Quoted scalars are always strings.

use std::sync::LazyLock;

use regex::Regex;

use crate::value::Timestamp;

/// The tag a scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarTag {
    /// `tag:yaml.org,2002:str`.
    Str,
    /// `tag:yaml.org,2002:bool`.
    Bool,
    /// `tag:yaml.org,2002:int`.
    Int,
    /// `tag:yaml.org,2002:float`.
    Float,
    /// `tag:yaml.org,2002:null`.
    Null,
    /// `tag:yaml.org,2002:timestamp`.
    Timestamp,
    /// `tag:yaml.org,2002:merge` (`<<`).
    Merge,
    /// `tag:yaml.org,2002:value` (`=`), which SafeLoader cannot construct.
    Value,
}

static BOOL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
        .unwrap()
});
static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
        r"|[-+]?\.(?:inf|Inf|INF)",
        r"|\.(?:nan|NaN|NAN))$"
    ))
    .unwrap()
});
static INT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[-+]?0b[0-1_]+",
        r"|[-+]?0[0-7_]+",
        r"|[-+]?(?:0|[1-9][0-9_]*)",
        r"|[-+]?0x[0-9a-fA-F_]+",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
    ))
    .unwrap()
});
static NULL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:~|null|Null|NULL|)$").unwrap());
static TIMESTAMP_RESOLVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
        r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?",
        r"(?:[Tt]|[ \t]+)[0-9][0-9]?",
        r":[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?",
        r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"
    ))
    .unwrap()
});
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?P<year>[0-9][0-9][0-9][0-9])-(?P<month>[0-9][0-9]?)-(?P<day>[0-9][0-9]?)",
        r"(?:(?:[Tt]|[ \t]+)(?P<hour>[0-9][0-9]?):(?P<minute>[0-9][0-9]):(?P<second>[0-9][0-9])",
        r"(?:\.(?P<fraction>[0-9]*))?",
        r"(?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9][0-9]?)(?::(?P<tz_minute>[0-9][0-9]))?))?)?$"
    ))
    .unwrap()
});

/// PyYAML's implicit resolution of a plain scalar (resolvers are picked by the first character,
/// in registration order: bool, float, int, merge, null, timestamp, value).
pub fn resolve_plain(value: &str) -> ScalarTag {
    let first = value.chars().next();
    let in_set = |set: &str| first.is_some_and(|c| set.contains(c));
    if in_set("yYnNtTfFoO") && BOOL.is_match(value) {
        return ScalarTag::Bool;
    }
    if in_set("-+0123456789.") && FLOAT.is_match(value) {
        return ScalarTag::Float;
    }
    if in_set("-+0123456789") && INT.is_match(value) {
        return ScalarTag::Int;
    }
    if value == "<<" {
        return ScalarTag::Merge;
    }
    if (first.is_none() || in_set("~nN")) && NULL.is_match(value) {
        return ScalarTag::Null;
    }
    if in_set("0123456789") && TIMESTAMP_RESOLVE.is_match(value) {
        return ScalarTag::Timestamp;
    }
    if value == "=" {
        return ScalarTag::Value;
    }
    ScalarTag::Str
}

/// A constructed scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// An int that fits `i128`.
    Int(i128),
    /// A float (also ints too large for `i128`).
    Float(f64),
}

fn int_from(digits: &str, radix: u32) -> Result<Scalar, String> {
    if digits.is_empty() {
        return Err(format!("invalid literal for int() with base {radix}: ''"));
    }
    match i128::from_str_radix(digits, radix) {
        Ok(v) => Ok(Scalar::Int(v)),
        Err(_) => {
            let mut f = 0f64;
            for c in digits.chars() {
                let d = c.to_digit(radix).ok_or_else(|| {
                    format!("invalid literal for int() with base {radix}: '{digits}'")
                })?;
                f = f * radix as f64 + d as f64;
            }
            Ok(Scalar::Float(f))
        }
    }
}

fn negate(s: Scalar, neg: bool) -> Scalar {
    match (s, neg) {
        (Scalar::Int(i), true) => Scalar::Int(-i),
        (Scalar::Float(f), true) => Scalar::Float(-f),
        (s, _) => s,
    }
}

/// PyYAML's `construct_yaml_int`.
pub fn construct_int(value: &str) -> Result<Scalar, String> {
    let v: String = value.chars().filter(|c| *c != '_').collect();
    let neg = v.starts_with('-');
    let v = v.strip_prefix(['-', '+']).unwrap_or(&v);
    if v.is_empty() {
        return Err(format!("invalid literal for int(): '{value}'"));
    }
    let r = if v == "0" {
        Scalar::Int(0)
    } else if let Some(b) = v.strip_prefix("0b") {
        int_from(b, 2)?
    } else if let Some(x) = v.strip_prefix("0x") {
        int_from(x, 16)?
    } else if v.starts_with('0') {
        int_from(v, 8)?
    } else if v.contains(':') {
        let mut total: i128 = 0;
        for part in v.split(':') {
            let d = part
                .trim()
                .parse::<i128>()
                .map_err(|_| format!("invalid literal for int(): '{part}'"))?;
            total = total
                .checked_mul(60)
                .and_then(|t| t.checked_add(d))
                .ok_or("integer overflow")?;
        }
        Scalar::Int(total)
    } else {
        int_from(v.trim(), 10)?
    };
    Ok(negate(r, neg))
}

/// Python's `float(s)` for the forms YAML can hand it.
fn py_float(s: &str) -> Result<f64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let v = match body {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        b if b
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
            && !b.is_empty() =>
        {
            b.parse::<f64>()
                .map_err(|_| format!("could not convert string to float: '{s}'"))?
        }
        _ => return Err(format!("could not convert string to float: '{s}'")),
    };
    Ok(if neg { -v } else { v })
}

/// PyYAML's `construct_yaml_float`.
pub fn construct_float(value: &str) -> Result<f64, String> {
    let v: String = value
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_lowercase();
    let neg = v.starts_with('-');
    let body = v.strip_prefix(['-', '+']).unwrap_or(&v);
    if body.is_empty() && v.is_empty() {
        return Err("could not convert string to float: ''".into());
    }
    let sign = if neg { -1.0 } else { 1.0 };
    if body == ".inf" {
        return Ok(sign * f64::INFINITY);
    }
    if body == ".nan" {
        return Ok(f64::NAN);
    }
    if body.contains(':') {
        let mut total = 0.0;
        for part in body.split(':') {
            total = total * 60.0 + py_float(part)?;
        }
        return Ok(sign * total);
    }
    Ok(sign * py_float(body)?)
}

/// PyYAML's `construct_yaml_bool` (any case of yes/no/true/false/on/off).
pub fn construct_bool(value: &str) -> Result<bool, String> {
    match value.to_lowercase().as_str() {
        "yes" | "true" | "on" => Ok(true),
        "no" | "false" | "off" => Ok(false),
        other => Err(format!("'{other}' is not a valid bool")),
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

/// PyYAML's `construct_yaml_timestamp` (a `datetime.date` or `datetime.datetime`).
pub fn construct_timestamp(value: &str) -> Result<Timestamp, String> {
    let caps = TIMESTAMP
        .captures(value)
        .ok_or_else(|| format!("invalid timestamp: '{value}'"))?;
    let num = |name: &str| {
        caps.name(name)
            .map(|m| m.as_str().parse::<u32>().unwrap_or(0))
    };
    let (year, month, day) = (
        num("year").unwrap_or(0),
        num("month").unwrap_or(0),
        num("day").unwrap_or(0),
    );
    if year == 0 {
        return Err(format!("year {year} is out of range"));
    }
    if !(1..=12).contains(&month) {
        return Err("month must be in 1..12".into());
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("day is out of range for month".into());
    }
    let date = (year, month, day);
    let Some(hour) = num("hour") else {
        return Ok(Timestamp { date, time: None });
    };
    let (minute, second) = (num("minute").unwrap_or(0), num("second").unwrap_or(0));
    if hour > 23 {
        return Err("hour must be in 0..23".into());
    }
    if minute > 59 {
        return Err("minute must be in 0..59".into());
    }
    if second > 59 {
        return Err("second must be in 0..59".into());
    }
    let mut micro = 0;
    if let Some(frac) = caps
        .name("fraction")
        .map(|m| m.as_str())
        .filter(|f| !f.is_empty())
    {
        let mut f: String = frac.chars().take(6).collect();
        while f.len() < 6 {
            f.push('0');
        }
        micro = f.parse().unwrap_or(0);
    }
    let tz = if let Some(sign) = caps.name("tz_sign") {
        let h = num("tz_hour").unwrap_or(0) as i32;
        let m = num("tz_minute").unwrap_or(0) as i32;
        if h * 60 + m >= 24 * 60 {
            return Err("offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)".into());
        }
        Some(if sign.as_str() == "-" {
            -(h * 60 + m)
        } else {
            h * 60 + m
        })
    } else if caps.name("tz").is_some() {
        Some(0)
    } else {
        None
    };
    Ok(Timestamp {
        date,
        time: Some((hour, minute, second, micro, tz)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScalarTag as T;

    #[test]
    fn resolution() {
        for (s, t) in [
            ("yes", T::Bool),
            ("No", T::Bool),
            ("oFF", T::Str),
            ("y", T::Str),
            ("0755", T::Int),
            ("0o755", T::Str),
            ("0x1f", T::Int),
            ("1_000", T::Int),
            ("08", T::Str),
            ("~", T::Null),
            ("", T::Null),
            ("NULL", T::Null),
            ("nULL", T::Str),
            ("1e3", T::Str),
            ("1.0e3", T::Str),
            ("1.0e+3", T::Float),
            (".inf", T::Float),
            ("-.Inf", T::Float),
            (".NaN", T::Float),
            ("+.5", T::Str),
            (".5", T::Float),
            ("190:20:30", T::Int),
            ("1:30.5", T::Float),
            ("2024-01-01", T::Timestamp),
            ("2001-12-14 21:59:43.10 -5", T::Timestamp),
            ("<<", T::Merge),
            ("=", T::Value),
            ("0b", T::Str),
        ] {
            assert_eq!(resolve_plain(s), t, "{s}");
        }
    }

    #[test]
    fn construction() {
        assert_eq!(construct_int("0755"), Ok(Scalar::Int(493)));
        assert_eq!(construct_int("-0x1A"), Ok(Scalar::Int(-26)));
        assert_eq!(construct_int("0b1010"), Ok(Scalar::Int(10)));
        assert_eq!(construct_int("190:20:30"), Ok(Scalar::Int(685230)));
        assert_eq!(construct_int("0_7"), Ok(Scalar::Int(7)));
        assert_eq!(construct_int("+12"), Ok(Scalar::Int(12)));
        assert_eq!(construct_float("1:30.5"), Ok(90.5));
        assert_eq!(construct_float("6.8523015e+5"), Ok(685230.15));
        assert_eq!(construct_float("1_0.5"), Ok(10.5));
        assert_eq!(construct_float("1"), Ok(1.0));
        assert!(construct_float("-.inf").unwrap().is_infinite());
        assert_eq!(construct_bool("YES"), Ok(true));
        let iso = |s: &str| construct_timestamp(s).unwrap().iso();
        assert_eq!(iso("2024-01-01"), "2024-01-01");
        assert_eq!(
            iso("2001-12-14t21:59:43.10-05:00"),
            "2001-12-14T21:59:43.100000-05:00"
        );
        assert_eq!(iso("2001-12-14 21:59:43.10"), "2001-12-14T21:59:43.100000");
        assert_eq!(iso("2001-12-14 21:59:43Z"), "2001-12-14T21:59:43+00:00");
        assert_eq!(
            iso("2001-12-14 21:59:43.10 -0"),
            "2001-12-14T21:59:43.100000+00:00"
        );
        assert!(construct_timestamp("2024-02-30").is_err());
    }
}
