//! Every error a caller can receive, with its code, through both entry points:
//! in-process `invoke` and the text entry point `handle_message`.

use ipc_runtime::{App, codes, command};
use serde::Serialize;
use serde_json::{Value, json};

#[command]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[command]
fn greet(name: String) -> String {
    format!("Hello, {name}")
}

#[derive(Debug, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum TodoError {
    #[error("a title cannot be empty")]
    EmptyTitle,
    #[error("title is {len} characters; the limit is {max}")]
    TooLong { len: usize, max: usize },
}

#[command]
fn validate(title: String) -> Result<String, TodoError> {
    if title.is_empty() {
        return Err(TodoError::EmptyTitle);
    }
    if title.len() > 5 {
        return Err(TodoError::TooLong {
            len: title.len(),
            max: 5,
        });
    }
    Ok(title)
}

#[derive(Debug, Serialize)]
struct Opaque {
    reason: u8,
}

#[command]
fn data_only() -> Result<(), Opaque> {
    Err(Opaque { reason: 7 })
}

#[command]
fn io_error() -> Result<(), std::io::Error> {
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "no such thing",
    ))
}

#[command]
fn question_mark(text: String) -> Result<i64, ipc_runtime::InvokeError> {
    Ok(text.parse::<i64>()?)
}

#[command]
fn panics() -> u8 {
    panic!("the command broke")
}

#[command]
async fn panics_async() -> u8 {
    tokio::task::yield_now().await;
    panic!("the async command broke")
}

struct NeverManaged;

#[command]
fn needs_state(_state: ipc_runtime::State<NeverManaged>) {}

fn app() -> App {
    App::builder().build().unwrap()
}

async fn call(app: &App, text: &str) -> Value {
    let reply = app.handle_message(text).await.expect("a response");
    serde_json::from_str(&reply).expect("the response is JSON")
}

#[tokio::test]
async fn unknown_command_names_it_and_suggests_the_closest() {
    let err = app().invoke("gret", json!({})).await.unwrap_err();
    assert_eq!(err.code(), codes::METHOD_NOT_FOUND);
    assert_eq!(
        err.message(),
        "unknown command `gret`; did you mean `greet`?"
    );
    assert_eq!(
        err.data(),
        Some(&json!({ "command": "gret", "suggestion": "greet" }))
    );

    let err = app().invoke("zzzzzzzz", json!({})).await.unwrap_err();
    assert_eq!(err.message(), "unknown command `zzzzzzzz`");
    assert_eq!(err.data(), Some(&json!({ "command": "zzzzzzzz" })));
}

#[tokio::test]
async fn missing_argument_names_it_and_its_type() {
    let err = app().invoke("add", json!({ "a": 1 })).await.unwrap_err();
    assert_eq!(err.code(), codes::INVALID_PARAMS);
    assert_eq!(err.message(), "invalid argument `b`: missing argument");
    assert_eq!(
        err.data(),
        Some(&json!({ "argument": "b", "expected": "i64", "reason": "missing argument" }))
    );
}

