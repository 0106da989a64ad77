//! `cargo run --example files`: drop (or pick) a file on the page; Rust reads it
//! as it streams in (an `Upload` argument, with flow control), computes its
//! SHA-256, and reports progress through a `Channel<u64>` that feeds the
//! page's progress bar. Files of any size: the server holds one window of the
//! upload at a time, never the whole file.
//!
//! Same conventions as the demo: `--port N` (or `IPC_FILES_PORT=N`; `0`
//! picks a free port), and it prints the page's `http://` address and the
//! `ws://` address on their own lines.

use futures_util::StreamExt as _;
use ipc_runtime::{App, Channel, InvokeError, Upload, command};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// What the page shows once the file has streamed in.
#[derive(Serialize)]
struct Checksum {
    /// The file's size in bytes.
    size: u64,
    /// Its SHA-256, in hex.
    sha256: String,
}

/// Hashes the file as it streams in, telling `progress` how many bytes have
/// been read (at most every 1 MiB, and at the end).
#[command(rename = "files.checksum")]
async fn checksum(file: Upload, progress: Option<Channel<u64>>) -> Result<Checksum, InvokeError> {
    let mut file = file;
    let mut hasher = Sha256::new();
    let (mut size, mut told) = (0u64, 0u64);
    while let Some(chunk) = file.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        if let Some(progress) = &progress
            && size - told >= 1 << 20
        {
            told = size;
            let _ = progress.send(&size).await;
        }
    }
    if let Some(progress) = &progress {
        let _ = progress.send(&size).await;
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Checksum { size, sha256 })
}

const USAGE: &str = "usage: files [--port N]   (or IPC_FILES_PORT=N; 0 picks a free port)";

fn port() -> Result<u16, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => match std::env::var("IPC_FILES_PORT") {
            Ok(value) => value
                .parse()
                .map_err(|_| format!("IPC_FILES_PORT={value}: not a port number")),
            Err(_) => Ok(8081),
        },
        ["--port", value] => value
            .parse()
            .map_err(|_| format!("--port {value}: not a port number")),
        _ => Err(USAGE.into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ipc_examples::log_to_stderr();
    let port = port()?;
    let app = App::builder().build()?;
    let server = app
        .server()
        .asset(
            "/",
            "text/html; charset=utf-8",
            include_str!("web/index.html"),
        )
        .asset(
            "/files.js",
            "text/javascript; charset=utf-8",
            include_str!("web/files.js"),
        )
        .serve(("127.0.0.1", port))
        .await
        .map_err(|e| ipc_examples::listen_error(port, &e))?;
    println!("Open the page and drop a file on it:");
    println!("{}", server.http_url());
    println!("WebSocket endpoint for other clients:");
    println!("{}", server.ws_url());
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
