//! Uploads through a real session: flow control, the end, aborts,
//! disconnects, a command that stops early, and the limits.

#![cfg(test)]
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::*;
use crate::invoke::Peer as _;
use crate::testing::{self, UPLOAD_OUTCOMES, json as parse};

fn open(configure: impl FnOnce(ConnectOptions) -> ConnectOptions) -> (Connection, Outbox) {
    Connection::open(&testing::router(), configure(ConnectOptions::default()))
}

fn call(id: u64, method: &str, params: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
}

fn chunk(upload: u64, bytes: &[u8]) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    json!({ "jsonrpc": "2.0", "method": "ipc.upload", "params": { "upload": upload, "data": data } })
        .to_string()
}

fn upload_message(params: Value) -> String {
    json!({ "jsonrpc": "2.0", "method": "ipc.upload", "params": params }).to_string()
}

fn binary_chunk(upload: u64, bytes: &[u8]) -> Bytes {
    let header = json!({
        "jsonrpc": "2.0", "method": "ipc.upload",
        "params": { "upload": upload, "data": { "$bytes": 0 } },
        "attachments": [bytes.len()],
    })
    .to_string();
    let mut frame = (header.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(bytes);
    Bytes::from(frame)
}

/// The next message, within a deadline.
async fn next(outbox: &mut Outbox) -> Value {
    let message = tokio::time::timeout(Duration::from_secs(10), outbox.recv())
        .await
        .expect("a message within the deadline")
        .expect("the outbox is open");
    parse(&message.as_str())
}

/// Messages until the response to `id` (the pushes before it are returned too).
async fn until_response(outbox: &mut Outbox, id: u64) -> (Value, Vec<Value>) {
    let mut pushes = Vec::new();
    for _ in 0..10_000 {
        let message = next(outbox).await;
        if message["id"] == id {
            return (message, pushes);
        }
        pushes.push(message);
    }
    panic!("no response to {id}");
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn credit_of(push: &Value, upload: u64) -> Option<u64> {
    (push["method"] == "ipc.upload" && push["params"]["upload"] == upload)
        .then(|| push["params"]["credit"].as_u64())
        .flatten()
}

#[tokio::test(start_paused = true)]
async fn a_slow_reader_never_holds_more_than_the_window() {
    const WINDOW: u64 = 64 << 10;
    let (connection, mut outbox) = open(|o| o.upload_window(WINDOW));
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    connection
        .handle_text(&call(
            1,
            "digest",
            json!({ "file": "__UPLOAD__:3", "ms": 1 }),
        ))
        .await;
    let mut credit = 0;
    let mut grants = 0;
    let mut max_buffered = 0;
    for piece in data.chunks(16 << 10) {
        // A well-behaved client: wait for credit before sending past it.
        while credit < piece.len() as u64 + sent_so_far(&connection, 3) {
            let push = next(&mut outbox).await;
            if let Some(total) = credit_of(&push, 3) {
                assert!(total > credit, "credit only grows");
                credit = total;
                grants += 1;
            }
        }
        connection.handle_text(&chunk(3, piece)).await;
        let inbox = connection.session.upload(3).expect("open until the end");
        max_buffered = max_buffered.max(inbox.buffered());
        assert!(
            inbox.buffered() <= WINDOW,
            "{} bytes held, window {WINDOW}",
            inbox.buffered()
        );
    }
    connection
        .handle_text(&upload_message(json!({ "upload": 3, "end": true })))
        .await;
    let (response, _) = until_response(&mut outbox, 1).await;
    assert_eq!(response["result"], json!([data.len(), fnv(&data)]));
    assert!(
        grants > 10,
        "credit came as the command read ({grants} grants)"
    );
    assert!(
        max_buffered > WINDOW / 2,
        "the reader was slow enough to fill the window ({max_buffered})"
    );
    assert!(connection.session.upload(3).is_none(), "closed at the end");
    connection.close();
}

/// What the client has sent of upload `id`, as the server counted it.
fn sent_so_far(connection: &Connection, id: u64) -> u64 {
    connection
        .session
        .upload(id)
        .map_or(0, |inbox| inbox.received())
}

#[tokio::test]
async fn binary_chunks_and_a_chunk_with_the_end() {
    let (connection, mut outbox) = open(|o| o.binary(true));
    connection
        .handle_text(&call(1, "digest", json!(["__UPLOAD__:0"])))
        .await;
    assert_eq!(credit_of(&next(&mut outbox).await, 0), Some(1 << 20));
    connection.handle_binary(binary_chunk(0, b"hello, ")).await;
    let last = json!({ "jsonrpc": "2.0", "method": "ipc.upload",
        "params": { "upload": 0, "data": base64::engine::general_purpose::STANDARD.encode("world"), "end": true } });
    connection.handle_text(&last.to_string()).await;
    let (response, _) = until_response(&mut outbox, 1).await;
    assert_eq!(response["result"], json!([12, fnv(b"hello, world")]));
    connection.close();
}

#[tokio::test]
async fn sending_past_the_credit_fails_the_upload_for_both_sides() {
    let (connection, mut outbox) = open(|o| o.upload_window(1024));
    connection
        .handle_text(&call(1, "digest", json!({ "file": "__UPLOAD__:1" })))
        .await;
    assert_eq!(credit_of(&next(&mut outbox).await, 1), Some(1024));
    connection.handle_text(&chunk(1, &[0; 1000])).await;
    connection.handle_text(&chunk(1, &[0; 25])).await;
    let (response, pushes) = until_response(&mut outbox, 1).await;
    let done = pushes
        .iter()
        .find(|p| p["params"]["done"] == true)
        .expect("the client is told");
    assert!(
        done["params"]["error"]
            .as_str()
            .unwrap()
            .contains("sent 1025 bytes, past the 1024 bytes of credit"),
        "{done}"
    );
    assert_eq!(response["error"]["code"], codes::COMMAND_ERROR);
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("broke the upload protocol"),
        "{response}"
    );
    assert!(connection.session.upload(1).is_none());
    connection.close();
}

#[tokio::test]
async fn an_abort_reaches_the_command() {
    let (connection, mut outbox) = open(|o| o);
    connection
        .handle_text(&call(1, "digest", json!({ "file": "__UPLOAD__:2" })))
        .await;
    connection.handle_text(&chunk(2, b"some")).await;
    connection
        .handle_text(&upload_message(
            json!({ "upload": 2, "abort": "the user cancelled" }),
        ))
        .await;
    let (response, _) = until_response(&mut outbox, 1).await;
    assert_eq!(
        response["error"]["message"],
        "the caller aborted the upload: the user cancelled"
    );
    connection.close();
}

#[tokio::test]
async fn a_disconnect_reaches_the_command() {
    const ID: u64 = 9_004;
    let (connection, _outbox) = open(|o| o);
    connection
        .handle_text(&call(
            1,
            "digest",
            json!({ "file": format!("__UPLOAD__:{ID}") }),
        ))
        .await;
    connection.handle_text(&chunk(ID, b"partial")).await;
    connection.close();
    let mut outcome = None;
    for _ in 0..500 {
        outcome = UPLOAD_OUTCOMES
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| *id == ID)
            .map(|(_, outcome)| outcome.clone());
        if outcome.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        outcome,
        Some(Err(
            "the caller disconnected before the upload ended".to_owned()
        ))
    );
}

