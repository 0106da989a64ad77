//! Typed commands and a declared event, under `#![deny(warnings)]`, through a
//! renamed crate path: the bindings name every type.
#![deny(warnings)]

extern crate ipc_runtime as ipc_renamed;

use ipc_renamed::ts_rs::TS;
use ipc_renamed::{App, TypedEvent};
use serde::{Deserialize, Serialize};

/// A greeting.
#[derive(Serialize, Deserialize, TS)]
#[ts(crate = "ipc_renamed::ts_rs")]
struct Greeting {
    text: String,
    count: u64,
}

/// Greets.
#[ipc_renamed::command(crate = "ipc_renamed")]
fn greet(name: String, times: Option<u64>) -> Result<Greeting, String> {
    Ok(Greeting {
        text: format!("Hello, {name}!"),
        count: times.unwrap_or(1),
    })
}

/// Somebody was greeted.
#[ipc_renamed::event("greeted", crate = "ipc_renamed")]
#[derive(Serialize, TS)]
#[ts(crate = "ipc_renamed::ts_rs")]
enum Greeted {
    Once,
    Many { times: u32 },
}

fn main() {
    assert_eq!(Greeted::NAME, "greeted");
    let app = App::builder().build().unwrap();
    app.emit_event(&Greeted::Once).unwrap();
    app.emit_event(&Greeted::Many { times: 2 }).unwrap();
    let bindings = app.typescript().render().unwrap();
    let ts = bindings.typescript();
    assert!(ts.contains(
        "greet(args: { name: string, times?: number | bigint | null }, options?: ipc.InvokeOptions): Promise<Greeting> {"
    ));
    assert!(ts.contains("export type Greeted = \"Once\" | { \"Many\": { times: number, } };"));
    assert!(ts.contains("emit(payload: Greeted, options?: ipc.EmitOptions): Promise<void> {"));
    assert!(bindings.fallbacks().is_empty());
}
