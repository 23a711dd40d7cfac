//! The harness of the conformance tests: every case runs the real `ansible-inventory`
//! (ansible-core 2.19) on the fixtures in `tests/fixtures/` and compares its output with this
//! crate's, byte for byte for `--list` JSON text, `--graph`, `--graph --vars` and `--host`, host
//! lists for patterns (`ansible PATTERN --list-hosts`), and the warnings printed.
//!
//! These tests need Ansible: `pip install ansible-core==2.19.14 tomli-w==1.2.0`. Without it
//! they fail.

#![allow(dead_code)]

pub mod ansible;
pub mod scenario;

use std::path::{Path, PathBuf};

use ansible_compat::{Inventory, LoadOptions, OutputFormat, Value, to_ansible_json};

pub use ansible::{run, sandbox};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One inventory and the checks to run on it.
#[derive(Default)]
pub struct Case {
    pub fixture: &'static str,
    /// Sources relative to the fixture directory (`.` for the directory itself); a source
    /// starting with `list:` is a literal host list.
    pub sources: &'static [&'static str],
    /// Groups to run `--graph GROUP` on (in addition to the whole graph).
    pub graph_groups: &'static [&'static str],
    /// Skip `--graph --vars` (values whose Python `str()` this crate cannot reproduce).
    pub no_graph_vars: bool,
    /// Hosts to run `--host` on.
    pub hosts: &'static [&'static str],
    /// `--list --limit` patterns (`@FIXTURE` is replaced by the fixture directory).
    pub limits: &'static [&'static str],
    /// Positional patterns compared with `ansible PATTERN --list-hosts` (order included).
    pub patterns: &'static [&'static str],
    /// Like `patterns`, but compared as sets: Ansible walks sub-groups of sub-groups as a Python
    /// set, so its order for these varies from run to run.
    pub patterns_unordered: &'static [&'static str],
    /// Hosts whose `group_names` (and the `groups` magic variable) are compared with
    /// `ansible HOSTS -m debug`.
    pub magic_hosts: &'static [&'static str],
    /// Variables whose value differs for a documented reason, removed before comparing `--host`.
    pub host_ignore: &'static [&'static str],
}

fn strip_profile(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.remove("profile");
    }
    v
}

fn expand(case: &Case, s: &str) -> String {
    s.replace(
        "@FIXTURE",
        &format!("@{}", fixtures().join(case.fixture).display()),
    )
}

fn pattern_warnings(stderr: &str) -> Vec<String> {
    let mut w: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[WARNING]: "))
        .filter(|l| {
            l.starts_with("Could not match supplied host pattern") || l.starts_with("Use [x:y]")
        })
        .map(str::to_string)
        .collect();
    w.sort();
    w.dedup();
    w
}

/// The first line of every warning (and deprecation warning) Ansible printed.
fn load_warnings(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = stderr
        .lines()
        .filter_map(|l| {
            l.strip_prefix("[WARNING]: ")
                .or_else(|| l.strip_prefix("[DEPRECATION WARNING]: "))
        })
        .filter(|l| !l.starts_with("Deprecation warnings can be disabled"))
        .filter(|l| {
            !l.starts_with("Could not match supplied host pattern") && !l.starts_with("Use [x:y]")
        })
        .map(str::to_string)
        .collect();
    out.dedup();
    out
}

/// Checks that our load warnings and Ansible's correspond (ours may add the origin, Ansible may
/// add "This feature will be removed..." to deprecations).
fn check_warnings(inv: &Inventory, stderr: &str, what: &str) {
    let theirs = load_warnings(stderr);
    let matches = |a: &str, b: &str| a.starts_with(b) || b.starts_with(a);
    for t in &theirs {
        assert!(
            inv.warnings().iter().any(|o| matches(o, t)),
            "{what}: ansible warned {t:?}, we did not: {:?}",
            inv.warnings()
        );
    }
    for o in inv.warnings() {
        assert!(
            theirs.iter().any(|t| matches(o, t)),
            "{what}: we warned {o:?}, ansible did not: {theirs:?}"
        );
    }
}

fn check_list(inv: &Inventory, sources: &[String], limit: Option<&str>, what: &str) -> usize {
    let mut args = vec!["--list"];
    if let Some(l) = limit {
        args.extend(["--limit", l]);
    }
    let r = run("ansible-inventory", sources, &args);
    let ours = inv.list_json(limit);
    if !r.ok {
        assert!(
            ours.is_err(),
            "{what}: ansible failed ({}) but we returned {:?}",
            r.stderr,
            ours
        );
        let msg = ours.unwrap_err().to_string();
        let first = msg.split(" (").next().unwrap_or(&msg).to_string();
        assert!(
            r.stderr.contains(&first),
            "{what}: ansible said {:?}, we said {msg:?}",
            r.stderr
        );
        return 1;
    }
    let ours = ours.unwrap_or_else(|e| panic!("{what}: we failed where ansible succeeded: {e}"));
    assert_eq!(ours["_meta"]["profile"], "inventory_legacy", "{what}");
    let theirs: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{what}: bad JSON from ansible: {e}\n{}", r.stdout));
    assert_eq!(
        strip_profile(ours.clone()),
        strip_profile(theirs),
        "{what}: --list differs\nours:\n{}\nansible:\n{}",
        to_ansible_json(&ours),
        r.stdout
    );
    assert_eq!(
        to_ansible_json(&ours),
        r.stdout.trim_end_matches('\n'),
        "{what}: --list text differs"
    );
    if limit.is_none() {
        check_warnings(inv, &r.stderr, what);
    }
    if let Some(l) = limit {
        let sel = inv.select_limited("all", Some(l)).unwrap();
        let mut ours_w = sel.warnings.clone();
        ours_w.sort();
        assert_eq!(
            ours_w,
            pattern_warnings(&r.stderr),
            "{what}: pattern warnings differ"
        );
    }
    1
}

