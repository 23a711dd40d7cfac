//! Ansible-style output: one status line per host, diffs, and the PLAY RECAP.

use std::collections::BTreeMap;

use crate::plan::diff;
use crate::store::NodeOutcome;

use super::node::NodeResult;

/// Ansible's exit code for a run: 4 if any host was unreachable, else 2 if any failed, else 0.
pub fn exit_code(results: &[NodeResult]) -> i32 {
    if results
        .iter()
        .any(|r| r.outcome == NodeOutcome::Unreachable)
    {
        4
    } else if results
        .iter()
        .any(|r| matches!(r.outcome, NodeOutcome::Failed | NodeOutcome::RolledBack))
    {
        2
    } else {
        0
    }
}

/// The line Ansible prints for a host's task result.
pub fn status_line(r: &NodeResult, color: bool) -> String {
    let paint = |code: &str, s: String| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s
        }
    };
    match r.outcome {
        NodeOutcome::Ok => paint("32", format!("ok: [{}]", r.node)),
        NodeOutcome::Changed => paint("33", format!("changed: [{}]", r.node)),
        NodeOutcome::Unreachable => paint(
            "31",
            format!(
                "fatal: [{}]: UNREACHABLE! => {}",
                r.node,
                r.message.as_deref().unwrap_or("unreachable")
            ),
        ),
        NodeOutcome::Failed => paint(
            "31",
            format!(
                "fatal: [{}]: FAILED! => {}",
                r.node,
                r.message.as_deref().unwrap_or("failed")
            ),
        ),
        NodeOutcome::Skipped => paint("36", format!("skipping: [{}]", r.node)),
        NodeOutcome::RolledBack => paint(
            "31",
            format!(
                "rolled back: [{}] => {}",
                r.node,
                r.message.as_deref().unwrap_or("health check failed")
            ),
        ),
    }
}

/// Notes about a node's directory: drift, unmanaged and stale files, other warnings.
pub fn notes(r: &NodeResult, pruning: bool) -> Vec<String> {
    let mut out: Vec<String> = r
        .notices
        .iter()
        .map(|n| format!("[{}] warning: {n}", r.node))
        .collect();
    if let Some(p) = &r.plan {
        for f in &p.drifted {
            out.push(format!(
                "[{}] drift: {}/{f} was edited on the node since podfleet wrote it",
                r.node, r.dir
            ));
        }
        for f in &p.vanished {
            out.push(format!(
                "[{}] drift: {}/{f} was deleted on the node since podfleet wrote it",
                r.node, r.dir
            ));
        }
        for c in &p.changes {
            if let crate::plan::Change::Update {
                takeover: true,
                name,
                ..
            } = c
            {
                out.push(format!(
                    "[{}] takes over {}/{name}, which podfleet did not write",
                    r.node, r.dir
                ));
            }
        }
        if !p.unmanaged.is_empty() {
            out.push(format!(
                "[{}] unmanaged (left alone): {}",
                r.node,
                p.unmanaged.join(", ")
            ));
        }
        if !p.stale.is_empty() && !pruning {
            out.push(format!(
                "[{}] no longer desired (removed with --prune): {}",
                r.node,
                p.stale.join(", ")
            ));
        }
        if !p.leftover_tmp.is_empty() {
            out.push(format!(
                "[{}] temporary files of an interrupted push (a push removes them): {}",
                r.node,
                p.leftover_tmp.join(", ")
            ));
        }
        if !p.others.is_empty() {
            out.push(format!(
                "[{}] not regular files (ignored by the kubelet): {}",
                r.node,
                p.others.join(", ")
            ));
        }
    }
    out
}

/// The diff text of a node's plan (colourised on a terminal).
pub fn node_diff(r: &NodeResult, color: bool) -> String {
    let Some(p) = &r.plan else {
        return String::new();
    };
    let d = diff::plan_diff(&r.dir, p);
    if color { diff::colorize(&d) } else { d }
}

/// The PLAY RECAP block, hosts sorted, columns as Ansible aligns them.
pub fn recap(results: &[NodeResult], color: bool) -> String {
    let mut by_host: BTreeMap<&str, &NodeResult> = BTreeMap::new();
    for r in results {
        by_host.insert(&r.node, r);
    }
    let mut out = format!("\nPLAY RECAP {}\n", "*".repeat(69));
    for (host, r) in by_host {
        let (ok, changed, unreachable, failed, skipped) = match r.outcome {
            NodeOutcome::Ok => (1, 0, 0, 0, 0),
            NodeOutcome::Changed => (1, 1, 0, 0, 0),
            NodeOutcome::Unreachable => (0, 0, 1, 0, 0),
            NodeOutcome::Failed | NodeOutcome::RolledBack => (0, 0, 0, 1, 0),
            NodeOutcome::Skipped => (0, 0, 0, 0, 1),
        };
        let name = if color {
            let code = if failed + unreachable > 0 {
                "31"
            } else if changed > 0 {
                "33"
            } else {
                "32"
            };
            format!(
                "\x1b[{code}m{host}\x1b[0m{}",
                " ".repeat(26usize.saturating_sub(host.len()))
            )
        } else {
            format!("{host:<26}")
        };
        out.push_str(&format!(
            "{name} : ok={ok:<4} changed={changed:<4} unreachable={unreachable:<4} failed={failed:<4} skipped={skipped:<4} rescued=0    ignored=0   \n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn r(node: &str, outcome: NodeOutcome) -> NodeResult {
        NodeResult {
            node: node.into(),
            outcome,
            plan: None,
            dir: "/m".into(),
            message: Some("boom".into()),
            notices: vec![],
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn recap_matches_ansible_layout() {
        let text = recap(
            &[
                r("n1", NodeOutcome::Changed),
                r("dead", NodeOutcome::Unreachable),
            ],
            false,
        );
        assert_eq!(
            text,
            "\nPLAY RECAP *********************************************************************\n\
             dead                       : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0   \n\
             n1                         : ok=1    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   \n"
        );
    }

    #[test]
    fn exit_codes_follow_ansible() {
        assert_eq!(exit_code(&[r("a", NodeOutcome::Changed)]), 0);
        assert_eq!(exit_code(&[r("a", NodeOutcome::Failed)]), 2);
        assert_eq!(
            exit_code(&[
                r("a", NodeOutcome::Failed),
                r("b", NodeOutcome::Unreachable)
            ]),
            4
        );
    }
}
