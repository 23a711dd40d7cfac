//! Ansible Vault: vault secrets (passwords) and decryption of `$ANSIBLE_VAULT;1.1;AES256` and
//! `$ANSIBLE_VAULT;1.2;AES256;LABEL` data (ansible-core's `parsing/vault/__init__.py` and
//! `CLI.setup_vault_secrets`).
//!
//! The format: a header line, then hex text (wrapped at 80 columns) that unhexlifies to three
//! lines `hex(salt)`, `hex(hmac)`, `hex(ciphertext)`. PBKDF2-HMAC-SHA256 (10 000 rounds) of the
//! password and salt gives 80 bytes: the AES-256 key, the HMAC-SHA256 key and the 16-byte
//! initial counter. The HMAC of the ciphertext is checked, then AES-256-CTR decrypts it and the
//! PKCS#7 padding is removed. Every known secret is tried in order (the label in a 1.2 header
//! does not restrict which secret may decrypt it, as in Ansible's default `vault_id_match=False`).
//!
//! Password files are read as Ansible reads them: a plain file's content with surrounding
//! whitespace removed; an executable file is run and its standard output used; an executable
//! named `*-client` or `*-client.EXT` is run with `--vault-id LABEL`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::error::Error;
use crate::sources::unfrack_path;

/// The label of secrets given without one (`C.DEFAULT_VAULT_IDENTITY`).
pub const DEFAULT_VAULT_ID: &str = "default";
const HEADER: &[u8] = b"$ANSIBLE_VAULT";

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = hmac::Hmac<Sha256>;

/// The vault passwords Ansible would use, each with its vault id (label), in the order Ansible
/// tries them, plus the warnings Ansible printed while reading password files.
#[derive(Clone, Default)]
pub struct VaultSecrets {
    secrets: Vec<(String, Vec<u8>)>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for VaultSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.secrets.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("VaultSecrets")
            .field("vault_ids", &ids)
            .finish_non_exhaustive()
    }
}

/// Whether `data` is vault-encrypted (ASCII and starting with `$ANSIBLE_VAULT`).
pub fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(HEADER) && data.is_ascii()
}

fn vault_err(message: impl Into<String>) -> Error {
    Error::VaultSecret(message.into())
}

/// Python's `bytes.strip()` (ASCII whitespace) or `bytes.strip(b'\r\n')`.
fn strip(data: &[u8], chars: &[u8]) -> Vec<u8> {
    let start = data.iter().position(|b| !chars.contains(b));
    let end = data.iter().rposition(|b| !chars.contains(b));
    match (start, end) {
        (Some(s), Some(e)) => data[s..=e].to_vec(),
        _ => Vec::new(),
    }
}

const WHITESPACE: &[u8] = b" \t\n\r\x0b\x0c";

impl VaultSecrets {
    /// No secrets: vaulted data cannot be decrypted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a password under a vault id (label), tried after the ones already added.
    pub fn with_password(mut self, vault_id: &str, password: impl Into<Vec<u8>>) -> Self {
        self.secrets.push((vault_id.to_string(), password.into()));
        self
    }

