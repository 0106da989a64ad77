//! The WebSocket server end to end on loopback, with an independent client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipc_runtime::transport::ws::ServerHandle;
use ipc_runtime::{App, Caller, EventTarget, State, codes, command};
use ipc_tests::WsClient;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[command]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[command]
async fn sleep(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

/// Counts finished `slow_side_effect` calls.
#[derive(Default)]
struct Finished(AtomicUsize);

#[command]
async fn slow_side_effect(ms: u64, finished: State<Finished>) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    finished.0.fetch_add(1, Ordering::SeqCst);
    ms
}

#[command]
fn boom() -> u8 {
    panic!("boom")
}

#[command]
fn whoami(caller: Caller) -> u64 {
    caller.client_id().get()
}

async fn start() -> (App, ServerHandle) {
    let app = App::builder().manage(Finished::default()).build().unwrap();
    let server = app
        .server()
        .asset("/", "text/html", "<h1>hi</h1>")
        .shutdown_drain(Duration::from_secs(5))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    (app, server)
}

#[tokio::test]
async fn concurrent_invokes_on_one_connection_complete_out_of_order() {
    let (_app, server) = start().await;
    let mut client = WsClient::connect(&server.ws_url()).await;
    let slow = client.request("sleep", json!({ "ms": 400 })).await;
    let fast = client.request("add", json!([1, 2])).await;
    let medium = client.request("sleep", json!({ "ms": 100 })).await;
    let order: Vec<Value> = vec![
        client.next().await,
        client.next().await,
        client.next().await,
    ];
    let ids: Vec<u64> = order.iter().map(|m| m["id"].as_u64().unwrap()).collect();
    assert_eq!(
        ids,
        [fast, medium, slow],
        "responses come in completion order"
    );
    assert_eq!(order[0]["result"], 3);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_connections_at_once() {
    let (_app, server) = start().await;
    let url = server.ws_url();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let mut client = WsClient::connect(&url).await;
                let mut ids = Vec::new();
                for j in 0..10 {
                    let r = client.call("add", json!({ "a": i, "b": j })).await;
                    assert_eq!(r["result"], i + j);
                    ids.push(
                        client.call("whoami", json!({})).await["result"]
                            .as_u64()
                            .unwrap(),
                    );
                }
                ids.dedup();
                assert_eq!(ids.len(), 1, "one client id per connection");
                client.close().await;
                ids[0]
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50, "every connection has its own id");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_vanishing_mid_invoke_does_not_disturb_others() {
    let (app, server) = start().await;
    let mut quitter = WsClient::connect(&server.ws_url()).await;
    let mut stayer = WsClient::connect(&server.ws_url()).await;
    quitter
        .request("slow_side_effect", json!({ "ms": 200 }))
        .await;
    let id = stayer
        .request("slow_side_effect", json!({ "ms": 300 }))
        .await;
    drop(quitter); // no close frame: the TCP connection just goes away
    let reply = stayer.response(id).await;
    assert_eq!(reply["result"], 300);
    assert_eq!(stayer.call("add", json!([2, 2])).await["result"], 4);
    // The abandoned call still ran to completion: disconnects never cut a command in half.
    assert_eq!(app.state::<Finished>().unwrap().0.load(Ordering::SeqCst), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_answered_and_the_connection_keeps_working() {
    let (_app, server) = start().await;
    let mut client = WsClient::connect(&server.ws_url()).await;
    let mut other = WsClient::connect(&server.ws_url()).await;

    client.send_text("{not json").await;
    assert_eq!(client.next().await["error"]["code"], codes::PARSE_ERROR);

    client.send_text(r#"{"jsonrpc":"2.0","id":1}"#).await;
    assert_eq!(client.next().await["error"]["code"], codes::INVALID_REQUEST);

    // A text frame that is not UTF-8 (sent raw; the client library would refuse to build one).
    client
        .send_message(Message::Frame(text_frame(&[0x7b, 0xff, 0xfe, 0x7d])))
        .await;
    let reply = client.next().await;
    assert_eq!(reply["error"]["code"], codes::PARSE_ERROR);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8")
    );

    client.send_message(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(client.next().await["error"]["code"], codes::INVALID_REQUEST);

    let reply = client.call("ipc.nonsense", json!({})).await;
    assert_eq!(reply["error"]["code"], codes::METHOD_NOT_FOUND);

    let reply = client.call("boom", json!({})).await;
    assert_eq!(reply["error"]["code"], codes::INTERNAL_ERROR);

    // Still serving this connection and the others.
    assert_eq!(client.call("add", json!([20, 22])).await["result"], 42);
    assert_eq!(other.call("add", json!([1, 1])).await["result"], 2);
    server.shutdown().await;
}

fn text_frame(payload: &[u8]) -> tokio_tungstenite::tungstenite::protocol::frame::Frame {
    use tokio_tungstenite::tungstenite::protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    };
    Frame::message(payload.to_vec(), OpCode::Data(Data::Text), true)
}

#[tokio::test]
async fn batches_over_the_socket() {
    let (_app, server) = start().await;
    let mut client = WsClient::connect(&server.ws_url()).await;
    client
        .send_text(r#"[{"jsonrpc":"2.0","id":"a","method":"add","params":[1,1]},{"jsonrpc":"2.0","id":"b","method":"sleep","params":{"ms":50}}]"#)
        .await;
    let reply = client.next().await;
    let replies = reply.as_array().expect("one array for the batch");
    assert_eq!(replies.len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn clients_receive_only_the_events_they_subscribed_to() {
    let (app, server) = start().await;
    let mut a = WsClient::connect(&server.ws_url()).await;
    let mut b = WsClient::connect(&server.ws_url()).await;
    let sub = a.call("ipc.listen", json!({ "event": "news" })).await;
    let id = sub["result"].as_u64().expect("a subscription id");
    // Subscribing again to the same name is the same subscription.
    assert_eq!(
        a.call("ipc.listen", json!({ "event": "news" })).await["result"],
        id
    );

    // The listen response came after the subscription was in place: this emit is not missed.
    app.emit("news", &json!({ "n": 1 })).unwrap();
    app.emit("other", &json!({ "n": 0 })).unwrap();
    let event = a.event("news").await;
    assert!(event["seq"].is_u64(), "{event}");
    assert_eq!(
        event,
        json!({ "event": "news", "payload": { "n": 1 }, "source": 0, "seq": event["seq"] })
    );
    assert!(
        !b.receives_within(Duration::from_millis(200), |m| m["method"] == "ipc.event")
            .await
    );
    assert!(
        !a.receives_within(Duration::from_millis(100), |m| m["params"]["event"]
            == "other")
            .await
    );

    assert_eq!(
        a.call("ipc.unlisten", json!({ "event": "news" })).await["result"],
        true
    );
    assert_eq!(
        a.call("ipc.unlisten", json!({ "event": "news" })).await["result"],
        false
    );
    app.emit("news", &json!({ "n": 2 })).unwrap();
    assert!(
        !a.receives_within(Duration::from_millis(200), |m| m["method"] == "ipc.event")
            .await
    );

    // Unlisten by id.
    let id = a.call("ipc.listen", json!({ "event": "news" })).await["result"].clone();
    assert_eq!(
        a.call("ipc.unlisten", json!({ "id": id })).await["result"],
        true
    );
    server.shutdown().await;
}

#[tokio::test]
async fn client_emits_reach_rust_and_other_clients_and_emit_to_targets_one() {
    let (app, server) = start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    app.listen("chat", move |event| {
        sink.lock()
            .unwrap()
            .push((event.source().get(), event.payload::<Value>().unwrap()));
    });
    let mut a = WsClient::connect(&server.ws_url()).await;
    let mut b = WsClient::connect(&server.ws_url()).await;
    let a_id = a.call("whoami", json!({})).await["result"]
        .as_u64()
        .unwrap();
    let b_id = b.call("whoami", json!({})).await["result"]
        .as_u64()
        .unwrap();
    b.call("ipc.listen", json!({ "event": "chat" })).await;

    let reply = a
        .call("ipc.emit", json!({ "event": "chat", "payload": "hi" }))
        .await;
    assert_eq!(reply["result"], Value::Null);
    let chat = b.event("chat").await;
    assert_eq!(
        chat,
        json!({ "event": "chat", "payload": "hi", "source": a_id, "seq": chat["seq"] })
    );
    assert_eq!(*seen.lock().unwrap(), [(a_id, json!("hi"))]);

    // A plain notification is an event too.
    a.send_text(r#"{"jsonrpc":"2.0","method":"chat","params":{"x":1}}"#)
        .await;
    assert_eq!(b.event("chat").await["payload"], json!({ "x": 1 }));

    // emit_to reaches only its target.
    a.call("ipc.listen", json!({ "event": "chat" })).await;
    app.emit_to(
        EventTarget::Client(ipc_runtime::ClientId::new(b_id)),
        "chat",
        &"only b",
    )
    .unwrap();
    assert_eq!(b.event("chat").await["payload"], "only b");
    assert!(
        !a.receives_within(Duration::from_millis(200), |m| m["params"]["payload"]
            == "only b")
            .await
    );

    // Frontends cannot forge runtime events.
    let reply = a
        .call(
            "ipc.emit",
            json!({ "event": "ipc:disconnected", "payload": {} }),
        )
        .await;
    assert_eq!(reply["error"]["code"], codes::INVALID_PARAMS);
    server.shutdown().await;
}

#[tokio::test]
async fn connect_and_disconnect_are_events() {
    let (app, server) = start().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    for name in ["ipc:connected", "ipc:disconnected"] {
        let sink = Arc::clone(&log);
        app.listen(name, move |event| {
            let payload: Value = event.payload().unwrap();
            sink.lock()
                .unwrap()
                .push((event.name().to_owned(), payload["client"].as_u64().unwrap()));
        });
    }
    let mut client = WsClient::connect(&server.ws_url()).await;
    let id = client.call("whoami", json!({})).await["result"]
        .as_u64()
        .unwrap();
    client.close().await;
    for _ in 0..200 {
        if log.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        *log.lock().unwrap(),
        [
            ("ipc:connected".to_owned(), id),
            ("ipc:disconnected".to_owned(), id)
        ]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_running_calls_and_closes_cleanly() {
    let (app, server) = start().await;
    let mut client = WsClient::connect(&server.ws_url()).await;
    let id = client
        .request("slow_side_effect", json!({ "ms": 300 }))
        .await;
    // Let the request reach the server before shutting down.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let url = server.ws_url();
    let stopping = tokio::spawn(server.shutdown());
    let reply = client.response(id).await;
    assert_eq!(
        reply["result"], 300,
        "the running call answered before the close"
    );
    assert_eq!(client.closed_with().await, Some(1001));
    stopping.await.unwrap();
    assert_eq!(app.state::<Finished>().unwrap().0.load(Ordering::SeqCst), 1);
    assert!(
        tokio_tungstenite::connect_async(url.as_str())
            .await
            .is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn shutdown_cancels_calls_that_outlive_the_drain_deadline() {
    let app = App::builder().manage(Finished::default()).build().unwrap();
    let server = app
        .server()
        .shutdown_drain(Duration::from_millis(100))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    client
        .request("slow_side_effect", json!({ "ms": 5_000 }))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(client.closed_with().await, Some(1001));
    assert_eq!(app.state::<Finished>().unwrap().0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_server_serves_the_client_script_and_assets() {
    let (_app, server) = start().await;
    let token = server.token().unwrap().to_owned();
    let page = http_get(server.local_addr(), &format!("/?token={token}")).await;
    assert!(
        page.starts_with("HTTP/1.1 200") && page.ends_with("<h1>hi</h1>"),
        "{page}"
    );
    assert!(
        page.to_lowercase().contains("referrer-policy: no-referrer"),
        "{page}"
    );
    let without = http_get(server.local_addr(), "/").await;
    assert!(
        without.starts_with("HTTP/1.1 401"),
        "every route wants the token: {without}"
    );
    let script = http_get(server.local_addr(), &format!("/ipc.js?token={token}")).await;
    assert!(
        script.contains("text/javascript") && script.contains("export async function connect"),
        "{}",
        &script[..200]
    );
    let plain = http_get(server.local_addr(), "/ipc").await;
    assert!(plain.starts_with("HTTP/1.1 426"), "{plain}");
    let missing = http_get(server.local_addr(), &format!("/nope?token={token}")).await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    server.shutdown().await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn non_loopback_addresses_need_an_explicit_opt_in() {
    let app = App::builder().build().unwrap();
    let err = app.serve("0.0.0.0:0").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("allow_non_loopback"), "{err}");
    let ipv6 = app.serve("[::1]:0").await;
    if let Ok(server) = ipv6 {
        assert!(server.local_addr().ip().is_loopback());
        server.shutdown().await;
    }
}

#[tokio::test]
async fn an_oversized_message_is_refused_and_the_connection_closed() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .max_message_size(1024)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    let mut other = WsClient::connect(&server.ws_url()).await;
    // Exactly at the limit is fine.
    let at_limit = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2],"pad":"{}"}}"#,
        "x".repeat(1024 - 63)
    );
    assert_eq!(at_limit.len(), 1024);
    client.send_text(&at_limit).await;
    assert_eq!(client.next().await["result"], 3);
    client.send_text(&format!("{at_limit} ")).await;
    let reply = client.next().await;
    assert_eq!(reply["error"]["code"], codes::LIMIT_EXCEEDED);
    assert_eq!(client.closed_with().await, Some(1009));
    assert_eq!(other.call("add", json!([1, 1])).await["result"], 2);
    server.shutdown().await;
}
