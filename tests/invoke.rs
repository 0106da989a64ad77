//! Calling commands in-process: argument passing, injected arguments, return
//! kinds, and concurrency of async and blocking commands.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ipc_runtime::{App, Caller, ClientId, InvokeError, State, codes, command};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Counter(AtomicUsize);

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Todo {
    id: u64,
    title: String,
    done: bool,
}

#[derive(Debug, Default)]
struct Todos(Mutex<Vec<Todo>>);

#[command]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[command]
fn greet(user_name: String, excited: Option<bool>) -> String {
    let mark = if excited == Some(true) { "!" } else { "." };
    format!("Hello, {user_name}{mark}")
}

#[command(rename_all = "snake_case")]
fn snake(user_id: u64) -> u64 {
    user_id
}

#[command(rename = "todo.add")]
async fn add_todo(todos: State<Todos>, title: String) -> Todo {
    let mut todos = todos.0.lock().unwrap();
    let todo = Todo {
        id: todos.len() as u64 + 1,
        title,
        done: false,
    };
    todos.push(Todo { ..todo });
    Todo {
        id: todo.id,
        title: todos[todos.len() - 1].title.clone(),
        done: false,
    }
}

#[command]
fn unit() {}

#[command]
fn whoami(caller: Caller) -> u64 {
    caller.client_id().get()
}

#[command]
fn count(counter: State<Counter>, app: App) -> usize {
    // The App handle is usable from inside a command.
    assert!(app.has_command("count"));
    counter.0.fetch_add(1, Ordering::SeqCst) + 1
}

#[command]
fn borrowed(text: &str, bytes: &[u8]) -> usize {
    text.len() + bytes.len()
}

#[command]
fn r#type(r#type: String) -> String {
    r#type
}

#[command]
async fn sleep_then(ms: u64, value: String) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    value
}

#[command(blocking)]
fn blocking_sum(values: Vec<u64>) -> u64 {
    std::thread::sleep(Duration::from_millis(20));
    values.iter().sum()
}

#[command]
fn echo(value: Value) -> Value {
    value
}

#[command]
fn fallible(fail: bool) -> Result<&'static str, InvokeError> {
    if fail {
        Err(InvokeError::new(4000, "asked to fail").with_data(json!({ "asked": true })))
    } else {
        Ok("fine")
    }
}

fn app() -> App {
    App::builder()
        .manage(Counter::default())
        .manage(Todos::default())
        .build()
        .expect("app builds")
}

