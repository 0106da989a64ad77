//! The server the Node, browser and third-party-client tests talk to.
//!
//! `ipc-e2e-server [--port N]` prints `http://127.0.0.1:PORT/` and
//! `ws://127.0.0.1:PORT/ipc` on their own lines, then serves until it gets
//! Ctrl-C (SIGINT) or is killed.

use std::sync::Mutex;
use std::time::Duration;

use ipc_runtime::{App, Caller, EventTarget, InvokeError, State, command, listen};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[command]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[command]
fn greet(name: String, excited: Option<bool>) -> String {
    let end = if excited == Some(true) { "!" } else { "." };
    format!("Hello, {name}{end}")
}

#[command]
async fn sleep(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum Refusal {
    Refused { reason: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Refused { reason } => write!(f, "refused: {reason}"),
        }
    }
}

#[command]
fn fail(reason: String) -> Result<(), Refusal> {
    Err(Refusal::Refused { reason })
}

#[command]
fn custom_error(code: i32, message: String) -> Result<(), InvokeError> {
    Err(InvokeError::new(code, message))
}

#[command]
fn panic() {
    panic!("this command always panics");
}

#[command]
fn emit_event(app: App, event: String, payload: Value) -> Result<(), InvokeError> {
    app.emit(&event, &payload)?;
    Ok(())
}

#[command]
fn emit_to_caller(
    app: App,
    caller: Caller,
    event: String,
    payload: Value,
) -> Result<(), InvokeError> {
    app.emit_to(EventTarget::Client(caller.client_id()), &event, &payload)?;
    Ok(())
}

#[command]
fn whoami(caller: Caller) -> u64 {
    caller.client_id().get()
}

#[command]
fn echo(value: Value) -> Value {
    value
}

/// Events named `to-rust` as the Rust side saw them.
#[derive(Default)]
struct Received(Mutex<Vec<Value>>);

#[derive(Serialize, Deserialize)]
struct Seen {
    event: String,
    payload: Value,
    source: u64,
}

#[listen("to-rust")]
fn on_to_rust(payload: Value, caller: Caller, received: State<Received>) {
    let seen = Seen {
        event: "to-rust".into(),
        payload,
        source: caller.client_id().get(),
    };
    if let Ok(value) = serde_json::to_value(seen) {
        received
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(value);
    }
}

#[command]
fn rust_received(received: State<Received>) -> Vec<Value> {
    received.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn port_from_args() -> u16 {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--port" {
            return args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        }
    }
    0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let app = App::builder().manage(Received::default()).build()?;
    let server = app
        .server()
        .asset(
            "/",
            "text/html; charset=utf-8",
            "<!doctype html><title>ipc e2e</title><p>ipc e2e server",
        )
        .serve(("127.0.0.1", port_from_args()))
        .await?;
    println!("{}", server.http_url());
    println!("{}", server.ws_url());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
