//! Sources that cannot be parsed, with Ansible's default configuration: the exact warnings
//! ansible-inventory prints on stderr, and the inventory it goes on with (including what a
//! failing plugin had already added). Strict loading refuses the same sources, naming them.
//!
//! These tests need Ansible: `pip install ansible-core==2.19.14 tomli-w==1.2.0`.

mod common;

use ansible_compat::{Error, Inventory, LoadOptions};
use common::scenario::Scenario;

fn strict(s: &Scenario) -> LoadOptions {
    LoadOptions {
        cwd: Some(s.root.clone()),
        ..LoadOptions::default()
    }
}

/// Lenient loading matches Ansible; strict loading fails naming `culprit`.
fn check(s: &Scenario, sources: &[&str], culprit: &str) -> Inventory {
    let inv = s.compare_list(sources, &[], &s.lenient());
    s.compare_views(&inv, sources, &[]);
    let e = Inventory::load_with(sources, &strict(s)).expect_err("strict loading fails");
    let named = s.path(culprit).display().to_string();
    assert!(e.to_string().contains(&named), "{e} should name {named}");
    inv
}

#[test]
fn missing_sources() {
    let s = Scenario::new();
    s.write("good.ini", "[web]\nw1\n");
    check(&s, &["missing"], "missing");
    check(&s, &["good.ini", "missing", "also/missing.yml"], "missing");
    let e = Inventory::load_with(&["missing"], &strict(&s)).unwrap_err();
    assert!(matches!(e, Error::SourceNotFound { .. }), "{e}");
}

#[test]
fn ini_failures_keep_what_was_parsed() {
    let s = Scenario::new();
    s.write("good.ini", "g1\n");
    s.write("undef.ini", "[web]\nh1\n[db:vars]\nx=1\n");
    s.write("kv.ini", "[web]\nh1 foo\n");
    s.write("section.ini", "[web]\nh2\n[a b]\n");
    check(&s, &["undef.ini"], "undef.ini");
    check(&s, &["good.ini", "undef.ini"], "undef.ini");
    check(&s, &["kv.ini", "good.ini", "section.ini"], "kv.ini");
}

#[test]
fn yaml_structure_failures() {
    let s = Scenario::new();
    s.write("list-hosts.yml", "all:\n  hosts: [a, b]\n");
    s.write("bad-host.yaml", "all:\n  hosts:\n    a: [1]\n");
    s.write("scalar.json", "[1, 2]\n");
    s.write("empty.yml", "");
    s.write("noext", "all:\n  hosts:\n    a:\n  vars: [1]\n");
    s.write("good.yml", "web:\n  hosts:\n    w1:\n");
    check(&s, &["list-hosts.yml"], "list-hosts.yml");
    check(
        &s,
        &["good.yml", "bad-host.yaml", "scalar.json"],
        "bad-host.yaml",
    );
    // An empty file is an empty INI inventory: only `noext` fails.
    check(&s, &["empty.yml", "noext"], "noext");
}

#[test]
fn directories() {
    let s = Scenario::new();
    s.write("inv/10-good.ini", "[web]\nw1\n");
    s.write("inv/20-bad.ini", "[web]\nw2 x\n");
    s.write("inv/30-more.yml", "db:\n  hosts:\n    d1:\n");
    s.mkdir("empty");
    check(&s, &["inv"], "inv/20-bad.ini");
    check(&s, &["empty", "inv/10-good.ini"], "empty");
}

#[test]
fn toml_failures() {
    let s = Scenario::new();
    s.write("empty.toml", "");
    s.write("plugin.toml", "plugin = \"x\"\n");
    s.write("bad.toml", "[web]\nchildren = \"x\"\n");
    s.write("good.toml", "[web.hosts]\nw1 = {}\n");
    check(&s, &["good.toml", "empty.toml"], "empty.toml");
    check(&s, &["plugin.toml"], "plugin.toml");
    check(&s, &["bad.toml", "good.toml"], "bad.toml");
}

