//! Every defence of the server, each with a test that fails without it:
//! capabilities (commands, events, Tauri methods), the token, the origin check,
//! the limits (message size without memory growth, in-flight backpressure,
//! batch size, subscriptions, connections, slow consumers, idle peers), and
//! fault isolation.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ipc_runtime::session::ConnectOptions;
use ipc_runtime::transport::ws::ServerHandle;
use ipc_runtime::{App, Capability, Channel, State, codes, command};
use ipc_tests::WsClient;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Counts the times a side-effecting command really ran.
#[derive(Default)]
struct Wipes(AtomicU32);

#[command(rename = "todos.list")]
fn list() -> Vec<String> {
    vec!["a".into()]
}

#[command(rename = "admin.wipe")]
fn wipe(wipes: State<Wipes>) -> u32 {
    wipes.0.fetch_add(1, Ordering::SeqCst) + 1
}

/// Start times of `slow` calls, in ms since the test's start.
#[derive(Default)]
struct Starts(Mutex<Vec<u128>>, Mutex<Option<Instant>>);

#[command]
async fn slow(ms: u64, starts: State<Starts>) -> u64 {
    let t0 = starts
        .1
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now)
        .to_owned();
    starts.0.lock().unwrap().push(t0.elapsed().as_millis());
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[command]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[command]
async fn stream_then_panic(sink: Channel<u32>) {
    sink.send(&1).await.unwrap();
    panic!("the producer broke");
}

fn acl_app() -> App {
    App::builder()
        .manage(Wipes::default())
        .manage(Starts::default())
        .capability(
            Capability::new("viewer")
                .allow_invoke(["todos.*"])
                .allow_listen(["todos:*"])
                .allow_emit(["cursor:*"]),
        )
        .capability(Capability::new("admin").allow_all())
        .grant_token("admin-secret-0123456789abcdef", "admin")
        .default_capability("viewer")
        .build()
        .unwrap()
}

fn wipes(app: &App) -> u32 {
    app.state::<Wipes>().unwrap().0.load(Ordering::SeqCst)
}

// ---- capabilities ----

