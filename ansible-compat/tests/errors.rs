//! Every error names the file and, where one exists, the line; messages use ansible-core's words.

use std::path::{Path, PathBuf};

use ansible_compat::{Error, Inventory};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// Loads one file and returns the error, checking it names the file and the line.
fn load_err(name: &str, text: &str, line: Option<usize>, contains: &str) -> Error {
    let t = tempfile::tempdir().unwrap();
    let p = write(t.path(), name, text);
    let err = Inventory::load(&[&p]).expect_err("expected an error");
    let msg = err.to_string();
    let location = match line {
        Some(l) => format!("{}:{l}: ", p.display()),
        None => format!("{}: ", p.display()),
    };
    assert!(
        msg.starts_with(&location),
        "{msg:?} should start with {location:?}"
    );
    assert!(
        msg.contains(contains),
        "{msg:?} should contain {contains:?}"
    );
    assert_eq!(err.path(), Some(p.as_path()));
    assert_eq!(err.line(), line);
    err
}

#[test]
fn ini_undefined_group_in_vars() {
    load_err(
        "hosts",
        "[web]\nw1\n\n[db:vars]\nx=1\n",
        Some(4),
        "Section [db:vars] not valid for undefined group 'db'.",
    );
}

#[test]
fn ini_undefined_group_in_children() {
    load_err(
        "hosts",
        "[web]\nw1\n[all_servers:children]\nweb\nmissing\n",
        Some(5),
        "Section [all_servers:children] includes undefined group 'missing'.",
    );
}

#[test]
fn ini_first_undefined_group_is_reported() {
    load_err(
        "hosts",
        "[a:children]\nx\n[b:vars]\nk=v\n",
        Some(2),
        "includes undefined group 'x'",
    );
}

#[test]
fn ini_bad_section() {
    load_err(
        "hosts",
        "h1\n[web servers]\nh2\n",
        Some(2),
        "Invalid section entry: '[web servers]'. Please make sure that there are no spaces in the section entry",
    );
}

#[test]
fn ini_unknown_section_type() {
    load_err(
        "hosts",
        "[web:hostz]\nh\n",
        Some(1),
        "Section [web:hostz] has unknown type: hostz",
    );
}

#[test]
fn ini_bad_host_line() {
    load_err(
        "inventory.ini",
        "[web]\nw1 ansible_user=core\nw2 oops\n",
        Some(3),
        "Expected key=value host variable assignment, got: oops",
    );
}

#[test]
fn ini_bad_vars_line_and_quote() {
    load_err(
        "hosts",
        "[web]\nw1\n[web:vars]\nnot an assignment\n",
        Some(4),
        "Expected key=value, got: not an assignment",
    );
    load_err(
        "hosts",
        "w1 a='unterminated\n",
        Some(1),
        "Error parsing host definition 'w1 a='unterminated': No closing quotation",
    );
}

#[test]
fn ini_host_pattern_errors() {
    load_err(
        "hosts",
        "[g]\nweb:\n",
        Some(2),
        "Invalid host pattern 'web:' supplied, ending in ':' is not allowed",
    );
    load_err(
        "hosts",
        "[g]\nweb[01:100]\n",
        Some(2),
        "host range must specify equal-length begin and end formats",
    );
    load_err(
        "hosts",
        "[g]\nweb[1:x]\n",
        Some(2),
        "invalid literal for int() with base 10: 'x'",
    );
    load_err(
        "hosts",
        "[g]\nweb[3]\n",
        Some(2),
        "host range must be begin:end or begin:end:step",
    );
}

#[test]
fn ini_group_loop() {
    load_err(
        "hosts",
        "[a:children]\nb\n[b:children]\na\n",
        Some(4),
        "creates a recursive dependency loop",
    );
}

#[test]
fn vault_encrypted_inventory_file_without_password() {
    let e = load_err(
        "secrets.yml",
        "$ANSIBLE_VAULT;1.1;AES256\n62313365396662343061393464336163383764373764613633653634306231386433626436623361\n",
        None,
        "cannot decrypt the whole file: Attempting to decrypt but no vault secrets found.",
    );
    assert!(matches!(e, Error::Vault { .. }));
}

/// Loads fine (Ansible prints the ciphertext); acting on the value needs the password, and the
/// error names the file, the line and the variable.
fn vault_value_error(name: &str, text: &str, host: Option<&str>, line: Option<usize>, var: &str) {
    let t = tempfile::tempdir().unwrap();
    let p = write(t.path(), name, text);
    let inv = Inventory::load(&[&p]).expect("vault values load without a password");
    let e = match host {
        Some(h) => {
            assert!(inv.host_vars(h).unwrap()[var]["__ansible_vault"].is_string());
            inv.resolved_vars(h).unwrap_err()
        }
        None => inv.graph(None, true).unwrap_err(),
    };
    let location = match line {
        Some(l) => format!("{}:{l}: ", p.display()),
        None => format!("{}: ", p.display()),
    };
    let msg = e.to_string();
    assert!(
        msg.starts_with(&location),
        "{msg:?} should start with {location:?}"
    );
    assert!(
        msg.contains(&format!("the vaulted value of variable '{var}'"))
            && msg.ends_with("Attempting to decrypt but no vault secrets found."),
        "{msg}"
    );
    assert!(matches!(e, Error::Vault { .. }));
}

#[test]
fn vault_value_in_inventory() {
    vault_value_error(
        "inv.yml",
        "all:\n  hosts:\n    h1:\n      password: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6231\n",
        Some("h1"),
        Some(4),
        "password",
    );
}

