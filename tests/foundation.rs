//! The foundation against the real Ansible: inventory parity through the CLI, rendering equal
//! to Ansible's `template` module for the example fleet, and `validate` on bad manifests.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{podfleet, write};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> String {
    let out = Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run `ansible-playbook args…` in `cwd` on the local connection; it must succeed.
fn ansible_playbook(cwd: &Path, args: &[&str]) {
    let out = Command::new("ansible-playbook")
        .current_dir(cwd)
        .args(["-c", "local", "-e"])
        .arg(format!("ansible_python_interpreter={}", python()))
        .args(args)
        .output()
        .expect("ansible-playbook is installed by tests/setup.sh");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ansible_inventory(args: &[&str], cwd: &Path) -> serde_json::Value {
    let out = Command::new("ansible-inventory")
        .args(args)
        .current_dir(cwd)
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False")
        .output()
        .expect("ansible-inventory is installed by tests/setup.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Some(m) = v.get_mut("_meta").and_then(|m| m.as_object_mut()) {
        m.remove("profile");
    }
    v
}

#[test]
fn inventory_list_matches_ansible_for_the_example_fleet_and_limits() {
    let inv = repo().join("inventory");
    let inv = inv.to_str().unwrap();
    for limit in [
        None,
        Some("control_plane"),
        Some("all:!edge2"),
        Some("cp[0:1]"),
        Some("~edge\\d"),
        Some("edge:&all"),
    ] {
        let mut args = vec!["-i", inv, "--list"];
        if let Some(l) = limit {
            args.extend(["--limit", l]);
        }
        let want = ansible_inventory(&args, &repo());
        let mut pf_args = vec!["-i", inv];
        if let Some(l) = limit {
            pf_args.extend(["-l", l]);
        }
        pf_args.extend(["inventory", "--list"]);
        let got = podfleet(&repo(), &pf_args, &[]).expect(0);
        let mut got: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
        got["_meta"].as_object_mut().unwrap().remove("profile");
        assert_eq!(got, want, "limit {limit:?}");
    }
    let want = Command::new("ansible-inventory")
        .args(["-i", inv, "--graph"])
        .output()
        .unwrap();
    let got = podfleet(&repo(), &["-i", inv, "inventory", "--graph"], &[]).expect(0);
    assert_eq!(got.stdout, String::from_utf8_lossy(&want.stdout));
}

/// Every template a host gets, rendered by Ansible's `template` module via a playbook, must be
/// byte-for-byte what `podfleet render` writes.
#[test]
fn example_fleet_renders_exactly_like_ansible_template() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("podfleet");
    let theirs = tmp.path().join("ansible");
    podfleet(&repo(), &["render", "--out", ours.to_str().unwrap()], &[]).expect(0);

    // Map each rendered file back to its template.
    let mut templates = BTreeMap::new();
    for group in std::fs::read_dir(repo().join("manifests")).unwrap() {
        let group = group.unwrap().path();
        for t in std::fs::read_dir(&group).unwrap() {
            let t = t.unwrap().path();
            let name = t
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".j2")
                .to_string();
            templates.insert(name, t);
        }
    }
    let mut plan: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut count = 0;
    for host in std::fs::read_dir(&ours).unwrap() {
        let host = host.unwrap().path();
        let h = host.file_name().unwrap().to_string_lossy().to_string();
        std::fs::create_dir_all(theirs.join(&h)).unwrap();
        for f in std::fs::read_dir(&host).unwrap() {
            let f = f.unwrap().file_name().to_string_lossy().to_string();
            let src = templates[&f].display().to_string();
            plan.entry(h.clone()).or_default().push((src, f));
            count += 1;
        }
    }
    assert!(count >= 20, "the example fleet renders {count} files");
    let vars = serde_json::json!({ "pf_files": plan, "pf_out": theirs });
    write(&tmp.path().join("vars.json"), &vars.to_string());
    write(
        &tmp.path().join("render.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - template:\n        src: \"{{ item.0 }}\"\n        dest: \"{{ pf_out }}/{{ inventory_hostname }}/{{ item.1 }}\"\n      loop: \"{{ pf_files[inventory_hostname] }}\"\n",
    );
    ansible_playbook(
        tmp.path(),
        &[
            "-i",
            repo().join("inventory").to_str().unwrap(),
            "-e",
            "@vars.json",
            "-e",
            "ansible_become=false",
            "render.yml",
        ],
    );
    for (host, files) in &plan {
        for (_, f) in files {
            let a = std::fs::read(theirs.join(host).join(f)).unwrap();
            let b = std::fs::read(ours.join(host).join(f)).unwrap();
            assert!(
                a == b,
                "{host}/{f} differs:\n--- ansible\n{}\n--- podfleet\n{}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            );
        }
    }
}

fn project(manifests: &[(&str, &str)], pods: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let list: Vec<String> = pods.iter().map(|p| format!("'{p}'")).collect();
    write(
        &tmp.path().join("hosts.ini"),
        &format!(
            "[nodes]\nn1 ansible_connection=local\nn2 ansible_connection=local\n\n[nodes:vars]\nstatic_pods=[{}]\n",
            list.join(", ")
        ),
    );
    for (name, body) in manifests {
        write(&tmp.path().join("manifests").join(name), body);
    }
    tmp
}

const GOOD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: default\nspec:\n  containers:\n  - name: web\n    image: nginx:1\n";

#[test]
fn validate_reports_every_error_with_file_and_line_and_exits_1() {
    let bad_kind = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n";
    let typo = GOOD.replace(
        "    image: nginx:1\n",
        "    image: nginx:1\n    imagee: nginx:2\n",
    );
    let secret = format!("{GOOD}  volumes:\n  - name: s\n    secret:\n      secretName: x\n");
    let p = project(
        &[
            ("good.yaml", GOOD),
            ("bad-kind.yaml", bad_kind),
            ("typo.yaml", &typo),
            ("secret.yaml.j2", &secret),
            ("undef.yaml.j2", "metadata:\n  name: {{ nope }}\n"),
        ],
        &[
            "good.yaml",
            "bad-kind.yaml",
            "typo.yaml",
            "secret.yaml.j2",
            "undef.yaml.j2",
        ],
    );
    let r = podfleet(p.path(), &["-i", "hosts.ini", "validate"], &[]).expect(1);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("bad-kind.yaml:2:"), "{all}");
    assert!(all.contains("Deployment"), "{all}");
    assert!(
        all.contains("typo.yaml:10:") && all.contains("imagee"),
        "{all}"
    );
    assert!(
        all.contains("secret.yaml.j2:11:") && all.contains("secret"),
        "{all}"
    );
    assert!(
        all.contains("nope") && all.contains("undef.yaml.j2") && all.contains(":2"),
        "{all}"
    );
    assert!(
        all.contains("n1") && all.contains("n2"),
        "names the hosts: {all}"
    );

    // Fixed, everything passes.
    let p = project(&[("good.yaml", GOOD)], &["good.yaml"]);
    let r = podfleet(p.path(), &["-i", "hosts.ini", "validate"], &[]).expect(0);
    assert!(r.stdout.contains("all valid"), "{}", r.stdout);
}

