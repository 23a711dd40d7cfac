//! `podfleet completions SHELL`.

use clap::CommandFactory;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// Print the completion script.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "podfleet", &mut std::io::stdout());
    Ok(0)
}
