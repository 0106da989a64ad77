//! A JSON-RPC client we did not write (jsonrpsee's WebSocket client) calls our
//! commands over the server and sees our error codes.

use ipc_runtime::{App, codes, command};
use jsonrpsee::core::client::{ClientT, Error};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::Value;

#[command]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[command]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

#[command]
async fn fail(reason: String) -> Result<(), String> {
    Err(reason)
}

fn code_of(error: Error) -> (i32, Option<Value>) {
    match error {
        Error::Call(e) => (
            e.code(),
            e.data().map(|d| serde_json::from_str(d.get()).unwrap()),
        ),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test]
async fn jsonrpsee_calls_commands_and_reads_error_codes() {
    let app = App::builder().build().unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let client = WsClientBuilder::default()
        .build(server.ws_url())
        .await
        .unwrap();

    let sum: i64 = client.request("add", rpc_params![40, 2]).await.unwrap();
    assert_eq!(sum, 42);
    let mut named = jsonrpsee::core::params::ObjectParams::new();
    named.insert("name", "Ada").unwrap();
    let hello: String = client.request("greet", named).await.unwrap();
    assert_eq!(hello, "Hello, Ada!");

    let (code, data) = code_of(
        client
            .request::<Value, _>("gret", rpc_params![])
            .await
            .unwrap_err(),
    );
    assert_eq!(code, codes::METHOD_NOT_FOUND);
    assert_eq!(data.unwrap()["suggestion"], "greet");

    let (code, data) = code_of(
        client
            .request::<Value, _>("add", rpc_params![1, "x"])
            .await
            .unwrap_err(),
    );
    assert_eq!(code, codes::INVALID_PARAMS);
    assert_eq!(data.unwrap()["argument"], "b");

    let (code, data) = code_of(
        client
            .request::<Value, _>("fail", rpc_params!["nope"])
            .await
            .unwrap_err(),
    );
    assert_eq!(code, codes::COMMAND_ERROR);
    assert_eq!(data, Some(Value::from("nope")));

    // jsonrpsee multiplexes concurrent requests over the one socket.
    let calls = (0..20).map(|i| client.request::<i64, _>("add", rpc_params![i, i]));
    let sums = futures_util::future::join_all(calls).await;
    assert!(
        sums.into_iter()
            .enumerate()
            .all(|(i, r)| r.unwrap() == 2 * i as i64)
    );
    server.shutdown().await;
}
