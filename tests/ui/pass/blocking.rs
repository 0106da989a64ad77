//! `#[command(blocking)]` runs on tokio's blocking pool, off the caller's thread.

use ipc_runtime::{App, command};

#[command(blocking)]
fn checksum(data: Vec<u8>) -> (u64, bool) {
    std::thread::sleep(std::time::Duration::from_millis(5));
    let on_pool = std::thread::current().name() != Some("main");
    (data.iter().map(|&b| u64::from(b)).sum(), on_pool)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App::builder().build().unwrap();
    let info = app
        .commands()
        .into_iter()
        .find(|c| c.name() == "checksum")
        .unwrap();
    assert!(info.is_blocking() && !info.is_async());
    let out = app
        .invoke("checksum", serde_json::json!({ "data": [1, 2, 3] }))
        .await
        .unwrap();
    assert_eq!(out, serde_json::json!([6, true]));
}
