//! The second round of defences, each with a test that fails without it: time
//! bounds (write deadline, shutdown, header timeout, pending connections),
//! byte budgets (outbox bytes on fan-out, incoming messages), identity (labels
//! bound by the server, Origin adds nothing to a scoped token), cheap refusals
//! (long method names, batches and blocking jobs within the in-flight limit,
//! the rate limit), and the HTTP side (Host check, dotfiles, symlinks).
//!
//! Most use raw TCP sockets, because a well-behaved client cannot misbehave.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ipc_runtime::transport::ws::ServerHandle;
use ipc_runtime::{App, Capability, EventTarget, State, codes, command};
use ipc_tests::WsClient;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

// ---- raw sockets ----

/// A masked client frame (`opcode` 1 text, 2 binary, 8 close, ...).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mask = [0x12, 0x34, 0x56, 0x78];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn text_frame(message: &Value) -> Vec<u8> {
    frame(1, message.to_string().as_bytes())
}

/// A TCP connection to the server, with a small receive buffer if asked (so a
/// client that does not read fills up fast).
async fn tcp(addr: SocketAddr, recv_buffer: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes).unwrap();
    }
    socket.connect(addr).await.unwrap()
}

/// Opens a WebSocket by hand at `path` (with its query) and returns the
/// socket after the 101, or the status line when the server refuses.
async fn upgrade(
    addr: SocketAddr,
    path: &str,
    headers: &str,
    recv_buffer: Option<u32>,
) -> Result<TcpStream, String> {
    let mut stream = tcp(addr, recv_buffer).await;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("an answer to the upgrade");
        match read {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if head.starts_with("HTTP/1.1 101") {
        Ok(stream)
    } else {
        Err(head.lines().next().unwrap_or("").to_owned())
    }
}

/// One HTTP request with `host`; the whole answer (the connection closes).
async fn http(addr: SocketAddr, host: &str, path: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn status(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

fn token_path(server: &ServerHandle, path: &str) -> String {
    format!("{path}?token={}", server.token().unwrap())
}

/// Whether the peer closed the connection within `within` (reading and
/// discarding whatever it sends until then).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut sink = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[command]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Waits until `check` holds, checking every 20 ms, for at most `within`.
async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// Emits `event` with `payload` every few ms until `stop` says so or `within`.
fn flood(
    app: &App,
    event: &'static str,
    payload: Value,
    within: Duration,
) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        let until = Instant::now() + within;
        while Instant::now() < until {
            let _ = app.emit(event, &payload);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

// ---- time bounds ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_and_others_are_served() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .write_timeout(Duration::from_millis(500))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let mut frozen = upgrade(addr, &token_path(&server, "/ipc"), "", Some(4096))
        .await
        .unwrap();
    let listen = json!({ "jsonrpc": "2.0", "id": 1, "method": "ipc.listen", "params": { "event": "flood" } });
    frozen.write_all(&text_frame(&listen)).await.unwrap();
    let mut good = WsClient::connect(&server.ws_url()).await;
    assert_eq!(good.call("add", json!([1, 1])).await["result"], 2);
    assert!(eventually(Duration::from_secs(2), || server.connections() == 2).await);

    let started = Instant::now();
    let flooding = flood(
        &app,
        "flood",
        json!("x".repeat(32 * 1024)),
        Duration::from_secs(10),
    );
    // The good client keeps being served while the frozen one's writes block.
    for i in 0..10 {
        let reply = tokio::time::timeout(Duration::from_secs(2), good.call("add", json!([i, 1])))
            .await
            .expect("the good client is answered promptly");
        assert_eq!(reply["result"], i + 1);
    }
    assert!(
        eventually(Duration::from_secs(6), || server.connections() == 1).await,
        "the frozen client was never disconnected"
    );
    let after = started.elapsed();
    flooding.abort();
    assert!(
        after < Duration::from_secs(4),
        "disconnected {after:?} after the flood began; the write deadline is 500 ms"
    );
    assert_eq!(good.call("add", json!([2, 2])).await["result"], 4);
    drop(frozen);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_within_the_drain_deadline_whatever_clients_do() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        // A long write deadline: only the shutdown's own bound can end these.
        .write_timeout(Duration::from_secs(60))
        .shutdown_drain(Duration::from_millis(300))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let mut frozen = Vec::new();
    for _ in 0..2 {
        let mut stream = upgrade(addr, &token_path(&server, "/ipc"), "", Some(4096))
            .await
            .unwrap();
        let listen = json!({ "jsonrpc": "2.0", "id": 1, "method": "ipc.listen", "params": { "event": "flood" } });
        stream.write_all(&text_frame(&listen)).await.unwrap();
        frozen.push(stream);
    }
    assert!(eventually(Duration::from_secs(2), || server.connections() == 2).await);
    let flooding = flood(
        &app,
        "flood",
        json!("x".repeat(32 * 1024)),
        Duration::from_secs(3),
    );
    tokio::time::sleep(Duration::from_secs(1)).await; // their writers are stuck by now
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("shutdown returned");
    let took = started.elapsed();
    flooding.abort();
    assert!(
        took < Duration::from_millis(300 + 1_000 + 700),
        "shutdown took {took:?}; the drain deadline is 300 ms (plus a second for the last writes)"
    );
    drop(frozen);
}

#[tokio::test]
async fn connections_that_never_upgrade_are_closed_and_capped() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .header_read_timeout(Duration::from_millis(300))
        .max_pending_connections(4)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // Wait until the server has taken those four, so the next one is the fifth.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_within(&mut fifth, Duration::from_millis(200)).await,
        "past the cap, a connection is closed at once"
    );
    let started = Instant::now();
    for stream in &mut idle {
        assert!(
            closed_within(stream, Duration::from_secs(3)).await,
            "an idle connection stayed open"
        );
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "closed after {took:?}; the header timeout is 300 ms"
    );
    // A request that trickles its headers is cut off the same way.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: ").await.unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(3)).await);
    // Slots came back: a real client connects.
    let mut client = WsClient::connect(&server.ws_url()).await;
    assert!(client.call("ipc.listen", json!({ "event": "x" })).await["result"].is_u64());
    server.shutdown().await;
}

// ---- byte budgets ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_to_a_client_that_does_not_read_stays_within_its_budget() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .outbox_bytes(1 << 20)
        .max_subscriptions(256)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    // 200 Tauri listeners on one event, on a client that never reads.
    let mut frozen = upgrade(addr, &token_path(&server, "/ipc"), "", Some(4096))
        .await
        .unwrap();
    let mut listens = Vec::new();
    for handler in 0..200 {
        let listen = json!({ "jsonrpc": "2.0", "id": handler, "method": "plugin:event|listen", "params": { "event": "big", "handler": handler } });
        listens.extend(text_frame(&listen));
    }
    frozen.write_all(&listens).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss();
    let mut emitter = WsClient::connect(&server.ws_url()).await;
    let payload = "y".repeat(2 << 20);
    for _ in 0..4 {
        let reply = emitter
            .call("ipc.emit", json!({ "event": "big", "payload": payload }))
            .await;
        assert_eq!(reply["result"], Value::Null, "{reply}");
    }
    let grown = rss().saturating_sub(before);
    // Before the byte budget and shared payloads: 200 copies of 2 MiB per emit.
    assert!(
        grown < (48 << 20),
        "the server grew by {} MiB for a 1 MiB outbox",
        grown >> 20
    );
    // Distinct events (nothing to share) to a plain subscriber that does not
    // read: only the byte bound keeps them from filling the 256-message queue.
    let mut second = upgrade(addr, &token_path(&server, "/ipc"), "", Some(4096))
        .await
        .unwrap();
    let listen =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "ipc.listen", "params": { "event": "many" } });
    second.write_all(&text_frame(&listen)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = rss();
    for i in 0..256 {
        app.emit("many", &format!("{i:06}{}", "z".repeat(512 << 10)))
            .unwrap();
    }
    let grown = rss().saturating_sub(before);
    assert!(
        grown < (48 << 20),
        "256 events of 512 KiB grew the server by {} MiB for a 1 MiB outbox",
        grown >> 20
    );
    drop((frozen, second));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_messages_share_one_incoming_budget() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .max_message_size(1 << 20)
        .incoming_budget(1 << 20)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    // A takes the whole budget with a 1 MiB message it sends half of.
    let mut a = upgrade(addr, &token_path(&server, "/ipc"), "", None)
        .await
        .unwrap();
    let big = text_frame(
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "add", "params": [1, 2], "pad": "z".repeat((1 << 20) - 200) }),
    );
    let half = big.len() / 2;
    a.write_all(&big[..half]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // B's 300 KiB message waits for budget; its small call first goes through.
    let mut b = WsClient::connect(&server.ws_url()).await;
    assert_eq!(b.call("add", json!([1, 1])).await["result"], 2);
    let id = b
        .request(
            "add",
            json!({ "a": 1, "b": 2, "pad": "p".repeat(300 << 10) }),
        )
        .await;
    let waited = tokio::time::timeout(Duration::from_millis(500), b.response(id)).await;
    assert!(
        waited.is_err(),
        "B's large message was read while A held the whole budget"
    );
    a.write_all(&big[half..]).await.unwrap();
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), a.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).contains("\"result\":3"));
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), b.response(id))
            .await
            .unwrap()["result"],
        3,
        "B goes on once A's message is handled"
    );
    server.shutdown().await;
}

