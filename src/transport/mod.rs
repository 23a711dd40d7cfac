//! How podfleet reaches a node: the `Transport` trait and its two implementations.
//!
//! A transport only knows how to run a POSIX `sh` script on the node with some bytes on
//! stdin and bring back stdout, stderr and the exit status. Everything podfleet does on a
//! node (read the manifest directory, write atomically, lock, keep its record) is a script
//! built in [`scripts`] and driven by [`nodefs::NodeFs`], so `ssh` and `local` behave the
//! same by construction and a node needs nothing but `sh` and coreutils.

pub mod local;
pub mod nodefs;
pub mod scripts;
pub mod ssh;
pub mod target;

use async_trait::async_trait;

pub use target::{Become, BecomeMethod, Connection, HostKeyPolicy, Target};

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    /// Exit status (`-1` when killed by a signal).
    pub status: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Standard error as trimmed text, for messages.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// Why a node could not be reached or a command could not run.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The node could not be reached or authenticated: Ansible's UNREACHABLE.
    #[error("{0}")]
    Unreachable(String),
    /// Reached, but something refused (host key, privilege, protocol): a failure.
    #[error("{0}")]
    Failed(String),
}

impl TransportError {
    /// True for the UNREACHABLE class.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TransportError::Unreachable(_))
    }
}

/// Runs scripts on one node.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Run `sh -s` on the node (with privilege escalation if configured), feeding `script`
    /// on stdin.
    async fn run_script(&self, script: &str) -> Result<ExecOutput, TransportError>;

    /// Close the connection (a no-op for local).
    async fn close(&self) {}

    /// Run `first`, then the script `then` returns for its output (`None`: stop there).
    /// Transports that can run both in one remote shell do (one process and round trip less
    /// per node); the default runs two scripts. Returns both outputs.
    async fn run_script_then(
        &self,
        first: &str,
        then: &mut NextStep<'_>,
    ) -> Result<(ExecOutput, Option<ExecOutput>), TransportError> {
        two_steps(self, first, then).await
    }

    /// Warnings raised while connecting (a learned host key, host key checking disabled).
    fn notices(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Decides a second script from the first one's output (see `Transport::run_script_then`).
pub type NextStep<'a> = dyn for<'o> FnMut(&'o ExecOutput) -> Option<String> + Send + 'a;

/// `run_script_then` as two separate scripts.
pub async fn two_steps<T: Transport + ?Sized>(
    t: &T,
    first: &str,
    then: &mut NextStep<'_>,
) -> Result<(ExecOutput, Option<ExecOutput>), TransportError> {
    let a = t.run_script(first).await?;
    match then(&a) {
        Some(next) => {
            let b = t.run_script(&next).await?;
            Ok((a, Some(b)))
        }
        None => Ok((a, None)),
    }
}

/// Open a transport for a target: `local` or `ssh`.
pub async fn connect(
    target: &Target,
    opts: &ssh::SshOptions,
) -> Result<Box<dyn Transport>, TransportError> {
    match target.connection {
        Connection::Local => Ok(Box::new(local::LocalTransport::new(target.become_.clone()))),
        Connection::Ssh => Ok(Box::new(ssh::SshTransport::connect(target, opts).await?)),
    }
}
