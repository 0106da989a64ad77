//! Invoke round-trip latency over a real WebSocket on loopback, one call in
//! flight: the client sends `add`, waits for the response, repeats.
//! Run with `cargo bench -p ipc-benches --bench ws_roundtrip`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::{SinkExt, StreamExt};
use ipc_runtime::App;
use tokio_tungstenite::tungstenite::Message;

// Link the workloads (the `add` command) into this binary.
use ipc_benches as _;

fn roundtrip(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (server, mut socket) = runtime.block_on(async {
        let app = App::builder().build().expect("app");
        let server = app.serve("127.0.0.1:0").await.expect("serve");
        let (socket, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .expect("connect");
        (server, socket)
    });
    let request = r#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1,"b":2}}"#;
    let mut group = c.benchmark_group("ws_roundtrip");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("add_one_in_flight", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    socket.send(Message::text(request)).await.expect("send");
                    loop {
                        match socket.next().await {
                            Some(Ok(Message::Text(reply))) => {
                                assert!(reply.ends_with("\"result\":3}"));
                                break;
                            }
                            // The server's pings; the library answers them.
                            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    runtime.block_on(server.shutdown());
}

criterion_group!(benches, roundtrip);
criterion_main!(benches);
