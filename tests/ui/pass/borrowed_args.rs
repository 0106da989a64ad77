//! Sync commands may borrow their arguments: `&str`, `&[T]`, `&T`, and `&State<T>`.

use ipc_runtime::{App, State, command};
use serde_json::json;

struct Greeting(&'static str);

#[command]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

#[command]
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().map(|&b| u32::from(b)).sum()
}

#[derive(Clone, serde::Deserialize)]
struct Range {
    start: u32,
    end: u32,
}

#[command]
fn width(range: &Range) -> u32 {
    range.end - range.start
}

#[command]
fn greet(greeting: &State<Greeting>, name: &str) -> String {
    format!("{}, {name}", greeting.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App::builder().manage(Greeting("hello")).build().unwrap();
    assert_eq!(
        app.invoke("shout", json!({ "text": "abc" })).await.unwrap(),
        "ABC"
    );
    assert_eq!(
        app.invoke("checksum", json!({ "bytes": [1, 2, 250] }))
            .await
            .unwrap(),
        253
    );
    assert_eq!(
        app.invoke("width", json!([{ "start": 3, "end": 10 }]))
            .await
            .unwrap(),
        7
    );
    assert_eq!(
        app.invoke("greet", json!({ "name": "bo" })).await.unwrap(),
        "hello, bo"
    );
    let greet = app
        .commands()
        .into_iter()
        .find(|c| c.name() == "greet")
        .unwrap();
    assert_eq!(greet.args().collect::<Vec<_>>(), ["name"]);
}
