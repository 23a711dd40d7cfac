//! The `podfleet` binary: parse arguments, set up logging, run, exit with the code.

use clap::Parser;

fn main() {
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
    podfleet::logging::init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(podfleet::cli::run(cli));
    std::process::exit(code);
}
