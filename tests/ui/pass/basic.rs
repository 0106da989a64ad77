#![deny(warnings)]

use ipc_runtime::{App, command};

/// A documented command under `deny(warnings)`.
#[command]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {
    let app = App::builder().build().unwrap();
    assert!(app.has_command("add"));
}
