//! `crate = "..."` points the generated code at a renamed dependency.
//!
//! Cargo refuses a second, renamed dependency on `ipc-runtime` next to the
//! plain one in this package, so the crate is renamed here, which is what
//! `ipc-renamed = { package = "ipc-runtime" }` does for the compiler: the crate
//! is reachable as `::ipc_renamed`.

extern crate ipc_runtime as ipc_renamed;

use std::sync::atomic::{AtomicU32, Ordering};

use ipc_renamed::{App, State};

struct Base(i64);

#[ipc_renamed::command(crate = "::ipc_renamed")]
fn add(base: State<Base>, x: i64) -> i64 {
    base.0 + x
}

#[ipc_renamed::command(crate = "ipc_renamed", rename = "math.neg", blocking)]
fn neg(x: i64) -> i64 {
    -x
}

static PINGED: AtomicU32 = AtomicU32::new(0);

#[ipc_renamed::listen("renamed:ping", crate = "::ipc_renamed")]
fn on_ping(payload: u32) {
    PINGED.store(payload, Ordering::SeqCst);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App::builder().manage(Base(40)).build().unwrap();
    assert_eq!(
        app.invoke("add", serde_json::json!({ "x": 2 }))
            .await
            .unwrap(),
        42
    );
    assert_eq!(
        app.invoke("math.neg", serde_json::json!([5]))
            .await
            .unwrap(),
        -5
    );
    assert_eq!(app.listener_count("renamed:ping"), 1);
    app.emit("renamed:ping", &7).unwrap();
    assert_eq!(PINGED.load(Ordering::SeqCst), 7);
}
