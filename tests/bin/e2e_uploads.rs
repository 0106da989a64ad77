//! The e2e server's upload commands (see `docs/protocol.md`, "Uploads").

use std::time::Duration;

use futures_util::StreamExt as _;
use ipc_runtime::{Channel, InvokeError, Upload, command};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// An upload's size and SHA-256 (hex).
#[derive(Serialize)]
pub(crate) struct Checksum {
    size: u64,
    sha256: String,
}

/// Reads an upload to its end: its size and SHA-256. `progress` gets the
/// bytes read so far after each chunk; `delayMs` sleeps after each chunk (a
/// slow reader); `limit` lowers the upload's size limit.
#[command(rename = "upload.digest")]
async fn digest(
    file: Upload,
    progress: Option<Channel<u64>>,
    delay_ms: Option<u64>,
    limit: Option<u64>,
) -> Result<Checksum, InvokeError> {
    let mut file = match limit {
        Some(max) => file.limit(max),
        None => file,
    };
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = file.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        if let Some(progress) = &progress {
            let _ = progress.send(&size).await;
        }
        if let Some(ms) = delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Checksum { size, sha256 })
}

/// Reads one chunk of an upload and stops (the rest is never read): the
/// chunk's length.
#[command(rename = "upload.sip")]
async fn sip(mut file: Upload) -> Result<usize, InvokeError> {
    match file.next().await {
        Some(chunk) => Ok(chunk?.len()),
        None => Ok(0),
    }
}

/// The server's resident memory in bytes (Linux; 0 elsewhere), to check that
/// an upload does not grow it by its size.
#[command(rename = "upload.rss")]
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Reads an upload to its end and returns its size (no work per byte: the
/// upload benchmark's sink, `benches/js/upload.mjs`).
#[command(rename = "upload.count")]
async fn count(mut file: Upload) -> Result<u64, InvokeError> {
    let mut size = 0;
    while let Some(chunk) = file.next().await {
        size += chunk?.len() as u64;
    }
    Ok(size)
}
