//! Channels: a command streams messages back to its caller, in order, with
//! bounded memory, and stops when the caller goes away.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ipc_runtime::session::ConnectOptions;
use ipc_runtime::{App, Channel, State, codes, command};
use ipc_tests::WsClient;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Clone, Serialize)]
struct Progress {
    done: u32,
    total: u32,
}

#[command]
async fn progress(steps: u32, on_progress: Channel<Progress>) -> u32 {
    for done in 1..=steps {
        on_progress
            .send(&Progress { done, total: steps })
            .await
            .expect("the caller is listening");
    }
    steps
}

/// How many messages `flood` managed to send before it stopped.
#[derive(Default)]
struct Sent(AtomicU32, Mutex<Option<String>>);

#[command]
async fn flood(count: u32, sink: Channel<u32>, sent: State<Sent>) -> u32 {
    for i in 0..count {
        if let Err(e) = sink.send(&i).await {
            *sent.1.lock().unwrap() = Some(e.to_string());
            break;
        }
        sent.0.fetch_add(1, Ordering::SeqCst);
    }
    sent.0.load(Ordering::SeqCst)
}

#[command]
async fn chunks(sink: Channel) {
    sink.send_bytes(vec![0xff, 0x00, 0xfe]).await.unwrap();
    sink.send(&json!({ "not": "bytes" })).await.unwrap();
}

fn app() -> App {
    App::builder().manage(Sent::default()).build().unwrap()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn messages_arrive_in_order_and_end_after_the_last() {
    let app = app();
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":1,"method":"progress","params":{"steps":3,"onProgress":"__CHANNEL__:5"}}"#)
        .await;
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let message = tokio::time::timeout(Duration::from_secs(5), outbox.recv())
            .await
            .unwrap()
            .unwrap();
        seen.push(parse(&message.as_str()));
    }
    for (i, message) in seen[..3].iter().enumerate() {
        assert_eq!(message["method"], "ipc.channel");
        assert_eq!(message["params"]["channel"], 5);
        assert_eq!(message["params"]["index"], i);
        assert_eq!(
            message["params"]["message"],
            json!({ "done": i + 1, "total": 3 })
        );
    }
    // The end marker and the response may come in either order (the command
    // drops the channel as it returns).
    let response = json!({ "jsonrpc": "2.0", "id": 1, "result": 3 });
    let end = json!({ "jsonrpc": "2.0", "method": "ipc.channel", "params": { "channel": 5, "index": 3, "end": true } });
    assert!(seen[3..].contains(&response), "{seen:?}");
    assert!(seen[3..].contains(&end), "{seen:?}");
    connection.close();
}

#[tokio::test]
async fn a_slow_reader_makes_the_producer_wait_instead_of_growing_memory() {
    let app = app();
    let options = ConnectOptions::default().outbox_capacity(8);
    let (connection, mut outbox) = app.connect(options);
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":1,"method":"flood","params":{"count":1000,"sink":"__CHANNEL__:1"}}"#)
        .await;
    // Nobody reads: the producer fills the outbox and then waits.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = &app.state::<Sent>().unwrap().0;
    assert_eq!(
        sent.load(Ordering::SeqCst),
        8,
        "exactly the outbox's capacity was queued"
    );
    assert_eq!(
        connection.in_flight(),
        1,
        "the command is still running, waiting"
    );
    // Reading lets it finish.
    let mut received = 0;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), outbox.recv())
            .await
            .unwrap()
            .unwrap();
        let message = parse(&message.as_str());
        if message["id"] == 1 {
            assert_eq!(message["result"], 1000);
            break;
        }
        assert_eq!(message["params"]["index"], received);
        received += 1;
    }
    assert_eq!(received, 1000);
    connection.close();
}

