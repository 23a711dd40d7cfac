//! Host addresses with optional ports: ansible-core's `parse_address` and the inventory plugins'
//! `_expand_hostpattern`.
//!
//! `host:22`, `[2001:db8::1]:22`, `10.0.0.1`, `node-[a:c]:2222`. A bare IPv6 address cannot carry
//! a port; brackets are required for that.

use std::sync::LazyLock;

use regex::Regex;

use crate::ranges::expand_hostname_range;

const NUMERIC_RANGE: &str = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]";
const HEX_RANGE: &str = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]";
const ALNUM_RANGE: &str = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";

static BRACKETED_HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(.+)\]:([0-9]+)$").unwrap());
static HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$").unwrap());

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    let c = format!(r"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUMERIC_RANGE})");
    Regex::new(&format!(r"(?i)^(?:{c}\.){{3}}{c}$")).unwrap()
});

static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    let c = format!(r"(?:[0-9a-f]{{1,4}}|{HEX_RANGE})");
    let alts = [
        format!(r"(?:{c}:){{7}}{c}"),
        format!(r"(?:{c}:){{1,6}}:"),
        format!(r"(?:{c}:)(?::{c}){{1,6}}"),
        format!(r"(?:{c}:){{2}}(?::{c}){{1,5}}"),
        format!(r"(?:{c}:){{3}}(?::{c}){{1,4}}"),
        format!(r"(?:{c}:){{4}}(?::{c}){{1,3}}"),
        format!(r"(?:{c}:){{5}}(?::{c}){{1,2}}"),
        format!(r"(?:{c}:){{6}}(?::{c})"),
        format!(r":(?::{c}){{1,6}}"),
        format!(r"{c}?::"),
        format!(r"(?:0:){{6}}(?:{c}\.){{3}}{c}"),
        format!(r"::(?:ffff:)?(?:{c}\.){{3}}{c}"),
        format!(r"(?:0:){{5}}ffff:(?:{c}\.){{3}}{c}"),
    ];
    Regex::new(&format!(r"(?i)^(?:{})$", alts.join("|"))).unwrap()
});

static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    // Python's label ends with a negative look-behind `(?<![_-])`; spelled out here as
    // "one non-underscore word char or range" or "start, middle, non-underscore word char or range".
    let r = ALNUM_RANGE;
    let label = format!(r"(?:(?:[^\W_]|{r})|(?:\w|{r})(?:[\w-]|{r})*(?:[^\W_]|{r}))");
    Regex::new(&format!(r"(?i)^{label}(?:\.{label})*$")).unwrap()
});

/// ansible-core's `parse_address(address, allow_ranges=True)`: the host part and the port.
pub fn parse_address(address: &str) -> Result<(String, Option<u64>), String> {
    let mut address = address.to_string();
    let mut port = None;
    // ansible tries both forms in turn, each on the result of the previous one.
    for re in [&*BRACKETED_HOSTPORT, &*HOSTPORT] {
        if let Some(caps) = re.captures(&address) {
            let p = caps[2]
                .parse::<u64>()
                .map_err(|_| format!("Not a valid network hostname: {address}"))?;
            let host = caps[1].to_string();
            port = Some(p);
            address = host;
        }
    }
    if IPV4.is_match(&address) || IPV6.is_match(&address) || HOSTNAME.is_match(&address) {
        Ok((address, port))
    } else {
        Err(format!("Not a valid network hostname: {address}"))
    }
}

/// The inventory plugins' `_expand_hostpattern`: host names (ranges expanded) and the port.
pub fn expand_hostpattern(pattern: &str) -> Result<(Vec<String>, Option<u64>), String> {
    let (name, port) = match parse_address(pattern) {
        Ok(v) => v,
        Err(_) => (pattern.to_string(), None),
    };
    let names = if name.contains('[') {
        expand_hostname_range(&name)?
    } else {
        vec![name]
    };
    Ok((names, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_address("h:22").unwrap(), ("h".into(), Some(22)));
        assert_eq!(
            parse_address("[2001:db8::1]:22").unwrap(),
            ("2001:db8::1".into(), Some(22))
        );
        assert_eq!(
            parse_address("2001:db8::1").unwrap(),
            ("2001:db8::1".into(), None)
        );
        assert_eq!(
            parse_address("node-[a:c]:2222").unwrap(),
            ("node-[a:c]".into(), Some(2222))
        );
        assert_eq!(
            parse_address("web[01:10].example.com").unwrap(),
            ("web[01:10].example.com".into(), None)
        );
        assert!(parse_address("web:db").is_err());
        assert!(parse_address("bad_").is_err());
        assert!(parse_address("_").is_err());
        assert!(parse_address("a_b").is_ok());
        assert!(parse_address("10.0.0.1").is_ok());
        assert_eq!(parse_address("[h:1]:22").unwrap(), ("h".into(), Some(1)));
    }

    #[test]
    fn hostpatterns() {
        assert_eq!(
            expand_hostpattern("node-[a:b]:2222").unwrap(),
            (vec!["node-a".into(), "node-b".into()], Some(2222))
        );
        assert_eq!(
            expand_hostpattern("x y").unwrap(),
            (vec!["x y".into()], None)
        );
    }
}
