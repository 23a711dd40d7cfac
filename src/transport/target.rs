//! Connection settings of one node, resolved from its inventory vars the way Ansible's
//! ssh connection plugin would (plus `~/.ssh/config`, applied in `ssh::config`).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

/// How to reach the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// `ansible_connection=ssh` (the default).
    Ssh,
    /// `ansible_connection=local`: this machine's filesystem.
    Local,
}

/// What to do with an unknown or changed host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Unknown and changed keys fail (OpenSSH `StrictHostKeyChecking=yes`).
    Strict,
    /// Unknown keys are recorded; changed keys still fail (`accept-new`).
    AcceptNew,
    /// Nothing is checked (`ANSIBLE_HOST_KEY_CHECKING=False`); warned about.
    Off,
}

/// Privilege escalation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BecomeMethod {
    /// `sudo -u USER`.
    Sudo,
    /// `su USER` (needs a password unless already root; uses a pty).
    Su,
}

/// `ansible_become*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    /// sudo or su.
    pub method: BecomeMethod,
    /// Target user (default root).
    pub user: String,
    /// Password, from `ansible_become_password` or `--ask-become-pass`.
    pub password: Option<String>,
}

/// Everything needed to open a connection to one node.
#[derive(Debug, Clone)]
pub struct Target {
    /// Inventory name.
    pub alias: String,
    /// ssh or local.
    pub connection: Connection,
    /// Address to connect to (`ansible_host`, else ssh_config HostName, else the alias).
    pub host: String,
    /// Port, if set by the inventory (else ssh_config, else 22).
    pub port: Option<u16>,
    /// Login user, if set by the inventory (else ssh_config, else the local user).
    pub user: Option<String>,
    /// Identity files from the inventory, tried before ssh_config and the defaults.
    pub identity_files: Vec<PathBuf>,
    /// known_hosts files from `-o UserKnownHostsFile=` in the ssh args.
    pub known_hosts_files: Vec<PathBuf>,
    /// Host key policy for this node.
    pub host_key_policy: HostKeyPolicy,
    /// Connect timeout.
    pub timeout: Duration,
    /// Privilege escalation, if any.
    pub become_: Option<Become>,
    /// Whether the user asked for the key check to be off via the inventory (for a warning).
    pub host_key_checking_disabled_by: Option<String>,
}

/// Defaults coming from the command line and environment.
#[derive(Debug, Clone)]
pub struct TargetDefaults {
    /// `--timeout` (default 10 s, Ansible's).
    pub timeout: Duration,
    /// `--accept-new-host-keys`.
    pub accept_new: bool,
    /// `ANSIBLE_HOST_KEY_CHECKING` parsed, if set.
    pub env_host_key_checking: Option<bool>,
    /// `--ask-become-pass` answer.
    pub become_password: Option<String>,
}

impl Default for TargetDefaults {
    fn default() -> Self {
        TargetDefaults {
            timeout: Duration::from_secs(10),
            accept_new: false,
            env_host_key_checking: None,
            become_password: None,
        }
    }
}

/// Why a host's variables do not say how to reach it (or cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTarget(pub String);

/// Resolve a node's connection settings from its merged vars.
pub fn from_vars(
    alias: &str,
    vars: &Map<String, Value>,
    d: &TargetDefaults,
) -> Result<Target, InvalidTarget> {
    target_of(alias, vars, d).map_err(InvalidTarget)
}