#[test]
fn two_manifests_for_one_pod_on_a_node_are_refused() {
    let p = project(&[("a.yaml", GOOD), ("b.yaml", GOOD)], &["a.yaml", "b.yaml"]);
    let r = podfleet(p.path(), &["-i", "hosts.ini", "validate"], &[]).expect(1);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("default/web") && all.contains("a.yaml") && all.contains("b.yaml"),
        "{all}"
    );
}

#[test]
fn missing_template_and_bad_inventory_are_clear_errors() {
    let p = project(&[], &["nope.yaml"]);
    let r = podfleet(p.path(), &["-i", "hosts.ini", "validate"], &[]).expect(1);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("nope.yaml"), "{all}");
    write(&p.path().join("hosts.ini"), "[a:children]\nmissing\n");
    let r = podfleet(p.path(), &["-i", "hosts.ini", "validate"], &[]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("hosts.ini"), "{}", r.stderr);

    // A YAML error in group_vars/ is the inventory's, named with file and line, and nothing
    // runs: not "2 of 2 hosts have invalid manifests", no revision, no retry file.
    let p = project(&[("web.yaml", GOOD)], &["web.yaml"]);
    write(&p.path().join("group_vars/nodes.yaml"), "foo: [unclosed\n");
    for cmd in ["validate", "diff", "push"] {
        let r = podfleet(
            p.path(),
            &["-i", "hosts.ini", "--state-dir", "state", cmd],
            &[],
        );
        assert_eq!(r.code, 1, "{cmd}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("ERROR! inventory: ")
                && r.stderr
                    .contains("group_vars/nodes.yaml:2: YAML parsing failed"),
            "{cmd}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("invalid manifests"), "{}", r.stderr);
        assert!(!r.stdout.contains("PLAY RECAP"), "{}", r.stdout);
    }
    let history = podfleet(p.path(), &["--state-dir", "state", "history"], &[]);
    assert!(!history.stdout.contains("push"), "{}", history.stdout);
}

