//! SSH user authentication: ssh-agent identities first, then key files.
//!
//! Key files come from the inventory (`ansible_ssh_private_key_file`), then
//! `~/.ssh/config` `IdentityFile`, then OpenSSH's defaults (`id_ed25519`, `id_ecdsa`,
//! `id_rsa`). An encrypted key is decrypted after a prompt on the terminal, once per run;
//! without a terminal the error says how to use ssh-agent instead.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use russh::client::{AuthResult, Handle, Handler};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg};

use crate::transport::target::home_dir;

type KeyCache = Mutex<HashMap<PathBuf, Result<Arc<PrivateKey>, String>>>;

fn cache() -> &'static KeyCache {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// OpenSSH's default identity files that exist.
pub fn default_identities() -> Vec<PathBuf> {
    let ssh = home_dir().join(".ssh");
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| ssh.join(n))
        .filter(|p| p.exists())
        .collect()
}

/// Load (once per process) and, if needed, decrypt a private key.
fn load_key(path: &Path) -> Result<Arc<PrivateKey>, String> {
    if let Some(r) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(path) {
        return r.clone();
    }
    let result = match russh::keys::load_secret_key(path, None) {
        Ok(k) => Ok(Arc::new(k)),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            if crate::term::can_prompt() {
                crate::term::prompt_hidden(&format!(
                    "Enter passphrase for key '{}': ",
                    path.display()
                ))
                .map_err(|e| e.to_string())
                .and_then(|pass| {
                    russh::keys::load_secret_key(path, Some(&pass))
                        .map(Arc::new)
                        .map_err(|e| format!("cannot decrypt {}: {e}", path.display()))
                })
            } else {
                Err(format!(
                    "private key {} is encrypted and there is no terminal to ask for its passphrase; add it to ssh-agent (ssh-add {}) and run again",
                    path.display(),
                    path.display()
                ))
            }
        }
        Err(e) => Err(format!("cannot read private key {}: {e}", path.display())),
    };
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_path_buf(), result.clone());
    result
}

/// Every way authentication was tried, and why each failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthFailed(pub String);

/// Authenticate `user`, trying the agent and then each identity file. Returns a
/// description of every attempt on failure.
pub async fn authenticate<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    identity_files: &[PathBuf],
) -> Result<(), AuthFailed> {
    try_each(handle, user, identity_files)
        .await
        .map_err(AuthFailed)
}

async fn try_each<H: Handler>(
    handle: &mut Handle<H>,
    user: &str,
    identity_files: &[PathBuf],
) -> Result<(), String> {
    let mut tried = Vec::new();
    let rsa_hash: Option<HashAlg> = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten();
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match AgentClient::connect_env().await {
            Ok(mut agent) => {
                let ids = agent.request_identities().await.unwrap_or_default();
                for id in ids {
                    let AgentIdentity::PublicKey { key, comment } = id else {
                        continue;
                    };
                    let hash = if key.algorithm().is_rsa() {
                        rsa_hash
                    } else {
                        None
                    };
                    match handle
                        .authenticate_publickey_with(user, key, hash, &mut agent)
                        .await
                    {
                        Ok(AuthResult::Success) => return Ok(()),
                        Ok(_) => tried.push(format!("agent key {comment}")),
                        Err(e) => tried.push(format!("agent key {comment} ({e})")),
                    }
                }
            }
            Err(e) => tried.push(format!("ssh-agent ({e})")),
        }
    }
    let mut errors = Vec::new();
    for path in identity_files {
        if !path.exists() {
            errors.push(format!("{} does not exist", path.display()));
            continue;
        }
        let key = match load_key(path) {
            Ok(k) => k,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let hash = if key.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        match handle
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash))
            .await
        {
            Ok(AuthResult::Success) => return Ok(()),
            Ok(_) => tried.push(path.display().to_string()),
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    let mut msg = format!("Permission denied (publickey) for user {user}");
    if !tried.is_empty() {
        msg.push_str(&format!("; tried {}", tried.join(", ")));
    }
    if !errors.is_empty() {
        msg.push_str(&format!("; {}", errors.join("; ")));
    }
    if tried.is_empty() && errors.is_empty() {
        msg.push_str("; no ssh-agent and no key file (set ansible_ssh_private_key_file or create ~/.ssh/id_ed25519)");
    }
    Err(msg)
}
