//! The live inspector: what it records of calls and events, what it shows
//! of their values (redacted, cut), its connections table, who may watch,
//! and its page on the WebSocket server.

mod support;
use support::next;

use std::time::Duration;

use ipc_runtime::inspect::{Inspector, Part};
use ipc_runtime::session::{ConnectOptions, Outbox};
use ipc_runtime::{App, Capability, codes, command};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[command(rename = "inspected.add")]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[command(rename = "inspected.nap")]
async fn nap(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[command(rename = "inspected.echo")]
fn echo(value: Value) -> Value {
    value
}

/// Reads until the response to `id`, keeping the `ipc:inspect` records seen
/// on the way.
async fn response(outbox: &mut Outbox, id: u64, records: &mut Vec<Value>) -> Value {
    for _ in 0..64 {
        let message = next(outbox).await;
        if message["id"] == id {
            return message;
        }
        if message["params"]["event"] == "ipc:inspect" {
            records.push(message["params"]["payload"].clone());
        }
    }
    panic!("no response to {id}");
}

fn request(id: u64, method: &str, params: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
}

fn calls(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["kind"] == "call").collect()
}

#[tokio::test]
async fn calls_are_recorded_with_caller_duration_outcome_and_values() {
    let app = App::builder().inspector(Inspector::new()).build().unwrap();
    let (connection, mut outbox) =
        app.connect(ConnectOptions::default().label(Some("main".into())));
    let mut seen = Vec::new();
    connection
        .handle_text(&request(1, "inspected.add", json!([2, 3])))
        .await;
    assert_eq!(response(&mut outbox, 1, &mut seen).await["result"], 5);
    connection
        .handle_text(&request(2, "inspected.add", json!(["x", 3])))
        .await;
    let refused = response(&mut outbox, 2, &mut seen).await;
    assert_eq!(refused["error"]["code"], codes::INVALID_PARAMS);
    connection
        .handle_text(&request(3, "inspected.nap", json!({ "ms": 20 })))
        .await;
    assert_eq!(response(&mut outbox, 3, &mut seen).await["result"], 20);
    assert!(
        seen.is_empty(),
        "a connection that did not subscribe gets no records"
    );

    let records = app.inspector_records();
    let calls = calls(&records);
    assert_eq!(calls.len(), 3, "{records:#?}");
    let client = connection.client_id().get();
    let ok = calls[0];
    assert_eq!(ok["command"], "inspected.add");
    assert_eq!(ok["client"], client);
    assert_eq!(ok["label"], "main");
    assert_eq!(ok["id"], "1");
    assert_eq!(ok["outcome"], "ok");
    assert_eq!(ok["code"], Value::Null);
    assert_eq!(ok["params"], "[2,3]");
    assert_eq!(ok["argBytes"], 5);
    assert_eq!(ok["result"], "5");
    assert!(ok["time"].as_u64().unwrap() > 1_700_000_000_000, "{ok}");
    let failed = calls[1];
    assert_eq!(failed["outcome"], "error");
    assert_eq!(failed["code"], codes::INVALID_PARAMS);
    assert!(
        failed["message"].as_str().unwrap().contains("a"),
        "{failed}"
    );
    assert_eq!(failed["result"], Value::Null);
    let slept = calls[2];
    assert_eq!(slept["command"], "inspected.nap");
    assert!(
        slept["durationUs"].as_u64().unwrap() >= 20_000,
        "the duration covers the await: {slept}"
    );
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

#[tokio::test]
async fn a_cancelled_call_is_recorded_as_cancelled() {
    let app = App::builder().inspector(Inspector::new()).build().unwrap();
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    connection
        .handle_text(&request(1, "inspected.nap", json!({ "ms": 10_000 })))
        .await;
    // Let the call start (a call cancelled before it starts never reaches
    // the layers, so it is not recorded).
    tokio::time::sleep(Duration::from_millis(50)).await;
    connection
        .handle_text(&request(2, "ipc.cancel", json!({ "id": 1 })))
        .await;
    let mut seen = Vec::new();
    let cancelled = response(&mut outbox, 2, &mut seen).await;
    assert_eq!(cancelled["result"], true, "the call was running");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let records = app.inspector_records();
        if let Some(call) = calls(&records).first() {
            assert_eq!(call["outcome"], "cancelled");
            assert_eq!(call["code"], codes::CANCELLED);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no record: {records:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn events_are_recorded_with_source_and_receivers() {
    let app = App::builder().inspector(Inspector::new()).build().unwrap();
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    let mut seen = Vec::new();
    connection
        .handle_text(&request(1, "ipc.listen", json!({ "event": "tick" })))
        .await;
    response(&mut outbox, 1, &mut seen).await;
    app.listen("tick", |_| {});
    app.emit("tick", &json!({ "n": 1 })).unwrap();
    connection
        .handle_text(&request(
            2,
            "ipc.emit",
            json!({ "event": "tick", "payload": 2 }),
        ))
        .await;
    response(&mut outbox, 2, &mut seen).await;
    app.emit("nobody", &()).unwrap();

    let records = app.inspector_records();
    let events: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "event" && r["event"] != "ipc:connected")
        .collect();
    assert_eq!(events.len(), 3, "{records:#?}");
    assert_eq!(events[0]["event"], "tick");
    assert_eq!(events[0]["source"], 0, "the backend");
    assert_eq!(events[0]["frontends"], 1);
    assert_eq!(events[0]["listeners"], 1);
    assert_eq!(events[0]["payload"], r#"{"n":1}"#);
    assert_eq!(events[1]["source"], connection.client_id().get());
    assert_eq!(events[1]["payload"], "2");
    assert_eq!(events[2]["event"], "nobody");
    assert_eq!(events[2]["frontends"], 0);
    assert_eq!(events[2]["listeners"], 0);
    assert!(
        records.iter().any(|r| r["event"] == "ipc:connected"),
        "lifecycle events pass the event layer too"
    );
}

#[tokio::test]
async fn values_are_redacted_then_cut() {
    let app = App::builder()
        .inspector(Inspector::new().max_shown(200))
        .build()
        .unwrap();
    let secret = json!({ "user": "ada", "password": "hunter2", "nested": [{ "apiKey": "k" }] });
    app.invoke("inspected.echo", json!({ "value": secret }))
        .await
        .unwrap();
    let long = "é".repeat(300);
    app.invoke("inspected.echo", json!({ "value": long }))
        .await
        .unwrap();
    let huge = "x".repeat(2 << 20);
    app.invoke("inspected.echo", json!({ "value": huge }))
        .await
        .unwrap();
    let records = app.inspector_records();
    let recorded = calls(&records);
    let shown = recorded[0]["params"].as_str().unwrap();
    assert!(
        !shown.contains("hunter2") && shown.contains("(redacted)"),
        "{shown}"
    );
    assert_eq!(recorded[0]["paramsTruncated"], false);
    let result = recorded[0]["result"].as_str().unwrap();
    assert!(
        !result.contains("hunter2"),
        "results are redacted too: {result}"
    );
    assert!(!result.contains(r#""k""#), "at any depth: {result}");
    let cut = recorded[1]["params"].as_str().unwrap();
    assert!(
        cut.len() <= 200 && cut.starts_with(r#"{"value":"éé"#),
        "{cut}"
    );
    assert_eq!(recorded[1]["paramsTruncated"], true);
    assert_eq!(recorded[1]["resultTruncated"], true);
    assert_eq!(recorded[2]["paramsTruncated"], true);
    assert!(
        recorded[2]["params"]
            .as_str()
            .unwrap()
            .contains("too large to show"),
        "{}",
        recorded[2]["params"]
    );

    // The app's own hook replaces the default.
    let app = App::builder()
        .inspector(Inspector::new().redact(|part, value: &mut Value| {
            if part
                == (Part::Result {
                    command: "inspected.echo",
                })
            {
                *value = json!("(result hidden)");
            }
        }))
        .build()
        .unwrap();
    app.invoke("inspected.echo", json!({ "value": { "password": "p" } }))
        .await
        .unwrap();
    app.emit("said", &json!({ "token": "t" })).unwrap();
    let records = app.inspector_records();
    let call = calls(&records)[0];
    assert_eq!(call["params"], r#"{"value":{"password":"p"}}"#);
    assert_eq!(call["result"], r#""(result hidden)""#);
    let said = records.iter().find(|r| r["event"] == "said").unwrap();
    assert_eq!(said["payload"], r#"{"token":"t"}"#);
}

#[tokio::test]
async fn recent_records_are_bounded() {
    let app = App::builder()
        .inspector(Inspector::new().recent(10))
        .build()
        .unwrap();
    for i in 0..25 {
        app.invoke("inspected.add", json!([i, 0])).await.unwrap();
    }
    let records = app.inspector_records();
    assert_eq!(records.len(), 10);
    assert_eq!(records[9]["result"], "24", "the newest are kept");
}

/// An app whose ACL is configured: `viewer` may do everything but inspect,
/// `devtools` may inspect.
fn restricted() -> App {
    App::builder()
        .inspector(Inspector::new())
        .capability(Capability::new("viewer").allow_all())
        .capability(Capability::new("devtools").allow_inspect())
        .build()
        .unwrap()
}

#[tokio::test]
async fn only_connections_that_may_inspect_can_watch() {
    let app = restricted();
    let (viewer, mut viewer_out) =
        app.connect(ConnectOptions::default().capability(Some("viewer".into())));
    let mut seen = Vec::new();
    for (id, method, params) in [
        (1, "ipc.listen", json!({ "event": "ipc:inspect" })),
        (2, "ipc.inspect", json!({})),
        (
            3,
            "plugin:event|listen",
            json!({ "event": "ipc:inspect", "target": { "kind": "Any" }, "handler": 1 }),
        ),
    ] {
        viewer.handle_text(&request(id, method, params)).await;
        let refused = response(&mut viewer_out, id, &mut seen).await;
        assert_eq!(
            refused["error"]["code"],
            codes::FORBIDDEN,
            "{method}: {refused}"
        );
        assert_eq!(refused["error"]["data"]["kind"], "inspect", "{refused}");
    }
    assert_eq!(viewer.subscriptions(), 0);

    let (devtools, mut devtools_out) =
        app.connect(ConnectOptions::default().capability(Some("devtools".into())));
    devtools
        .handle_text(&request(1, "ipc.listen", json!({ "event": "ipc:inspect" })))
        .await;
    let subscribed = response(&mut devtools_out, 1, &mut seen).await;
    assert!(subscribed.get("error").is_none(), "{subscribed}");
    viewer
        .handle_text(&request(9, "inspected.add", json!([40, 2])))
        .await;
    response(&mut viewer_out, 9, &mut seen).await;
    let record = loop {
        let message = next(&mut devtools_out).await;
        let payload = &message["params"]["payload"];
        if message["params"]["event"] == "ipc:inspect" && payload["kind"] == "call" {
            break payload.clone();
        }
    };
    assert_eq!(record["command"], "inspected.add");
    assert_eq!(record["client"], viewer.client_id().get());
    assert_eq!(record["result"], "42");
}

#[tokio::test]
async fn the_snapshot_lists_connections_with_their_queues() {
    let app = restricted();
    let (devtools, mut devtools_out) =
        app.connect(ConnectOptions::default().capability(Some("devtools".into())));
    // A connection that subscribes and never reads: its queue fills, then lags.
    let (slow, _slow_out) = app.connect(
        ConnectOptions::default()
            .capability(Some("viewer".into()))
            .label(Some("slow".into()))
            .outbox_capacity(2),
    );
    slow.handle_text(&request(1, "ipc.listen", json!({ "event": "tick" })))
        .await;
    for i in 0..5 {
        app.emit("tick", &i).unwrap();
    }
    let mut seen = Vec::new();
    devtools
        .handle_text(&request(1, "ipc.inspect", json!({ "recent": false })))
        .await;
    let snapshot = response(&mut devtools_out, 1, &mut seen).await;
    let result = &snapshot["result"];
    assert_eq!(result["recent"], json!([]));
    let rows = result["connections"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let row = rows
        .iter()
        .find(|r| r["client"] == slow.client_id().get())
        .unwrap();
    assert_eq!(row["label"], "slow");
    assert_eq!(row["subscriptions"], 1);
    // The answer to `ipc.listen` and one event fill its queue of 2.
    assert_eq!(row["outboxMessages"], 2);
    assert!(row["outboxBytes"].as_u64().unwrap() > 0, "{row}");
    assert_eq!(row["lagged"], 4);
    assert_eq!(row["inFlight"], 0);

    devtools
        .handle_text(&request(2, "ipc.inspect", json!({})))
        .await;
    let snapshot = response(&mut devtools_out, 2, &mut seen).await;
    let recent = snapshot["result"]["recent"].as_array().unwrap();
    assert_eq!(
        recent.iter().filter(|r| r["event"] == "tick").count(),
        5,
        "{recent:#?}"
    );

    slow.close();
    devtools
        .handle_text(&request(3, "ipc.inspect", json!({ "recent": false })))
        .await;
    let snapshot = response(&mut devtools_out, 3, &mut seen).await;
    assert_eq!(
        snapshot["result"]["connections"].as_array().unwrap().len(),
        1,
        "a closed connection leaves the table"
    );
}

#[tokio::test]
async fn without_the_inspector_nothing_is_recorded_and_the_feed_is_refused() {
    assert_eq!(
        App::builder().build().unwrap().is_inspected(),
        cfg!(debug_assertions),
        "on by default in debug builds only"
    );
    let app = App::builder().no_inspector().build().unwrap();
    assert!(!app.is_inspected());
    app.invoke("inspected.add", json!([1, 1])).await.unwrap();
    assert!(app.inspector_records().is_empty());
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    let mut seen = Vec::new();
    connection
        .handle_text(&request(1, "ipc.inspect", json!({})))
        .await;
    let refused = response(&mut outbox, 1, &mut seen).await;
    assert_eq!(refused["error"]["code"], codes::METHOD_NOT_FOUND);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("inspector is off")
    );
}

/// One HTTP/1.1 GET on loopback: the status code and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn the_page_is_served_behind_the_token_only_when_the_inspector_is_on() {
    let app = App::builder().inspector(Inspector::new()).build().unwrap();
    let server = app
        .server()
        .ws_path("/socket")
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let url = server.inspector_url().unwrap();
    let token = server.token().unwrap();
    assert_eq!(url, format!("http://{addr}/ipc/inspect?token={token}"));
    let (status, page) = get(addr, &format!("/ipc/inspect?token={token}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"content="/socket""#),
        "the page is told the socket's path"
    );
    assert!(!page.contains("__IPC_WS_PATH__"));
    let (status, script) = get(addr, &format!("/ipc/inspect.js?token={token}")).await;
    assert_eq!(status, 200);
    assert!(script.contains("ipc:inspect"));
    let (status, _) = get(addr, "/ipc/inspect").await;
    assert_eq!(status, 401, "no token, no session: no page");
    server.shutdown().await;

    let app = App::builder().no_inspector().build().unwrap();
    let server = app.server().serve("127.0.0.1:0").await.unwrap();
    assert_eq!(server.inspector_url(), None);
    let token = server.token().unwrap().to_owned();
    let (status, _) = get(server.local_addr(), &format!("/ipc/inspect?token={token}")).await;
    assert_eq!(status, 404);
    server.shutdown().await;
}
