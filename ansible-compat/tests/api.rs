//! The public API beyond what `ansible-inventory` prints: variable layers, magic variables,
//! selections and string parsing.

use std::path::{Path, PathBuf};

use ansible_compat::{Inventory, LayerSource, Value, Vars, plain, to_ansible_json};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn merge(layers: &[ansible_compat::VarLayer]) -> Vars {
    let mut out = Vars::new();
    for l in layers {
        for (k, v) in &l.vars {
            out.insert(k.clone(), plain(v));
        }
    }
    out
}

#[test]
fn inventory_is_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Inventory>();
    check::<ansible_compat::Error>();
}

#[test]
fn layers_merge_to_host_vars_for_every_fixture_host() {
    for src in [
        "01-ini-basic/hosts",
        "07-vars-files/hosts",
        "08-priorities",
        "10-precedence/hosts",
        "15-types-unsafe/inventory.yml",
    ] {
        let inv = Inventory::load(&[fixture(src)]).unwrap();
        for h in inv.hosts() {
            let layers = inv.var_layers(&h).unwrap();
            assert_eq!(merge(&layers), inv.host_vars(&h).unwrap(), "{src} {h}");
        }
    }
}

#[test]
fn layer_order_follows_ansible_precedence() {
    let inv = Inventory::load(&[fixture("10-precedence/hosts")]).unwrap();
    let sources: Vec<String> = inv
        .var_layers("h1")
        .unwrap()
        .into_iter()
        .map(|l| match l.source {
            LayerSource::InventoryGroup(g) => format!("inline:{g}"),
            LayerSource::GroupVarsFile { group, path } => {
                format!(
                    "group_vars:{group}:{}",
                    path.file_name().unwrap().to_string_lossy()
                )
            }
            LayerSource::InventoryHost => "inline-host".into(),
            LayerSource::HostVarsFile { path } => {
                format!("host_vars:{}", path.file_name().unwrap().to_string_lossy())
            }
        })
        .collect();
    assert_eq!(
        sources,
        [
            "inline:all",
            "inline:web",
            "group_vars:all:all.yml",
            "group_vars:web:web.yml",
            "inline-host",
            "host_vars:h1.yml"
        ]
    );
    let vars = inv.host_vars("h1").unwrap();
    assert_eq!(vars["x"], "host-vars");
    assert_eq!(
        vars["y"], "gv-all",
        "group_vars/all beats inline [web:vars]"
    );
    assert_eq!(
        vars["d"],
        serde_json::json!({"c": 3}),
        "dicts are replaced, not merged"
    );
}

#[test]
fn priorities_and_depth() {
    let inv = Inventory::load(&[fixture("08-priorities")]).unwrap();
    assert_eq!(
        inv.host_vars("h1").unwrap()["testvar"],
        "a",
        "priority 10 beats name order"
    );
    let inv = Inventory::load(&[fixture("09-depth/hosts")]).unwrap();
    let v = inv.host_vars("h1").unwrap();
    assert_eq!(
        (v["v"].as_str(), v["g"].as_str()),
        (Some("leaf"), Some("leaf")),
        "the deepest group wins"
    );
}

#[test]
fn magic_variables_and_membership() {
    let inv = Inventory::load(&[fixture("16-patterns/hosts")]).unwrap();
    assert_eq!(inv.host_group_names("lonely"), ["ungrouped"]);
    assert_eq!(
        inv.host_group_names("web2"),
        ["app", "db", "dbx", "prod", "web"]
    );
    assert!(inv.host_group_names("nope").is_empty());
    let groups = inv.groups_magic();
    assert_eq!(groups["web"], ["web1", "web2", "web3", "web4"]);
    assert_eq!(groups["ungrouped"], ["lonely"]);
    assert_eq!(groups["all"].len(), inv.hosts().len());
    assert!(inv.group_names().windows(2).all(|w| w[0] < w[1]));
    assert!(inv.group_names().contains(&"all".to_string()));
    assert!(inv.has_host("10.0.0.1") && !inv.has_host("localhost"));
}

#[test]
fn selections() {
    let inv = Inventory::load(&[fixture("16-patterns/hosts")]).unwrap();
    let sel = inv.select("web2:web1:nope").unwrap();
    assert_eq!(sel.hosts, ["web2", "web1"]);
    assert_eq!(
        sel.warnings,
        ["Could not match supplied host pattern, ignoring: nope"]
    );
    assert_eq!(
        inv.select("!db:&web").unwrap().hosts,
        ["web1", "web3", "web4"]
    );
    assert_eq!(
        inv.select("localhost").unwrap().hosts,
        ["localhost"],
        "the implicit localhost"
    );
    assert!(
        !inv.select("all")
            .unwrap()
            .hosts
            .contains(&"localhost".to_string())
    );
    let limited = inv.select_limited("web", Some("web[0:1],db")).unwrap();
    assert_eq!(limited.hosts, ["web1", "web2"]);
    let limit_file = fixture("16-patterns/limit.txt");
    let sel = inv.select(&format!("@{}", limit_file.display())).unwrap();
    assert_eq!(sel.hosts, ["web1", "db1", "web2"]);
    let list = inv.list_json(Some("localhost")).unwrap();
    assert_eq!(
        list["_meta"]["hostvars"],
        serde_json::json!({}),
        "--limit localhost lists no host"
    );
}

#[test]
fn implicit_localhost_vars() {
    let inv = Inventory::load(&[fixture("17-localhost/hosts")]).unwrap();
    let v = inv.host_vars("localhost").unwrap();
    assert_eq!(
        Value::Object(v),
        serde_json::json!({"ansible_connection": "local", "av": 1, "gv": 2, "lv": 3})
    );
    assert!(inv.host_group_names("localhost").is_empty());
}