// ---- cheap refusals ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_method_name_is_refused_at_once_and_bystanders_wait_for_nothing() {
    let app = App::builder().build().unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut attacker = WsClient::connect(&server.ws_url()).await;
    let mut bystander = WsClient::connect(&server.ws_url()).await;
    let name = "a".repeat(1 << 20);
    let started = Instant::now();
    let reply = attacker.call(&name, json!({})).await;
    let took = started.elapsed();
    assert_eq!(reply["error"]["code"], codes::LIMIT_EXCEEDED);
    assert_eq!(
        reply["error"]["data"],
        json!({ "limit": "method name", "max": 256 })
    );
    assert!(
        reply.to_string().len() < 300,
        "a short answer: {}",
        reply.to_string().len()
    );
    assert!(took < Duration::from_millis(500), "answered in {took:?}");
    // While the attacker keeps sending them, a bystander is served as usual.
    let flood = tokio::spawn(async move {
        for _ in 0..20 {
            attacker.request(&name, json!({})).await;
        }
        attacker
    });
    for i in 0..20 {
        let started = Instant::now();
        assert_eq!(bystander.call("add", json!([i, 1])).await["result"], i + 1);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    flood.await.unwrap();
    server.shutdown().await;
}

/// Blocking jobs running now, and the most that ever ran at once.
#[derive(Default)]
struct Running {
    now: AtomicUsize,
    most: AtomicUsize,
}

