//! The `local` transport (`ansible_connection=local`): scripts run on this machine.

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::scripts::sh_quote;
use super::{Become, BecomeMethod, ExecOutput, Transport, TransportError};

/// Runs node scripts with the local `sh`, optionally through `sudo`.
pub struct LocalTransport {
    become_: Option<Become>,
}

impl LocalTransport {
    /// A local transport with optional privilege escalation (sudo only).
    pub fn new(become_: Option<Become>) -> Self {
        LocalTransport { become_ }
    }
}

#[async_trait]
impl Transport for LocalTransport {
    async fn run_script(&self, script: &str) -> Result<ExecOutput, TransportError> {
        let me = super::target::local_user();
        let (cmd, stdin) = match self.become_.as_ref().filter(|b| b.user != me) {
            None => ("sh -s".to_string(), script.as_bytes().to_vec()),
            Some(b) if b.method == BecomeMethod::Su => {
                return Err(TransportError::Failed(
                    "become via su is not supported with ansible_connection=local; use sudo".into(),
                ));
            }
            Some(b) => match &b.password {
                None => (
                    format!("sudo -n -u {} -- sh -s", sh_quote(&b.user)),
                    script.as_bytes().to_vec(),
                ),
                Some(pw) => {
                    let mut s = format!("{pw}\n").into_bytes();
                    s.extend_from_slice(script.as_bytes());
                    (
                        format!("sudo -S -p '' -u {} -- sh -s", sh_quote(&b.user)),
                        s,
                    )
                }
            },
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransportError::Failed(format!("cannot run sh: {e}")))?;
        if let Some(mut w) = child.stdin.take() {
            w.write_all(&stdin)
                .await
                .map_err(|e| TransportError::Failed(format!("cannot feed sh: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| TransportError::Failed(e.to_string()))?;
        Ok(ExecOutput {
            status: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
