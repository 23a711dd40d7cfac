//! Node operations on top of any [`Transport`]: read the manifest directory, apply a
//! batch of changes under the node lock, install files elsewhere on the node.

use super::scripts::{self, ApplyBatch, ApplyOutcome, IoCause, ObservedDir, ScriptError, op_words};
use super::{ExecOutput, Transport, TransportError};

/// A node's manifest directory reached through a transport.
pub struct NodeFs<'a> {
    transport: &'a dyn Transport,
    dir: String,
}

/// A script's failure (non-zero status with a `FAIL` line, or its stderr) as an error.
fn failure(what: &str, out: &ExecOutput) -> TransportError {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(fail) = stdout.lines().find_map(|l| l.strip_prefix("FAIL ")) {
        let (op, path) = fail.split_once(' ').unwrap_or((fail, ""));
        return TransportError::Failed(
            ScriptError::Io {
                op: op_words(op).into(),
                path: path.into(),
                cause: IoCause::classify(&out.stderr_text()),
            }
            .to_string(),
        );
    }
    TransportError::Failed(format!(
        "{what}: {}",
        if out.stderr.is_empty() {
            format!("exit status {}", out.status)
        } else {
            out.stderr_text()
        }
    ))
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
                return Err(failure(&format!("cannot read {}", self.dir), &out));
            }
            match scripts::parse_read(&out.stdout) {
                Ok(obs) => return Ok(obs),
                Err(e) => last = e.to_string(),
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
            return Err(TransportError::Failed(e.to_string()));
        }
        // The read failed or did not parse: the plain read reports why (and retries once).
        let observed = match observed {
            Some(o) => o,
            None => return Ok((self.read().await?, None)),
        };
        let outcome = match applied {
            Some(out) => Some(
                scripts::parse_apply(out.status, &out.stdout, &out.stderr_text())
                    .map_err(|e| TransportError::Failed(self.in_dir(e)))?,
            ),
            None => None,
        };
        Ok((observed, outcome))
    }

    /// Apply a batch (lock, preconditions, atomic writes, record, unlock).
    pub async fn apply(&self, batch: &ApplyBatch) -> Result<ApplyOutcome, TransportError> {
        let script = scripts::apply_script(&self.dir, batch)
            .map_err(|e| TransportError::Failed(e.to_string()))?;
        let out = self.transport.run_script(&script).await?;
        scripts::parse_apply(out.status, &out.stdout, &out.stderr_text())
            .map_err(|e| TransportError::Failed(self.in_dir(e)))
    }

    /// An apply error with the directory named (relative paths are inside it).
    fn in_dir(&self, e: ScriptError) -> String {
        match e {
            ScriptError::Io { op, path, cause } if !path.starts_with('/') => {
                let path = if path == "." || path.is_empty() {
                    self.dir.clone()
                } else {
                    format!("{}/{path}", self.dir.trim_end_matches('/'))
                };
                ScriptError::Io { op, path, cause }.to_string()
            }
            other => format!("{}: {other}", self.dir),
        }
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
        Err(failure("cannot install files", &out))
    }
}
