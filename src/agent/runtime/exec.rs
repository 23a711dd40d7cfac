//! Interactive command sessions in a container (`kubectl exec`): what to run, and the
//! channels a running session is driven through, the same for every runtime. Host-process
//! sessions (the process runtime) live here too; docker's are in `docker_exec`.

use std::io::Write as _;
use std::os::fd::{AsRawFd as _, OwnedFd};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::RuntimeError;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Pass input to the command.
    pub stdin: bool,
    /// Run on a terminal (stdout and stderr then arrive together as stdout).
    pub tty: bool,
}

/// Input to a running session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecInput {
    /// Bytes for the command's stdin.
    Stdin(Bytes),
    /// End of input.
    CloseStdin,
    /// The terminal's new size.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
}

/// Which output stream a chunk came from.
pub const STDOUT: u8 = 1;
/// See [`STDOUT`].
pub const STDERR: u8 = 2;

/// A running session: output chunks (stream, bytes) until the command ends, then its exit
/// code. Dropping the session ends the command.
pub struct ExecSession {
    /// Output, in order; closed when the command's output ends.
    pub output: mpsc::Receiver<(u8, Bytes)>,
    /// Input to the command.
    pub input: mpsc::Sender<ExecInput>,
    /// The exit code once the command ended.
    pub exit: oneshot::Receiver<i32>,
    /// Ends the command when the session is dropped before it exited.
    pub stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for ExecSession {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// Kills a host process (its process group when it leads one) unless it already exited.
fn killer(
    pid: u32,
    group: bool,
    exited: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Box<dyn FnOnce() + Send> {
    Box::new(move || {
        if exited.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = if group {
            nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL)
        } else {
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)
        };
    })
}

/// Start `spec` as a host process with `env` in `working_dir` (the process runtime's exec):
/// on a pseudo-terminal with `tty`, else with pipes.
pub fn host_session(
    spec: &ExecSpec,
    env: &[(String, String)],
    working_dir: Option<&str>,
) -> Result<ExecSession, RuntimeError> {
    let Some((prog, args)) = spec.command.split_first() else {
        return Err(RuntimeError::Other("empty command".into()));
    };
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(wd) = working_dir {
        cmd.current_dir(wd);
    }
    let (out_tx, out_rx) = mpsc::channel(16);
    let (in_tx, in_rx) = mpsc::channel(16);
    let (exit_tx, exit_rx) = oneshot::channel();
    let exited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pid: u32;
    let group: bool;
    let start_err = |e: std::io::Error| {
        RuntimeError::Start(format!(
            "exec: starting container process caused: exec: \"{prog}\": {e}"
        ))
    };
    if spec.tty {
        let pty = nix::pty::openpty(None, None).map_err(|e| RuntimeError::Other(e.to_string()))?;
        let slave = pty.slave;
        let stdio = |fd: &OwnedFd| -> Result<std::process::Stdio, RuntimeError> {
            Ok(fd
                .try_clone()
                .map_err(|e| RuntimeError::Other(e.to_string()))?
                .into())
        };
        cmd.stdin(stdio(&slave)?)
            .stdout(stdio(&slave)?)
            .stderr(stdio(&slave)?);
        // SAFETY: setsid and ioctl(TIOCSCTTY) are async-signal-safe; the child gets its own
        // session with the terminal as its controlling tty, as a login shell would.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                nix::unistd::setsid().map_err(std::io::Error::other)?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(start_err)?;
        pid = child.id();
        group = true;
        drop(slave);
        let master: std::fs::File = pty.master.into();
        let reader = master
            .try_clone()
            .map_err(|e| RuntimeError::Other(e.to_string()))?;
        spawn_reader(reader, STDOUT, out_tx);
        spawn_writer(Writer::Pty(master), in_rx);
        spawn_waiter(child, exit_tx, exited.clone());
    } else {
        cmd.stdin(if spec.stdin {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().map_err(start_err)?;
        pid = child.id();
        group = false;
        if let Some(out) = child.stdout.take() {
            spawn_reader(out, STDOUT, out_tx.clone());
        }
        if let Some(err) = child.stderr.take() {
            spawn_reader(err, STDERR, out_tx);
        }
        match child.stdin.take() {
            Some(stdin) => spawn_writer(Writer::Pipe(stdin), in_rx),
            None => spawn_writer(Writer::None, in_rx),
        }
        spawn_waiter(child, exit_tx, exited.clone());
    }
    Ok(ExecSession {
        output: out_rx,
        input: in_tx,
        exit: exit_rx,
        stop: Some(killer(pid, group, exited)),
    })
}

fn spawn_reader(
    mut from: impl std::io::Read + Send + 'static,
    stream: u8,
    to: mpsc::Sender<(u8, Bytes)>,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from.read(&mut buf) {
                // EIO: the terminal's other side closed (the command ended).
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if to
                        .blocking_send((stream, Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
}

enum Writer {
    Pty(std::fs::File),
    Pipe(std::process::ChildStdin),
    None,
}

fn spawn_writer(mut to: Writer, mut from: mpsc::Receiver<ExecInput>) {
    std::thread::spawn(move || {
        while let Some(input) = from.blocking_recv() {
            match (input, &mut to) {
                (ExecInput::Stdin(b), Writer::Pty(f)) => {
                    let _ = f.write_all(&b);
                }
                (ExecInput::Stdin(b), Writer::Pipe(p)) => {
                    let _ = p.write_all(&b);
                }
                (ExecInput::CloseStdin, Writer::Pipe(_)) => to = Writer::None,
                (ExecInput::CloseStdin, Writer::Pty(f)) => {
                    // End of input on a terminal: the EOF character.
                    let _ = f.write_all(&[4]);
                }
                (ExecInput::Resize { width, height }, Writer::Pty(f)) => {
                    let size = nix::libc::winsize {
                        ws_row: height,
                        ws_col: width,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
                    unsafe {
                        nix::libc::ioctl(f.as_raw_fd(), nix::libc::TIOCSWINSZ, &size);
                    }
                }
                _ => {}
            }
        }
    });
}

fn spawn_waiter(
    mut child: std::process::Child,
    exit: oneshot::Sender<i32>,
    exited: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    std::thread::spawn(move || {
        use std::os::unix::process::ExitStatusExt as _;
        let code = match child.wait() {
            Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
            Err(_) => 1,
        };
        exited.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = exit.send(code);
    });
}