#[tokio::test]
async fn a_command_that_stops_reading_ends_the_upload_cleanly() {
    let (connection, mut outbox) = open(|o| o);
    for round in 0..2 {
        let id = 10 + round;
        connection
            .handle_text(&call(id, "sip", json!({ "file": "__UPLOAD__:5" })))
            .await;
        connection.handle_text(&chunk(5, &[7; 100])).await;
        let (response, pushes) = until_response(&mut outbox, id).await;
        assert_eq!(response["result"], 100);
        // The command returned; its `Upload` was dropped: the client hears
        // `done` without an error (before or after the response).
        let mut done = pushes.into_iter().find(|p| p["params"]["done"] == true);
        if done.is_none() {
            done = Some(next(&mut outbox).await);
        }
        assert_eq!(
            done.unwrap()["params"],
            json!({ "upload": 5, "done": true })
        );
        // What the client still sends is dropped, and the id is free again.
        connection
            .handle_text(&call(
                100 + id,
                "ipc.upload",
                json!({ "upload": 5, "data": "AAAA" }),
            ))
            .await;
        assert_eq!(next(&mut outbox).await["result"], false);
    }
    connection.close();
}

#[tokio::test]
async fn size_limits_at_and_past_their_values() {
    let (connection, mut outbox) = open(|o| o.max_upload_size(100));
    // At the limit.
    connection
        .handle_text(&call(1, "digest", json!({ "file": "__UPLOAD__:1" })))
        .await;
    connection.handle_text(&chunk(1, &[1; 60])).await;
    connection.handle_text(&chunk(1, &[1; 40])).await;
    connection
        .handle_text(&upload_message(json!({ "upload": 1, "end": true })))
        .await;
    assert_eq!(until_response(&mut outbox, 1).await.0["result"][0], 100);
    // One past it.
    connection
        .handle_text(&call(2, "digest", json!({ "file": "__UPLOAD__:2" })))
        .await;
    connection.handle_text(&chunk(2, &[1; 60])).await;
    connection.handle_text(&chunk(2, &[1; 41])).await;
    let (response, pushes) = until_response(&mut outbox, 2).await;
    assert_eq!(
        response["error"]["message"],
        "the upload is larger than its limit of 100 bytes"
    );
    assert!(pushes.iter().any(|p| p["params"]
        == json!({ "upload": 2, "done": true, "error": "the upload is larger than its limit of 100 bytes" })));
    // A command's own lower limit (`Upload::limit`).
    connection
        .handle_text(&call(
            3,
            "digest",
            json!({ "file": "__UPLOAD__:3", "limit": 10 }),
        ))
        .await;
    connection.handle_text(&chunk(3, &[1; 10])).await;
    connection.handle_text(&chunk(3, &[1; 1])).await;
    assert_eq!(
        until_response(&mut outbox, 3).await.0["error"]["message"],
        "the upload is larger than its limit of 10 bytes"
    );
    connection.close();
}