#[command(blocking)]
fn hold(ms: u64, running: State<Running>) -> u64 {
    let now = running.now.fetch_add(1, Ordering::SeqCst) + 1;
    running.most.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(ms));
    running.now.fetch_sub(1, Ordering::SeqCst);
    ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_and_blocking_jobs_stay_within_the_in_flight_limit() {
    let app = App::builder().manage(Running::default()).build().unwrap();
    let server = app
        .server()
        .max_in_flight(2)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    let batch: Vec<Value> = (0..8)
        .map(|i| json!({ "jsonrpc": "2.0", "id": 100 + i, "method": "hold", "params": { "ms": 50 } }))
        .collect();
    client.send_text(&Value::Array(batch).to_string()).await;
    let answer = client.wait_for(Value::is_array).await;
    assert_eq!(answer.as_array().unwrap().len(), 8);
    let running = app.state::<Running>().unwrap();
    assert_eq!(
        running.most.load(Ordering::SeqCst),
        2,
        "a batch's calls each take a slot"
    );

    // Cancelling a blocking job answers at once but does not free its slot early.
    running.most.store(0, Ordering::SeqCst);
    for _ in 0..10 {
        let id = client.request("hold", json!({ "ms": 100 })).await;
        client.call("ipc.cancel", json!({ "id": id })).await;
    }
    assert!(
        eventually(Duration::from_secs(5), || running
            .now
            .load(Ordering::SeqCst)
            == 0)
        .await
    );
    let most = running.most.load(Ordering::SeqCst);
    assert!(
        most <= 2,
        "{most} blocking jobs ran at once with an in-flight limit of 2"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_rate_limit_refuses_past_the_rate_and_recovers() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .rate_limit(10, 5)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    for i in 0..5 {
        assert_eq!(
            client.call("add", json!([i, 0])).await["result"],
            i,
            "the burst"
        );
    }
    let refused = client.call("add", json!([1, 1])).await;
    assert_eq!(refused["error"]["code"], codes::RATE_LIMITED);
    let wait = refused["error"]["data"]["retryAfterMs"].as_u64().unwrap();
    assert!((1..=100).contains(&wait), "{refused}");
    let emit = client.call("ipc.emit", json!({ "event": "x" })).await;
    assert_eq!(
        emit["error"]["code"],
        codes::RATE_LIMITED,
        "emits count too"
    );
    tokio::time::sleep(Duration::from_millis(wait + 20)).await;
    assert_eq!(
        client.call("add", json!([1, 1])).await["result"],
        2,
        "it recovers"
    );
    server.shutdown().await;
}

// ---- identity ----

#[tokio::test]
async fn a_label_is_the_servers_to_give() {
    let app = App::builder().build().unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut claimed = WsClient::connect(&format!("{}&label=main", server.ws_url())).await;
    let mut given = WsClient::connect(&server.window_ws_url("main").unwrap()).await;
    for client in [&mut claimed, &mut given] {
        client
            .call("ipc.listen", json!({ "event": "direct" }))
            .await;
    }
    app.emit_to(EventTarget::Label("main".into()), "direct", &"for main")
        .unwrap();
    assert_eq!(given.event("direct").await["payload"], "for main");
    assert!(
        !claimed
            .receives_within(Duration::from_millis(300), |m| m["params"]["event"]
                == "direct")
            .await,
        "?label= alone routes nothing"
    );
    assert!(server.window_url("not a label").is_err());
    server.shutdown().await;
}

#[command(rename = "page.save")]
fn page_save() -> &'static str {
    "saved"
}

