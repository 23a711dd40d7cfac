//! podfleet against Ansible (not a test): N real loopback sshd nodes, 8 templated manifests
//! each, pushed with Ansible's `template` module (`ansible-playbook`) and with `podfleet push`,
//! then a no-op run of each. Prints the four wall times and the ratios.
//!
//! Run: `cargo bench --bench vs_ansible` (PODFLEET_BENCH_NODES=10; Ansible is slow: about
//! 10 s per node here). Needs `ansible-playbook` (tests/setup.sh installs ansible-core).

#[path = "../tests/common/mod.rs"]
mod common;

#[path = "shared/templates.rs"]
mod templates;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ssh::SshLab;
use common::{podfleet, write};
use templates::template;

const MANIFESTS: usize = 8;

fn ansible(dir: &Path, lab: &SshLab, forks: usize) -> (Duration, String) {
    let start = Instant::now();
    let out = Command::new("ansible-playbook")
        .current_dir(dir)
        .args([
            "-i",
            "inventory.yaml",
            "playbook.yml",
            "-f",
            &forks.to_string(),
        ])
        .arg("--ssh-common-args")
        .arg(format!(
            "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
            lab.known_hosts.display()
        ))
        .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("ansible-playbook is installed (tests/setup.sh)");
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "ansible-playbook failed:\n{text}");
    (took, text)
}

fn main() {
    let n: usize = std::env::var("PODFLEET_BENCH_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let lab = SshLab::start(n, 10);
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    let names: Vec<String> = (0..MANIFESTS).map(|i| format!("svc{i}.yaml.j2")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    write(&p.join("inventory.yaml"), &lab.inventory(&refs, ""));
    for (i, f) in names.iter().enumerate() {
        write(&p.join("manifests").join(f), &template(i));
    }
    // The same job for Ansible, into a sibling directory on each node.
    write(
        &p.join("playbook.yml"),
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n  - file:\n      path: \"{{{{ static_pod_path }}}}-ansible\"\n      state: directory\n      mode: '0700'\n  - template:\n      src: \"manifests/{{{{ item }}}}\"\n      dest: \"{{{{ static_pod_path }}}}-ansible/{{{{ item | regex_replace('\\\\.j2$', '') }}}}\"\n      mode: '0600'\n    loop: [{}]\n",
            names.join(", ")
        ),
    );
    let (a_first, _) = ansible(p, &lab, n);
    let (a_noop, text) = ansible(p, &lab, n);
    assert!(
        text.contains("changed=0"),
        "the second Ansible run changes nothing:\n{text}"
    );
    let kh = lab.known_hosts.display().to_string();
    let forks = n.to_string();
    let args = [
        "-i",
        "inventory.yaml",
        "--state-dir",
        "state",
        "push",
        "--known-hosts",
        &kh,
        "-f",
        &forks,
    ];
    let timed = || {
        let start = Instant::now();
        podfleet(p, &args, &[]).expect(0);
        start.elapsed()
    };
    let (p_first, p_noop) = (timed(), timed());
    // Same bytes on every node from both tools.
    for node in &lab.nodes {
        for name in &names {
            let f = name.trim_end_matches(".j2");
            let ours = std::fs::read(node.dir.join(f)).unwrap();
            let theirs =
                std::fs::read(Path::new(&format!("{}-ansible", node.dir.display())).join(f))
                    .unwrap();
            assert_eq!(
                ours, theirs,
                "{} {f}: podfleet and Ansible wrote different bytes",
                node.name
            );
        }
    }
    println!("vs Ansible: {n} loopback sshd nodes x {MANIFESTS} templated manifests, forks {n}");
    println!(
        "{:<28} {:>10} {:>10} {:>8}",
        "run", "ansible", "podfleet", "ratio"
    );
    for (name, a, b) in [("first push", a_first, p_first), ("no-op", a_noop, p_noop)] {
        println!(
            "{:<28} {:>9.2}s {:>9.2}s {:>7.1}x",
            name,
            a.as_secs_f64(),
            b.as_secs_f64(),
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
}
