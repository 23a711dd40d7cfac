//! tracing setup: `RUST_LOG` or `PODFLEET_LOG` (default `warn`, agents/coordinator `info`).

use tracing_subscriber::EnvFilter;

/// Install a stderr subscriber. Safe to call once per process.
pub fn init() {
    init_with_default("warn");
}

/// Install a stderr subscriber with a default level.
pub fn init_with_default(default: &str) {
    let filter = std::env::var("PODFLEET_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        // Colour only on a terminal: journald and log files get plain text.
        .with_ansi(crate::term::stderr_is_tty() && std::env::var_os("NO_COLOR").is_none())
        .try_init();
}
