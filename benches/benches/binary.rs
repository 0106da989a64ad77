//! Byte payload round trips over a real WebSocket on loopback: the same bytes
//! as a binary frame (raw attachment both ways) and as a JSON array of numbers,
//! measured in the same run. Throughput counts the bytes of one direction.
//! Run with `cargo bench -p ipc-benches --bench binary`.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{SinkExt, StreamExt};
use ipc_runtime::App;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

// Link the workloads (the `echo_bytes` command) into this binary.
use ipc_benches as _;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(url: &str, binary: bool) -> Socket {
    let mut request = url.into_client_request().expect("url");
    if binary {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "ipc.v1".parse().expect("header"));
    }
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), false)
        .await
        .expect("connect");
    socket
}

/// One `echo_bytes` request as a binary frame.
fn binary_request(payload: &[u8]) -> Vec<u8> {
    let header = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"echo_bytes","params":{{"data":{{"$bytes":0}}}},"attachments":[{}]}}"#,
        payload.len()
    );
    let mut frame = Vec::with_capacity(4 + header.len() + payload.len());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The same request with the bytes as a JSON array.
fn json_request(payload: &[u8]) -> String {
    let data = serde_json::to_string(payload).expect("json");
    format!(r#"{{"jsonrpc":"2.0","id":1,"method":"echo_bytes","params":{{"data":{data}}}}}"#)
}

fn bytes(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (server, mut binary, mut text) = runtime.block_on(async {
        let app = App::builder().build().expect("app");
        // 16 MiB as a JSON array is about 60 MB of text: lift the message limit.
        let server = app
            .server()
            .max_message_size(256 << 20)
            .serve("127.0.0.1:0")
            .await
            .expect("serve");
        let binary = connect(&server.ws_url(), true).await;
        let text = connect(&server.ws_url(), false).await;
        (server, binary, text)
    });

    let mut group = c.benchmark_group("bytes_roundtrip");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    for size in [1usize << 20, 16 << 20] {
        let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        group.throughput(Throughput::Bytes(size as u64));

        let frame = binary_request(&payload);
        group.bench_with_input(
            BenchmarkId::new("binary_frame", size),
            &frame,
            |b, frame| {
                b.iter_custom(|iterations| {
                    runtime.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iterations {
                            binary
                                .send(Message::binary(frame.clone()))
                                .await
                                .expect("send");
                            match next_data(&mut binary).await {
                                Message::Binary(reply) => {
                                    assert_eq!(reply.len() - reply_header_len(&reply), size)
                                }
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                        start.elapsed()
                    })
                })
            },
        );

        let request = json_request(&payload);
        group.bench_with_input(
            BenchmarkId::new("json_array", size),
            &request,
            |b, request| {
                b.iter_custom(|iterations| {
                    runtime.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iterations {
                            text.send(Message::text(request.as_str()))
                                .await
                                .expect("send");
                            match next_data(&mut text).await {
                                Message::Text(reply) => assert!(reply.len() > size),
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                        start.elapsed()
                    })
                })
            },
        );
    }
    group.finish();
    runtime.block_on(server.shutdown());
}

/// The next data frame; the server's pings (answered by the library) are skipped.
async fn next_data(socket: &mut Socket) -> Message {
    loop {
        match socket.next().await {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(message)) => return message,
            other => panic!("the connection ended: {other:?}"),
        }
    }
}

/// Length prefix plus header of a binary reply.
fn reply_header_len(frame: &[u8]) -> usize {
    4 + u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize
}

criterion_group!(benches, bytes);
criterion_main!(benches);