#[command(rename = "read")]
fn read() -> &'static str {
    "read"
}

#[tokio::test]
async fn an_origin_adds_nothing_to_a_scoped_token() {
    let reader = "a-reader-token-of-at-least-128-bits";
    // The app's pages (a browser sends their Origin) may save.
    let app = App::builder()
        .capability(Capability::new("page").allow_invoke(["page.*"]))
        .capability(Capability::new("reader").allow_invoke(["read"]))
        .grant_token(reader, "reader")
        .grant_with(|info| match info.origin {
            Some(origin) if origin.starts_with("http://127.0.0.1:") => vec!["page".into()],
            _ => vec![],
        })
        .build()
        .unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let origin_header = format!("Origin: http://{addr}\r\n");
    // With the launch token, the page's Origin grants `page`...
    let mut page = upgrade(addr, &token_path(&server, "/ipc"), &origin_header, None)
        .await
        .unwrap();
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "page.save" });
    page.write_all(&text_frame(&call)).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), page.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).contains("saved"));
    // ...but a program with the reader's token gains nothing by forging it.
    let mut forged = upgrade(addr, &format!("/ipc?token={reader}"), &origin_header, None)
        .await
        .unwrap();
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "page.save" });
    forged.write_all(&text_frame(&call)).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), forged.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.contains(&codes::FORBIDDEN.to_string()), "{text}");
    let non_ascii = "Origin: http://\u{e9}vil.example\r\n";
    let refused = upgrade(addr, &token_path(&server, "/ipc"), non_ascii, None).await;
    assert_eq!(
        refused.unwrap_err(),
        "HTTP/1.1 403 Forbidden",
        "a malformed Origin is not an absent one"
    );
    server.shutdown().await;
}

// ---- the HTTP side ----

#[tokio::test]
async fn foreign_hosts_are_refused_on_every_route() {
    let dir = tempdir("hosts");
    std::fs::write(dir.join("page.html"), "<p>page").unwrap();
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .static_dir(&dir)
        .asset("/", "text/html", "<h1>home</h1>")
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let evil = format!("rebound.example:{}", addr.port());
    for path in ["/", "/ipc.js", "/page.html", "/ipc"] {
        let answer = http(addr, &evil, &token_path(&server, path), "").await;
        assert!(
            status(&answer).contains("421"),
            "{path}: {}",
            status(&answer)
        );
        let own = http(addr, &addr.to_string(), &token_path(&server, path), "").await;
        assert!(!status(&own).contains("421"), "{path}: {}", status(&own));
    }
    let upgrade = upgrade_with_host(addr, &evil, &token_path(&server, "/ipc")).await;
    assert!(upgrade.contains("421"), "{upgrade}");
    server.shutdown().await;
}