fn check_graph(
    inv: &Inventory,
    sources: &[String],
    group: Option<&str>,
    vars: bool,
    what: &str,
) -> usize {
    let mut args = vec!["--graph"];
    if let Some(g) = group {
        args.push(g);
    }
    if vars {
        args.push("--vars");
    }
    let r = run("ansible-inventory", sources, &args);
    assert!(r.ok, "{what}: ansible --graph failed: {}", r.stderr);
    let ours = inv
        .graph(group, vars)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        ours, r.stdout,
        "{what}: graph differs\nours:\n{ours}\nansible:\n{}",
        r.stdout
    );
    1
}

fn check_host(
    inv: &Inventory,
    sources: &[String],
    host: &str,
    ignore: &[&str],
    what: &str,
) -> usize {
    let r = run("ansible-inventory", sources, &["--host", host]);
    assert!(r.ok, "{what}: ansible --host failed: {}", r.stderr);
    let mut theirs: Value = serde_json::from_str(&r.stdout).unwrap();
    let mut ours = Value::Object(
        inv.host_vars(host)
            .unwrap_or_else(|e| panic!("{what}: {e}")),
    );
    for k in ignore {
        theirs.as_object_mut().unwrap().remove(*k);
        ours.as_object_mut().unwrap().remove(*k);
    }
    assert_eq!(ours, theirs, "{what}: --host differs");
    if ignore.is_empty() {
        assert_eq!(
            to_ansible_json(&ours),
            r.stdout.trim_end_matches('\n'),
            "{what}: --host text differs"
        );
    }
    1
}

fn list_hosts(stdout: &str) -> Vec<String> {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("hosts ("));
    lines.next();
    lines
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn check_pattern(
    inv: &Inventory,
    sources: &[String],
    pattern: &str,
    ordered: bool,
    what: &str,
) -> usize {
    let r = run("ansible", sources, &[pattern, "--list-hosts"]);
    let ours = inv.select(pattern);
    if !r.ok && !r.stderr.contains("No hosts matched, nothing to do") {
        assert!(
            ours.is_err(),
            "{what}: ansible failed ({}) but we selected {:?}",
            r.stderr,
            ours
        );
        return 1;
    }
    let sel = ours.unwrap_or_else(|e| panic!("{what}: {e}"));
    let (mut ours_h, mut theirs_h) = (sel.hosts.clone(), list_hosts(&r.stdout));
    if !ordered {
        ours_h.sort();
        theirs_h.sort();
    }
    assert_eq!(
        ours_h, theirs_h,
        "{what}: hosts differ (ansible stdout: {})",
        r.stdout
    );
    let mut w = sel.warnings.clone();
    w.sort();
    assert_eq!(w, pattern_warnings(&r.stderr), "{what}: warnings differ");
    1
}

/// `host | SUCCESS => {json}` lines of `ansible -o` output.
fn debug_results(stdout: &str) -> Vec<(String, Value)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (host, rest) = l.split_once(" | SUCCESS => ")?;
            Some((host.to_string(), serde_json::from_str(rest).ok()?))
        })
        .collect()
}