fn target_of(alias: &str, vars: &Map<String, Value>, d: &TargetDefaults) -> Result<Target, String> {
    let s = |keys: &[&str]| keys.iter().find_map(|k| vars.get(*k)).and_then(value_str);
    let connection = match s(&["ansible_connection"]).as_deref() {
        None | Some("ssh") | Some("smart") | Some("paramiko") => Connection::Ssh,
        Some("local") => Connection::Local,
        Some(other) => {
            return Err(format!(
                "host {alias}: ansible_connection={other} is not supported (use ssh or local)"
            ));
        }
    };
    let host = s(&["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| alias.to_string());
    let mut port = match keys_value(vars, &["ansible_port", "ansible_ssh_port"]) {
        None => None,
        Some(v) => Some(
            parse_port(v)
                .ok_or_else(|| format!("host {alias}: ansible_port {v} is not a port number"))?,
        ),
    };
    let mut user = s(&["ansible_user", "ansible_ssh_user"]);
    let mut identity_files: Vec<PathBuf> =
        s(&["ansible_ssh_private_key_file", "ansible_private_key_file"])
            .map(|p| vec![expand_tilde(&p)])
            .unwrap_or_default();
    let mut known_hosts_files = Vec::new();
    let mut timeout = d.timeout;
    if let Some(t) = keys_value(vars, &["ansible_ssh_timeout", "ansible_timeout"]) {
        let secs = t
            .as_u64()
            .or_else(|| t.as_str().and_then(|s| s.parse().ok()));
        timeout = Duration::from_secs(secs.ok_or_else(|| {
            format!("host {alias}: ansible_ssh_timeout {t} is not a number of seconds")
        })?);
    }
    let mut strict: Option<String> = None;
    for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        let Some(args) = s(&[key]) else { continue };
        let words = shlex::split(&args)
            .ok_or_else(|| format!("host {alias}: cannot parse {key}: unbalanced quotes"))?;
        for (opt, val) in ssh_options(&words) {
            match opt.to_ascii_lowercase().as_str() {
                "userknownhostsfile" => {
                    known_hosts_files.extend(val.split_whitespace().map(expand_tilde))
                }
                "stricthostkeychecking" => strict = Some(val.to_ascii_lowercase()),
                "port" => {
                    port = Some(
                        val.parse()
                            .map_err(|_| format!("host {alias}: {key}: bad Port {val}"))?,
                    )
                }
                "user" => user = Some(val),
                "identityfile" => identity_files.push(expand_tilde(&val)),
                "connecttimeout" => {
                    timeout =
                        Duration::from_secs(val.parse().map_err(|_| {
                            format!("host {alias}: {key}: bad ConnectTimeout {val}")
                        })?)
                }
                "proxyjump" | "proxycommand" => {
                    return Err(format!(
                        "host {alias}: {key} sets {opt}, which podfleet does not support yet; reach the node directly or use a VPN"
                    ));
                }
                // Multiplexing and other OpenSSH tuning options have no meaning for podfleet's
                // single in-process connection: ignored on purpose.
                _ => {}
            }
        }
    }
    let var_checking = keys_value(
        vars,
        &["ansible_host_key_checking", "ansible_ssh_host_key_checking"],
    )
    .map(truthy);
    let mut disabled_by = None;
    let host_key_policy = if var_checking == Some(false) {
        disabled_by = Some("ansible_host_key_checking=False".to_string());
        HostKeyPolicy::Off
    } else if var_checking.is_none() && d.env_host_key_checking == Some(false) {
        disabled_by = Some("ANSIBLE_HOST_KEY_CHECKING=False".to_string());
        HostKeyPolicy::Off
    } else if matches!(strict.as_deref(), Some("no") | Some("off")) {
        disabled_by = Some("StrictHostKeyChecking=no".to_string());
        HostKeyPolicy::Off
    } else if d.accept_new || matches!(strict.as_deref(), Some("accept-new")) {
        HostKeyPolicy::AcceptNew
    } else {
        HostKeyPolicy::Strict
    };
    let become_ = if keys_value(vars, &["ansible_become", "ansible_sudo", "ansible_su"])
        .map(truthy)
        .unwrap_or(false)
    {
        let method = match s(&["ansible_become_method"]).as_deref() {
            None | Some("sudo") => BecomeMethod::Sudo,
            Some("su") => BecomeMethod::Su,
            Some(other) => {
                return Err(format!(
                    "host {alias}: ansible_become_method={other} is not supported (use sudo or su)"
                ));
            }
        };
        Some(Become {
            method,
            user: s(&["ansible_become_user"]).unwrap_or_else(|| "root".to_string()),
            password: s(&[
                "ansible_become_password",
                "ansible_become_pass",
                "ansible_sudo_pass",
            ])
            .or_else(|| d.become_password.clone()),
        })
    } else {
        None
    };
    Ok(Target {
        alias: alias.to_string(),
        connection,
        host,
        port,
        user,
        identity_files,
        known_hosts_files,
        host_key_policy,
        timeout,
        become_,
        host_key_checking_disabled_by: disabled_by,
    })
}

fn keys_value<'a>(vars: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .find_map(|k| vars.get(*k))
        .filter(|v| !v.is_null())
}

fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_port(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Ansible's boolean coercion for strings like "False", "no", "0".
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(
            s.to_ascii_lowercase().as_str(),
            "yes" | "on" | "1" | "true" | "y" | "t"
        ),
        _ => false,
    }
}

