//! Upload throughput over a real WebSocket on loopback: one upload to a
//! command that reads it to its end (`upload_count`), its chunks as raw binary
//! frames (`ipc.v1`) and as base64 in text messages, in the same run, with the
//! server's default window and a larger one. The client follows the protocol
//! (docs/protocol.md, "Uploads"): it sends only as far as its credit.
//! Prints a table. Run with `cargo bench -p ipc-benches --bench upload`
//! (`-- --quick`: 16 MiB only).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use ipc_runtime::App;
use tokio::sync::{Notify, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

// Link the workloads (the `upload_count` command) into this binary.
use ipc_benches as _;

const CHUNK: usize = 256 << 10;
const DEADLINE: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Binary,
    Base64,
}

/// One upload of `size` bytes; the time from the request to the response.
async fn upload(url: &str, path: Path, size: u64) -> Duration {
    let mut request = url.into_client_request().expect("url");
    if path == Path::Binary {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "ipc.v1".parse().expect("header"));
    }
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .expect("connect");
    let (mut sink, mut stream) = socket.split();
    let credit = Arc::new(AtomicU64::new(0));
    let more = Arc::new(Notify::new());
    let (answered, answer) = oneshot::channel::<String>();
    let reader = {
        let (credit, more) = (Arc::clone(&credit), Arc::clone(&more));
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let value: serde_json::Value = serde_json::from_str(&text).expect("json");
                if let Some(total) = value["params"]["credit"].as_u64() {
                    credit.fetch_max(total, Ordering::AcqRel);
                    more.notify_one();
                } else if value["id"] == 1 {
                    let _ = answered.send(text.to_string());
                    return;
                }
            }
        })
    };
    let data: Vec<u8> = (0..CHUNK).map(|i| (i * 31 % 251) as u8).collect();
    let text_chunk = base64::engine::general_purpose::STANDARD.encode(&data);
    let started = Instant::now();
    sink.send(Message::text(
        r#"{"jsonrpc":"2.0","id":1,"method":"upload_count","params":{"file":"__UPLOAD__:0"}}"#,
    ))
    .await
    .expect("send");
    let mut sent = 0u64;
    while sent < size {
        let len = CHUNK.min((size - sent) as usize);
        while sent + len as u64 > credit.load(Ordering::Acquire) {
            tokio::time::timeout(DEADLINE, more.notified())
                .await
                .expect("credit within the deadline");
        }
        let message = match path {
            Path::Binary => {
                let header = format!(
                    r#"{{"jsonrpc":"2.0","method":"ipc.upload","params":{{"upload":0,"data":{{"$bytes":0}}}},"attachments":[{len}]}}"#
                );
                let mut frame = Vec::with_capacity(4 + header.len() + len);
                frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
                frame.extend_from_slice(header.as_bytes());
                frame.extend_from_slice(&data[..len]);
                Message::binary(frame)
            }
            Path::Base64 => {
                let chunk = if len == CHUNK {
                    text_chunk.clone()
                } else {
                    base64::engine::general_purpose::STANDARD.encode(&data[..len])
                };
                Message::text(format!(
                    r#"{{"jsonrpc":"2.0","method":"ipc.upload","params":{{"upload":0,"data":"{chunk}"}}}}"#
                ))
            }
        };
        sink.send(message).await.expect("send");
        sent += len as u64;
    }
    sink.send(Message::text(
        r#"{"jsonrpc":"2.0","method":"ipc.upload","params":{"upload":0,"end":true}}"#,
    ))
    .await
    .expect("send");
    let response = tokio::time::timeout(DEADLINE, answer)
        .await
        .expect("a response within the deadline")
        .expect("a response");
    let elapsed = started.elapsed();
    assert_eq!(
        response,
        format!(r#"{{"jsonrpc":"2.0","id":1,"result":{size}}}"#)
    );
    reader.abort();
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let app = App::builder().build().expect("app");
        let default = app.server().serve("127.0.0.1:0").await.expect("serve");
        let wide = app
            .server()
            .uploads(8 << 20, 4 << 30, 8)
            .serve("127.0.0.1:0")
            .await
            .expect("serve");
        let sizes: &[(u64, &str, usize)] = if quick {
            &[(16 << 20, "16 MiB", 5)]
        } else {
            &[(16 << 20, "16 MiB", 5), (1 << 30, "1 GiB", 1)]
        };
        println!("| size | window | binary frames | base64 text | binary speed-up |");
        println!("|---|---|---|---|---|");
        for &(size, label, runs) in sizes {
            for (server, window) in [(&default, "1 MiB (default)"), (&wide, "8 MiB")] {
                let mut rates = Vec::new();
                for path in [Path::Binary, Path::Base64] {
                    let mut samples = Vec::new();
                    for _ in 0..runs {
                        samples.push(upload(&server.ws_url(), path, size).await);
                    }
                    let time = median(samples);
                    rates.push((time, size as f64 / time.as_secs_f64() / 1e9));
                }
                println!(
                    "| {label} | {window} | {:.2} GB/s ({:.1} ms) | {:.2} GB/s ({:.1} ms) | {:.2}× |",
                    rates[0].1,
                    rates[0].0.as_secs_f64() * 1e3,
                    rates[1].1,
                    rates[1].0.as_secs_f64() * 1e3,
                    rates[1].0.as_secs_f64() / rates[0].0.as_secs_f64(),
                );
            }
        }
        default.shutdown().await;
        wide.shutdown().await;
    });
}
