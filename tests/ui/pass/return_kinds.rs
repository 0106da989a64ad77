//! Every kind of return value: `()`, `T`, `impl Serialize`, and `Result<T, E>`
//! for each kind of `E`.

use ipc_runtime::{App, InvokeError, codes, command};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Serialize)]
struct Point {
    x: i32,
    y: i32,
}

/// Serialize only: the caller gets it as `data`, with a generic message.
#[derive(Serialize)]
struct Rejected {
    reason: &'static str,
}

/// Serialize and Display: the message is the text, `data` the value.
#[derive(Debug, Serialize, thiserror::Error)]
#[error("not found: {0}")]
struct NotFound(u32);

#[command]
fn unit() {}

#[command]
fn point() -> Point {
    Point { x: 1, y: 2 }
}

#[command]
fn opaque() -> impl Serialize {
    [1, 2, 3]
}

#[command]
fn data_error(fail: bool) -> Result<u8, Rejected> {
    if fail {
        Err(Rejected { reason: "no" })
    } else {
        Ok(1)
    }
}

#[command]
fn described_error(id: u32) -> Result<u32, NotFound> {
    Err(NotFound(id))
}

#[command]
fn invoke_error() -> Result<(), InvokeError> {
    Err(InvokeError::new(-32042, "custom"))
}

#[command]
fn io_error() -> Result<String, std::io::Error> {
    Err(std::io::Error::other("disk on fire"))
}

#[command]
async fn string_error(fail: bool) -> Result<Point, String> {
    if fail {
        Err("bad input".to_owned())
    } else {
        Ok(Point { x: 0, y: 0 })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App::builder().build().unwrap();
    let call = |name: &'static str, args: Value| app.invoke(name, args);

    assert_eq!(call("unit", json!({})).await.unwrap(), Value::Null);
    assert_eq!(
        call("point", json!({})).await.unwrap(),
        json!({ "x": 1, "y": 2 })
    );
    assert_eq!(call("opaque", json!({})).await.unwrap(), json!([1, 2, 3]));

    assert_eq!(
        call("data_error", json!({ "fail": false })).await.unwrap(),
        1
    );
    let err = call("data_error", json!({ "fail": true }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::COMMAND_ERROR);
    assert_eq!(err.data(), Some(&json!({ "reason": "no" })));

    let err = call("described_error", json!({ "id": 7 }))
        .await
        .unwrap_err();
    assert_eq!(err.message(), "not found: 7");
    assert_eq!(err.data(), Some(&json!(7)));

    let err = call("invoke_error", json!({})).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (-32042, "custom"));

    let err = call("io_error", json!({})).await.unwrap_err();
    assert_eq!(err.message(), "disk on fire");
    assert_eq!(err.data(), None);

    assert_eq!(
        call("string_error", json!([false])).await.unwrap(),
        json!({ "x": 0, "y": 0 })
    );
    let err = call("string_error", json!([true])).await.unwrap_err();
    assert_eq!(err.message(), "bad input");
}