fn check_magic(inv: &Inventory, sources: &[String], hosts: &[&str], what: &str) -> usize {
    let pattern = hosts.join(",");
    let r = run(
        "ansible",
        sources,
        &[&pattern, "-m", "debug", "-a", "var=group_names", "-o"],
    );
    let results = debug_results(&r.stdout);
    assert_eq!(
        results.len(),
        hosts.len(),
        "{what}: ansible said {}",
        r.stdout
    );
    for (host, v) in results {
        let theirs: Vec<String> = serde_json::from_value(v["group_names"].clone()).unwrap();
        assert_eq!(
            inv.host_group_names(&host),
            theirs,
            "{what}: group_names of {host}"
        );
    }
    let r = run(
        "ansible",
        sources,
        &[
            hosts[0],
            "-m",
            "debug",
            "-a",
            "msg={{ groups | to_json }}",
            "-o",
        ],
    );
    let results = debug_results(&r.stdout);
    let msg = results
        .first()
        .and_then(|(_, v)| v["msg"].as_str().map(str::to_string));
    let theirs: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(&msg.unwrap_or_else(|| panic!("{what}: {}", r.stdout))).unwrap();
    let sorted = |m: std::collections::BTreeMap<String, Vec<String>>| {
        // Ansible orders hosts of groups with nested sub-groups in set order; compare members.
        m.into_iter()
            .map(|(k, mut v)| {
                v.sort();
                (k, v)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sorted(inv.groups_magic()),
        sorted(theirs),
        "{what}: groups magic variable"
    );
    2
}

/// Compares our text with what ansible-inventory prints (both fail, or the same stdout).
pub fn check_text(
    sources: &[String],
    args: &[&str],
    ours: Result<String, ansible_compat::Error>,
    what: &str,
) -> usize {
    let r = run("ansible-inventory", sources, args);
    match ours {
        Ok(text) if text.is_empty() => assert!(
            !r.ok && r.stdout.is_empty(),
            "{what}: we print nothing (exit 1), ansible printed {:?} (rc {})",
            r.stdout,
            r.rc
        ),
        Ok(text) => {
            assert!(
                r.ok,
                "{what}: ansible failed ({}) but we printed\n{text}",
                r.stderr
            );
            assert_eq!(
                text, r.stdout,
                "{what}: output differs\nours:\n{text}\nansible:\n{}",
                r.stdout
            );
        }
        Err(e) => assert!(
            !r.ok,
            "{what}: we failed ({e}) but ansible printed\n{}",
            r.stdout
        ),
    }
    1
}

pub fn check(case: Case) {
    let dir = fixtures().join(case.fixture);
    for entry in walk(&dir) {
        if entry.extension().is_some_and(|e| e == "sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let sources: Vec<String> = case
        .sources
        .iter()
        .map(|s| match s.strip_prefix("list:") {
            Some(list) => list.to_string(),
            None => dir.join(s).display().to_string(),
        })
        .collect();
    let options = LoadOptions {
        cwd: Some(sandbox().cwd.clone()),
        ..LoadOptions::default()
    };
    let inv = Inventory::load_with(&sources, &options)
        .unwrap_or_else(|e| panic!("{}: load failed: {e}", case.fixture));
    let name = case.fixture;
    let mut n = check_list(&inv, &sources, None, &format!("{name} --list"));
    for (args, format, export) in [
        (&["--list", "--yaml"][..], OutputFormat::Yaml, false),
        (&["--list", "--toml"][..], OutputFormat::Toml, false),
        (&["--list", "--export"][..], OutputFormat::Json, true),
        (
            &["--list", "--export", "--yaml"][..],
            OutputFormat::Yaml,
            true,
        ),
    ] {
        let ours = inv.list_text(None, format, export);
        n += check_text(&sources, args, ours, &format!("{name} {}", args.join(" ")));
    }
    // Variables in `host_ignore` differ for a documented reason (the implicit localhost's
    // Python interpreter), so those hosts are compared as JSON only.
    let format_hosts: &[&str] = if case.host_ignore.is_empty() {
        case.hosts
    } else {
        &[]
    };
    for (i, h) in format_hosts.iter().enumerate() {
        let formats: &[(&str, OutputFormat)] = if i == 0 {
            &[
                ("--yaml", OutputFormat::Yaml),
                ("--toml", OutputFormat::Toml),
            ]
        } else {
            &[("--yaml", OutputFormat::Yaml)]
        };
        for (flag, format) in formats {
            let ours = inv.host_text(h, *format, false);
            let args = ["--host", h, flag];
            n += check_text(&sources, &args, ours, &format!("{name} {}", args.join(" ")));
        }
    }
    for l in case.limits {
        let l = expand(&case, l);
        n += check_list(
            &inv,
            &sources,
            Some(&l),
            &format!("{name} --list --limit {l:?}"),
        );
        let ours = inv.list_text(Some(&l), OutputFormat::Yaml, false);
        let args = ["--list", "--yaml", "--limit", l.as_str()];
        n += check_text(&sources, &args, ours, &format!("{name} {}", args.join(" ")));
    }
    n += check_graph(&inv, &sources, None, false, &format!("{name} --graph"));
    if !case.no_graph_vars {
        n += check_graph(
            &inv,
            &sources,
            None,
            true,
            &format!("{name} --graph --vars"),
        );
    }
    for g in case.graph_groups {
        n += check_graph(
            &inv,
            &sources,
            Some(g),
            !case.no_graph_vars,
            &format!("{name} --graph {g}"),
        );
    }
    for h in case.hosts {
        n += check_host(
            &inv,
            &sources,
            h,
            case.host_ignore,
            &format!("{name} --host {h}"),
        );
    }
    for p in case.patterns {
        let p = expand(&case, p);
        n += check_pattern(&inv, &sources, &p, true, &format!("{name} pattern {p:?}"));
    }
    for p in case.patterns_unordered {
        let p = expand(&case, p);
        n += check_pattern(&inv, &sources, &p, false, &format!("{name} pattern {p:?}"));
    }
    if !case.magic_hosts.is_empty() {
        n += check_magic(
            &inv,
            &sources,
            case.magic_hosts,
            &format!("{name} magic variables"),
        );
    }
    eprintln!("{name}: {n} comparisons with ansible-core matched");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