#[test]
fn vault_in_group_vars_file_and_value() {
    let t = tempfile::tempdir().unwrap();
    let hosts = write(t.path(), "hosts", "[web]\nw1\n[db]\nd1\n");
    let gv = write(
        t.path(),
        "group_vars/web.yml",
        "ok: 1\nsecret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6231\n",
    );
    let whole = write(
        t.path(),
        "host_vars/d1",
        "$ANSIBLE_VAULT;1.2;AES256;prod\n6231\n",
    );
    let inv =
        Inventory::load(&[&hosts]).expect("loading succeeds; the vault is reported when needed");
    // The graph without vars needs no variables.
    assert!(inv.graph(None, false).is_ok());
    assert!(inv.host_vars("w1").is_ok(), "--host prints the ciphertext");
    let e = inv.resolved_vars("w1").unwrap_err();
    assert_eq!(
        e.to_string().split(": ").next().unwrap(),
        format!("{}:2", gv.display())
    );
    assert!(matches!(e, Error::Vault { line: Some(2), .. }), "{e}");
    let e = inv.var_layers("d1").unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "{}: cannot decrypt the whole file",
            whole.display()
        )),
        "{e}"
    );
    assert!(inv.list_json(None).is_err());
    assert!(
        inv.list_json(Some("nothing-matches")).is_ok(),
        "no host needs the files"
    );
}

#[test]
fn vault_json_marker() {
    vault_value_error(
        "inv.json",
        "{\"all\": {\"vars\": {\"s\": {\"__ansible_vault\": \"$ANSIBLE_VAULT;1.1;AES256\\n31\"}}}}",
        None,
        None,
        "s",
    );
}

#[test]
fn plugin_config_file() {
    let e = load_err(
        "aws_ec2.yml",
        "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n",
        None,
        "plugin: amazon.aws.aws_ec2",
    );
    assert!(matches!(e, Error::PluginConfig { ref plugin, .. } if plugin == "amazon.aws.aws_ec2"));
}

#[test]
fn yaml_syntax_and_structure_errors() {
    load_err(
        "inv.yml",
        "all:\n  hosts:\n    h1: {a: 1\n  vars: x\n",
        Some(4),
        "YAML parsing failed",
    );
    load_err(
        "inv.yml",
        "web:\n  hosts:\n    - h1\n    - h2\n",
        Some(3),
        "Invalid \"hosts\" entry for \"web\" group, requires a dictionary, found \"<class 'ansible.module_utils._internal._datatag._AnsibleTaggedList'>\" instead.",
    );
    load_err(
        "inv.yml",
        "web:\n  hosts:\n    5:\n",
        Some(3),
        "Host pattern 5 must be a string. Enclose integers/floats in quotation marks.",
    );
    load_err(
        "inv.yml",
        "web:\n  hosts:\n    h1: [1]\n",
        Some(3),
        "Invalid data from file, expected dictionary and got:\n\n[1]",
    );
    load_err(
        "inv.yml",
        "all:\n  vars:\n    x: =\n",
        Some(3),
        "Could not determine a constructor for the tag 'tag:yaml.org,2002:value'",
    );
}

#[test]
fn group_vars_file_that_is_not_a_mapping() {
    let t = tempfile::tempdir().unwrap();
    let hosts = write(t.path(), "hosts", "[web]\nw1\n");
    let gv = write(t.path(), "group_vars/all.yml", "- a\n- b\n");
    let inv = Inventory::load(&[&hosts]).unwrap();
    let e = inv.host_vars("w1").unwrap_err();
    assert_eq!(e.path(), Some(gv.as_path()));
    assert_eq!(e.line(), Some(1));
    assert!(
        e.to_string()
            .contains("expected dicts but got a 'dict' and a 'list'"),
        "{e}"
    );
}

#[test]
fn script_failures() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let p = write(t.path(), "inv.sh", "#!/bin/sh\necho boom >&2\nexit 3\n");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = Inventory::load(&[&p]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: Inventory script returned non-zero exit code 3.",
            p.display()
        )),
        "{msg}"
    );
    assert!(msg.contains("boom"), "{msg}");
    let p = write(t.path(), "bad.sh", "#!/bin/sh\necho not json\n");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let msg = Inventory::load(&[&p]).unwrap_err().to_string();
    assert!(msg.contains("could not be parsed as JSON"), "{msg}");
}

#[test]
fn missing_source_and_limit_file() {
    let e = Inventory::load(&["/nonexistent/inventory"]).unwrap_err();
    assert!(matches!(e, Error::SourceNotFound { .. }));
    assert!(e.to_string().starts_with("/nonexistent/inventory: "));
    let inv = Inventory::from_ini_str("[web]\nw1\n").unwrap();
    let e = inv.select("@/nonexistent/limit.txt").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unable to find limit file /nonexistent/limit.txt"
    );
    let e = inv.select("web[3]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "No hosts matched the subscripted pattern 'web[3]'"
    );
    assert!(matches!(inv.host_vars("nope"), Err(Error::UnknownHost(_))));
    assert!(matches!(
        inv.graph(Some("nope"), false),
        Err(Error::UnknownGroup(_))
    ));
    assert!(matches!(inv.select("~(unclosed"), Err(Error::Pattern(_))));
}

#[test]
fn string_sources_name_themselves() {
    let e = Inventory::from_ini_str("[a b]\n").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("<string>:1: Invalid section entry"),
        "{e}"
    );
    let e = Inventory::from_yaml_str("all:\n  hosts: [x]\n").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("<string>:2: Invalid \"hosts\" entry"),
        "{e}"
    );
}