    /// Reads the secrets of `ansible-inventory --vault-id ID... --vault-password-file FILE...`
    /// with `$ANSIBLE_VAULT_PASSWORD_FILE` = `env_password_file`, in Ansible's order: every
    /// `--vault-id` (`LABEL@FILE` or `FILE`), then every `--vault-password-file` (label
    /// `default`), then the environment's file. A file that cannot be read is a warning
    /// (see [`VaultSecrets::warnings`]) unless no secret at all could be read, which is the
    /// error of the last failure. `LABEL@prompt` (interactive prompts) is refused.
    pub fn from_cli(
        vault_ids: &[String],
        password_files: &[String],
        env_password_file: Option<&str>,
    ) -> Result<Self, Error> {
        let mut slugs: Vec<String> = vault_ids.to_vec();
        let mut files: Vec<String> = password_files.to_vec();
        if let Some(f) = env_password_file.filter(|f| !f.is_empty()) {
            files.push(f.to_string());
        }
        slugs.extend(files.iter().map(|f| format!("{DEFAULT_VAULT_ID}@{f}")));
        let mut out = VaultSecrets::new();
        let mut last_error: Option<Error> = None;
        let mut found = false;
        for slug in slugs {
            let (name, value) = match slug.split_once('@') {
                Some((n, v)) => (Some(n.to_string()), v.to_string()),
                None => (None, slug.clone()),
            };
            let shown = name.clone().unwrap_or_else(|| "None".into());
            if value == "prompt" || value == "prompt_ask_vault_pass" {
                return Err(vault_err(format!(
                    "vault password prompts are not supported (vault id {shown}); use a password file"
                )));
            }
            let secret = match get_file_secret(&value, name.as_deref()) {
                Ok(s) => s,
                Err(e) => {
                    out.warnings.push(format!(
                        "Error getting vault password file ({shown}): {}",
                        e.message()
                    ));
                    last_error = Some(e);
                    continue;
                }
            };
            match secret.load(&out) {
                Ok(password) => {
                    found = true;
                    let id = name.unwrap_or_else(|| DEFAULT_VAULT_ID.to_string());
                    out.secrets.push((id, password));
                }
                Err(e) => {
                    out.warnings.push(format!(
                        "Error in vault password file loading ({shown}): {}",
                        e.message()
                    ));
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) if !found => Err(e),
            _ => Ok(out),
        }
    }

    /// Whether no secret is known.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The vault ids of the known secrets, in the order they are tried.
    pub fn vault_ids(&self) -> Vec<&str> {
        self.secrets.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Warnings Ansible prints while reading the password files
    /// (`Error getting vault password file (default): ...`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Decrypts vault text (`VaultLib.decrypt`); the error is Ansible's message.
    pub fn decrypt(&self, vaulttext: &[u8]) -> Result<Vec<u8>, String> {
        if !is_encrypted(vaulttext) {
            return Err("Input is not vault encrypted data.".into());
        }
        let (ciphertext, cipher) =
            parse_envelope(vaulttext).ok_or_else(|| "Vault envelope format error.".to_string())?;
        if cipher != "AES256" {
            return Err(format!(
                "Cipher {} could not be found.",
                crate::pyrepr::str_repr(&cipher)
            ));
        }
        if self.secrets.is_empty() {
            return Err("Attempting to decrypt but no vault secrets found.".into());
        }
        let (salt, mac, body) = parse_vaulttext(&ciphertext)?;
        for (_, password) in &self.secrets {
            if let Some(plain) = decrypt_aes256(password, &salt, &mac, &body)? {
                return Ok(plain);
            }
        }
        Err("Decryption failed (no vault secrets were found that could decrypt).".into())
    }
}

/// `_parse_vaulttext_envelope`: the joined hex body and the cipher name.
fn parse_envelope(data: &[u8]) -> Option<(Vec<u8>, String)> {
    let text = std::str::from_utf8(data).ok()?;
    let mut lines = crate::ini::splitlines(text).into_iter();
    let header: Vec<&str> = lines.next()?.trim().split(';').collect();
    let cipher = header.get(2)?.trim().to_string();
    header.get(1)?;
    let body: String = lines.collect();
    Some((body.into_bytes(), cipher))
}

fn unhex(data: &[u8]) -> Result<Vec<u8>, String> {
    hex::decode(data).map_err(|_| "Vault format unhexlify error.".to_string())
}

/// `parse_vaulttext`: salt, HMAC and ciphertext.
/// Salt, hex HMAC and ciphertext of a vault body.
type Parts = (Vec<u8>, Vec<u8>, Vec<u8>);

fn parse_vaulttext(body: &[u8]) -> Result<Parts, String> {
    let inner = unhex(body)?;
    let mut parts = inner.splitn(3, |b| *b == b'\n');
    let (Some(salt), Some(mac), Some(ct)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("Vault vaulttext format error.".into());
    };
    Ok((unhex(salt)?, mac.to_vec(), unhex(ct)?))
}

/// One AES256 attempt: `Ok(None)` when the HMAC does not match (wrong password).
fn decrypt_aes256(
    password: &[u8],
    salt: &[u8],
    mac_hex: &[u8],
    ciphertext: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    let mut derived = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, 10_000, &mut derived);
    let (key1, rest) = derived.split_at(32);
    let (key2, iv) = rest.split_at(32);
    let expected = unhex(mac_hex)?;
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key2).map_err(|e| e.to_string())?;
    mac.update(ciphertext);
    if mac.verify_slice(&expected).is_err() {
        return Ok(None);
    }
    let mut data = ciphertext.to_vec();
    let mut cipher = Aes256Ctr::new_from_slices(key1, iv).map_err(|e| e.to_string())?;
    cipher.apply_keystream(&mut data);
    let pad = usize::from(*data.last().ok_or("Invalid padding bytes.")?);
    if pad == 0
        || pad > 16
        || pad > data.len()
        || !data[data.len() - pad..]
            .iter()
            .all(|b| usize::from(*b) == pad)
    {
        return Err("Invalid padding bytes.".into());
    }
    data.truncate(data.len() - pad);
    Ok(Some(data))
}

