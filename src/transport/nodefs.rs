//! Node operations on top of any [`Transport`]: read the manifest directory, apply a
//! batch of changes under the node lock, install files elsewhere on the node.

use super::scripts::{self, ApplyBatch, ApplyOutcome, ObservedDir};
use super::{ExecOutput, Transport, TransportError};

/// A node's manifest directory reached through a transport.
pub struct NodeFs<'a> {
    transport: &'a dyn Transport,
    dir: String,
}

impl<'a> NodeFs<'a> {
    /// Operate on `dir` (absolute) through `transport`.
    pub fn new(transport: &'a dyn Transport, dir: &str) -> Self {
        NodeFs {
            transport,
            dir: dir.to_string(),
        }
    }

    /// The manifest directory path.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Read files, record and lock state in one round trip (retried once if a file
    /// changed while it was read).
    pub async fn read(&self) -> Result<ObservedDir, TransportError> {
        let script = scripts::read_script(&self.dir);
        let mut last = String::new();
        for _ in 0..2 {
            let out = self.transport.run_script(&script).await?;
            if out.status != 0 {
                return Err(TransportError::Failed(format!(
                    "cannot read {}: {}",
                    self.dir,
                    if out.stderr.is_empty() {
                        format!("exit status {}", out.status)
                    } else {
                        out.stderr_text()
                    }
                )));
            }
            match scripts::parse_read(&out.stdout) {
                Ok(obs) => return Ok(obs),
                Err(e) => last = e,
            }
        }
        Err(TransportError::Failed(format!(
            "cannot read {}: {last}",
            self.dir
        )))
    }

    /// Read the directory and, in the same remote shell where possible, apply the batch
    /// `decide` makes from what was read (`None`: nothing to apply). Returns what was read and
    /// the apply outcome, if a batch was applied.
    pub async fn read_then_apply(
        &self,
        decide: &mut (dyn FnMut(&ObservedDir) -> Option<ApplyBatch> + Send),
    ) -> Result<(ObservedDir, Option<ApplyOutcome>), TransportError> {
        let mut observed = None;
        let mut script_error = None;
        let dir = self.dir.clone();
        let mut next = |out: &ExecOutput| -> Option<String> {
            if out.status != 0 {
                return None;
            }
            let obs = scripts::parse_read(&out.stdout).ok()?;
            let script = decide(&obs).and_then(|b| {
                scripts::apply_script(&dir, &b)
                    .map_err(|e| script_error = Some(e))
                    .ok()
            });
            observed = Some(obs);
            script
        };
        let (_, applied) = self
            .transport
            .run_script_then(&scripts::read_script(&self.dir), &mut next)
            .await?;
        if let Some(e) = script_error {
            return Err(TransportError::Failed(e));
        }
        // The read failed or did not parse: the plain read reports why (and retries once).
        let observed = match observed {
            Some(o) => o,
            None => return Ok((self.read().await?, None)),
        };
        let outcome = match applied {
            Some(out) => Some(
                scripts::parse_apply(out.status, &out.stdout, &out.stderr_text())
                    .map_err(|e| TransportError::Failed(format!("{}: {e}", self.dir)))?,
            ),
            None => None,
        };
        Ok((observed, outcome))
    }

    /// Apply a batch (lock, preconditions, atomic writes, record, unlock).
    pub async fn apply(&self, batch: &ApplyBatch) -> Result<ApplyOutcome, TransportError> {
        let script = scripts::apply_script(&self.dir, batch).map_err(TransportError::Failed)?;
        let out = self.transport.run_script(&script).await?;
        scripts::parse_apply(out.status, &out.stdout, &out.stderr_text())
            .map_err(|e| TransportError::Failed(format!("{}: {e}", self.dir)))
    }
}

/// Install files at absolute paths on the node, atomically each.
pub async fn install_files(
    t: &dyn Transport,
    files: &[(String, Vec<u8>, u32)],
) -> Result<(), TransportError> {
    let out = t.run_script(&scripts::install_files_script(files)).await?;
    if out.status == 0
        && String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l == "DONE")
    {
        Ok(())
    } else {
        Err(TransportError::Failed(format!(
            "cannot install files: {}",
            out.stderr_text()
        )))
    }
}
