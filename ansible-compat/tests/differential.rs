//! Property test against the real ansible-inventory: generated INI and YAML inventories (groups,
//! children, group and host variables of many types, ranges, ports, forward references and
//! undefined groups) must give the same `--list` text (and, for YAML, `--list --yaml`), or make
//! both fail. The case count is modest: every case runs ansible-core.
//!
//! These tests need Ansible: `pip install ansible-core==2.19.14 tomli-w==1.2.0`.

mod common;

use ansible_compat::{Inventory, LoadOptions, OutputFormat};
use common::ansible::{Env, run_in, sandbox};
use proptest::prelude::*;

const GROUPS: &[&str] = &["web", "db", "k8s", "edge", "all", "ungrouped"];
const HOSTS: &[&str] = &[
    "h1",
    "h2",
    "web01.example.com",
    "n[1:3]",
    "db-[a:b]",
    "h1:2222",
    "[2001:db8::1]:22",
    "10.0.0.5",
    "localhost",
];
const INI_VALUES: &[&str] = &[
    "1",
    "-2",
    "0755",
    "0x1f",
    "1.5",
    "True",
    "false",
    "yes",
    "None",
    "'quoted'",
    "\"a b\"",
    "[1,2]",
    "{'k': [1]}",
    "(1,)",
    "text",
    "a=b",
    "1e3",
    "''",
];
const VAR_NAMES: &[&str] = &["a", "b", "port", "ansible_port", "x_y", "A1", "name"];

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(items).prop_map(str::to_string)
}

/// One INI section with its lines.
fn ini_section() -> impl Strategy<Value = String> {
    let host_line = (
        pick(HOSTS),
        prop::collection::vec((pick(VAR_NAMES), pick(INI_VALUES)), 0..3),
    )
        .prop_map(|(h, vars)| {
            let vars: Vec<String> = vars.into_iter().map(|(k, v)| format!(" {k}={v}")).collect();
            format!("{h}{}", vars.concat())
        });
    prop_oneof![
        (pick(GROUPS), prop::collection::vec(host_line, 0..4))
            .prop_map(|(g, lines)| format!("[{g}]\n{}\n", lines.join("\n"))),
        (pick(GROUPS), prop::collection::vec(pick(GROUPS), 1..3))
            .prop_map(|(g, kids)| format!("[{g}:children]\n{}\n", kids.join("\n"))),
        (
            pick(GROUPS),
            prop::collection::vec((pick(VAR_NAMES), pick(INI_VALUES)), 1..4)
        )
            .prop_map(|(g, vars)| {
                let lines: Vec<String> = vars.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("[{g}:vars]\n{}\n", lines.join("\n"))
            }),
    ]
}

fn ini_inventory() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(pick(HOSTS), 0..2),
        prop::collection::vec(ini_section(), 1..6),
    )
        .prop_map(|(top, sections)| format!("{}\n{}", top.join("\n"), sections.concat()))
}

const YAML_SCALARS: &[&str] = &[
    "1",
    "0755",
    "'0755'",
    "yes",
    "'yes'",
    "~",
    "1.0e+3",
    "1e3",
    "2024-01-01",
    "\"a: b\"",
    "'it''s'",
    "text with spaces",
    "!unsafe '{{ x }}'",
    "[]",
    "{}",
    "[1, two, {k: v}]",
    "{a: [1, 2], b: null}",
    "\"tab\\there\"",
    "-1",
    ".inf",
];

fn yaml_vars(indent: usize) -> impl Strategy<Value = String> {
    prop::collection::vec((pick(VAR_NAMES), pick(YAML_SCALARS)), 1..4).prop_map(move |vars| {
        let pad = " ".repeat(indent);
        vars.iter()
            .map(|(k, v)| format!("{pad}{k}: {v}\n"))
            .collect()
    })
}

fn yaml_hosts(indent: usize) -> impl Strategy<Value = String> {
    prop::collection::vec((pick(HOSTS), prop::option::of(yaml_vars(indent + 2))), 1..4).prop_map(
        move |hosts| {
            let pad = " ".repeat(indent);
            hosts
                .into_iter()
                .map(|(h, vars)| match vars {
                    Some(v) => format!("{pad}\"{h}\":\n{v}"),
                    None => format!("{pad}\"{h}\":\n"),
                })
                .collect()
        },
    )
}

/// A group body at `indent` with optional hosts, vars and (one level of) children.
fn yaml_group(indent: usize, depth: u32) -> BoxedStrategy<String> {
    let pad = " ".repeat(indent);
    let children = if depth == 0 {
        Just(None).boxed()
    } else {
        prop::option::of(prop::collection::vec(
            (pick(GROUPS), yaml_group(indent + 4, depth - 1)),
            1..3,
        ))
        .boxed()
    };
    (
        prop::option::of(yaml_hosts(indent + 4)),
        prop::option::of(yaml_vars(indent + 4)),
        children,
    )
        .prop_map(move |(hosts, vars, kids)| {
            let mut out = String::new();
            if let Some(h) = hosts {
                out.push_str(&format!("{pad}  hosts:\n{h}"));
            }
            if let Some(v) = vars {
                out.push_str(&format!("{pad}  vars:\n{v}"));
            }
            if let Some(kids) = kids {
                out.push_str(&format!("{pad}  children:\n"));
                for (g, body) in kids {
                    out.push_str(&format!("{pad}    {g}:\n{body}"));
                }
            }
            out
        })
        .boxed()
}

fn yaml_inventory() -> impl Strategy<Value = String> {
    prop::collection::vec((pick(GROUPS), yaml_group(0, 2)), 1..4).prop_map(|groups| {
        groups
            .into_iter()
            .map(|(g, body)| format!("{g}:\n{body}"))
            .collect()
    })
}

/// Loads `text` as file `name` with both tools and compares the outputs of `formats`.
fn compare(name: &str, text: &str, formats: &[(&str, OutputFormat)]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let options = LoadOptions {
        cwd: Some(sandbox().cwd.clone()),
        ..LoadOptions::default()
    };
    let ours = Inventory::load_with(&[&path], &options);
    for (flag, format) in formats {
        let mut args = vec![
            "-i".to_string(),
            path.display().to_string(),
            "--list".into(),
        ];
        if !flag.is_empty() {
            args.push(flag.to_string());
        }
        let r = run_in(&Env::strict(), &sandbox().cwd, "ansible-inventory", &args);
        let text_ours = ours.as_ref().map_err(|e| e.to_string()).and_then(|inv| {
            inv.list_text(None, *format, false)
                .map_err(|e| e.to_string())
        });
        match text_ours {
            Ok(t) => {
                prop_assert!(r.ok, "ansible failed but we did not:\n{}\n{text}", r.stderr);
                prop_assert_eq!(t, r.stdout, "inventory:\n{}", text);
            }
            Err(e) => prop_assert!(!r.ok, "we failed ({}) but ansible did not:\n{}", e, text),
        }
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        // PROPTEST_CASES=500 for a longer hunt.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(24),
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ini_inventories_list_like_ansible(text in ini_inventory()) {
        compare("hosts", &text, &[("", OutputFormat::Json)])?;
    }

    #[test]
    fn yaml_inventories_list_like_ansible(text in yaml_inventory()) {
        compare(
            "inventory.yml",
            &text,
            &[("", OutputFormat::Json), ("--yaml", OutputFormat::Yaml)],
        )?;
    }
}