/// Where a password comes from.
enum FileSecret {
    Plain(PathBuf),
    Script(PathBuf),
    Client(PathBuf, Option<String>),
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// `get_file_vault_secret`.
fn get_file_secret(filename: &str, vault_id: Option<&str>) -> Result<FileSecret, Error> {
    let path = unfrack_path(Path::new(filename), None);
    if !path.exists() {
        return Err(vault_err(format!(
            "The vault password file {} was not found",
            path.display()
        )));
    }
    if path.is_dir() {
        return Err(vault_err(format!(
            "The vault password file provided '{}' can not be a directory",
            path.display()
        )));
    }
    if is_executable(&path) {
        let stem = Path::new(filename)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = match crate::vars_files::splitext_ext(&stem) {
            "" => stem.clone(),
            ext => stem[..stem.len() - ext.len()].to_string(),
        };
        if stem.ends_with("-client") {
            return Ok(FileSecret::Client(path, vault_id.map(str::to_string)));
        }
        return Ok(FileSecret::Script(path));
    }
    Ok(FileSecret::Plain(path))
}

impl FileSecret {
    /// Reads the password; `known` decrypts a password file that is itself vaulted.
    fn load(&self, known: &VaultSecrets) -> Result<Vec<u8>, Error> {
        match self {
            FileSecret::Plain(path) => {
                let data = std::fs::read(path).map_err(|_| {
                    vault_err(format!(
                        "Could not read vault password file '{}'.",
                        path.display()
                    ))
                })?;
                let mut pass = strip(&data, WHITESPACE);
                if is_encrypted(&pass) {
                    pass = known.decrypt(&pass).map_err(vault_err)?;
                }
                let pass = strip(&pass, b"\r\n");
                if pass.is_empty() {
                    return Err(vault_err(format!(
                        "Invalid vault password was provided from file ({})",
                        path.display()
                    )));
                }
                Ok(pass)
            }
            FileSecret::Script(path) | FileSecret::Client(path, _) => self.run(path),
        }
    }

    fn run(&self, path: &Path) -> Result<Vec<u8>, Error> {
        let client = matches!(self, FileSecret::Client(..));
        let mut cmd = Command::new(path);
        cmd.stdout(Stdio::piped());
        if let FileSecret::Client(_, Some(id)) = self {
            cmd.args(["--vault-id", id]);
        }
        if client {
            cmd.stderr(Stdio::piped());
        }
        let what = if client { "client script" } else { "script" };
        let out = cmd.output().map_err(|e| {
            vault_err(format!(
                "Problem running vault password {what} {} ({e}). If this is not a script, remove the executable bit from the file.",
                path.display()
            ))
        })?;
        let code = out.status.code().unwrap_or(-1);
        let stderr = if client {
            crate::pyrepr::bytes_repr(&out.stderr)
        } else {
            "None".into()
        };
        if let FileSecret::Client(_, id) = self {
            let id = id.clone().unwrap_or_else(|| "None".into());
            if code == 2 {
                return Err(vault_err(format!(
                    "Vault password client script {} did not find a secret for vault-id={id}: {stderr}",
                    path.display()
                )));
            }
            if code != 0 {
                return Err(vault_err(format!(
                    "Vault password client script {} returned non-zero ({code}) when getting secret for vault-id={id}: {stderr}",
                    path.display()
                )));
            }
        } else if code != 0 {
            return Err(vault_err(format!(
                "Vault password script {} returned non-zero ({code}): {stderr}",
                path.display()
            )));
        }
        let pass = strip(&out.stdout, b"\r\n");
        if pass.is_empty() {
            return Err(vault_err(format!(
                "Invalid vault password was provided from script ({})",
                path.display()
            )));
        }
        Ok(pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with `ansible-vault encrypt_string --vault-id lab@FILE` (password `pw`).
    const LABELLED: &str = "$ANSIBLE_VAULT;1.2;AES256;lab\n\
        61396165613065386136336665616530666235616137623063303139666461383761393532663732\n\
        3330316139663266313335613935306635313031326130640a633434343532623962353438343331\n\
        66633235636234653465343165643536333539333363366163636337386463666432346535366337\n\
        3363666564356366330a363238353637303230343835306330316530316537313233636461623031\n\
        3838";

    #[test]
    fn decrypts_with_any_known_secret() {
        let s = VaultSecrets::new()
            .with_password("other", "nope")
            .with_password("x", "pw");
        assert_eq!(s.decrypt(LABELLED.as_bytes()).unwrap(), b"hello");
        let wrong = VaultSecrets::new().with_password("lab", "bad");
        assert_eq!(
            wrong.decrypt(LABELLED.as_bytes()).unwrap_err(),
            "Decryption failed (no vault secrets were found that could decrypt)."
        );
        assert_eq!(
            VaultSecrets::new()
                .decrypt(LABELLED.as_bytes())
                .unwrap_err(),
            "Attempting to decrypt but no vault secrets found."
        );
        assert!(is_encrypted(LABELLED.as_bytes()) && !is_encrypted("$ANSIBLE_VAULT é".as_bytes()));
    }

    #[test]
    fn strips_like_python() {
        assert_eq!(strip(b" \tpw \n", WHITESPACE), b"pw");
        assert_eq!(strip(b"\r\n", b"\r\n"), b"");
    }
}
