//! The methods of Tauri's event plugin, answered by the runtime so that
//! `@tauri-apps/api`'s `listen`, `once`, `emit` and `emitTo` work unchanged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipc_runtime::{App, codes};
use ipc_tests::WsClient;
use serde_json::{Value, json};

#[tokio::test]
async fn listen_delivers_to_the_handler_with_the_event_id_until_unlisten() {
    let app = App::builder().build().unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    let first = client
        .call(
            "plugin:event|listen",
            json!({ "event": "tick", "target": { "kind": "Any" }, "handler": 4000 }),
        )
        .await["result"]
        .as_u64()
        .unwrap();
    let second = client
        .call(
            "plugin:event|listen",
            json!({ "event": "tick", "target": { "kind": "Any" }, "handler": 4001 }),
        )
        .await["result"]
        .as_u64()
        .unwrap();
    assert_ne!(
        first, second,
        "every Tauri listener is its own subscription"
    );

    app.emit("tick", &1).unwrap();
    let mut pushes = [client.event("tick").await, client.event("tick").await];
    pushes.sort_by_key(|p| p["handler"].as_u64());
    let seq = pushes[0]["seq"].clone();
    assert_eq!(
        pushes[0],
        json!({ "event": "tick", "payload": 1, "source": 0, "seq": seq, "id": first, "handler": 4000 })
    );
    assert_eq!(
        pushes[1]["seq"], seq,
        "one event, one number, for every listener"
    );
    assert_eq!(pushes[1]["id"], second);

    let reply = client
        .call(
            "plugin:event|unlisten",
            json!({ "event": "tick", "eventId": first }),
        )
        .await;
    assert_eq!(reply["result"], Value::Null);
    app.emit("tick", &2).unwrap();
    assert_eq!(client.event("tick").await["handler"], 4001);
    assert!(
        !client
            .receives_within(Duration::from_millis(200), |m| m["params"]["handler"]
                == 4000)
            .await
    );
    server.shutdown().await;
}

#[tokio::test]
async fn emit_reaches_rust_and_emit_to_reaches_the_label() {
    let app = App::builder().build().unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    app.listen("saved", move |event| {
        sink.lock().unwrap().push(event.payload::<Value>().unwrap())
    });
    let server = app.serve("127.0.0.1:0").await.unwrap();
    // Labels are the server's to give: each window's own address carries one.
    let mut main = WsClient::connect(&server.window_ws_url("main").unwrap()).await;
    let mut side = WsClient::connect(&server.window_ws_url("side").unwrap()).await;
    for client in [&mut main, &mut side] {
        client
            .call(
                "plugin:event|listen",
                json!({ "event": "saved", "handler": 1 }),
            )
            .await;
    }

    let reply = side
        .call(
            "plugin:event|emit",
            json!({ "event": "saved", "payload": { "n": 1 } }),
        )
        .await;
    assert_eq!(reply["result"], Value::Null);
    assert_eq!(*heard.lock().unwrap(), [json!({ "n": 1 })]);
    assert_eq!(main.event("saved").await["payload"], json!({ "n": 1 }));
    assert_eq!(side.event("saved").await["payload"], json!({ "n": 1 }));

    side.call(
        "plugin:event|emit_to",
        json!({ "target": { "kind": "AnyLabel", "label": "main" }, "event": "saved", "payload": { "n": 2 } }),
    )
    .await;
    assert_eq!(main.event("saved").await["payload"], json!({ "n": 2 }));
    assert!(
        !side
            .receives_within(Duration::from_millis(200), |m| m["params"]["payload"]["n"]
                == 2)
            .await
    );
    assert_eq!(
        heard.lock().unwrap().len(),
        1,
        "a labelled target is not Rust"
    );

    side.call(
        "plugin:event|emit_to",
        json!({ "target": { "kind": "App" }, "event": "saved", "payload": 3 }),
    )
    .await;
    assert_eq!(heard.lock().unwrap().len(), 2, "App is Rust");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_params_and_foreign_listeners_are_refused() {
    let app = App::builder().build().unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut owner = WsClient::connect(&server.ws_url()).await;
    let mut other = WsClient::connect(&server.ws_url()).await;
    let reply = owner
        .call(
            "plugin:event|listen",
            json!({ "event": "bad name", "handler": 1 }),
        )
        .await;
    assert_eq!(reply["error"]["code"], codes::INVALID_PARAMS);
    let reply = owner
        .call("plugin:event|listen", json!({ "event": "ok" }))
        .await;
    assert_eq!(
        reply["error"]["code"],
        codes::INVALID_PARAMS,
        "handler is required"
    );
    let id = owner
        .call(
            "plugin:event|listen",
            json!({ "event": "ok", "handler": 1 }),
        )
        .await["result"]
        .clone();
    // Another connection cannot remove it.
    other
        .call(
            "plugin:event|unlisten",
            json!({ "event": "ok", "eventId": id }),
        )
        .await;
    app.emit("ok", &()).unwrap();
    assert_eq!(owner.event("ok").await["id"], id);
    let reply = owner.call("plugin:event|nope", json!({})).await;
    assert_eq!(reply["error"]["code"], codes::METHOD_NOT_FOUND);
    server.shutdown().await;
}