#[tokio::test]
async fn wrong_type_carries_serdes_message() {
    let err = app()
        .invoke("add", json!({ "a": 1, "b": "two" }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::INVALID_PARAMS);
    let data = err.data().unwrap();
    assert_eq!(data["argument"], "b");
    assert_eq!(data["expected"], "i64");
    assert_eq!(data["reason"], "invalid type: string \"two\", expected i64");

    // Through the text entry point, serde's message loses its line/column suffix too.
    let reply = call(
        &app(),
        r#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1,"b":"two"}}"#,
    )
    .await;
    assert_eq!(
        reply["error"]["data"]["reason"],
        "invalid type: string \"two\", expected i64"
    );
}

#[tokio::test]
async fn duplicate_and_surplus_arguments_are_refused() {
    let reply = call(
        &app(),
        r#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1,"a":2,"b":3}}"#,
    )
    .await;
    assert_eq!(reply["error"]["code"], codes::INVALID_PARAMS);
    assert_eq!(reply["error"]["data"]["argument"], "a");

    let err = app().invoke("add", json!([1, 2, 3])).await.unwrap_err();
    assert_eq!(err.code(), codes::INVALID_PARAMS);
    assert_eq!(
        err.data().unwrap()["reason"],
        "too many positional arguments: the command takes 2"
    );
}

#[tokio::test]
async fn scalar_params_are_refused() {
    let err = app().invoke("add", json!(3)).await.unwrap_err();
    assert_eq!(err.code(), codes::INVALID_PARAMS);
    let reply = call(
        &app(),
        r#"{"jsonrpc":"2.0","id":1,"method":"add","params":3}"#,
    )
    .await;
    assert_eq!(reply["error"]["code"], codes::INVALID_REQUEST);
}

#[tokio::test]
async fn a_serializable_error_becomes_data_and_its_display_the_message() {
    let err = app()
        .invoke("validate", json!({ "title": "" }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::COMMAND_ERROR);
    assert_eq!(err.message(), "a title cannot be empty");
    assert_eq!(err.data(), Some(&json!({ "kind": "emptyTitle" })));

    let err = app()
        .invoke("validate", json!({ "title": "toolong" }))
        .await
        .unwrap_err();
    assert_eq!(
        err.data(),
        Some(&json!({ "kind": "tooLong", "len": 7, "max": 5 }))
    );
    assert_eq!(
        app()
            .invoke("validate", json!({ "title": "ok" }))
            .await
            .unwrap(),
        "ok"
    );
}

#[tokio::test]
async fn errors_that_are_only_serializable_or_only_display() {
    let err = app().invoke("data_only", json!({})).await.unwrap_err();
    assert_eq!(err.code(), codes::COMMAND_ERROR);
    assert_eq!(err.message(), "the command returned an error");
    assert_eq!(err.data(), Some(&json!({ "reason": 7 })));

    let err = app().invoke("io_error", json!({})).await.unwrap_err();
    assert_eq!(err.code(), codes::COMMAND_ERROR);
    assert_eq!(err.message(), "no such thing");
    assert_eq!(err.data(), None);

    let err = app()
        .invoke("question_mark", json!({ "text": "x" }))
        .await
        .unwrap_err();
    assert_eq!(err.message(), "invalid digit found in string");
}

#[tokio::test]
async fn a_panicking_command_is_an_internal_error_and_the_app_keeps_serving() {
    let app = app();
    for name in ["panics", "panics_async"] {
        let err = app.invoke(name, json!({})).await.unwrap_err();
        assert_eq!(err.code(), codes::INTERNAL_ERROR);
        assert!(
            !err.message().contains("broke"),
            "panic text stays in the log"
        );
        assert_eq!(app.invoke("add", json!([1, 1])).await.unwrap(), 2);
    }
    let reply = call(&app, r#"{"jsonrpc":"2.0","id":"p","method":"panics"}"#).await;
    assert_eq!(reply["id"], "p");
    assert_eq!(reply["error"]["code"], codes::INTERNAL_ERROR);
}

#[tokio::test]
async fn unmanaged_state_names_the_type() {
    let err = app().invoke("needs_state", json!({})).await.unwrap_err();
    assert_eq!(err.code(), codes::INTERNAL_ERROR);
    assert!(err.message().contains("NeverManaged"), "{}", err.message());
}

#[tokio::test]
async fn malformed_json_is_a_parse_error_with_null_id() {
    for text in ["{", "", "   ", "{\"jsonrpc\":\"2.0\",", "nope", "[1,"] {
        let reply = call(&app(), text).await;
        assert_eq!(reply["error"]["code"], codes::PARSE_ERROR, "{text:?}");
        assert_eq!(reply["id"], Value::Null);
    }
}

#[tokio::test]
async fn invalid_requests_are_answered_with_32600() {
    let cases = [
        r#"1"#,
        r#"{"jsonrpc":"2.0","id":1}"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"add"}"#,
        r#"{"id":1,"method":"add"}"#,
        r#"{"jsonrpc":"2.0","id":true,"method":"add"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":["add"]}"#,
        r#"[]"#,
    ];
    for text in cases {
        let reply = call(&app(), text).await;
        assert_eq!(reply["error"]["code"], codes::INVALID_REQUEST, "{text}");
    }
    // The id is echoed when it could be read.
    let reply = call(&app(), r#"{"jsonrpc":"2.0","id":5,"method":7}"#).await;
    assert_eq!(reply["id"], 5);
}

#[tokio::test]
async fn string_and_null_ids_are_echoed() {
    let reply = call(
        &app(),
        r#"{"jsonrpc":"2.0","id":"abc","method":"add","params":[1,2]}"#,
    )
    .await;
    assert_eq!(reply, json!({ "jsonrpc": "2.0", "id": "abc", "result": 3 }));
    let reply = call(
        &app(),
        r#"{"jsonrpc":"2.0","id":null,"method":"add","params":[1,2]}"#,
    )
    .await;
    assert_eq!(reply, json!({ "jsonrpc": "2.0", "id": null, "result": 3 }));
}

#[tokio::test]
async fn unknown_command_over_text_has_the_request_id() {
    let reply = call(&app(), r#"{"jsonrpc":"2.0","id":3,"method":"nope"}"#).await;
    assert_eq!(reply["id"], 3);
    assert_eq!(reply["error"]["code"], codes::METHOD_NOT_FOUND);
}

#[tokio::test]
async fn unknown_reserved_method_is_method_not_found() {
    let reply = call(&app(), r#"{"jsonrpc":"2.0","id":3,"method":"ipc.nope"}"#).await;
    assert_eq!(reply["error"]["code"], codes::METHOD_NOT_FOUND);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ipc.nope")
    );
}

#[tokio::test]
async fn batches_answer_each_request_in_order_and_skip_notifications() {
    let app = app();
    let reply = call(
        &app,
        r#"[
            {"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]},
            {"jsonrpc":"2.0","method":"some-event","params":{}},
            {"jsonrpc":"2.0","id":2,"method":"panics_async"},
            {"jsonrpc":"2.0","id":3,"method":"nope"},
            42
        ]"#,
    )
    .await;
    let replies = reply.as_array().unwrap();
    assert_eq!(replies.len(), 4);
    let by_id = |id: Value| replies.iter().find(|r| r["id"] == id).cloned().unwrap();
    assert_eq!(by_id(json!(1))["result"], 3);
    assert_eq!(by_id(json!(2))["error"]["code"], codes::INTERNAL_ERROR);
    assert_eq!(by_id(json!(3))["error"]["code"], codes::METHOD_NOT_FOUND);
    assert_eq!(by_id(Value::Null)["error"]["code"], codes::INVALID_REQUEST);
}

#[tokio::test]
async fn notifications_get_no_response() {
    let app = app();
    assert_eq!(
        app.handle_message(r#"{"jsonrpc":"2.0","method":"tick"}"#)
            .await,
        None
    );
    assert_eq!(
        app.handle_message(r#"[{"jsonrpc":"2.0","method":"tick"}]"#)
            .await,
        None,
        "a batch of notifications only gets nothing back"
    );
}
