//! A small reader for OpenSSH client configuration (`~/.ssh/config`).
//!
//! Supported: `Host` blocks with patterns (`*`, `?`, `!negation`, several per line),
//! `HostName` (with `%h`), `Port`, `User`, `IdentityFile` (several, `~` and `%d`/`%u`/`%h`
//! expanded), `UserKnownHostsFile`, `StrictHostKeyChecking`, `ConnectTimeout`, and
//! `Include` (relative to `~/.ssh`, globs not expanded). As in OpenSSH the first value
//! obtained for a keyword wins (except `IdentityFile`, which accumulates). `Match` blocks
//! are skipped, with a warning, rather than guessed.

use std::path::{Path, PathBuf};

/// The settings that apply to one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// `HostName`.
    pub hostname: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// `User`.
    pub user: Option<String>,
    /// `IdentityFile`s, in order.
    pub identity_files: Vec<PathBuf>,
    /// `UserKnownHostsFile`s.
    pub user_known_hosts_files: Vec<PathBuf>,
    /// `StrictHostKeyChecking` (lowercased).
    pub strict_host_key_checking: Option<String>,
    /// `ConnectTimeout` in seconds.
    pub connect_timeout: Option<u64>,
}

#[derive(Debug, Clone)]
struct Block {
    patterns: Vec<String>,
    is_match: bool,
    options: Vec<(String, String)>,
}

/// A parsed configuration file.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    blocks: Vec<Block>,
    /// Things we read but do not apply (e.g. `Match` blocks).
    pub warnings: Vec<String>,
}

impl SshConfig {
    /// Read `path`; a missing file is an empty configuration.
    pub fn load(path: &Path) -> SshConfig {
        let mut cfg = SshConfig::default();
        cfg.read_into(path, 0);
        cfg
    }

    /// Parse configuration text (for tests and includes).
    pub fn parse(text: &str) -> SshConfig {
        let mut cfg = SshConfig::default();
        cfg.parse_into(text, Path::new("config"), 0);
        cfg
    }

    fn read_into(&mut self, path: &Path, depth: usize) {
        if let Ok(text) = std::fs::read_to_string(path) {
            self.parse_into(&text, path, depth);
        }
    }

    fn parse_into(&mut self, text: &str, path: &Path, depth: usize) {
        if self.blocks.is_empty() {
            self.blocks.push(Block {
                patterns: vec!["*".into()],
                is_match: false,
                options: vec![],
            });
        }
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = split_keyword(line);
            let key = key.to_ascii_lowercase();
            match key.as_str() {
                "host" => self.blocks.push(Block {
                    patterns: value
                        .split_whitespace()
                        .map(|p| p.trim_matches('"').to_string())
                        .collect(),
                    is_match: false,
                    options: vec![],
                }),
                "match" => {
                    self.warnings.push(format!(
                        "{}:{}: Match blocks are not supported; ignored",
                        path.display(),
                        n + 1
                    ));
                    self.blocks.push(Block {
                        patterns: vec![],
                        is_match: true,
                        options: vec![],
                    });
                }
                "include" if depth < 8 => {
                    for inc in value.split_whitespace() {
                        let p = super::super::target::expand_tilde(inc);
                        let p = if p.is_absolute() {
                            p
                        } else {
                            super::super::target::home_dir().join(".ssh").join(p)
                        };
                        self.read_into(&p, depth + 1);
                    }
                }
                _ => {
                    if let Some(b) = self.blocks.last_mut() {
                        b.options.push((key, value.trim_matches('"').to_string()));
                    }
                }
            }
        }
    }

    /// Settings for `host` (the name given on the command line, i.e. `ansible_host`).
    pub fn lookup(&self, host: &str, local_user: &str) -> HostConfig {
        let mut out = HostConfig::default();
        for b in &self.blocks {
            if b.is_match || !host_matches(&b.patterns, host) {
                continue;
            }
            for (k, v) in &b.options {
                let expand = |s: &str| {
                    let s = s
                        .replace("%h", host)
                        .replace("%u", local_user)
                        .replace("%%", "%");
                    let home = super::super::target::home_dir();
                    super::super::target::expand_tilde(
                        &s.replace("%d", &home.display().to_string()),
                    )
                };
                match k.as_str() {
                    "hostname" if out.hostname.is_none() => {
                        out.hostname = Some(v.replace("%h", host))
                    }
                    "port" if out.port.is_none() => out.port = v.parse().ok(),
                    "user" if out.user.is_none() => out.user = Some(v.clone()),
                    "identityfile" => out.identity_files.push(expand(v)),
                    "userknownhostsfile" if out.user_known_hosts_files.is_empty() => {
                        out.user_known_hosts_files = v.split_whitespace().map(expand).collect();
                    }
                    "stricthostkeychecking" if out.strict_host_key_checking.is_none() => {
                        out.strict_host_key_checking = Some(v.to_ascii_lowercase());
                    }
                    "connecttimeout" if out.connect_timeout.is_none() => {
                        out.connect_timeout = v.parse().ok()
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

fn split_keyword(line: &str) -> (&str, &str) {
    let idx = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let key = &line[..idx];
    let rest = line[idx..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    (key, rest)
}

/// OpenSSH pattern-list semantics: any negated match excludes, else any positive match.
pub fn host_matches(patterns: &[String], host: &str) -> bool {
    let mut matched = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg, host) {
                return false;
            }
        } else if glob(p, host) {
            matched = true;
        }
    }
    matched
}

/// `*` and `?` glob, case-insensitive like OpenSSH host matching.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn rec(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') => (0..=t.len()).any(|i| rec(&p[1..], &t[i..])),
            Some(b'?') => !t.is_empty() && rec(&p[1..], &t[1..]),
            Some(c) => {
                t.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && rec(&p[1..], &t[1..])
            }
        }
    }
    rec(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_patterns_match() {
        let cfg = SshConfig::parse(
            "User global\n\nHost web-* !web-9\n  HostName %h.example.com\n  Port 2222\n  IdentityFile ~/.ssh/web\n\nHost *\n  User fallback\n  Port 22\n  IdentityFile ~/.ssh/all\n",
        );
        let c = cfg.lookup("web-1", "me");
        assert_eq!(c.hostname.as_deref(), Some("web-1.example.com"));
        assert_eq!(c.port, Some(2222));
        // A top-level option before any Host applies to all hosts and comes first.
        assert_eq!(c.user.as_deref(), Some("global"));
        assert_eq!(c.identity_files.len(), 2);
        let c = cfg.lookup("web-9", "me");
        assert_eq!(c.hostname, None);
        assert_eq!(c.port, Some(22));
    }

    #[test]
    fn equals_syntax_and_match_blocks() {
        let cfg = SshConfig::parse("Host=db\n  Port=2200\nMatch host db\n  Port 1\n");
        assert_eq!(cfg.lookup("db", "me").port, Some(2200));
        assert_eq!(cfg.warnings.len(), 1);
    }

    #[test]
    fn globbing() {
        assert!(glob("10.0.*", "10.0.1.2"));
        assert!(glob("node?", "NODE1"));
        assert!(!glob("node?", "node10"));
    }
}