#[tokio::test]
async fn a_forbidden_command_never_runs() {
    let app = acl_app();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut viewer = WsClient::connect(&server.ws_url()).await;
    let reply = viewer.call("admin.wipe", json!({})).await;
    assert_eq!(reply["error"]["code"], codes::FORBIDDEN);
    assert_eq!(
        reply["error"]["data"],
        json!({ "kind": "invoke", "name": "admin.wipe" })
    );
    assert_eq!(
        reply["error"]["message"],
        "invoking `admin.wipe` is not allowed for this connection"
    );
    assert_eq!(wipes(&app), 0, "the command did not run");
    // An allowed command works, and a typo suggestion never names a forbidden command.
    assert_eq!(
        viewer.call("todos.list", json!({})).await["result"],
        json!(["a"])
    );
    let reply = viewer.call("admin.wip", json!({})).await;
    assert_eq!(
        reply["error"]["code"],
        codes::FORBIDDEN,
        "unknown-but-forbidden reveals nothing"
    );
    let reply = viewer.call("todos.lst", json!({})).await;
    assert_eq!(reply["error"]["data"]["suggestion"], "todos.list");

    // The admin token grants more (and is accepted as a connection token).
    let url = server
        .ws_url()
        .replace(server.token().unwrap(), "admin-secret-0123456789abcdef");
    let mut admin = WsClient::connect(&url).await;
    assert_eq!(admin.call("admin.wipe", json!({})).await["result"], 1);
    assert_eq!(wipes(&app), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn the_acl_is_testable_in_process() {
    let app = acl_app();
    let err = app
        .invoke_with("viewer", "admin.wipe", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::FORBIDDEN);
    assert_eq!(
        app.invoke_with("admin", "admin.wipe", json!({}))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.invoke("admin.wipe", json!({})).await.unwrap(),
        2,
        "the backend is not restricted"
    );
    let err = app
        .invoke_with("nobody", "todos.list", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::INTERNAL_ERROR);
}

#[tokio::test]
async fn denied_events_are_not_delivered_in_either_direction() {
    let app = acl_app();
    let heard = std::sync::Arc::new(AtomicU32::new(0));
    let counter = std::sync::Arc::clone(&heard);
    app.listen("secret:plans", move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut viewer = WsClient::connect(&server.ws_url()).await;

    // Listening to what the capability does not cover is refused, and nothing arrives.
    let reply = viewer
        .call("ipc.listen", json!({ "event": "secret:plans" }))
        .await;
    assert_eq!(reply["error"]["code"], codes::FORBIDDEN);
    assert_eq!(reply["error"]["data"]["kind"], "listen");
    let reply = viewer
        .call(
            "plugin:event|listen",
            json!({ "event": "secret:plans", "handler": 1 }),
        )
        .await;
    assert_eq!(reply["error"]["code"], codes::FORBIDDEN);
    app.emit("secret:plans", &"launch codes").unwrap();
    assert!(
        !viewer
            .receives_within(Duration::from_millis(200), |m| m["method"] == "ipc.event")
            .await
    );
    assert_eq!(
        heard.load(Ordering::SeqCst),
        1,
        "only the Rust listener heard it"
    );

    // Emitting what it does not cover is refused, by every route.
    let reply = viewer
        .call("ipc.emit", json!({ "event": "secret:plans", "payload": 1 }))
        .await;
    assert_eq!(
        reply["error"]["data"],
        json!({ "kind": "emit", "name": "secret:plans" })
    );
    let reply = viewer
        .call(
            "plugin:event|emit",
            json!({ "event": "secret:plans", "payload": 1 }),
        )
        .await;
    assert_eq!(reply["error"]["code"], codes::FORBIDDEN);
    viewer
        .send_text(r#"{"jsonrpc":"2.0","method":"secret:plans","params":1}"#)
        .await;
    // What it does cover works.
    assert!(
        viewer
            .call("ipc.listen", json!({ "event": "todos:changed" }))
            .await["result"]
            .is_u64()
    );
    assert_eq!(
        viewer
            .call("ipc.emit", json!({ "event": "cursor:moved" }))
            .await["result"],
        Value::Null
    );
    assert_eq!(
        heard.load(Ordering::SeqCst),
        1,
        "no frontend emit reached the Rust listener"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn deny_by_default_refuses_everything_to_unmatched_connections() {
    let app = App::builder()
        .manage(Wipes::default())
        .deny_by_default()
        .build()
        .unwrap();
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":1,"method":"todos.list"}"#)
        .await;
    let reply: Value = serde_json::from_str(&outbox.recv().await.unwrap().as_str()).unwrap();
    assert_eq!(reply["error"]["code"], codes::FORBIDDEN);
    connection.close();
}

// ---- who may connect ----

/// Status code of a WebSocket upgrade attempt with these headers.
async fn upgrade_status(server: &ServerHandle, path_and_query: &str, origin: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{origin}\r\n",
        server.local_addr()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 512];
    let n = stream.read(&mut head).await.unwrap();
    let head = String::from_utf8_lossy(&head[..n]).to_string();
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_token_is_required() {
    let app = App::builder().build().unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let token = server.token().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert_eq!(upgrade_status(&server, "/ipc", None).await, 401, "missing");
    assert_eq!(
        upgrade_status(&server, "/ipc?token=guess", None).await,
        401,
        "wrong"
    );
    let almost = format!("/ipc?token={}", &token[..63]);
    assert_eq!(
        upgrade_status(&server, &almost, None).await,
        401,
        "a prefix"
    );
    assert_eq!(
        upgrade_status(&server, &format!("/ipc?token={token}"), None).await,
        101
    );
    // The URLs the handle gives carry it.
    assert!(server.ws_url().ends_with(&format!("/ipc?token={token}")));
    assert!(server.http_url().ends_with(&format!("/?token={token}")));
    server.shutdown().await;
}

#[tokio::test]
async fn pages_from_other_origins_are_refused() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .allow_origin("https://app.example")
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let port = server.local_addr().port();
    let path = format!("/ipc?token={}", server.token().unwrap());
    for own in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        assert_eq!(
            upgrade_status(&server, &path, Some(&own)).await,
            101,
            "{own}"
        );
    }
    assert_eq!(
        upgrade_status(&server, &path, Some("https://app.example")).await,
        101
    );
    for foreign in [
        format!("http://127.0.0.1:{}", port + 1),
        "http://evil.example".to_owned(),
        "null".to_owned(),
    ] {
        // Even with the right token: a leaked token does not let another page in.
        assert_eq!(
            upgrade_status(&server, &path, Some(&foreign)).await,
            403,
            "{foreign}"
        );
    }
    assert_eq!(
        upgrade_status(&server, &path, None).await,
        101,
        "non-browser clients send no Origin"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_connection_limit_holds_at_and_past_it() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .max_connections(3)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(WsClient::connect(&server.ws_url()).await);
    }
    let path = format!("/ipc?token={}", server.token().unwrap());
    assert_eq!(upgrade_status(&server, &path, None).await, 503);
    open.pop().unwrap().close().await;
    // The slot comes back once the server has seen the close.
    let mut status = 0;
    for _ in 0..100 {
        status = upgrade_status(&server, &path, None).await;
        if status == 101 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 101);
    server.shutdown().await;
}

// ---- limits ----

/// VmRSS of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_refused_without_reading_it_into_memory() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .max_message_size(1 << 20)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let before = rss();
    // Open a socket by hand and announce a 1 GiB frame.
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let request = format!(
        "GET /ipc?token={} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.token().unwrap(),
        server.local_addr()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 256];
    let n = stream.read(&mut head).await.unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 101"));
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&(1u64 << 30).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]); // mask
    stream.write_all(&frame).await.unwrap();
    // Keep sending payload; the server must cut us off long before 1 GiB.
    let chunk = vec![0u8; 64 << 10];
    let mut sent = 0usize;
    let started = Instant::now();
    while sent < (256 << 20) && started.elapsed() < Duration::from_secs(10) {
        match tokio::time::timeout(Duration::from_millis(500), stream.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            _ => break,
        }
    }
    assert!(
        sent < (64 << 20),
        "the server stopped reading early (accepted {sent} bytes)"
    );
    let grown = rss().saturating_sub(before);
    assert!(
        grown < (32 << 20),
        "server memory grew by {grown} bytes, not by the message's size"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_in_flight_limit_stops_reading_until_a_call_finishes() {
    let app = App::builder().manage(Starts::default()).build().unwrap();
    let server = app
        .server()
        .max_in_flight(2)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    let a = client.request("slow", json!({ "ms": 400 })).await;
    let _b = client.request("slow", json!({ "ms": 400 })).await;
    let _c = client.request("slow", json!({ "ms": 10 })).await;
    let d = client.request("add", json!([1, 2])).await;
    // `add` is instant, but it sits behind the third call, which waits for a slot.
    let first = client.next().await;
    assert_eq!(
        first["id"], a,
        "nothing answers before a slot frees: {first}"
    );
    assert_eq!(client.response(d).await["result"], 3);
    let starts = app.state::<Starts>().unwrap().0.lock().unwrap().clone();
    assert_eq!(starts.len(), 3);
    assert!(
        starts[2] >= 350,
        "the third call started only after one ended: {starts:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn batch_size_is_limited_at_and_past_the_limit() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .max_batch(3)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    let batch = |n: usize| {
        let items: Vec<Value> = (0..n)
            .map(|i| json!({ "jsonrpc": "2.0", "id": i, "method": "add", "params": [i, 1] }))
            .collect();
        serde_json::to_string(&items).unwrap()
    };
    client.send_text(&batch(3)).await;
    assert_eq!(client.next().await.as_array().unwrap().len(), 3);
    client.send_text(&batch(4)).await;
    let reply = client.next().await;
    assert_eq!(reply["error"]["code"], codes::LIMIT_EXCEEDED);
    assert_eq!(
        reply["error"]["data"],
        json!({ "limit": "batch size", "max": 3 })
    );
    server.shutdown().await;
}

#[tokio::test]
async fn subscriptions_are_limited_at_and_past_the_limit() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .max_subscriptions(2)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    assert!(client.call("ipc.listen", json!({ "event": "a" })).await["result"].is_u64());
    assert!(
        client
            .call("plugin:event|listen", json!({ "event": "b", "handler": 1 }))
            .await["result"]
            .is_u64()
    );
    assert!(
        client.call("ipc.listen", json!({ "event": "a" })).await["result"].is_u64(),
        "the same name again is free"
    );
    for (method, params) in [
        ("ipc.listen", json!({ "event": "c" })),
        ("plugin:event|listen", json!({ "event": "c", "handler": 2 })),
    ] {
        let reply = client.call(method, params).await;
        assert_eq!(reply["error"]["code"], codes::LIMIT_EXCEEDED, "{method}");
        assert_eq!(
            reply["error"]["data"],
            json!({ "limit": "subscriptions", "max": 2 })
        );
    }
    client.call("ipc.unlisten", json!({ "event": "a" })).await;
    assert!(client.call("ipc.listen", json!({ "event": "c" })).await["result"].is_u64());
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_consumer_gets_a_bounded_queue_then_a_lag_notice() {
    let app = App::builder().build().unwrap();
    let (connection, mut outbox) = app.connect(ConnectOptions::default().outbox_capacity(8));
    connection
        .handle_text(r#"{"jsonrpc":"2.0","method":"ipc.listen","params":{"event":"tick"}}"#)
        .await;
    for i in 0..10_000 {
        app.emit("tick", &i).unwrap();
    }
    assert_eq!(
        connection.dropped_events(),
        10_000 - 8,
        "the queue held 8, the rest were dropped"
    );
    let mut ticks = Vec::new();
    while let Some(message) = outbox.try_recv() {
        let m: Value = serde_json::from_str(&message.as_str()).unwrap();
        ticks.push(m["params"]["payload"].as_u64().unwrap());
    }
    assert_eq!(
        ticks,
        (0..8).collect::<Vec<_>>(),
        "the oldest kept, in order"
    );
    // Once there is room, the client first learns how much it missed.
    app.emit("tick", &"next").unwrap();
    let notice: Value = serde_json::from_str(&outbox.recv().await.unwrap().as_str()).unwrap();
    assert_eq!(
        notice,
        json!({ "jsonrpc": "2.0", "method": "ipc.lagged", "params": { "dropped": 9992 } })
    );
    let next: Value = serde_json::from_str(&outbox.recv().await.unwrap().as_str()).unwrap();
    assert_eq!(next["params"]["payload"], "next");
    connection.close();
}

#[tokio::test]
async fn silent_peers_are_closed_and_live_ones_kept() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .ping_interval(Duration::from_millis(100))
        .idle_timeout(Duration::from_millis(400))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    // A client that reads answers pings, so it stays.
    let mut live = WsClient::connect(&server.ws_url()).await;
    assert!(
        !live
            .receives_within(Duration::from_millis(1_200), |_| true)
            .await
    );
    assert_eq!(
        live.call("add", json!([1, 1])).await["result"],
        2,
        "still connected after 3 idle timeouts"
    );
    // A peer that completed the handshake and then went silent is closed.
    let mut silent = TcpStream::connect(server.local_addr()).await.unwrap();
    let request = format!(
        "GET /ipc?token={} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.token().unwrap(),
        server.local_addr()
    );
    silent.write_all(request.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => continue, // the 101, pings, the close frame
            Err(_) => panic!("the silent peer was never closed"),
        }
    }
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(350) && after < Duration::from_secs(3),
        "closed after {after:?}"
    );
    server.shutdown().await;
}

// ---- fault isolation ----

#[tokio::test]
async fn a_panicking_channel_producer_is_reported_and_the_connection_goes_on() {
    let app = App::builder().build().unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    let id = client
        .request("stream_then_panic", json!({ "sink": "__CHANNEL__:1" }))
        .await;
    let first = client.wait_for(|m| m["method"] == "ipc.channel").await;
    assert_eq!(first["params"]["message"], 1);
    let reply = client.response(id).await;
    assert_eq!(reply["error"]["code"], codes::INTERNAL_ERROR);
    let end = client.wait_for(|m| m["method"] == "ipc.channel").await;
    assert_eq!(end["params"]["end"], true, "the channel still ends");
    assert_eq!(client.call("add", json!([2, 3])).await["result"], 5);
    server.shutdown().await;
}