#[tokio::test]
async fn uploads_open_at_once_are_limited_and_ids_are_not_shared() {
    let (connection, mut outbox) = open(|o| o.max_uploads(1));
    connection
        .handle_text(&call(1, "digest", json!({ "file": "__UPLOAD__:1" })))
        .await;
    connection
        .handle_text(&call(2, "digest", json!({ "file": "__UPLOAD__:1" })))
        .await;
    let (refused, _) = until_response(&mut outbox, 2).await;
    assert_eq!(refused["error"]["code"], codes::INVALID_PARAMS);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upload 1 is already open"),
        "{refused}"
    );
    connection
        .handle_text(&call(3, "digest", json!({ "file": "__UPLOAD__:2" })))
        .await;
    let (refused, _) = until_response(&mut outbox, 3).await;
    assert_eq!(refused["error"]["code"], codes::LIMIT_EXCEEDED);
    assert_eq!(
        refused["error"]["data"],
        json!({ "limit": "uploads", "max": 1 })
    );
    // Once the first ends, another may open.
    connection
        .handle_text(&upload_message(json!({ "upload": 1, "end": true })))
        .await;
    assert_eq!(until_response(&mut outbox, 1).await.0["result"][0], 0);
    connection
        .handle_text(&call(4, "digest", json!({ "file": "__UPLOAD__:2" })))
        .await;
    connection
        .handle_text(&upload_message(json!({ "upload": 2, "end": true })))
        .await;
    assert_eq!(until_response(&mut outbox, 4).await.0["result"][0], 0);
    connection.close();
}

#[tokio::test]
async fn bad_chunks_are_refused_with_clear_errors() {
    let (connection, mut outbox) = open(|o| o);
    connection
        .handle_text(&call(1, "digest", json!({ "file": "__UPLOAD__:1" })))
        .await;
    next(&mut outbox).await; // the credit
    for (params, reason) in [
        (json!({ "upload": 1, "data": "not base64!" }), "not base64"),
        (json!({ "upload": 1, "data": { "$bytes": 0 } }), "has 0"),
        (json!({ "upload": 1, "data": [1, 2] }), "a base64 string"),
        (json!({ "data": "AAAA" }), "missing field `upload`"),
    ] {
        connection.handle_text(&call(2, "ipc.upload", params)).await;
        let answer = next(&mut outbox).await;
        assert_eq!(answer["error"]["code"], codes::INVALID_PARAMS, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(reason),
            "{answer}"
        );
    }
    // The upload is unharmed.
    connection.handle_text(&chunk(1, b"ok")).await;
    connection
        .handle_text(&upload_message(json!({ "upload": 1, "end": true })))
        .await;
    assert_eq!(until_response(&mut outbox, 1).await.0["result"][0], 2);
    connection.close();
}

#[tokio::test]
async fn an_upload_needs_a_connection() {
    let router = testing::router();
    let answer = router
        .handle_message(&call(1, "digest", json!({ "file": "__UPLOAD__:1" })))
        .await
        .unwrap();
    assert!(
        answer.contains("uploads stream from a connection"),
        "{answer}"
    );
    let answer = router
        .handle_message(&call(1, "digest", json!({ "file": "1" })))
        .await
        .unwrap();
    assert!(
        answer.contains(r#"an upload: \"__UPLOAD__:<id>\""#),
        "{answer}"
    );
}