/// Parse `-o Key=Value`, `-oKey=Value`, `-o Key Value`, `-p PORT`, `-l USER`, `-i FILE` from ssh args.
fn ssh_options(words: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut it = words.iter().peekable();
    while let Some(w) = it.next() {
        let (flag, inline) = if w.len() > 2 && w.starts_with('-') && !w.starts_with("--") {
            (&w[..2], Some(w[2..].to_string()))
        } else {
            (w.as_str(), None)
        };
        let mut arg = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "-o" => {
                if let Some(a) = arg() {
                    let (k, v) = match a.split_once('=') {
                        Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                        None => match a.split_once(char::is_whitespace) {
                            Some((k, v)) => (k.to_string(), v.trim().to_string()),
                            None => (a.clone(), String::new()),
                        },
                    };
                    out.push((k, v));
                }
            }
            "-p" => {
                if let Some(a) = arg() {
                    out.push(("Port".into(), a));
                }
            }
            "-l" => {
                if let Some(a) = arg() {
                    out.push(("User".into(), a));
                }
            }
            "-i" => {
                if let Some(a) = arg() {
                    out.push(("IdentityFile".into(), a));
                }
            }
            "-J" => {
                if let Some(a) = arg() {
                    out.push(("ProxyJump".into(), a));
                }
            }
            _ => {}
        }
    }
    out
}

/// Expand a leading `~/` with `$HOME`.
pub fn expand_tilde(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home_dir().join(rest),
        None if p == "~" => home_dir(),
        None => PathBuf::from(p),
    }
}

/// The user's home directory (`$HOME`, else the passwd entry).
pub fn home_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.dir)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The local user name (`$USER`, else the passwd entry).
pub fn local_user() -> String {
    if let Ok(u) = std::env::var("USER")
        && !u.is_empty()
    {
        return u;
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn ansible_vars_map_to_target() {
        let t = from_vars(
            "n1",
            &vars(json!({"ansible_host": "127.0.1.5", "ansible_port": "2222", "ansible_user": "core",
                "ansible_ssh_private_key_file": "/k/id", "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": "-o UserKnownHostsFile=/tmp/kh -o ControlMaster=auto -oConnectTimeout=3"})),
            &TargetDefaults::default(),
        )
        .unwrap();
        assert_eq!(t.host, "127.0.1.5");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.user.as_deref(), Some("core"));
        assert_eq!(t.identity_files, vec![PathBuf::from("/k/id")]);
        assert_eq!(t.known_hosts_files, vec![PathBuf::from("/tmp/kh")]);
        assert_eq!(t.timeout, Duration::from_secs(3));
        assert_eq!(t.host_key_policy, HostKeyPolicy::Strict);
        assert_eq!(t.connection, Connection::Ssh);
    }

    #[test]
    fn host_key_checking_sources() {
        let d = TargetDefaults {
            env_host_key_checking: Some(false),
            ..Default::default()
        };
        assert_eq!(
            from_vars("n", &vars(json!({})), &d)
                .unwrap()
                .host_key_policy,
            HostKeyPolicy::Off
        );
        // The per-host variable wins over the environment.
        let t = from_vars("n", &vars(json!({"ansible_host_key_checking": true})), &d).unwrap();
        assert_eq!(t.host_key_policy, HostKeyPolicy::Strict);
        let t = from_vars(
            "n",
            &vars(json!({"ansible_host_key_checking": "False"})),
            &TargetDefaults::default(),
        )
        .unwrap();
        assert_eq!(t.host_key_policy, HostKeyPolicy::Off);
        let d = TargetDefaults {
            accept_new: true,
            ..Default::default()
        };
        assert_eq!(
            from_vars("n", &vars(json!({})), &d)
                .unwrap()
                .host_key_policy,
            HostKeyPolicy::AcceptNew
        );
    }

    #[test]
    fn become_and_local() {
        let t = from_vars(
            "n",
            &vars(json!({"ansible_connection": "local", "ansible_become": "yes"})),
            &TargetDefaults::default(),
        )
        .unwrap();
        assert_eq!(t.connection, Connection::Local);
        assert_eq!(
            t.become_,
            Some(Become {
                method: BecomeMethod::Sudo,
                user: "root".into(),
                password: None
            })
        );
        assert!(
            from_vars(
                "n",
                &vars(json!({"ansible_become": true, "ansible_become_method": "doas"})),
                &TargetDefaults::default()
            )
            .is_err()
        );
        assert!(
            from_vars(
                "n",
                &vars(json!({"ansible_ssh_common_args": "-J bastion"})),
                &TargetDefaults::default()
            )
            .is_err()
        );
    }
}
