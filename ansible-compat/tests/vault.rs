//! Ansible Vault against the real ansible-core: files and values encrypted by the real
//! `ansible-vault`, passwords from `--vault-password-file`, `--vault-id LABEL@FILE`,
//! `$ANSIBLE_VAULT_PASSWORD_FILE`, password scripts and client scripts. `--list` and `--host`
//! print vault values as `{"__ansible_vault": CIPHERTEXT}` (`!vault |` in YAML) with or
//! without `--export`; `--graph --vars` prints them decrypted.
//!
//! These tests need Ansible: `pip install ansible-core==2.19.14 tomli-w==1.2.0`.

mod common;

use ansible_compat::{Error, Inventory, LoadOptions, OutputFormat, VaultSecrets};
use common::scenario::Scenario;

/// Runs `ansible-vault ARGS` in the scenario and returns its stdout.
fn vault(s: &Scenario, args: &[&str]) -> String {
    let r = s.run("ansible-vault", args);
    assert!(r.ok, "ansible-vault {args:?}: {}", r.stderr);
    r.stdout
}

/// A scenario with two passwords, an encrypted INI inventory (password 1), a YAML inventory
/// with inline vault values (password 1 and label `lab`/password 2) and encrypted vars files.
fn vaulted() -> Scenario {
    let s = Scenario::new();
    s.write("pw1", "secret-one\n");
    s.write("pw2", "  secret-two  \n");
    s.write(
        "enc.ini",
        "[web]\nw1 a=1\n[web:vars]\nansible_become_password=plain\n",
    );
    vault(&s, &["encrypt", "--vault-password-file", "pw1", "enc.ini"]);
    let one = vault(
        &s,
        &[
            "encrypt_string",
            "--vault-password-file",
            "pw1",
            "--name",
            "become_pw",
            "s3cr3t",
        ],
    );
    let two = vault(
        &s,
        &[
            "encrypt_string",
            "--vault-id",
            "lab@pw2",
            "--name",
            "api_token",
            "tok-123",
        ],
    );
    let indent = |t: &str| {
        t.lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    };
    s.write(
        "inline.yml",
        &format!(
            "all:\n  hosts:\n    h1:\n{}{}      other: yes\n    h2:\n  vars:\n    shared: [1]\n",
            indent(&one),
            indent(&two)
        ),
    );
    s.write("group_vars/web.yml", "gv_secret: hidden\n");
    vault(
        &s,
        &["encrypt", "--vault-id", "lab@pw2", "group_vars/web.yml"],
    );
    s.write("host_vars/h2.yml", "plain_h2: 1\n");
    s
}

fn options(s: &Scenario, ids: &[&str], files: &[&str], env: Option<&str>) -> LoadOptions {
    let abs = |v: &[&str]| -> Vec<String> {
        v.iter()
            .map(|f| match f.split_once('@') {
                Some((l, p)) => format!("{l}@{}", s.path(p).display()),
                None => s.path(f).display().to_string(),
            })
            .collect()
    };
    let env = env.map(|e| s.path(e).display().to_string());
    LoadOptions {
        vault: VaultSecrets::from_cli(&abs(ids), &abs(files), env.as_deref()).unwrap(),
        ..s.lenient()
    }
}

/// Compares every view with ansible-inventory given the same password options.
fn compare(s: &Scenario, sources: &[&str], options: &LoadOptions, args: &[&str]) -> Inventory {
    let inv = s.compare_list(sources, args, options);
    s.compare_views(&inv, sources, args);
    for (flags, format) in [
        (&["--list", "--export"][..], OutputFormat::Json),
        (&["--list", "--export", "--yaml"][..], OutputFormat::Yaml),
        (&["--list", "--toml"][..], OutputFormat::Toml),
    ] {
        let mut all = flags.to_vec();
        all.extend(args);
        let r = s.inventory(sources, &all);
        match inv.list_text(None, format, flags.contains(&"--export")) {
            Ok(text) => assert_eq!(text, r.stdout, "{all:?}"),
            Err(e) => assert!(!r.ok, "{all:?}: we failed ({e}), ansible did not"),
        }
    }
    inv
}

#[test]
fn password_file_and_vault_ids() {
    let s = vaulted();
    let abs = |f: &str| s.path(f).display().to_string();
    let (pw1, pw2) = (abs("pw1"), abs("pw2"));
    let lab2 = format!("lab@{pw2}");
    let sources = ["enc.ini", "inline.yml"];
    let inv = compare(
        &s,
        &sources,
        &options(&s, &["lab@pw2"], &["pw1"], None),
        &["--vault-id", &lab2, "--vault-password-file", &pw1],
    );
    let h1 = inv.resolved_vars("h1").unwrap();
    assert_eq!(
        (&h1["become_pw"], &h1["api_token"]),
        (&"s3cr3t".into(), &"tok-123".into())
    );
    assert_eq!(inv.resolved_vars("w1").unwrap()["gv_secret"], "hidden");
    assert!(inv.host_vars("h1").unwrap()["become_pw"]["__ansible_vault"].is_string());
    // Order does not matter for decryption; a wrong password first is skipped.
    compare(
        &s,
        &sources,
        &options(&s, &[], &["pw2", "pw1"], None),
        &["--vault-password-file", &pw2, "--vault-password-file", &pw1],
    );
}