async fn upgrade_with_host(addr: SocketAddr, host: &str, path: &str) -> String {
    http(
        addr,
        host,
        path,
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    )
    .await
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ipc-hardening-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn dotfiles_and_symlinks_out_of_the_directory_are_not_served() {
    let root = tempdir("static");
    let site = root.join("site");
    std::fs::create_dir_all(site.join(".git")).unwrap();
    std::fs::create_dir_all(site.join("sub")).unwrap();
    std::fs::write(site.join(".env"), "SECRET=1").unwrap();
    std::fs::write(site.join(".git/config"), "[core]").unwrap();
    std::fs::write(site.join("sub/ok.txt"), "ok").unwrap();
    std::fs::write(root.join("outside.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(root.join("outside.txt"), site.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(&root, site.join("up")).unwrap();
    std::os::unix::fs::symlink(site.join("sub/ok.txt"), site.join("inside.txt")).unwrap();
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .static_dir(&site)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let get = |path: &str| {
        let path = token_path(&server, path);
        async move { http(addr, &addr.to_string(), &path, "").await }
    };
    assert!(status(&get("/sub/ok.txt").await).contains("200"));
    assert!(
        status(&get("/inside.txt").await).contains("200"),
        "a symlink inside is fine"
    );
    for refused in [
        "/.env",
        "/.git/config",
        "/%2eenv",
        "/sub/../.env",
        "/link.txt",
        "/up/outside.txt",
    ] {
        let answer = get(refused).await;
        assert!(
            status(&answer).contains("404"),
            "{refused}: {}",
            status(&answer)
        );
        assert!(
            !answer.contains("SECRET")
                && !answer.contains("outside\n")
                && !answer.ends_with("outside"),
            "{refused}"
        );
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_browser_trades_the_token_for_a_session_and_one_without_it_is_told_where_to_look() {
    let app = App::builder().build().unwrap();
    let server = app
        .server()
        .asset("/", "text/html", "<h1>home</h1>")
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let host = addr.to_string();
    let token = server.token().unwrap().to_owned();
    let navigate = "Accept: text/html\r\nSec-Fetch-Mode: navigate\r\n";
    let answer = http(addr, &host, &token_path(&server, "/"), navigate).await;
    assert!(status(&answer).contains("200"), "{answer}");
    let (head, page) = answer.split_once("\r\n\r\n").unwrap();
    let header = |name: &str| {
        head.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .map(|l| l.split_once(':').unwrap().1.trim().to_owned())
    };
    // The hand-off page: the cookie for pages, the key for the socket, then
    // the same address without the token.
    let cookie_line = header("set-cookie").expect("a session cookie");
    assert!(cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"));
    let cookie = cookie_line.split(';').next().unwrap().to_owned();
    let key = page
        .split_once(r#"localStorage.setItem("ipc-session", ""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(key, _)| key.to_owned())
        .expect("the socket key stored by the page");
    assert!(page.contains(r#"location.replace("/")"#), "{page}");
    for secret in [&cookie, &key, &page.to_owned()] {
        assert!(!secret.contains(&token), "the token does not come back");
    }
    assert!(!cookie.contains(&key), "the cookie is not the key");
    assert!(
        header("content-security-policy").is_some_and(|csp| csp.contains("frame-ancestors 'none'"))
    );

    let page = http(addr, &host, "/", &format!("{navigate}Cookie: {cookie}\r\n")).await;
    assert!(
        status(&page).contains("200") && page.ends_with("<h1>home</h1>"),
        "{page}"
    );
    assert!(
        page.contains("frame-ancestors 'self'") && page.contains("SAMEORIGIN"),
        "no other origin may frame the page: {page}"
    );
    // The key opens the WebSocket; the cookie, which the browser also sends
    // to every other port of this host, does not.
    let socket = upgrade(addr, &format!("/ipc?session={key}"), "", None).await;
    assert!(socket.is_ok(), "{:?}", socket.err());
    let by_cookie = upgrade(addr, "/ipc", &format!("Cookie: {cookie}\r\n"), None).await;
    assert!(
        by_cookie.as_ref().is_err_and(|head| head.contains("401")),
        "{:?}",
        by_cookie.map(|_| ())
    );
    let lost = http(addr, &host, "/", navigate).await;
    assert!(status(&lost).contains("401"));
    assert!(lost.contains("printed in the terminal"), "{lost}");
    let forged = http(addr, &host, "/", "Cookie: ipc-session-1=forged\r\n").await;
    assert!(status(&forged).contains("401"));
    server.shutdown().await;
}
