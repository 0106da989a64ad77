//! Events across instances through a real nats-server (feature `nats`): two
//! apps, each with its WebSocket server and clients, joined by one broker
//! started here on a free loopback port, then stopped and started again.
//!
//! Needs `nats-server` on the PATH (Debian's package; `scripts/test` installs
//! it): `cargo test -p ipc-tests --features nats --test nats`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipc_runtime::transport::nats::NatsBridge;
use ipc_runtime::transport::ws::ServerHandle;
use ipc_runtime::{App, BridgeFilter, Caller, Capability, ClientId, EventTarget, command};
use ipc_tests::WsClient;
use serde_json::{Value, json};

#[command]
fn whoami(caller: Caller) -> u64 {
    caller.client_id().get()
}

/// A nats-server on a loopback port, killed when dropped.
struct Broker {
    port: u16,
    child: Option<Child>,
}

impl Broker {
    fn start() -> Broker {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut broker = Broker { port, child: None };
        broker.restart();
        broker
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its port, and waits until it accepts connections.
    fn restart(&mut self) {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server on the PATH (Debian: apt-get install nats-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Events a Rust listener saw: (name, payload).
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

struct Instance {
    app: App,
    server: ServerHandle,
    seen: Seen,
}

impl Instance {
    async fn start(
        broker: &Broker,
        configure: impl FnOnce(ipc_runtime::AppBuilder) -> ipc_runtime::AppBuilder,
    ) -> Instance {
        let bridge = NatsBridge::builder(broker.url())
            .prefix("test.bridge")
            .connect()
            .await
            .expect("connected to nats-server");
        let app = configure(App::builder().bridge(bridge)).build().unwrap();
        let seen: Seen = Arc::default();
        for name in [
            "chat:message",
            "local:note",
            "probe",
            "secret",
            "public:news",
        ] {
            let sink = Arc::clone(&seen);
            app.listen(name, move |event| {
                let payload = event.payload::<Value>().unwrap();
                sink.lock()
                    .unwrap()
                    .push((event.name().to_owned(), payload));
            });
        }
        let server = app.server().serve("127.0.0.1:0").await.unwrap();
        Instance { app, server, seen }
    }

    fn seen(&self, name: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .collect()
    }

    async fn client(&self) -> (WsClient, u64) {
        let mut client = WsClient::connect(&self.server.ws_url()).await;
        let id = client.call("whoami", json!({})).await["result"]
            .as_u64()
            .expect("a client id");
        (client, id)
    }
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Emits probes from `from` until `to`'s Rust listener sees one (bounded):
/// the bridge between them works.
async fn joined(from: &Instance, to: &Instance, within: Duration) {
    let deadline = Instant::now() + within;
    let mut n = 0u64;
    loop {
        n += 1;
        from.app.emit("probe", &n).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        if !to.seen("probe").is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "the instances never joined");
    }
}

fn payloads(events: &[Value]) -> Vec<Value> {
    events.iter().map(|e| e["payload"].clone()).collect()
}

/// Collects `count` pushes of `name`, then checks that no more arrive for a while.
async fn exactly(client: &mut WsClient, name: &str, count: usize) -> Vec<Value> {
    let mut got = Vec::new();
    for _ in 0..count {
        got.push(client.event(name).await);
    }
    let more = client
        .receives_within(Duration::from_millis(300), |m| {
            m["method"] == "ipc.event" && m["params"]["event"] == name
        })
        .await;
    assert!(!more, "more than {count} `{name}` events: {got:?}");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_once_and_in_order_both_ways() {
    let broker = Broker::start();
    let a = Instance::start(&broker, |b| b).await;
    let b = Instance::start(&broker, |b| b).await;
    assert_ne!(a.app.instance_id(), b.app.instance_id());
    let (mut on_a, a_id) = a.client().await;
    let (mut on_b, b_id) = b.client().await;
    assert_ne!(a_id, b_id, "client ids are unique across instances");
    for client in [&mut on_a, &mut on_b] {
        client
            .call("ipc.listen", json!({ "event": "chat:message" }))
            .await;
    }
    joined(&a, &b, Duration::from_secs(10)).await;
    joined(&b, &a, Duration::from_secs(10)).await;

    // From Rust on A: B's frontend and B's listener get each one once, in order.
    for n in 0..50 {
        a.app.emit("chat:message", &json!({ "n": n })).unwrap();
    }
    let expected: Vec<Value> = (0..50).map(|n| json!({ "n": n })).collect();
    assert_eq!(
        payloads(&exactly(&mut on_b, "chat:message", 50).await),
        expected
    );
    assert_eq!(
        payloads(&exactly(&mut on_a, "chat:message", 50).await),
        expected,
        "A's own frontend gets A's events once (not again from the broker)"
    );
    eventually("B's listener", Duration::from_secs(10), || {
        b.seen("chat:message").len() >= 50
    })
    .await;
    assert_eq!(b.seen("chat:message"), expected);
    assert_eq!(
        a.seen("chat:message"),
        expected,
        "A's listener ran once for each"
    );

    // From a frontend on B: A's frontend gets it with the sender's client id.
    on_b.call(
        "ipc.emit",
        json!({ "event": "chat:message", "payload": { "text": "hi from b" } }),
    )
    .await;
    let got = exactly(&mut on_a, "chat:message", 1).await;
    assert_eq!(got[0]["payload"], json!({ "text": "hi from b" }));
    assert_eq!(got[0]["source"], json!(b_id), "{got:?}");
    exactly(&mut on_b, "chat:message", 1).await;

    let stats = a.app.bridge_stats().unwrap();
    assert!(stats.published >= 50 && stats.received >= 1, "{stats:?}");
    assert_eq!(stats.lost(), 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_to_reaches_a_client_or_label_on_the_other_instance() {
    let broker = Broker::start();
    let a = Instance::start(&broker, |b| b).await;
    let b = Instance::start(&broker, |b| b).await;
    let (mut target, target_id) = b.client().await;
    let (mut other, _) = b.client().await;
    let mut window = WsClient::connect(&b.server.window_ws_url("side-panel").unwrap()).await;
    for client in [&mut target, &mut other, &mut window] {
        client
            .call("ipc.listen", json!({ "event": "chat:message" }))
            .await;
    }
    joined(&a, &b, Duration::from_secs(10)).await;

    a.app
        .emit_to(
            EventTarget::Client(ClientId::new(target_id)),
            "chat:message",
            &"for you",
        )
        .unwrap();
    a.app
        .emit_to(
            EventTarget::Label("side-panel".into()),
            "chat:message",
            &"for the panel",
        )
        .unwrap();
    assert_eq!(
        payloads(&exactly(&mut target, "chat:message", 1).await),
        ["for you"]
    );
    assert_eq!(
        payloads(&exactly(&mut window, "chat:message", 1).await),
        ["for the panel"]
    );
    exactly(&mut other, "chat:message", 0).await;
    assert!(
        b.seen("chat:message").is_empty(),
        "a client target reaches no Rust listener, here or there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiving_instance_applies_its_acl_and_its_filter() {
    let broker = Broker::start();
    // A lets only chat events cross; B's frontends may listen to public ones only.
    let a = Instance::start(&broker, |b| {
        b.bridge_filter(BridgeFilter::matching([
            "chat:*", "probe", "public:*", "secret",
        ]))
    })
    .await;
    let b = Instance::start(&broker, |b| {
        b.capability(
            Capability::new("page")
                .allow_invoke(["whoami"])
                .allow_listen(["public:*", "chat:*"]),
        )
        .default_capability("page")
    })
    .await;
    let (mut page, _) = b.client().await;
    let refused = page.call("ipc.listen", json!({ "event": "secret" })).await;
    assert_eq!(refused["error"]["code"], json!(-32001), "{refused}");
    page.call("ipc.listen", json!({ "event": "public:news" }))
        .await;
    page.call("ipc.listen", json!({ "event": "chat:message" }))
        .await;
    joined(&a, &b, Duration::from_secs(10)).await;

    a.app.emit("secret", &"not for pages").unwrap();
    a.app.emit("local:note", &"stays on A").unwrap();
    a.app.emit("public:news", &"for everyone").unwrap();
    assert_eq!(
        payloads(&exactly(&mut page, "public:news", 1).await),
        ["for everyone"]
    );
    exactly(&mut page, "secret", 0).await;
    eventually("B's listener", Duration::from_secs(10), || {
        !b.seen("public:news").is_empty()
    })
    .await;
    assert_eq!(
        b.seen("secret"),
        ["not for pages"],
        "Rust listeners are the backend's"
    );
    assert!(b.seen("local:note").is_empty(), "filtered out on A");
    assert_eq!(a.seen("local:note"), ["stays on A"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_malformed_messages_are_refused_and_counted() {
    let broker = Broker::start();
    let b = Instance::start(&broker, |b| b).await;
    let (mut page, _) = b.client().await;
    page.call("ipc.listen", json!({ "event": "ipc:connected" }))
        .await;
    page.call("ipc.listen", json!({ "event": "chat:message" }))
        .await;
    let raw = async_nats::connect(broker.url()).await.unwrap();
    let headers = |event: &str| {
        let mut h = async_nats::HeaderMap::new();
        h.insert("Ipc-Instance", "someone-else");
        h.insert("Ipc-Event", event);
        h.insert("Ipc-Source", "5");
        h.insert("Ipc-Target", "\"all\"");
        h
    };
    // A runtime event, a body that is not JSON, no headers at all; then a good one.
    raw.publish_with_headers(
        "test.bridge.ipc:connected",
        headers("ipc:connected"),
        "1".into(),
    )
    .await
    .unwrap();
    raw.publish_with_headers(
        "test.bridge.chat:message",
        headers("chat:message"),
        "{oops".into(),
    )
    .await
    .unwrap();
    raw.publish("test.bridge.chat:message", "2".into())
        .await
        .unwrap();
    raw.publish_with_headers(
        "test.bridge.chat:message",
        headers("chat:message"),
        "3".into(),
    )
    .await
    .unwrap();
    raw.flush().await.unwrap();
    assert_eq!(payloads(&exactly(&mut page, "chat:message", 1).await), [3]);
    exactly(&mut page, "ipc:connected", 0).await;
    let stats = b.app.bridge_stats().unwrap();
    assert_eq!((stats.rejected, stats.received), (3, 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_but_delivers_locally() {
    let broker = Broker::start();
    let bridge = NatsBridge::builder(broker.url())
        .queue(16, 4 << 20)
        .connect()
        .await
        .unwrap();
    let app = App::builder().bridge(bridge).build().unwrap();
    let seen = Arc::new(Mutex::new(0usize));
    let sink = Arc::clone(&seen);
    app.listen("big", move |_| *sink.lock().unwrap() += 1);
    // Larger than the whole queue's bytes: never queued.
    app.emit("big", &"x".repeat(5 << 20)).unwrap();
    assert_eq!(*seen.lock().unwrap(), 1, "delivered here");
    let stats = app.bridge_stats().unwrap();
    assert_eq!((stats.dropped_full, stats.published), (1, 0), "{stats:?}");
    // Queued, but over the server's max_payload (1 MiB): refused, counted.
    app.emit("big", &"x".repeat(2 << 20)).unwrap();
    assert_eq!(*seen.lock().unwrap(), 2, "delivered here");
    eventually("the refusal to be counted", Duration::from_secs(10), || {
        app.bridge_stats().unwrap().failed == 1
    })
    .await;
    let stats = app.bridge_stats().unwrap();
    assert_eq!((stats.published, stats.lost()), (0, 2), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_local_delivery_goes_on_then_the_bridge_recovers() {
    let mut broker = Broker::start();
    let a = Instance::start(&broker, |b| b).await;
    let b = Instance::start(&broker, |b| b).await;
    let (mut on_a, _) = a.client().await;
    on_a.call("ipc.listen", json!({ "event": "chat:message" }))
        .await;
    joined(&a, &b, Duration::from_secs(10)).await;

    broker.stop();
    eventually("A to see the broker gone", Duration::from_secs(10), || {
        a.app.emit("chat:message", &"while down").unwrap();
        a.app.bridge_stats().unwrap().dropped_offline > 0
    })
    .await;
    let emitted_down = a.seen("chat:message").len();
    // Emitting never waits on the broker: many events, all delivered here.
    for n in 0..200 {
        a.app.emit("chat:message", &n).unwrap();
    }
    assert_eq!(a.seen("chat:message").len(), emitted_down + 200);
    exactly(&mut on_a, "chat:message", emitted_down + 200).await;

    broker.restart();
    let probes_before = b.seen("probe").len();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0u64;
    loop {
        n += 1;
        a.app.emit("probe", &n).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if b.seen("probe").len() > probes_before {
            break;
        }
        assert!(Instant::now() < deadline, "the bridge did not recover");
    }
    a.app.emit("chat:message", &"after").unwrap();
    eventually("B to get events again", Duration::from_secs(10), || {
        b.seen("chat:message").contains(&json!("after"))
    })
    .await;
    let stats = a.app.bridge_stats().unwrap();
    eventually("A's queue to drain", Duration::from_secs(10), || {
        a.app.bridge_stats().unwrap().queued == 0
    })
    .await;
    let stats_now = a.app.bridge_stats().unwrap();
    let handed = (a.seen("chat:message").len() + a.seen("probe").len()) as u64;
    assert_eq!(
        stats_now.published + stats_now.lost(),
        handed,
        "every event handed to the bridge was published or counted lost: {stats:?}"
    );
    assert!(stats_now.lost() >= 200, "{stats_now:?}");
    assert!(
        b.seen("chat:message").len() < emitted_down + 200,
        "what was emitted while down did not arrive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_buffers_are_per_instance() {
    let broker = Broker::start();
    let a = Instance::start(&broker, |b| b.replay("chat:message", 16)).await;
    let b = Instance::start(&broker, |b| b.replay("chat:message", 16)).await;
    joined(&a, &b, Duration::from_secs(10)).await;
    let (mut page, _) = b.client().await;
    let answer = page
        .call(
            "ipc.listen",
            json!({ "event": "chat:message", "since": 0, "epoch": "" }),
        )
        .await;
    let epoch_b = answer["result"]["epoch"].clone();
    assert_eq!(epoch_b, json!(b.app.instance_id()));
    a.app.emit("chat:message", &"one").unwrap();
    let seen = page.event("chat:message").await;
    page.close().await;

    // Missed while away: kept by B (numbered by B), so resuming on B gets it.
    a.app.emit("chat:message", &"two").unwrap();
    a.app.emit("chat:message", &"three").unwrap();
    eventually("B to receive", Duration::from_secs(10), || {
        b.seen("chat:message").len() == 3
    })
    .await;
    let (mut back, _) = b.client().await;
    back.call(
        "ipc.listen",
        json!({ "event": "chat:message", "since": seen["seq"], "epoch": epoch_b }),
    )
    .await;
    assert_eq!(
        payloads(&exactly(&mut back, "chat:message", 2).await),
        ["two", "three"]
    );

    // B's position means nothing on A: resuming there is a gap of unknown
    // size, then A's newest event.
    let (mut moved, _) = a.client().await;
    moved
        .call(
            "ipc.listen",
            json!({ "event": "chat:message", "since": seen["seq"], "epoch": epoch_b }),
        )
        .await;
    let gap = moved.wait_for(|m| m["method"] == "ipc.gap").await;
    assert_eq!(gap["params"]["lost"], Value::Null, "{gap}");
    assert_eq!(
        payloads(&exactly(&mut moved, "chat:message", 1).await),
        ["three"]
    );
}
