//! The examples live in the subdirectories of this package; run them with
//! `cargo run --example <name>` from the repository root.

/// What the examples print when their server cannot listen on
/// `127.0.0.1:port`: a busy port names the way out.
///
/// ```
/// let busy = std::io::Error::from(std::io::ErrorKind::AddrInUse);
/// assert!(ipc_examples::listen_error(8080, &busy).contains("--port 0"));
/// ```
pub fn listen_error(port: u16, error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "port {port} is already in use; pick another with --port N (or --port 0 for any free port)"
        ),
        _ => format!("cannot listen on 127.0.0.1:{port}: {error}"),
    }
}

/// Sends the examples' logs to stderr (stdout is the protocol in stdio mode),
/// at `warn` unless `RUST_LOG` says otherwise.
pub fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}