/// Every filter podfleet offers, on dicts in their written order, unicode, floats, None and
/// booleans, rendered by Ansible's `template` module and by `podfleet render`: the same bytes.
#[test]
fn filters_render_exactly_like_ansible_template() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    write(
        &p.join("hosts.yaml"),
        "all:\n  hosts:\n    n1:\n      ansible_connection: local\n      static_pods: [filters.yaml.j2]\n      cfg:\n        zeta: 1\n        alpha: [1, 2.5, \"it's\", null, true, 1.0e-5, -0.0]\n        ünï: 日本\n        nested: {b: 1, a: {y: 2, x: 'say \"hi\"'}}\n        empty: {}\n      big: 12345678901234\n      text: \"line1\\nline2\"\n",
    );
    let template = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: filters\n  annotations:\n    repr: |\n      {{ cfg }}\n    list: |\n      {{ cfg.alpha }} {{ cfg.nested.a }}\n    to-json: |\n      {{ cfg | to_json }}\n    to-json-sorted: |\n      {{ cfg | to_json(sort_keys=True) }}\n    to-json-utf8: |\n      {{ cfg | to_json(ensure_ascii=False) }}\n    to-nice-json: |\n      {{ cfg | to_nice_json | indent(6) }}\n    to-nice-json-2: |\n      {{ cfg | to_nice_json(indent=2) | indent(6) }}\n    to-yaml: |\n      {{ cfg | to_yaml | indent(6) }}\n    to-nice-yaml: |\n      {{ cfg | to_nice_yaml | indent(6) }}\n    to-nice-yaml-2: |\n      {{ cfg | to_nice_yaml(indent=2) | indent(6) }}\n    text: |\n      {{ text | to_json }}\n    text-yaml: |\n      {{ text | to_yaml | indent(6) }}\n    b64: |\n      {{ 'hi there' | b64encode }} {{ 'aGk=' | b64decode }}\n    bool: |\n      {{ 'yes' | bool }} {{ 'off' | bool }} {{ true | bool }}\n    quote: |\n      {{ \"it's a b\" | quote }} {{ 'plain' | quote }}\n    numbers: |\n      {{ big }} {{ 0.1 + 0.2 }} {{ big | to_json }}\nspec:\n  containers:\n  - name: c\n    image: busybox:1\n";
    write(&p.join("manifests/filters.yaml.j2"), template);
    let ours = p.join("podfleet");
    podfleet(
        p,
        &[
            "-i",
            "hosts.yaml",
            "--manifests",
            "manifests",
            "render",
            "--out",
            ours.to_str().unwrap(),
        ],
        &[],
    )
    .expect(0);
    write(
        &p.join("render.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - template:\n        src: manifests/filters.yaml.j2\n        dest: \"{{ playbook_dir }}/ansible/{{ inventory_hostname }}/filters.yaml\"\n",
    );
    std::fs::create_dir_all(p.join("ansible/n1")).unwrap();
    ansible_playbook(p, &["-i", "hosts.yaml", "render.yml"]);
    let theirs = std::fs::read_to_string(p.join("ansible/n1/filters.yaml")).unwrap();
    let mine = std::fs::read_to_string(ours.join("n1/filters.yaml")).unwrap();
    if theirs != mine {
        let diff = similar::TextDiff::from_lines(&theirs, &mine)
            .unified_diff()
            .header("ansible", "podfleet")
            .to_string();
        panic!("the filters render differently:\n{diff}");
    }
}
