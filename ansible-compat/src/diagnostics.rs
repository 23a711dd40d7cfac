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
