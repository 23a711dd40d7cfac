//! `kubectl exec` sessions on the Docker Engine: an exec instance attached to stdin, stdout
//! and stderr (or a terminal), resized on request, its exit code read when it ends.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures::StreamExt as _;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, oneshot};

use super::RuntimeError;
use super::exec::{ExecInput, ExecSession, ExecSpec, STDERR, STDOUT};

/// Start `spec` in container `id`.
pub async fn session(
    docker: &Docker,
    id: &str,
    spec: &ExecSpec,
) -> Result<ExecSession, RuntimeError> {
    let other = |e: bollard::errors::Error| RuntimeError::Other(e.to_string());
    let exec = docker
        .create_exec(
            id,
            ExecConfig {
                attach_stdin: Some(spec.stdin),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(spec.tty),
                cmd: Some(spec.command.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(other)?;
    let started = docker
        .start_exec(
            &exec.id,
            Some(StartExecOptions {
                detach: false,
                tty: spec.tty,
                output_capacity: None,
            }),
        )
        .await
        .map_err(other)?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err(RuntimeError::Other(
            "the engine did not attach the exec".into(),
        ));
    };
    let (out_tx, out_rx) = mpsc::channel(16);
    let (in_tx, mut in_rx) = mpsc::channel::<ExecInput>(16);
    let (exit_tx, exit_rx) = oneshot::channel();
    let (docker2, exec_id) = (docker.clone(), exec.id.clone());
    let writer = tokio::spawn(async move {
        while let Some(i) = in_rx.recv().await {
            match i {
                ExecInput::Stdin(b) => {
                    if input.write_all(&b).await.is_err() {
                        break;
                    }
                    let _ = input.flush().await;
                }
                ExecInput::CloseStdin => {
                    let _ = input.shutdown().await;
                }
                ExecInput::Resize { width, height } => {
                    let _ = docker2
                        .resize_exec(&exec_id, ResizeExecOptions { height, width })
                        .await;
                }
            }
        }
    });
    let docker3 = docker.clone();
    let exec_id = exec.id.clone();
    tokio::spawn(async move {
        while let Some(item) = output.next().await {
            let (stream, message) = match item {
                Ok(LogOutput::StdErr { message }) => (STDERR, message),
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    (STDOUT, message)
                }
                Ok(LogOutput::StdIn { .. }) => continue,
                Err(_) => break,
            };
            if out_tx.send((stream, message)).await.is_err() {
                break;
            }
        }
        drop(out_tx);
        writer.abort();
        let code = match docker3.inspect_exec(&exec_id).await {
            Ok(info) => info.exit_code.unwrap_or(1) as i32,
            Err(_) => 1,
        };
        let _ = exit_tx.send(code);
    });
    Ok(ExecSession {
        output: out_rx,
        input: in_tx,
        exit: exit_rx,
        stop: None,
    })
}