#[tokio::test]
async fn named_arguments_are_camel_case_by_default() {
    let app = app();
    let reply = app
        .invoke("greet", json!({ "userName": "Ada" }))
        .await
        .unwrap();
    assert_eq!(reply, "Hello, Ada.");
    let reply = app
        .invoke("greet", json!({ "userName": "Ada", "excited": true }))
        .await
        .unwrap();
    assert_eq!(reply, "Hello, Ada!");
    // The Rust name is not the wire name.
    let err = app
        .invoke("greet", json!({ "user_name": "Ada" }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::INVALID_PARAMS);
    assert_eq!(err.data().unwrap()["argument"], "userName");
    assert!(err.message().contains("user_name"), "{}", err.message());
}

#[tokio::test]
async fn rename_all_snake_case_keeps_rust_names() {
    let app = app();
    assert_eq!(
        app.invoke("snake", json!({ "user_id": 7 })).await.unwrap(),
        7
    );
    assert!(app.invoke("snake", json!({ "userId": 7 })).await.is_err());
}

#[tokio::test]
async fn option_arguments_may_be_omitted_or_null() {
    let app = app();
    let omitted = app
        .invoke("greet", json!({ "userName": "A" }))
        .await
        .unwrap();
    let null = app
        .invoke("greet", json!({ "userName": "A", "excited": null }))
        .await
        .unwrap();
    assert_eq!(omitted, null);
}

#[tokio::test]
async fn positional_params_follow_declaration_order() {
    let app = app();
    assert_eq!(app.invoke("add", json!([40, 2])).await.unwrap(), 42);
    assert_eq!(
        app.invoke("greet", json!(["Bo"])).await.unwrap(),
        "Hello, Bo."
    );
    assert_eq!(
        app.invoke("greet", json!(["Bo", true])).await.unwrap(),
        "Hello, Bo!"
    );
    // Injected arguments take no position.
    assert_eq!(
        app.invoke("todo.add", json!(["write"])).await.unwrap()["title"],
        "write"
    );
}

#[tokio::test]
async fn null_params_mean_no_arguments() {
    let app = app();
    assert_eq!(app.invoke("unit", Value::Null).await.unwrap(), Value::Null);
    assert_eq!(app.invoke("unit", json!({})).await.unwrap(), Value::Null);
    assert_eq!(app.invoke("unit", json!([])).await.unwrap(), Value::Null);
}

#[tokio::test]
async fn renamed_async_command_uses_managed_state() {
    let app = app();
    let first = app
        .invoke("todo.add", json!({ "title": "a" }))
        .await
        .unwrap();
    let second = app
        .invoke("todo.add", json!({ "title": "b" }))
        .await
        .unwrap();
    assert_eq!(first, json!({ "id": 1, "title": "a", "done": false }));
    assert_eq!(second["id"], 2);
    assert_eq!(app.state::<Todos>().unwrap().0.lock().unwrap().len(), 2);
    assert!(
        !app.has_command("add_todo"),
        "the Rust name is not registered"
    );
}

#[tokio::test]
async fn injected_caller_and_app() {
    let app = app();
    assert_eq!(app.invoke("whoami", json!({})).await.unwrap(), 0);
    let visitor = Caller::new(ClientId::new(9), Some("http://127.0.0.1:1".into()));
    assert_eq!(
        app.invoke_as(&visitor, "whoami", json!({})).await.unwrap(),
        9
    );
    assert_eq!(app.invoke("count", json!({})).await.unwrap(), 1);
    assert_eq!(app.invoke("count", json!({})).await.unwrap(), 2);
}

#[tokio::test]
async fn sync_commands_may_borrow_arguments() {
    let app = app();
    let n = app
        .invoke("borrowed", json!({ "text": "abc", "bytes": [1, 2] }))
        .await
        .unwrap();
    assert_eq!(n, 5);
}

#[tokio::test]
async fn raw_identifiers_lose_their_prefix() {
    let app = app();
    assert_eq!(
        app.invoke("type", json!({ "type": "x" })).await.unwrap(),
        "x"
    );
}

#[tokio::test]
async fn any_json_round_trips_through_a_value_argument() {
    let app = app();
    let v = json!({ "nested": [1, { "a": null }], "s": "\u{e9}\u{1F600}" });
    assert_eq!(
        app.invoke("echo", json!({ "value": v.clone() }))
            .await
            .unwrap(),
        v
    );
}

#[tokio::test]
async fn invoke_error_keeps_code_message_and_data() {
    let app = app();
    assert_eq!(
        app.invoke("fallible", json!({ "fail": false }))
            .await
            .unwrap(),
        "fine"
    );
    let err = app
        .invoke("fallible", json!({ "fail": true }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 4000);
    assert_eq!(err.message(), "asked to fail");
    assert_eq!(err.data(), Some(&json!({ "asked": true })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_async_command_does_not_delay_a_fast_one() {
    let app = app();
    let slow = tokio::spawn(app.invoke("sleep_then", json!({ "ms": 2_000, "value": "slow" })));
    let fast = tokio::time::timeout(
        Duration::from_millis(1_500),
        app.invoke("sleep_then", json!({ "ms": 1, "value": "fast" })),
    )
    .await
    .expect("the fast call finished while the slow one was still sleeping");
    assert_eq!(fast.unwrap(), "fast");
    assert!(!slow.is_finished());
    assert_eq!(slow.await.unwrap().unwrap(), "slow");
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_commands_leave_the_async_thread_free() {
    let app = app();
    let blocking = app.invoke("blocking_sum", json!({ "values": [1, 2, 3] }));
    let other = app.invoke("sleep_then", json!({ "ms": 1, "value": "x" }));
    // On a single-threaded runtime, both complete only if the blocking command
    // runs elsewhere.
    let (sum, x) = tokio::join!(blocking, other);
    assert_eq!(sum.unwrap(), 6);
    assert_eq!(x.unwrap(), "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_futures_are_send_and_run_on_spawned_tasks() {
    let app = app();
    let tasks: Vec<_> = (0..50)
        .map(|i| tokio::spawn(app.invoke("add", json!({ "a": i, "b": 1 }))))
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap().unwrap(), i as i64 + 1);
    }
}
