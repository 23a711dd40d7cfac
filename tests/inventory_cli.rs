//! `podfleet inventory` is `ansible-inventory`: the same stdout, the same warnings on stderr and
//! the same exit code, checked against the real ansible-core for every output form and source
//! kind; and commands that change nodes refuse a partial inventory, naming the source.

mod common;

use std::path::Path;
use std::process::Command;

use common::{podfleet, write};

/// ansible-inventory's (stdout, [WARNING] lines, exit code), with its default configuration.
fn ansible(cwd: &Path, args: &[&str]) -> (String, Vec<String>, i32) {
    let out = Command::new("ansible-inventory")
        .args(args)
        .current_dir(cwd)
        .env_remove("ANSIBLE_INVENTORY")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "False")
        .output()
        .expect("ansible-inventory is installed by tests/setup.sh");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        warnings(&String::from_utf8_lossy(&out.stderr)),
        out.status.code().unwrap_or(-1),
    )
}

/// The warning lines of stderr, each joined with its continuation lines.
fn warnings(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in stderr.lines() {
        if line.starts_with("[WARNING]") || line.starts_with("[ERROR]") {
            out.push(line.trim_end().to_string());
        } else if let Some(last) = out.last_mut()
            && !line.trim().is_empty()
            && !line.starts_with("ERROR!")
        {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    out
}

fn same_as_ansible(cwd: &Path, inventory_args: &[&str], action: &[&str]) {
    let mut a_args = inventory_args.to_vec();
    a_args.extend(action);
    let want = ansible(cwd, &a_args);
    let mut p_args = inventory_args.to_vec();
    p_args.push("inventory");
    p_args.extend(action);
    let got = podfleet(cwd, &p_args, &[]);
    let got_warnings: Vec<String> = warnings(&got.stderr)
        .into_iter()
        .filter(|w| w.starts_with("[WARNING]"))
        .collect();
    let want_warnings: Vec<String> = want
        .1
        .iter()
        .filter(|w| w.starts_with("[WARNING]"))
        .cloned()
        .collect();
    assert_eq!(
        got.stdout, want.0,
        "stdout of {a_args:?}\nstderr: {}",
        got.stderr
    );
    assert_eq!(got_warnings, want_warnings, "warnings of {a_args:?}");
    assert_eq!(got.code, want.2, "exit code of {a_args:?}: {}", got.stderr);
}

fn vault_encrypt(dir: &Path, secret: &str, name: &str) -> String {
    let out = Command::new("ansible-vault")
        .args([
            "encrypt_string",
            "--vault-password-file",
            "pw.txt",
            secret,
            "--name",
            name,
        ])
        .current_dir(dir)
        .output()
        .expect("ansible-vault is part of ansible-core");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_inventory_command_is_ansible_inventory() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        &p.join("inv/hosts.ini"),
        "[web]\nw1 ansible_host=10.0.0.1 a=1\nw[2:3]\n\n[db]\nd1 ansible_pipelining=yes\n\n\
         [prod:children]\nweb\ndb\n\n[prod:vars]\nenv=prod\non=yes\n",
    );
    write(
        &p.join("inv/group_vars/web.yml"),
        "tier: front\nports: [80, 443]\n",
    );
    // Beside the playbook dir (the working directory): ansible-inventory loads these too.
    write(&p.join("group_vars/all.yml"), "from_playbook_dir: true\n");
    write(&p.join("other/host_vars/w1.yml"), "from_other_dir: 1\n");
    write(
        &p.join("fleet.toml"),
        "[edge]\nhosts = { e1 = { zone = \"a\" }, e2 = {} }\n[edge.vars]\nrole = \"edge\"\n",
    );
    write(&p.join("broken.ini"), "[web\nw1\n");
    write(&p.join("pw.txt"), "s3cret\n");
    let secret = vault_encrypt(p, "hunter2", "db_password");
    write(&p.join("vaulted/hosts.yml"), "all:\n  hosts:\n    v1:\n");
    write(&p.join("vaulted/host_vars/v1.yml"), &secret);
    write(
        &p.join("inv.sh"),
        "#!/bin/sh\necho '{\"scripted\": {\"hosts\": [\"s1\"]}, \"_meta\": {\"hostvars\": {}}}'\n",
    );
    std::fs::set_permissions(
        p.join("inv.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let ini = ["-i", "inv/hosts.ini"];
    for action in [
        &["--list"][..],
        &["--list", "--yaml"],
        &["--list", "--toml"],
        &["--list", "--export"],
        &["--list", "--limit", "web:!w2"],
        &["--graph"],
        &["--graph", "prod", "--vars"],
        &["--host", "w1"],
        &["--host", "d1", "--yaml"],
    ] {
        same_as_ansible(p, &ini, action);
    }
    same_as_ansible(
        p,
        &["-i", "inv/hosts.ini", "--playbook-dir", "other"],
        &["--host", "w1"],
    );
    // Host lists, TOML, a script named without ./, vault.
    same_as_ansible(p, &["-i", "h1,h2"], &["--list"]);
    same_as_ansible(p, &["-i", "localhost,"], &["--graph"]);
    same_as_ansible(p, &["-i", "fleet.toml"], &["--list", "--yaml"]);
    same_as_ansible(p, &["-i", "inv.sh"], &["--list"]);
    same_as_ansible(
        p,
        &["-i", "vaulted", "--vault-password-file", "pw.txt"],
        &["--host", "v1"],
    );
    // Sources that cannot be parsed: Ansible's warnings, and on with what could be parsed.
    same_as_ansible(p, &["-i", "broken.ini", "-i", "fleet.toml"], &["--graph"]);
    same_as_ansible(p, &["-i", "nosuchfile"], &["--list"]);
}

#[test]
fn commands_that_change_nodes_refuse_a_partial_inventory() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(&p.join("good.ini"), "n1 ansible_connection=local\n");
    write(&p.join("broken.ini"), "[web\nw1\n");
    std::fs::create_dir_all(p.join("manifests")).unwrap();
    let r = podfleet(p, &["-i", "good.ini", "-i", "broken.ini", "push"], &[]).expect(1);
    assert!(r.stderr.contains("broken.ini"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    // Looking at the same inventory is fine: a warning, and the part that parsed.
    let r = podfleet(
        p,
        &["-i", "good.ini", "-i", "broken.ini", "inventory", "--graph"],
        &[],
    )
    .expect(0);
    assert!(r.stdout.contains("n1"), "{}", r.stdout);
    assert!(r.stderr.contains("[WARNING]"), "{}", r.stderr);
    // A vaulted value without a password: the file and the variable are named.
    write(&p.join("pw.txt"), "s3cret\n");
    let secret = vault_encrypt(p, "hunter2", "db_password");
    write(&p.join("host_vars/n1.yml"), &secret);
    let r = podfleet(p, &["-i", "good.ini", "validate"], &[]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("n1.yml"), "{}", r.stderr);
}

#[test]
fn output_piped_into_head_ends_quietly() {
    let d = tempfile::tempdir().unwrap();
    // Far more than a pipe buffer of output.
    write(&d.path().join("hosts.ini"), "[many]\nhost-[0000:9999]\n");
    // The reader is gone (as `| head -1` exits): no panic, no "Broken pipe" message.
    let (first, out) =
        common::first_line_then_hang_up(d.path(), &["-i", "hosts.ini", "inventory", "--list"]);
    assert_eq!(first, "{\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    use std::os::unix::process::ExitStatusExt as _;
    const SIGPIPE: i32 = 13;
    assert_eq!(out.status.signal(), Some(SIGPIPE), "{:?}", out.status);
}
