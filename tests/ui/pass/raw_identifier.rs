//! A raw identifier argument is named without `r#` on the wire.

use ipc_runtime::{App, command};

#[command]
fn describe(r#type: String, r#match: bool) -> String {
    format!("{type} {match}", type = r#type, match = r#match)
}

#[command]
fn r#loop(times: u8) -> u8 {
    times
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App::builder().build().unwrap();
    let info = app
        .commands()
        .into_iter()
        .find(|c| c.name() == "describe")
        .unwrap();
    assert_eq!(info.args().collect::<Vec<_>>(), ["type", "match"]);
    let out = app
        .invoke(
            "describe",
            serde_json::json!({ "type": "car", "match": true }),
        )
        .await;
    assert_eq!(out.unwrap(), "car true");
    assert_eq!(app.invoke("loop", serde_json::json!([3])).await.unwrap(), 3);
}
