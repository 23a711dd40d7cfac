//! Unified diffs of a plan, formatted like `ansible-playbook --diff`.

use similar::TextDiff;

use super::{Change, NodePlan};

/// Ansible's `MAX_FILE_SIZE_FOR_DIFF`.
pub const MAX_DIFF_SIZE: usize = 104_448;

/// Unified diff with Ansible's headers and 3 lines of context.
pub fn unified(path: &str, before: Option<&[u8]>, after: Option<&[u8]>) -> String {
    for side in [before, after].into_iter().flatten() {
        if side.contains(&0) {
            return format!("diff skipped: {path} appears to be binary\n");
        }
        if side.len() > MAX_DIFF_SIZE {
            return format!("diff skipped: {path} is larger than {MAX_DIFF_SIZE} bytes\n");
        }
    }
    let a = String::from_utf8_lossy(before.unwrap_or_default());
    let b = String::from_utf8_lossy(after.unwrap_or_default());
    let old_header = if before.is_some() {
        format!("before: {path}")
    } else {
        "before".to_string()
    };
    let new_header = if after.is_some() {
        format!("after: {path}")
    } else {
        "after".to_string()
    };
    let diff = TextDiff::from_lines(a.as_ref(), b.as_ref());
    diff.unified_diff()
        .context_radius(3)
        .header(&old_header, &new_header)
        .to_string()
}

/// Ansible shows attribute-only changes as a diff of small JSON documents.
pub fn mode_diff(path: &str, from: u32, to: u32) -> String {
    let doc = |m: u32| {
        format!(
            "{{\n    \"mode\": \"{m:04o}\",\n    \"path\": {}\n}}\n",
            serde_json::Value::from(path)
        )
    };
    let (a, b) = (doc(from), doc(to));
    TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header("before", "after")
        .to_string()
}

/// The whole diff text of a node plan.
pub fn plan_diff(dir: &str, plan: &NodePlan) -> String {
    let mut out = String::new();
    for c in &plan.changes {
        let path = format!("{}/{}", dir.trim_end_matches('/'), c.name());
        match c {
            Change::Create { after, .. } => out.push_str(&unified(&path, None, Some(after))),
            Change::Update { before, after, .. } => {
                out.push_str(&unified(&path, Some(before), Some(after)))
            }
            Change::Delete { before, .. } => out.push_str(&unified(&path, Some(before), None)),
            Change::Chmod { from, to, .. } => out.push_str(&mode_diff(&path, *from, *to)),
        }
    }
    out
}

/// Colour a diff for a terminal: additions green, removals red, hunks cyan.
pub fn colorize(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len() + 64);
    for line in diff.split_inclusive('\n') {
        let color = if line.starts_with("+++") || line.starts_with("---") {
            "\x1b[1m"
        } else if line.starts_with('+') {
            "\x1b[32m"
        } else if line.starts_with('-') {
            "\x1b[31m"
        } else if line.starts_with("@@") {
            "\x1b[36m"
        } else {
            ""
        };
        if color.is_empty() {
            out.push_str(line);
        } else {
            let body = line.trim_end_matches('\n');
            out.push_str(color);
            out.push_str(body);
            out.push_str("\x1b[0m");
            if line.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_file_diff_like_ansible() {
        let d = unified("/m/a.yaml", None, Some(b"a\nb\n"));
        assert_eq!(
            d,
            "--- before\n+++ after: /m/a.yaml\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
    }

    #[test]
    fn change_diff_has_context_and_headers() {
        let before = "1\n2\n3\n4\n5\n6\n7\n8\n";
        let after = "1\n2\n3\n4\nFIVE\n6\n7\n8\n";
        let d = unified("/m/a.yaml", Some(before.as_bytes()), Some(after.as_bytes()));
        assert_eq!(
            d,
            "--- before: /m/a.yaml\n+++ after: /m/a.yaml\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn missing_newline_and_binary() {
        let d = unified("/m/a", Some(b"x"), Some(b"y"));
        assert!(d.contains("\\ No newline at end of file"), "{d}");
        assert!(unified("/m/b", Some(b"\0"), Some(b"y")).contains("binary"));
    }

    #[test]
    fn mode_only() {
        let d = mode_diff("/m/a", 0o644, 0o600);
        assert!(
            d.contains("-    \"mode\": \"0644\",\n+    \"mode\": \"0600\","),
            "{d}"
        );
    }
}
