//! The `ssh` transport on russh: one connection per node, a channel per command.
//!
//! Connection settings follow Ansible's ssh plugin (inventory vars) layered over
//! `~/.ssh/config`; host keys are verified against known_hosts with OpenSSH's rules and
//! OpenSSH's advice; privilege escalation wraps the remote `sh` in `sudo` or `su`.

pub mod auth;
pub mod config;
pub mod known_hosts;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::PublicKeyOrCertificate;
use tokio::sync::OnceCell;

use super::scripts::sh_quote;
use super::target::{home_dir, local_user};
use super::{Become, BecomeMethod, ExecOutput, HostKeyPolicy, Target, Transport, TransportError};
use config::SshConfig;
use known_hosts::HostKeyStatus;

/// Settings shared by every connection of a run.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// `--known-hosts FILE`: replaces the default user known_hosts file.
    pub known_hosts: Option<PathBuf>,
    /// Parsed `~/.ssh/config` (or `$PODFLEET_SSH_CONFIG`).
    pub ssh_config: Arc<SshConfig>,
}

impl Default for SshOptions {
    fn default() -> Self {
        let path = std::env::var_os("PODFLEET_SSH_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| home_dir().join(".ssh").join("config"));
        SshOptions {
            known_hosts: None,
            ssh_config: Arc::new(SshConfig::load(&path)),
        }
    }
}

/// What the host-key callback concluded, reported after the handshake.
#[derive(Default)]
struct Verdict {
    error: Option<String>,
    warning: Option<String>,
}

struct Client {
    host: String,
    port: u16,
    policy: HostKeyPolicy,
    files: Vec<PathBuf>,
    learn_file: PathBuf,
    verdict: Arc<Mutex<Verdict>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let mut v = self.verdict.lock().unwrap_or_else(|e| e.into_inner());
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                if self.policy == HostKeyPolicy::Off {
                    return Ok(true);
                }
                v.error = Some("the server presented a host certificate; @cert-authority trust is not supported, add the host's plain key to known_hosts".into());
                return Ok(false);
            }
        };
        if self.policy == HostKeyPolicy::Off {
            // As OpenSSH with StrictHostKeyChecking=no: connect, but say loudly that the
            // key no longer matches what known_hosts recorded.
            if let HostKeyStatus::Changed { file, line } =
                known_hosts::check(&self.files, &self.host, self.port, key)
            {
                v.warning = Some(format!(
                    "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for {} ({} now, {}:{line} recorded another key); \
                     connecting anyway because host key checking is off",
                    known_hosts::lookup_name(&self.host, self.port),
                    known_hosts::key_kind(key),
                    file.display()
                ));
            }
            return Ok(true);
        }
        match known_hosts::check(&self.files, &self.host, self.port, key) {
            HostKeyStatus::Known => Ok(true),
            HostKeyStatus::Changed { file, line } => {
                v.error = Some(known_hosts::changed_message(
                    &self.host, self.port, key, &file, line,
                ));
                Ok(false)
            }
            HostKeyStatus::Revoked { file, line } => {
                v.error = Some(format!(
                    "the host key for {} is marked @revoked in {}:{}; refusing to connect",
                    known_hosts::lookup_name(&self.host, self.port),
                    file.display(),
                    line
                ));
                Ok(false)
            }
            HostKeyStatus::Unknown if self.policy == HostKeyPolicy::AcceptNew => {
                match known_hosts::learn(&self.learn_file, &self.host, self.port, key) {
                    Ok(()) => {
                        v.warning = Some(format!(
                            "Permanently added '{}' ({}) to the list of known hosts ({}).",
                            known_hosts::lookup_name(&self.host, self.port),
                            known_hosts::key_kind(key),
                            self.learn_file.display()
                        ));
                        Ok(true)
                    }
                    Err(e) => {
                        v.error = Some(format!(
                            "cannot record the new host key in {}: {e}",
                            self.learn_file.display()
                        ));
                        Ok(false)
                    }
                }
            }
            HostKeyStatus::Unknown => {
                v.error = Some(known_hosts::unknown_message(
                    &self.host,
                    self.port,
                    key,
                    &self.files,
                ));
                Ok(false)
            }
        }
    }
}

