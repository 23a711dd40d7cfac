//! The `podfleet` binary: parse arguments, set up logging, run, exit with the code.

use clap::Parser;

fn main() {
    // The process runtime's shim runs before anything else: no tokio, no logging.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("shim") {
        std::process::exit(podfleet::agent::runtime::process::shim_main(&args[2..]));
    }
    let cli = match podfleet::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // Ansible exits 1 on usage errors; 2 means "a host failed".
                _ => 1,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if !cli.command.is_daemon() && !cli.command.changes_nodes() {
        // `podfleet events | head`: end quietly when the reader goes away, as `ls` does,
        // instead of panicking in print!. Daemons keep Rust's default (ignore SIGPIPE), so a
        // peer that closes a socket never kills them; so do push and rollback, which write
        // through cli::reporters (closed pipes ignored) and must record what they changed.
        // SAFETY: no other thread exists yet; SIG_DFL installs no handler code.
        unsafe {
            let _ = nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            );
        }
    }
    podfleet::logging::init_with_default(cli.command.default_log_level());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(podfleet::cli::run(cli));
    std::process::exit(code);
}
