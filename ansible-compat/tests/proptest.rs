//! Arbitrary text must never make the INI parser, the YAML/JSON loader or the pattern
//! evaluator panic: they either succeed or return an error.

use ansible_compat::{Inventory, expand_hostname_range, literal_eval, split_host_pattern};
use proptest::prelude::*;

/// Text built from fragments that exercise the parsers' interesting paths.
fn fragments(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(pieces).prop_map(str::to_string),
            1 => "[ -~]{0,6}",
            1 => any::<char>().prop_map(|c| c.to_string()),
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

const INI: &[&str] = &[
    "[",
    "]",
    "[web]",
    "[web:children]",
    "[web:vars]",
    "[all:vars]",
    "[g:x]",
    "\n",
    "\n",
    " ",
    "=",
    "h1",
    "w[1:3]",
    "n[a:c:2]",
    "x[01:10]",
    ":22",
    "[::1]:2",
    "a=1",
    "b=\"x y\"",
    "c='q",
    "#",
    ";",
    "\\",
    "True",
    "[1,",
    "{'k':",
    "(1,)",
    "0755",
    "1e3",
    "3+4j",
    "b'x'",
    "ansible_group_priority=",
    "web",
    "---",
    "[:",
    "-1",
    "\r\n",
];

const YAML: &[&str] = &[
    "all:",
    "\n",
    "  ",
    "hosts:",
    "vars:",
    "children:",
    "web:",
    "h1:",
    " ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    ": ",
    "~",
    "yes",
    "0755",
    "0x1f",
    "1:30",
    ".inf",
    "2024-01-01",
    "&a ",
    "*a",
    "<<: ",
    "!unsafe ",
    "!vault ",
    "!!set ",
    "!!str ",
    "\"",
    "'",
    "|\n",
    ">\n",
    "#",
    "---\n",
    "plugin: x",
    "w[1:3]:",
    "\"h:22\":",
    "\t",
    "%YAML 1.1\n",
    "? ",
    "!!int ",
    "=",
];

const PATTERNS: &[&str] = &[
    "web",
    "db",
    "all",
    "*",
    "?",
    "~",
    "!",
    "&",
    ":",
    ",",
    "[",
    "]",
    "[0]",
    "[-1]",
    "[1:2]",
    "[1:]",
    "[1-2]",
    "w*",
    "~w.*",
    "(",
    ")",
    "localhost",
    "::1",
    "2001:db8::1",
    " ",
    "ungrouped",
    "h1",
    ".",
    "@",
    "[!a]",
    "[a-",
];

fn pattern_inventory() -> Inventory {
    Inventory::from_ini_str("h0\n[web]\nw[1:4]\n[db]\nd1\nw2\n[all_:children]\nweb\ndb\n").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ini_parser_never_panics(text in fragments(INI)) {
        if let Ok(inv) = Inventory::from_ini_str(&text) {
            let _ = inv.list_json(None);
            let _ = inv.graph(None, true);
        }
    }

    #[test]
    fn ini_parser_never_panics_on_any_text(text in any::<String>()) {
        let _ = Inventory::from_ini_str(&text);
    }

    #[test]
    fn yaml_loader_never_panics(text in fragments(YAML)) {
        if let Ok(inv) = Inventory::from_yaml_str(&text) {
            let _ = inv.list_json(None);
            let _ = inv.graph(None, true);
        }
    }

    #[test]
    fn yaml_loader_never_panics_on_any_text(text in any::<String>()) {
        let _ = Inventory::from_yaml_str(&text);
    }

    #[test]
    fn patterns_never_panic(p in fragments(PATTERNS), limit in fragments(PATTERNS)) {
        let inv = pattern_inventory();
        let _ = split_host_pattern(&p);
        let _ = inv.select(&p);
        let _ = inv.select_limited(&p, Some(&limit));
        let _ = inv.list_json(Some(&p));
    }

    #[test]
    fn literals_and_ranges_never_panic(s in any::<String>(), f in fragments(INI)) {
        let _ = literal_eval(&s);
        let _ = literal_eval(&f);
        let _ = expand_hostname_range(&f);
    }
}
