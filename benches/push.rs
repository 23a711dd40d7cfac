//! Push benchmark (not a test): N real loopback sshd nodes × 8 templated manifests.
//!
//! Prints wall times for a first push, a no-op push and a diff next to a baseline measured in
//! the same run: raw OpenSSH doing the bare transfer (per node `tar c | ssh node tar x`, all
//! nodes in parallel). Run: `cargo bench --bench push` (PODFLEET_BENCH_NODES=20 by default).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ssh::SshLab;
use common::{podfleet, write};
use templates::template;

#[path = "shared/templates.rs"]
mod templates;

const MANIFESTS: usize = 8;
const ROUNDS: usize = 3;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Per node `tar c -C rendered/<node> . | ssh node 'mkdir -p D && tar x -C D'`, all in parallel.
fn raw_openssh(lab: &SshLab, rendered: &Path, suffix: &str) -> Duration {
    let start = Instant::now();
    let children: Vec<_> = lab
        .nodes
        .iter()
        .map(|n| {
            let dest = format!("{}{suffix}", n.dir.display());
            let cmd = format!(
                "tar c -C {src} . | ssh -q -i {key} -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes -o BatchMode=yes -p {port} root@{ip} 'mkdir -p {dest} && tar x -C {dest}'",
                src = rendered.join(&n.name).display(),
                key = lab.client_key.display(),
                kh = lab.known_hosts.display(),
                port = n.port,
                ip = n.ip,
            );
            Command::new("sh").arg("-c").arg(cmd).spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "raw ssh transfer failed");
    }
    start.elapsed()
}

fn timed(dir: &Path, args: &[&str], want: i32) -> Duration {
    let start = Instant::now();
    podfleet(dir, args, &[]).expect(want);
    start.elapsed()
}

fn main() {
    let n: usize = std::env::var("PODFLEET_BENCH_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let lab = SshLab::start(n, 9);
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    let names: Vec<String> = (0..MANIFESTS).map(|i| format!("svc{i}.yaml.j2")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    write(&p.join("inventory.yaml"), &lab.inventory(&refs, ""));
    for (i, f) in names.iter().enumerate() {
        write(&p.join("manifests").join(f), &template(i));
    }
    let kh = lab.known_hosts.display().to_string();
    let forks = n.to_string();
    let common = ["-i", "inventory.yaml", "--state-dir", "state"];
    let with = |extra: &[&str]| -> Vec<String> {
        common.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let rendered = p.join("rendered");
    podfleet(
        p,
        &with(&["render", "--out", rendered.to_str().unwrap()])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &[],
    )
    .expect(0);

    let (mut raw, mut push, mut noop, mut diff) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        raw.push(raw_openssh(&lab, &rendered, &format!("-raw{round}")));
        for node in &lab.nodes {
            let _ = std::fs::remove_dir_all(&node.dir);
        }
        let push_args = with(&["push", "--known-hosts", &kh, "-f", &forks]);
        let push_args: Vec<&str> = push_args.iter().map(String::as_str).collect();
        push.push(timed(p, &push_args, 0));
        noop.push(timed(p, &push_args, 0));
        let diff_args = with(&["diff", "--known-hosts", &kh, "-f", &forks, "--exit-code"]);
        let diff_args: Vec<&str> = diff_args.iter().map(String::as_str).collect();
        diff.push(timed(p, &diff_args, 0));
    }
    let base = median(raw);
    println!(
        "push benchmark: {n} loopback sshd nodes x {MANIFESTS} templated manifests, forks {n}, median of {ROUNDS}"
    );
    println!("{:<34} {:>9} {:>9}", "operation", "wall", "vs raw");
    let row = |name: &str, d: Duration| {
        println!(
            "{:<34} {:>8.2}s {:>8.2}x",
            name,
            d.as_secs_f64(),
            d.as_secs_f64() / base.as_secs_f64()
        );
    };
    row("raw OpenSSH tar|ssh tar (baseline)", base);
    row("podfleet push (first)", median(push));
    row("podfleet push (no-op)", median(noop));
    row("podfleet diff", median(diff));
}
