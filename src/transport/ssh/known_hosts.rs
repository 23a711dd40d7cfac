//! Host key verification against OpenSSH `known_hosts` files.
//!
//! russh's own helper handles plain, hashed and `[host]:port` entries but not wildcard
//! patterns, negations, `@revoked` or tab-separated fields, so we match entries ourselves
//! on top of ssh-key's parser (re-exported by russh): OpenSSH semantics, OpenSSH advice.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use russh::keys::ssh_key::known_hosts::{Entry, HostPatterns, Marker};
use russh::keys::ssh_key::{HashAlg, PublicKey};
use sha1::Sha1;

use super::config::host_matches;

/// The verdict on a server's host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A matching entry has this key.
    Known,
    /// No entry for this host (with this key type).
    Unknown,
    /// An entry for this host has a different key of the same type.
    Changed {
        /// File holding the offending entry.
        file: PathBuf,
        /// 1-based line of the offending entry.
        line: usize,
    },
    /// The key is marked `@revoked`.
    Revoked {
        /// File holding the revocation.
        file: PathBuf,
        /// 1-based line.
        line: usize,
    },
}

/// The name OpenSSH looks up: `host`, or `[host]:port` for a non-default port.
pub fn lookup_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Check `key` for `host:port` against `files` (missing files are skipped).
pub fn check(files: &[PathBuf], host: &str, port: u16, key: &PublicKey) -> HostKeyStatus {
    let name = lookup_name(host, port);
    let mut changed = None;
    let mut known = false;
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let Some(entry) = parse_line(line) else {
                continue;
            };
            if !entry_matches(&entry, &name) {
                continue;
            }
            let same_key = entry.public_key().key_data() == key.key_data();
            match entry.marker() {
                Some(Marker::Revoked) if same_key => {
                    return HostKeyStatus::Revoked {
                        file: file.clone(),
                        line: n + 1,
                    };
                }
                Some(_) => continue, // @cert-authority: host certificates are not supported
                None => {}
            }
            if same_key {
                known = true;
            } else if entry.public_key().algorithm() == key.algorithm() && changed.is_none() {
                changed = Some((file.clone(), n + 1));
            }
        }
    }
    // OpenSSH: a mismatching key of the same type is a changed key even if another
    // entry matches (it warns and refuses).
    match (changed, known) {
        (Some((file, line)), _) => HostKeyStatus::Changed { file, line },
        (None, true) => HostKeyStatus::Known,
        (None, false) => HostKeyStatus::Unknown,
    }
}

fn parse_line(line: &str) -> Option<Entry> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    // ssh-key splits on single spaces; OpenSSH accepts any run of blanks.
    let normalized = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
    normalized.parse::<Entry>().ok()
}

fn entry_matches(entry: &Entry, name: &str) -> bool {
    match entry.host_patterns() {
        HostPatterns::Patterns(p) => host_matches(p, name),
        HostPatterns::HashedName { salt, hash } => {
            let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(salt) else {
                return false;
            };
            mac.update(name.as_bytes());
            mac.verify_slice(hash).is_ok()
        }
    }
}

/// Append an entry for `host:port` to `file` (accept-new), creating it 0600 if needed.
pub fn learn(file: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let line = format!(
        "{} {}\n",
        lookup_name(host, port),
        key.to_openssh().map_err(std::io::Error::other)?
    );
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    f.write_all(line.as_bytes())
}

/// `SHA256:...` fingerprint, as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Key type as OpenSSH names it in messages (`ED25519`, `ECDSA`, `RSA`).
pub fn key_kind(key: &PublicKey) -> String {
    let alg = key.algorithm().to_string();
    if alg.contains("ed25519") {
        "ED25519".into()
    } else if alg.contains("ecdsa") {
        "ECDSA".into()
    } else if alg.contains("rsa") {
        "RSA".into()
    } else {
        alg.to_uppercase()
    }
}