#[test]
fn unsafe_values() {
    let inv = Inventory::load(&[fixture("15-types-unsafe/inventory.yml")]).unwrap();
    assert_eq!(inv.host_vars("h1").unwrap()["u"], "{{ not_templated }}");
    assert_eq!(
        inv.host_vars_with_unsafe("h1").unwrap()["u"],
        serde_json::json!({"__ansible_unsafe": "{{ not_templated }}"})
    );
    assert_eq!(
        ansible_compat::unsafe_text(&serde_json::json!({"__ansible_unsafe": "x"})),
        Some("x")
    );
}

#[test]
fn string_sources() {
    let inv =
        Inventory::from_ini_str("[web]\nw[1:2] port_var=8080\n[web:vars]\nmode='0755'\n").unwrap();
    assert_eq!(inv.hosts(), ["w1", "w2"]);
    assert_eq!(inv.host_vars("w2").unwrap()["port_var"], 8080);
    assert_eq!(inv.host_vars("w2").unwrap()["mode"], "0755");
    let inv =
        Inventory::from_yaml_str("all:\n  hosts:\n    a:\n      on_off: on\n      octal: 0755\n")
            .unwrap();
    assert_eq!(
        Value::Object(inv.host_vars("a").unwrap()),
        serde_json::json!({"on_off": true, "octal": 493})
    );
    assert_eq!(
        to_ansible_json(&serde_json::json!({"b": 1.0, "a": [1e-5, "é"]})),
        "{\n    \"a\": [\n        1e-05,\n        \"é\"\n    ],\n    \"b\": 1.0\n}"
    );
    assert_eq!(ansible_compat::split_host_pattern("a:b,c"), ["a:b", "c"]);
    assert_eq!(
        ansible_compat::expand_hostname_range("n[1:3:2]").unwrap(),
        ["n1", "n3"]
    );
    assert_eq!(
        ansible_compat::literal_eval("(1, 'a')").unwrap(),
        serde_json::json!([1, "a"])
    );
}

#[test]
fn toml_text_and_output_formats() {
    let inv = Inventory::from_toml_str(
        "[web]\nchildren = [\"app\"]\nvars = { port = 80 }\n[app.hosts]\n\"a[1:2]\" = { x = \"yes\" }\n",
    )
    .unwrap();
    assert_eq!(inv.hosts(), ["a1", "a2"]);
    assert_eq!(
        inv.list_text(None, ansible_compat::OutputFormat::Yaml, false)
            .unwrap(),
        "all:\n  children:\n    web:\n      children:\n        app:\n          hosts:\n            a1:\n              port: 80\n              x: 'yes'\n            a2:\n              port: 80\n              x: 'yes'\n"
    );
    assert_eq!(
        inv.host_text("a2", ansible_compat::OutputFormat::Toml, false)
            .unwrap(),
        "port = 80\nx = \"yes\"\n"
    );
    assert!(matches!(
        inv.host_text("a*", ansible_compat::OutputFormat::Json, false),
        Err(ansible_compat::Error::UnknownHost(_))
    ));
}

#[test]
fn vault_values_decrypt_with_secrets_given_in_code() {
    // `ansible-vault encrypt_string --vault-id lab@FILE hello` with password `pw`.
    let text = "all:\n  hosts:\n    h1:\n      greeting: !vault |\n        $ANSIBLE_VAULT;1.2;AES256;lab\n        61396165613065386136336665616530666235616137623063303139666461383761393532663732\n        3330316139663266313335613935306635313031326130640a633434343532623962353438343331\n        66633235636234653465343165643536333539333363366163636337386463666432346535366337\n        3363666564356366330a363238353637303230343835306330316530316537313233636461623031\n        3838\n";
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("inv.yml");
    std::fs::write(&p, text).unwrap();
    let options = ansible_compat::LoadOptions {
        vault: ansible_compat::VaultSecrets::new().with_password("lab", "pw"),
        ..Default::default()
    };
    let inv = Inventory::load_with(&[&p], &options).unwrap();
    assert_eq!(inv.resolved_vars("h1").unwrap()["greeting"], "hello");
    assert!(
        inv.host_vars("h1").unwrap()["greeting"]["__ansible_vault"]
            .as_str()
            .unwrap()
            .starts_with("$ANSIBLE_VAULT;1.2;AES256;lab\n")
    );
    assert!(
        inv.graph(None, true)
            .unwrap()
            .contains("{greeting = hello}")
    );
}

#[test]
fn lenient_warnings_have_kinds_and_text() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("bad.ini"), "[web]\nw1 a-b=1\n[x:vars]\nk=v\n").unwrap();
    let options = ansible_compat::LoadOptions {
        cwd: Some(t.path().to_path_buf()),
        ..ansible_compat::LoadOptions::lenient()
    };
    let inv = Inventory::load_with(&["bad.ini", "missing"], &options).unwrap();
    let kinds: Vec<ansible_compat::WarningKind> =
        inv.diagnostics().iter().map(|w| w.kind).collect();
    use ansible_compat::WarningKind::{Deprecation, Warning};
    assert_eq!(kinds, [Deprecation, Warning, Warning, Warning, Warning]);
    let text = inv.warnings_text();
    assert!(text.contains("[WARNING]: Unable to parse "), "{text}");
    assert!(
        text.ends_with(
            "[WARNING]: No inventory was parsed, only implicit localhost is available\n"
        )
    );
    assert!(
        inv.hosts().is_empty(),
        "nothing parsed: the partial group is not under all"
    );
}