/// An authenticated SSH connection to one node.
pub struct SshTransport {
    handle: Handle<Client>,
    alias: String,
    login_user: String,
    become_: Option<Become>,
    sudo_needs_password: OnceCell<bool>,
    /// Messages worth showing the user (e.g. a host key was recorded).
    pub notices: Vec<String>,
}

impl SshTransport {
    /// Connect, verify the host key and authenticate, within the target's timeout.
    pub async fn connect(
        target: &Target,
        opts: &SshOptions,
    ) -> Result<SshTransport, TransportError> {
        let me = local_user();
        let conf = opts.ssh_config.lookup(&target.host, &me);
        let host = conf.hostname.clone().unwrap_or_else(|| target.host.clone());
        let port = target.port.or(conf.port).unwrap_or(22);
        let user = target.user.clone().or(conf.user.clone()).unwrap_or(me);
        let mut identities = target.identity_files.clone();
        identities.extend(conf.identity_files.iter().cloned());
        if identities.is_empty() {
            identities = auth::default_identities();
        }
        let user_files: Vec<PathBuf> = if let Some(k) = &opts.known_hosts {
            vec![k.clone()]
        } else if !target.known_hosts_files.is_empty() {
            target.known_hosts_files.clone()
        } else if !conf.user_known_hosts_files.is_empty() {
            conf.user_known_hosts_files.clone()
        } else {
            vec![home_dir().join(".ssh").join("known_hosts")]
        };
        let mut files = user_files.clone();
        files.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
        let mut policy = target.host_key_policy;
        if policy == HostKeyPolicy::Strict
            && conf.strict_host_key_checking.as_deref() == Some("accept-new")
        {
            policy = HostKeyPolicy::AcceptNew;
        }
        let timeout = conf
            .connect_timeout
            .filter(|_| target.timeout == Duration::from_secs(10))
            .map(Duration::from_secs)
            .unwrap_or(target.timeout);
        let verdict = Arc::new(Mutex::new(Verdict::default()));
        let handler = Client {
            host: host.clone(),
            port,
            policy,
            files,
            learn_file: user_files[0].clone(),
            verdict: verdict.clone(),
        };
        let config = Arc::new(client::Config {
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        });
        let alias = target.alias.clone();
        let addr = format!("{host}:{port}");
        let connect = async {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| {
                TransportError::Unreachable(format!("Failed to connect to the host via ssh: connect to host {host} port {port}: {}", io_reason(&e)))
            })?;
            let _ = stream.set_nodelay(true);
            let mut handle = match client::connect_stream(config, stream, handler).await {
                Ok(h) => h,
                Err(e) => {
                    let v = verdict.lock().unwrap_or_else(|e| e.into_inner());
                    return Err(match &v.error {
                        Some(msg) => TransportError::Failed(msg.clone()),
                        None => TransportError::Unreachable(format!(
                            "SSH handshake with {addr} failed: {e}"
                        )),
                    });
                }
            };
            auth::authenticate(&mut handle, &user, &identities)
                .await
                .map_err(|e| TransportError::Unreachable(format!("{e} (connecting to {addr})")))?;
            Ok(handle)
        };
        let handle = match tokio::time::timeout(timeout, connect).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(TransportError::Unreachable(format!(
                    "Failed to connect to the host via ssh: connect to host {host} port {port}: timed out after {}s",
                    timeout.as_secs()
                )));
            }
        };
        let mut notices = Vec::new();
        if let Some(w) = verdict
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .warning
            .take()
        {
            notices.push(w);
        }
        if let Some(by) = &target.host_key_checking_disabled_by {
            notices.push(format!("host key checking is off for {alias} ({by}); the connection is not protected against impersonation"));
        }
        Ok(SshTransport {
            handle,
            alias,
            login_user: user,
            become_: target.become_.clone(),
            sudo_needs_password: OnceCell::new(),
            notices,
        })
    }

    /// Run a command with optional stdin; optionally on a pty answering one password prompt.
    async fn exec(
        &self,
        command: &str,
        stdin: &[u8],
        pty_password: Option<&str>,
    ) -> Result<ExecOutput, TransportError> {
        Ok(self.exec_then(command, stdin, pty_password, None).await?.0)
    }

    /// Like `exec`; with `then`, stdin stays open after `stdin`, which must end by printing
    /// `\n<token> <status>\n`. When that marker arrives, the output so far is handed to the
    /// continuation and the script it returns is fed to the same shell (one remote process for
    /// two dependent steps). Returns the final output and, if the marker came, the first one.
    async fn exec_then(
        &self,
        command: &str,
        stdin: &[u8],
        pty_password: Option<&str>,
        mut then: Option<(&str, &mut Continuation<'_>)>,
    ) -> Result<(ExecOutput, Option<ExecOutput>), TransportError> {
        let lost = |e: russh::Error| {
            TransportError::Unreachable(format!("connection to {} lost: {e}", self.alias))
        };
        let ch = self.handle.channel_open_session().await.map_err(lost)?;
        if pty_password.is_some() {
            ch.request_pty(false, "dumb", 200, 24, 0, 0, &[])
                .await
                .map_err(lost)?;
        }
        ch.exec(true, command).await.map_err(lost)?;
        // Read and write concurrently: russh queues window adjustments on the read side, so a
        // large stdin written without draining it stalls the whole session.
        let (mut rx, tx) = ch.split();
        let session = then.is_some();
        // The continuation goes through the write side too: sending it from the read loop
        // would stop draining the read side, which is where russh handles window adjustments.
        let (next_tx, mut next_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let mut next_tx = Some(next_tx);
        let send = async {
            if !stdin.is_empty() {
                tx.data(stdin).await?;
            }
            if pty_password.is_none() && !session {
                tx.eof().await?;
            }
            if session {
                while let Some(script) = next_rx.recv().await {
                    tx.data(&script[..]).await?;
                }
                tx.eof().await?;
            }
            Ok::<(), russh::Error>(())
        };
        let mut out = ExecOutput {
            status: -1,
            ..Default::default()
        };
        let mut got_status = false;
        let mut first = None;
        let mut scanned = 0;
        let receive = async {
            let mut answered = pty_password.is_none();
            while let Some(msg) = rx.wait().await {
                match msg {
                    ChannelMsg::Data { data } => {
                        out.stdout.extend_from_slice(&data);
                        if let Some((token, next)) = then.as_mut()
                            && let Some(step) = split_marker(&mut out, token, &mut scanned)
                        {
                            let script = next(&step).unwrap_or_else(|| "exit 0\n".to_string());
                            if let Some(q) = next_tx.take() {
                                // The write side ends (EOF) once this sender is gone.
                                let _ = q.send(script.into_bytes());
                            }
                            first = Some(step);
                            then = None;
                        }
                        if !answered {
                            let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
                            if text.trim_end().ends_with(':') && text.contains("assword") {
                                let pw = format!("{}\n", pty_password.unwrap_or_default());
                                tx.data(pw.as_bytes()).await?;
                                answered = true;
                                out.stdout.clear();
                            }
                        }
                    }
                    ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => {
                        out.status = exit_status as i32;
                        got_status = true;
                    }
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        out.stderr.extend_from_slice(
                            format!("killed by signal {signal_name:?}").as_bytes(),
                        );
                        got_status = true;
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            Ok::<(), russh::Error>(())
        };
        // The read side decides when we are done: a dead connection ends it even while the
        // write side still waits for window space that will never come.
        let (sent, received) = {
            let (mut send, mut receive) = (std::pin::pin!(send), std::pin::pin!(receive));
            let mut sent = None;
            let received = loop {
                tokio::select! {
                    r = &mut send, if sent.is_none() => sent = Some(r),
                    r = &mut receive => break r,
                }
            };
            (sent, received)
        };
        received.map_err(lost)?;
        // A failed write after the command exited (it stopped reading stdin) is not an error.
        if let Some(Err(e)) = sent
            && !got_status
        {
            return Err(lost(e));
        }
        if !got_status {
            return Err(TransportError::Unreachable(format!(
                "connection to {} closed before the command finished",
                self.alias
            )));
        }
        Ok((out, first))
    }

    async fn sudo_password_needed(&self, b: &Become) -> Result<bool, TransportError> {
        self.sudo_needs_password
            .get_or_try_init(|| async {
                let probe = self
                    .exec(
                        &format!("sudo -n -u {} -- true", sh_quote(&b.user)),
                        b"",
                        None,
                    )
                    .await?;
                Ok(probe.status != 0)
            })
            .await
            .copied()
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "Connection refused".into(),
        std::io::ErrorKind::TimedOut => "Connection timed out".into(),
        _ => e.to_string(),
    }
}

/// The continuation of a two-step script (see `SshTransport::exec_then`).
type Continuation<'a> = crate::transport::NextStep<'a>;
use crate::transport::NextStep;

/// If `out.stdout` holds the complete marker line `\n<token> <status>\n`, cut the first step's
/// output off `out` and return it with that status. `scanned` remembers how far earlier calls
/// looked, so a large output is searched once, not once per chunk.
fn split_marker(out: &mut ExecOutput, token: &str, scanned: &mut usize) -> Option<ExecOutput> {
    let needle = format!("\n{token} ");
    let from = scanned.saturating_sub(needle.len() + 16);
    let Some(found) = out.stdout[from..]
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
    else {
        *scanned = out.stdout.len();
        return None;
    };
    let at = from + found;
    let rest = &out.stdout[at + needle.len()..];
    let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
        // The status has not fully arrived yet: look here again next time.
        *scanned = at;
        return None;
    };
    let status = String::from_utf8_lossy(&rest[..nl])
        .trim()
        .parse()
        .unwrap_or(-1);
    let after = rest[nl + 1..].to_vec();
    out.stdout.truncate(at);
    *scanned = 0;
    let step = ExecOutput {
        status,
        stdout: std::mem::replace(&mut out.stdout, after),
        stderr: std::mem::take(&mut out.stderr),
    };
    Some(step)
}

#[async_trait]
impl Transport for SshTransport {
    fn notices(&self) -> Vec<String> {
        self.notices.clone()
    }

    async fn run_script_then(
        &self,
        first: &str,
        then: &mut NextStep<'_>,
    ) -> Result<(ExecOutput, Option<ExecOutput>), TransportError> {
        // One shell for both steps where no password dialogue is involved.
        let command = match self.become_.as_ref().filter(|b| b.user != self.login_user) {
            None => "sh -s".to_string(),
            Some(b) if b.method == BecomeMethod::Sudo && !self.sudo_password_needed(b).await? => {
                format!("sudo -n -u {} -- sh -s", sh_quote(&b.user))
            }
            Some(_) => return crate::transport::two_steps(self, first, then).await,
        };
        let mut token = [0u8; 12];
        getrandom::fill(&mut token).map_err(|e| TransportError::Failed(e.to_string()))?;
        let token = format!("PODFLEET_STEP_{}", hex::encode(token));
        let script = format!("(\n{first}\n)\nprintf '\\n%s %s\\n' {token} $?\n");
        let mut continued = false;
        let mut next = |out: &ExecOutput| -> Option<String> {
            let s = then(out);
            continued = s.is_some();
            s
        };
        let (last, first_out) = self
            .exec_then(&command, script.as_bytes(), None, Some((&token, &mut next)))
            .await?;
        Ok(match first_out {
            Some(f) if continued => (f, Some(last)),
            Some(f) => (f, None),
            None => (last, None),
        })
    }

    async fn run_script(&self, script: &str) -> Result<ExecOutput, TransportError> {
        let Some(b) = self.become_.as_ref().filter(|b| b.user != self.login_user) else {
            return self.exec("sh -s", script.as_bytes(), None).await;
        };
        match b.method {
            BecomeMethod::Sudo => {
                let needs_password = self.sudo_password_needed(b).await?;
                let user = sh_quote(&b.user);
                let out = match (&b.password, needs_password) {
                    (_, false) => {
                        self.exec(
                            &format!("sudo -n -u {user} -- sh -s"),
                            script.as_bytes(),
                            None,
                        )
                        .await?
                    }
                    (Some(pw), true) => {
                        // sudo -S reads the password one byte at a time up to the newline,
                        // leaving the script on stdin for sh.
                        let mut stdin = format!("{pw}\n").into_bytes();
                        stdin.extend_from_slice(script.as_bytes());
                        self.exec(&format!("sudo -S -p '' -u {user} -- sh -s"), &stdin, None)
                            .await?
                    }
                    (None, true) => {
                        return Err(TransportError::Failed(format!(
                            "sudo on {} needs a password: run with --ask-become-pass or set ansible_become_password",
                            self.alias
                        )));
                    }
                };
                if out.status == 1 && out.stdout.is_empty() && out.stderr_text().contains("sudo:") {
                    return Err(TransportError::Failed(format!(
                        "become via sudo failed on {}: {}",
                        self.alias,
                        out.stderr_text()
                    )));
                }
                Ok(out)
            }
            BecomeMethod::Su => {
                let Some(pw) = &b.password else {
                    return Err(TransportError::Failed(format!(
                        "su on {} needs a password: run with --ask-become-pass or set ansible_become_password",
                        self.alias
                    )));
                };
                // su reads the password from a terminal, so the script goes to a temp file first.
                let stage = self
                    .exec("t=$(mktemp /tmp/.podfleet.XXXXXX) && cat > \"$t\" && chmod 644 \"$t\" && echo \"$t\"", script.as_bytes(), None)
                    .await?;
                let tmp = String::from_utf8_lossy(&stage.stdout).trim().to_string();
                if stage.status != 0 || tmp.is_empty() {
                    return Err(TransportError::Failed(format!(
                        "cannot stage script on {}: {}",
                        self.alias,
                        stage.stderr_text()
                    )));
                }
                let inner = format!(
                    "stty -echo -opost 2>/dev/null; sh {t}; rc=$?; rm -f {t}; exit $rc",
                    t = sh_quote(&tmp)
                );
                let cmd = format!("su {} -c {}", sh_quote(&b.user), sh_quote(&inner));
                let mut out = self.exec(&cmd, b"", Some(pw)).await?;
                if out.status != 0
                    && String::from_utf8_lossy(&out.stdout).contains("Authentication failure")
                {
                    return Err(TransportError::Failed(format!(
                        "become via su failed on {}: wrong password",
                        self.alias
                    )));
                }
                // The pty echoes the newline after the password.
                while out
                    .stdout
                    .first()
                    .is_some_and(|c| *c == b'\r' || *c == b'\n')
                {
                    out.stdout.remove(0);
                }
                Ok(out)
            }
        }
    }

    async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one by one as the read loop does; returns the first step and the rest.
    fn feed(chunks: &[&[u8]]) -> (Option<ExecOutput>, Vec<u8>) {
        let (mut out, mut scanned, mut step) = (ExecOutput::default(), 0, None);
        for c in chunks {
            out.stdout.extend_from_slice(c);
            if step.is_none() {
                step = split_marker(&mut out, "TOK", &mut scanned);
            }
        }
        (step, out.stdout)
    }

    #[test]
    fn marker_split_across_chunks_is_found_once() {
        let (step, rest) = feed(&[b"file a\nfile b", b"\nTO", b"K 3", b"\nafter"]);
        let step = step.expect("marker found");
        assert_eq!(step.stdout, b"file a\nfile b");
        assert_eq!(step.status, 3);
        assert_eq!(rest, b"after");
    }

    #[test]
    fn no_marker_keeps_everything() {
        let (step, rest) = feed(&[b"TOK 1\n", b"x\nTOK"]);
        assert!(step.is_none());
        assert_eq!(rest, b"TOK 1\nx\nTOK");
    }
}
