//! Warnings as ansible-core prints them on stderr.
//!
//! A warning is `[WARNING]: MESSAGE`, a deprecation `[DEPRECATION WARNING]: MESSAGE` (the first
//! one preceded by `[WARNING]: Deprecation warnings can be disabled by setting
//! `deprecation_warnings=False` in ansible.cfg.`). A message of several lines is followed by an
//! empty line. Identical messages are printed once.

use std::fmt;

/// Whether a message is a warning or a deprecation warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// `[WARNING]: ...`
    Warning,
    /// `[DEPRECATION WARNING]: ...`
    Deprecation,
}

/// One message Ansible prints while loading an inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Warning or deprecation.
    pub kind: WarningKind,
    /// The text after `[WARNING]: ` (may span several lines, without the trailing newline).
    pub message: String,
}

const DEPRECATION_HINT: &str = "[WARNING]: Deprecation warnings can be disabled by setting `deprecation_warnings=False` in ansible.cfg.\n";

impl fmt::Display for Warning {
    /// The message as printed, with its trailing newline (and the empty line after a message of
    /// several lines).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.kind {
            WarningKind::Warning => "[WARNING]: ",
            WarningKind::Deprecation => "[DEPRECATION WARNING]: ",
        };
        let end = if self.message.contains('\n') {
            "\n\n"
        } else {
            "\n"
        };
        write!(f, "{prefix}{}{end}", self.message)
    }
}

/// ansible-core's `SourceContext`: `Origin: PATH:LINE[:COL]`, then up to three source lines
/// ending at `line`, each labelled with its number, then a `^ column COL` marker, or a line of
/// `^` under the whole line when the column is unknown.
pub fn source_context(path: &std::path::Path, line: usize, col: Option<usize>) -> String {
    let origin = match col {
        Some(c) => format!("Origin: {}:{line}:{c}", path.display()),
        None => format!("Origin: {}:{line}", path.display()),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let name = match e.kind() {
                std::io::ErrorKind::NotFound => "FileNotFoundError",
                std::io::ErrorKind::PermissionDenied => "PermissionError",
                _ => "OSError",
            };
            return format!("{origin}\n\n(source not shown: {name})");
        }
    };
    if text.starts_with("$ANSIBLE_VAULT") {
        return format!("{origin}\n\n(source not shown: content encrypted)");
    }
    let lines: Vec<&str> = text.split('\n').collect();
    if line == 0 || line > lines.len() {
        return format!("{origin}\n\n(source not shown: file truncated)");
    }
    let width = line.to_string().len();
    let max_len = 120 - width - 1;
    let start = line.saturating_sub(3);
    let mut out = vec![origin, String::new()];
    let mut last = String::new();
    for (i, raw) in lines[start..line].iter().enumerate() {
        let mut l: String = raw.trim_end_matches('\r').replace('\t', " ");
        if l.chars().count() > max_len {
            l = l.chars().take(max_len - 3).collect::<String>() + "...";
        }
        let sep = if l.is_empty() { "" } else { " " };
        out.push(format!("{:>width$}{sep}{l}", start + i + 1));
        last = l;
    }
    match col {
        Some(c) if c >= 1 && c + 2 + format!("column {c}").len() <= max_len => {
            out.push(format!(
                "{} {}^ column {c}",
                " ".repeat(width),
                " ".repeat(c - 1)
            ));
        }
        Some(_) => {}
        None => out.push(format!(
            "{} {}",
            " ".repeat(width),
            "^".repeat(last.chars().count())
        )),
    }
    out.join("\n")
}

/// The stderr text Ansible prints for these warnings, in order.
pub fn render(warnings: &[Warning]) -> String {
    let mut out = String::new();
    let mut hinted = false;
    for w in warnings {
        if w.kind == WarningKind::Deprecation && !hinted {
            out.push_str(DEPRECATION_HINT);
            hinted = true;
        }
        out.push_str(&w.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let w = |kind, m: &str| Warning {
            kind,
            message: m.into(),
        };
        assert_eq!(
            render(&[
                w(WarningKind::Warning, "one"),
                w(WarningKind::Deprecation, "old"),
                w(WarningKind::Warning, "a\nb"),
                w(WarningKind::Deprecation, "older"),
            ]),
            format!(
                "[WARNING]: one\n{DEPRECATION_HINT}[DEPRECATION WARNING]: old\n[WARNING]: a\nb\n\n[DEPRECATION WARNING]: older\n"
            )
        );
    }
}
