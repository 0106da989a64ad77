//! The most arguments a command may take, by name and by position.

use ipc_runtime::{App, command};

#[command]
#[allow(clippy::too_many_arguments)]
fn sum16(
    a0: u32,
    a1: u32,
    a2: u32,
    a3: u32,
    a4: u32,
    a5: u32,
    a6: u32,
    a7: u32,
    a8: u32,
    a9: u32,
    a10: u32,
    a11: u32,
    a12: u32,
    a13: u32,
    a14: u32,
    a15: u32,
) -> u32 {
    [
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15,
    ]
    .iter()
    .sum()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App::builder().build().unwrap();
    let by_position: Vec<u32> = (1..=16).collect();
    assert_eq!(
        app.invoke("sum16", serde_json::json!(by_position))
            .await
            .unwrap(),
        136
    );
    let by_name: serde_json::Map<String, serde_json::Value> = (0..16)
        .map(|i| (format!("a{i}"), serde_json::json!(i)))
        .collect();
    assert_eq!(app.invoke("sum16", by_name.into()).await.unwrap(), 120);
}
