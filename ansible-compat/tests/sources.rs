//! Where sources and variables come from, against the real ansible-inventory run in the same
//! working directory: scripts named without `./`, host lists, and `group_vars/`/`host_vars/`
//! of the playbook directory (`--playbook-dir`, which defaults to the working directory).
//!
//! These tests need Ansible: `pip install ansible-core==2.19.14 tomli-w==1.2.0`.

mod common;

use ansible_compat::{Inventory, LoadOptions, OutputFormat, PlaybookDir};
use common::scenario::Scenario;

const SCRIPT: &str = "#!/bin/sh\n\
if [ \"$1\" = \"--list\" ]; then\n\
  echo '{\"web\": {\"hosts\": [\"w1\", \"w2\"], \"vars\": {\"from\": \"script\"}}, \"_meta\": {\"hostvars\": {\"w1\": {\"x\": 1}}}}'\n\
else\n\
  echo '{}'\n\
fi\n";

#[test]
fn script_named_without_dot_slash_is_a_path() {
    let s = Scenario::new();
    s.script("inv.sh", SCRIPT);
    s.script("sub/inv2.sh", SCRIPT);
    for sources in [&["inv.sh"][..], &["sub/inv2.sh", "./inv.sh"][..]] {
        let inv = s.compare_list(sources, &[], &s.lenient());
        assert_eq!(inv.hosts(), ["w1", "w2"]);
        s.compare_views(&inv, sources, &[]);
        let strict = LoadOptions {
            cwd: Some(s.root.clone()),
            ..LoadOptions::default()
        };
        Inventory::load_with(sources, &strict).expect("strict loading finds the script");
    }
}

fn playbook_scenario() -> Scenario {
    let s = Scenario::new();
    s.write(
        "inv/hosts",
        "[web]\nh1 inline=1\n[db]\nd1\n[web:vars]\nx=inventory\n",
    );
    s.write("inv/group_vars/all.yml", "x: inv\ny: inv\nz: inv\n");
    s.write("inv/group_vars/web.yml", "w: invweb\nshared: [1]\n");
    s.write("inv/host_vars/h1.yml", "hv: inv\n");
    s.write("group_vars/all.yml", "y: pball\nlist: [a]\n");
    s.write("group_vars/web.yml", "x: pbweb\nw: pbweb\n");
    s.write("group_vars/db/main.yml", "d: pbdb\n");
    s.write("host_vars/h1.yml", "hv: pb\n");
    s.write("host_vars/d1", "dv: pb\n");
    s.write("other/group_vars/all.yml", "o: other\n");
    s.write("other/host_vars/h1.yaml", "hv: other\n");
    s
}

fn compare_all(s: &Scenario, options: &LoadOptions, extra: &[&str]) {
    let sources = ["inv/hosts"];
    let inv = s.compare_list(&sources, extra, options);
    s.compare_views(&inv, &sources, extra);
    for (flags, format) in [
        (&["--list", "--export"][..], OutputFormat::Json),
        (&["--list", "--export", "--toml"][..], OutputFormat::Toml),
        (&["--list", "--toml"][..], OutputFormat::Toml),
    ] {
        let mut args = flags.to_vec();
        args.extend(extra);
        let r = s.inventory(&sources, &args);
        let export = flags.contains(&"--export");
        assert_eq!(
            inv.list_text(None, format, export).unwrap(),
            r.stdout,
            "{args:?}"
        );
    }
    for h in ["h1", "d1"] {
        let mut args = vec!["--host", h, "--export", "--yaml"];
        args.extend(extra);
        let r = s.inventory(&sources, &args);
        assert_eq!(
            inv.host_text(h, OutputFormat::Yaml, true).unwrap(),
            r.stdout,
            "{args:?}"
        );
    }
}

#[test]
fn playbook_dir_defaults_to_the_working_directory() {
    let s = playbook_scenario();
    compare_all(&s, &s.lenient(), &[]);
    let inv = Inventory::load_with(&["inv/hosts"], &s.lenient()).unwrap();
    let v = inv.host_vars("h1").unwrap();
    assert_eq!(v["x"], "pbweb", "playbook group_vars beat the inventory's");
    assert_eq!(v["hv"], "pb", "playbook host_vars beat the inventory's");
    assert_eq!(v["z"], "inv");
}

#[test]
fn explicit_playbook_dir() {
    let s = playbook_scenario();
    for dir in ["other", ".", "inv"] {
        let options = LoadOptions {
            playbook_dir: PlaybookDir::Dir(dir.into()),
            ..s.lenient()
        };
        compare_all(&s, &options, &["--playbook-dir", dir]);
    }
}

#[test]
fn no_playbook_dir() {
    let s = playbook_scenario();
    let options = LoadOptions {
        playbook_dir: PlaybookDir::None,
        ..s.lenient()
    };
    let inv = Inventory::load_with(&["inv/hosts"], &options).unwrap();
    let v = inv.host_vars("h1").unwrap();
    assert_eq!(
        (&v["x"], &v["w"], &v["hv"]),
        (&"inv".into(), &"invweb".into(), &"inv".into())
    );
    assert!(!v.contains_key("list"), "no playbook group_vars/all");
}