#[test]
fn password_scripts_and_environment() {
    let mut s = vaulted();
    s.script("pw-script.sh", "#!/bin/sh\necho secret-one\n");
    s.script(
        "pw-client.sh",
        "#!/bin/sh\n[ \"$1\" = --vault-id ] && [ \"$2\" = lab ] && echo secret-two && exit 0\nexit 2\n",
    );
    let script = s.path("pw-script.sh").display().to_string();
    let client = format!("lab@{}", s.path("pw-client.sh").display());
    compare(
        &s,
        &["enc.ini", "inline.yml"],
        &options(&s, &["pw-script.sh", "lab@pw-client.sh"], &[], None),
        &["--vault-id", &script, "--vault-id", &client],
    );
    s.env.vars.push((
        "ANSIBLE_VAULT_PASSWORD_FILE".into(),
        s.path("pw1").display().to_string(),
    ));
    let lab2 = format!("lab@{}", s.path("pw2").display());
    compare(
        &s,
        &["enc.ini"],
        &options(&s, &["lab@pw2"], &[], Some("pw1")),
        &["--vault-id", &lab2],
    );
    // Without the password of group_vars/web.yml, ansible-inventory fails as soon as it needs
    // the variables of a host in `web`; so does this crate.
    let r = s.inventory(&["enc.ini"], &["--list"]);
    assert!(
        !r.ok && r.stderr.contains("Decryption failed"),
        "{}",
        r.stderr
    );
    let inv = Inventory::load_with(&["enc.ini"], &options(&s, &[], &[], Some("pw1"))).unwrap();
    let e = inv.list_json(None).unwrap_err();
    assert!(e.to_string().contains("group_vars/web.yml"), "{e}");
}

#[test]
fn without_the_right_password() {
    let s = vaulted();
    // Inline values: --list and --host show the ciphertext; --graph --vars cannot decrypt.
    let inv = compare(&s, &["inline.yml"], &s.lenient(), &[]);
    assert!(inv.graph(None, true).is_err());
    let e = inv.resolved_vars("h1").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("{}:4: ", s.path("inline.yml").display()))
            && msg.contains("variable 'become_pw'")
            && msg.ends_with("Attempting to decrypt but no vault secrets found."),
        "{msg}"
    );
    let pw2 = s.path("pw2").display().to_string();
    let inv = compare(
        &s,
        &["inline.yml"],
        &options(&s, &[], &["pw2"], None),
        &["--vault-password-file", &pw2],
    );
    assert!(
        inv.resolved_vars("h1")
            .unwrap_err()
            .to_string()
            .ends_with("Decryption failed (no vault secrets were found that could decrypt).")
    );
    // A vaulted inventory file cannot be read: Ansible's warnings in lenient mode, an error
    // naming the file in strict mode.
    s.compare_list(&["enc.ini", "inline.yml"], &[], &s.lenient());
    let strict = LoadOptions {
        cwd: Some(s.root.clone()),
        ..LoadOptions::default()
    };
    let e = Inventory::load_with(&["enc.ini"], &strict).unwrap_err();
    assert!(matches!(e, Error::Vault { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with(&s.path("enc.ini").display().to_string())
    );
}

#[test]
fn unreadable_password_files() {
    let s = vaulted();
    let pw1 = s.path("pw1").display().to_string();
    let missing = s.path("missing").display().to_string();
    let nolabel = s.path("missing2").display().to_string();
    s.write("empty-pw", "\n");
    let empty = s.path("empty-pw").display().to_string();
    let lab2 = format!("lab@{}", s.path("pw2").display());
    compare(
        &s,
        &["enc.ini"],
        &options(
            &s,
            &["missing2", "lab@pw2"],
            &["missing", "empty-pw", "pw1"],
            None,
        ),
        &[
            "--vault-id",
            &nolabel,
            "--vault-id",
            &lab2,
            "--vault-password-file",
            &missing,
            "--vault-password-file",
            &empty,
            "--vault-password-file",
            &pw1,
        ],
    );
    // No password file at all is usable: Ansible fails, and so does reading the secrets.
    let r = s.inventory(&["enc.ini"], &["--list", "--vault-password-file", &missing]);
    assert!(!r.ok);
    let e = VaultSecrets::from_cli(&[], std::slice::from_ref(&missing), None).unwrap_err();
    assert!(r.stderr.contains(&e.to_string()), "{e} vs {}", r.stderr);
}
