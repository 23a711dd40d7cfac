//! Terminal helpers: is output a terminal, and hidden prompts on `/dev/tty`.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::sync::Mutex;

use nix::sys::termios::{self, LocalFlags, SetArg};

static PROMPT_LOCK: Mutex<()> = Mutex::new(());

/// True when stdout is a terminal (colours, progress bars).
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// True when stderr is a terminal.
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// True when a controlling terminal can be opened for prompts.
pub fn can_prompt() -> bool {
    std::io::stdin().is_terminal()
        && std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_ok()
}

/// Ask for a secret on `/dev/tty` without echo. Prompts from parallel tasks are serialised.
pub fn prompt_hidden(prompt: &str) -> std::io::Result<String> {
    let _guard = PROMPT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let mut out = tty.try_clone()?;
    write!(out, "{prompt}")?;
    out.flush()?;
    let saved = termios::tcgetattr(&tty).map_err(std::io::Error::other)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    termios::tcsetattr(&tty, SetArg::TCSANOW, &quiet).map_err(std::io::Error::other)?;
    let mut line = String::new();
    let res = BufReader::new(tty.try_clone()?).read_line(&mut line);
    let _ = termios::tcsetattr(&tty, SetArg::TCSANOW, &saved);
    writeln!(out)?;
    res?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