#[test]
fn host_list_items_that_are_not_addresses() {
    let s = Scenario::new();
    // A path that exists is a file, not a host list; ansible-core 2.19's INI reader then fails
    // on the comma in its path (a tagged string), and this crate says the same.
    s.write("x,y.ini", "h1\n");
    s.write("x,y.yml", "all:\n  hosts:\n    y1:\n");
    check(&s, &["x,y.yml", "x,y.ini"], "x,y.ini");
    let inv = s.compare_list(&["a b,c:22,[::1]:2222,d[1:2],"], &[], &s.lenient());
    s.compare_views(&inv, &["a b,c:22,[::1]:2222,d[1:2],"], &[]);
}

/// PyYAML's syntax error messages (and the source excerpt Ansible adds) are not reproduced:
/// the warnings say the same things in the same order, with this crate's YAML message.
#[test]
fn yaml_syntax_errors() {
    let s = Scenario::new();
    s.write("syn.yml", "a: b: c\n");
    s.write("good.ini", "g1\n");
    let inv = Inventory::load_with(&["syn.yml", "good.ini"], &s.lenient()).unwrap();
    let r = s.inventory(&["syn.yml", "good.ini"], &["--list"]);
    assert_eq!(
        inv.list_text(None, ansible_compat::OutputFormat::Json, false)
            .unwrap(),
        r.stdout
    );
    let heads = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("[WARNING]: "))
            .map(|l| l.split(": YAML parsing failed").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        heads(&inv.warnings_text()),
        heads(&r.stderr),
        "{}",
        inv.warnings_text()
    );
    eprintln!("ours:\n{}\nansible:\n{}", inv.warnings_text(), r.stderr);
}

#[test]
fn scripts_and_plugin_configs() {
    let s = Scenario::new();
    s.script("fail.sh", "#!/bin/sh\necho oops >&2\nexit 3\n");
    s.script("notjson.sh", "#!/bin/sh\necho 'not json'\n");
    s.script("exec.ini", "[web]\nw1\n");
    s.write("unknown.yml", "plugin: not_a_real_plugin\n");
    s.write("good.ini", "g1\n");
    check(&s, &["fail.sh", "good.ini"], "fail.sh");
    check(&s, &["notjson.sh"], "notjson.sh");
    check(&s, &["unknown.yml", "exec.ini"], "unknown.yml");
}

#[test]
fn script_deprecations() {
    let s = Scenario::new();
    s.script(
        "nometa.sh",
        "#!/bin/sh\nif [ \"$1\" = \"--list\" ]; then echo '{\"g\": [\"a\"], \"m\": {\"x\": 1}}'; else echo '{\"hv\": 2}'; fi\n",
    );
    let inv = s.compare_list(&["nometa.sh"], &[], &s.lenient());
    s.compare_views(&inv, &["nometa.sh"], &[]);
}

/// Deprecations point at the variable in the source, as Ansible's do.
#[test]
fn invalid_variable_names() {
    let s = Scenario::new();
    s.write(
        "a.yml",
        "all:\n  vars:\n    a-b: 1\n  hosts:\n    h1:\n      \"x y\": 2\n",
    );
    s.write("b.ini", "[g:vars]\nb-c = 1\n\n[g]\nh2\tq.r=3\n");
    s.write("c.toml", "[g.vars]\n\"t-u\" = 1\n[g.hosts]\nh5 = {}\n");
    let inv = s.compare_list(&["a.yml", "b.ini", "c.toml"], &[], &s.lenient());
    s.compare_views(&inv, &["a.yml", "b.ini", "c.toml"], &[]);
}

/// Warnings from vars files and about reserved names come after the sources' own, as Ansible
/// prints them for `--list`.
#[test]
fn warning_order_with_vars_files() {
    let s = Scenario::new();
    s.write("inv/hosts", "[web]\nw1 name=x\n[web:vars]\nport=1\n");
    s.write("inv/group_vars/web.yml", "a: 1\na: 2\nserial: 3\n");
    s.write("inv/host_vars", "not a directory\n");
    s.write("inv/more.yml", "all:\n  hosts:\n    w2:\n  vrs: {}\n");
    let sources = ["inv/hosts", "inv/more.yml", "missing"];
    let inv = s.compare_list(&sources, &[], &s.lenient());
    s.compare_views(&inv, &sources, &[]);
}
