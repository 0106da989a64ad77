//! Cancellation: `ipc.cancel` drops a running command's future, so it stops at
//! its next `.await`; its side effects after that never happen and its caller
//! gets no response.

use std::sync::Mutex;
use std::time::Duration;

use ipc_runtime::session::ConnectOptions;
use ipc_runtime::{App, State, command};
use ipc_tests::WsClient;
use serde_json::json;

#[derive(Default)]
struct Markers(Mutex<Vec<String>>);

#[command]
async fn cancellable(ms: u64, marker: String, markers: State<Markers>) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    markers.0.lock().unwrap().push(marker.clone());
    marker
}

fn markers(app: &App) -> Vec<String> {
    app.state::<Markers>().unwrap().0.lock().unwrap().clone()
}

#[tokio::test]
async fn a_cancelled_command_never_reaches_its_side_effect_and_never_answers() {
    let app = App::builder().manage(Markers::default()).build().unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut client = WsClient::connect(&server.ws_url()).await;
    let doomed = client
        .request("cancellable", json!({ "ms": 600, "marker": "doomed" }))
        .await;
    let kept = client
        .request("cancellable", json!({ "ms": 300, "marker": "kept" }))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reply = client.call("ipc.cancel", json!({ "id": doomed })).await;
    assert_eq!(reply["result"], true);
    assert_eq!(client.response(kept).await["result"], "kept");
    // Wait well past the cancelled command's sleep.
    assert!(
        !client
            .receives_within(Duration::from_millis(900), |m| m["id"] == doomed)
            .await,
        "no response for a cancelled call"
    );
    assert_eq!(markers(&app), ["kept"]);
    // Cancelling again, or something unknown, is harmless.
    assert_eq!(
        client.call("ipc.cancel", json!({ "id": doomed })).await["result"],
        false
    );
    assert_eq!(
        client.call("ipc.cancel", json!({ "id": "nope" })).await["result"],
        false
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_cancel_notification_and_string_ids() {
    let app = App::builder().manage(Markers::default()).build().unwrap();
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":"job-1","method":"cancellable","params":{"ms":300,"marker":"x"}}"#)
        .await;
    assert_eq!(connection.in_flight(), 1);
    connection
        .handle_text(r#"{"jsonrpc":"2.0","method":"ipc.cancel","params":{"id":"job-1"}}"#)
        .await;
    assert_eq!(connection.in_flight(), 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(outbox.try_recv().is_none(), "nothing was sent");
    assert!(markers(&app).is_empty());
    connection.close();
}