#[tokio::test]
async fn the_channel_closes_when_its_caller_disconnects() {
    let app = app();
    let options = ConnectOptions::default().outbox_capacity(4);
    let (connection, outbox) = app.connect(options);
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":1,"method":"flood","params":{"count":1000,"sink":"__CHANNEL__:1"}}"#)
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The client goes away without reading.
    drop(outbox);
    connection.close();
    let state = app.state::<Sent>().unwrap();
    for _ in 0..200 {
        if state.1.lock().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        state.1.lock().unwrap().as_deref(),
        Some("the channel is closed: its caller disconnected")
    );
    assert!(state.0.load(Ordering::SeqCst) < 1000);
}

#[tokio::test]
async fn a_channel_id_serves_one_call_at_a_time() {
    let app = app();
    let (connection, mut outbox) = app.connect(ConnectOptions::default().outbox_capacity(4));
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":1,"method":"flood","params":{"count":100,"sink":"__CHANNEL__:3"}}"#)
        .await;
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":2,"method":"flood","params":{"count":1,"sink":"__CHANNEL__:3"}}"#)
        .await;
    let mut refused = None;
    let mut first_done = false;
    while refused.is_none() || !first_done {
        let message = parse(&outbox.recv().await.unwrap().as_str());
        if message["id"] == 2 {
            refused = Some(message["error"].clone());
        }
        first_done |= message["params"]["end"] == true;
    }
    let refused = refused.unwrap();
    assert_eq!(refused["code"], codes::INVALID_PARAMS);
    assert_eq!(
        refused["data"]["reason"],
        "channel 3 is already open for another call"
    );
    // Once it has ended, the id can be used again.
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":3,"method":"flood","params":{"count":1,"sink":"__CHANNEL__:3"}}"#)
        .await;
    loop {
        let message = parse(&outbox.recv().await.unwrap().as_str());
        if message["id"] == 3 {
            assert!(message["result"].is_number(), "{message}");
            break;
        }
    }
    connection.close();
}

#[tokio::test]
async fn channels_need_a_connection() {
    let err = app()
        .invoke(
            "progress",
            json!({ "steps": 1, "onProgress": "__CHANNEL__:1" }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::INVALID_PARAMS);
    assert_eq!(err.data().unwrap()["argument"], "onProgress");
    let err = app()
        .invoke("progress", json!({ "steps": 1, "onProgress": "nope" }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::INVALID_PARAMS);
}

#[tokio::test]
async fn bytes_on_a_channel_are_binary_for_clients_that_accept_it() {
    let app = app();
    for binary in [true, false] {
        let (connection, mut outbox) = app.connect(ConnectOptions::default().binary(binary));
        connection
            .handle_text(
                r#"{"jsonrpc":"2.0","id":1,"method":"chunks","params":{"sink":"__CHANNEL__:9"}}"#,
            )
            .await;
        let first = outbox.recv().await.unwrap();
        let header = parse(&first.as_str());
        assert_eq!(header["params"]["index"], 0);
        if binary {
            assert_eq!(header["params"]["message"], json!({ "$bytes": 0 }));
            assert_eq!(header["attachments"], json!([3]));
            assert_eq!(
                first.attachment().map(|b| b.to_vec()),
                Some(vec![0xff, 0x00, 0xfe])
            );
        } else {
            assert_eq!(header["params"]["message"], json!([255, 0, 254]));
            assert!(first.attachment().is_none());
        }
        let second = parse(&outbox.recv().await.unwrap().as_str());
        assert_eq!(second["params"]["message"], json!({ "not": "bytes" }));
        connection.close();
    }
}

#[tokio::test]
async fn over_the_websocket() {
    let app = app();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    let id = client
        .request(
            "progress",
            json!({ "steps": 4, "onProgress": "__CHANNEL__:77" }),
        )
        .await;
    for i in 0..4 {
        let message = client.wait_for(|m| m["method"] == "ipc.channel").await;
        assert_eq!(message["params"]["index"], i);
        assert_eq!(message["params"]["message"]["done"], i + 1);
    }
    assert_eq!(client.response(id).await["result"], 4);
    let end = client.wait_for(|m| m["method"] == "ipc.channel").await;
    assert_eq!(
        end["params"],
        json!({ "channel": 77, "index": 4, "end": true })
    );
    server.shutdown().await;
}
