//! Shutdown for the daemons: the CLI waits for SIGTERM or SIGINT and hands the servers a
//! future; the servers take any future, so tests stop them without signals.

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