/// OpenSSH's warning for a changed key, with the exact command that removes the old entry.
pub fn changed_message(host: &str, port: u16, key: &PublicKey, file: &Path, line: usize) -> String {
    let name = lookup_name(host, port);
    format!(
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
         @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
         @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
         IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
         Someone could be eavesdropping on you right now (man-in-the-middle attack)!\n\
         It is also possible that a host key has just been changed.\n\
         The fingerprint for the {kind} key sent by the remote host is\n{fp}.\n\
         Offending {kind} key in {file}:{line}\n  remove with:\n  ssh-keygen -f '{file}' -R '{name}'\n\
         Host key for {name} has changed and podfleet always refuses changed keys. Nothing was written.",
        kind = key_kind(key),
        fp = fingerprint(key),
        file = file.display(),
    )
}

/// Advice for an unknown key under strict checking.
pub fn unknown_message(host: &str, port: u16, key: &PublicKey, files: &[PathBuf]) -> String {
    let name = lookup_name(host, port);
    let shown = files
        .first()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "~/.ssh/known_hosts".into());
    let port_flag = if port == 22 {
        String::new()
    } else {
        format!("-p {port} ")
    };
    format!(
        "Host key verification failed: no known host key for {name} in {shown}.\n\
         The {kind} key fingerprint is {fp}.\n\
         Verify it out of band, then add it with: ssh-keyscan {port_flag}{host} >> {shown}\n\
         or run again with --accept-new-host-keys to record keys of new hosts (StrictHostKeyChecking=accept-new). Nothing was written.",
        kind = key_kind(key),
        fp = fingerprint(key),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID1aXxFP1porS2qrN+iaO5GUk3OFx0QlG2iDo4x/msUG";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILc+ePG44qlBbubRyNFk8K0KLEiEpsJ/MzocWPPnuXcN";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("known_hosts");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn plain_port_and_wildcard_entries() {
        let (_d, p) = file(&format!(
            "# c\n[127.0.1.5]:2222 {KEY_A}\n*.example.com,!bad.example.com\t{KEY_B}\n"
        ));
        let files = vec![p.clone()];
        assert_eq!(
            check(&files, "127.0.1.5", 2222, &key(KEY_A)),
            HostKeyStatus::Known
        );
        assert_eq!(
            check(&files, "127.0.1.5", 22, &key(KEY_A)),
            HostKeyStatus::Unknown
        );
        assert_eq!(
            check(&files, "127.0.1.5", 2222, &key(KEY_B)),
            HostKeyStatus::Changed {
                file: p.clone(),
                line: 2
            }
        );
        assert_eq!(
            check(&files, "web.example.com", 22, &key(KEY_B)),
            HostKeyStatus::Known
        );
        assert_eq!(
            check(&files, "bad.example.com", 22, &key(KEY_B)),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn hashed_entries() {
        let salt = b"0123456789abcdef0123";
        let mut mac = Hmac::<Sha1>::new_from_slice(salt).unwrap();
        mac.update(b"[10.1.1.1]:2222");
        let hash = mac.finalize().into_bytes();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let (_d, p) = file(&format!("|1|{}|{} {KEY_A}\n", b64(salt), b64(&hash)));
        assert_eq!(
            check(std::slice::from_ref(&p), "10.1.1.1", 2222, &key(KEY_A)),
            HostKeyStatus::Known
        );
        assert!(matches!(
            check(&[p], "10.1.1.1", 2222, &key(KEY_B)),
            HostKeyStatus::Changed { .. }
        ));
    }

    #[test]
    fn revoked_and_learn() {
        let (_d, p) = file(&format!("@revoked * {KEY_A}\n"));
        assert!(matches!(
            check(std::slice::from_ref(&p), "x", 22, &key(KEY_A)),
            HostKeyStatus::Revoked { .. }
        ));
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("sub/kh");
        learn(&f, "127.0.1.9", 2222, &key(KEY_B)).unwrap();
        assert_eq!(
            check(&[f], "127.0.1.9", 2222, &key(KEY_B)),
            HostKeyStatus::Known
        );
    }
}
