//! Frontend ↔ backend IPC for Rust applications.
//!
//! A frontend (a web page, a Node process, any JSON-RPC 2.0 client) calls Rust
//! functions marked [`#[command]`](command) and exchanges events with Rust
//! listeners marked [`#[listen]`](listen) or added at run time.
//!
//! ```rust,standalone_crate
//! use ipc_runtime::{App, State, command, listen};
//! use serde::{Deserialize, Serialize};
//! use std::sync::Mutex;
//!
//! #[derive(Default)]
//! struct Counter(Mutex<i64>);
//!
//! /// Adds `by` to the counter and returns the new value.
//! #[command]
//! fn bump(counter: State<Counter>, by: Option<i64>) -> i64 {
//!     let mut value = counter.0.lock().unwrap();
//!     *value += by.unwrap_or(1);
//!     *value
//! }
//!
//! #[derive(Serialize, Deserialize)]
//! struct Ready { version: String }
//!
//! #[listen("app:ready")]
//! fn on_ready(payload: Ready) {
//!     assert_eq!(payload.version, "1.0");
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = App::builder().manage(Counter::default()).build().unwrap();
//! assert_eq!(app.invoke("bump", serde_json::json!({ "by": 5 })).await.unwrap(), 5);
//! assert_eq!(app.invoke("bump", serde_json::json!({})).await.unwrap(), 6);
//! app.emit("app:ready", &Ready { version: "1.0".into() }).unwrap();
//! # }
//! ```
//!
//! # The model
//!
//! * **Commands** are request/response, like `fetch`. Each `#[command]` function
//!   is registered through `inventory` when the binary starts, so there is no
//!   central list; [`App::builder`] collects them into a hash map and rejects
//!   duplicate names, reporting both definition sites. Arguments are read by
//!   name from the params object (camelCase on the wire by default) or by
//!   position from a params array, in one pass over the raw JSON.
//! * **Injected arguments** ([`State<T>`], [`Caller`], [`App`], or your own
//!   [`CommandArg`] implementation) are built by the runtime, not sent by the caller.
//! * **Results**: `()`, any `T: Serialize`, `Result<T, E>` where the caller
//!   receives `E` as the error's `data` (and its `Display` text, if any, as the
//!   message), or `Result<T, InvokeError>` for full control of code and message.
//! * **Events** are one-way: [`App::emit`] reaches every Rust listener (and
//!   subscribed frontends), frontends emit to Rust with `ipc.emit`.
//! * **Errors** are JSON-RPC error objects with the [`codes`] documented in
//!   `docs/protocol.md`: unknown command (-32601, with the closest name
//!   suggested), bad arguments (-32602, naming the argument and its type), a
//!   panicking command (-32603; the app keeps serving), the command's own error
//!   (-32000).
//!
//! # TypeScript bindings
//!
//! Types that derive ts-rs's `TS` (re-exported as [`ts_rs`], feature
//! `typescript`, on by default) are named in the bindings
//! [`App::export_typescript`] writes: one `.ts` module with the types, a typed
//! function per command (`commands.todosAdd({ title })` → `Promise<Todo>`),
//! typed errors, and `events.todosChanged.listen(cb)` helpers for events
//! declared with [`#[event]`](event) or taken by `#[listen]` functions. Types
//! without the derive are typed `unknown`, and the generator says which;
//! `u64`/`i64` are `number | bigint` (the JavaScript client decodes unsafe
//! integers as `BigInt`). [`App::openrpc_document`] describes the commands for
//! `rpc.discover`. See the [`bindings`] module.
//!
//! # Crates that only contribute commands
//!
//! Registration runs for every crate linked into the binary. A library crate
//! that defines commands but whose items are never used may not be linked at
//! all: reference it from the application (`use my_commands as _;`).
#![warn(clippy::unwrap_used)]

// The layers, lowest first (each imports only from those below it; the test
// `tests/layers.rs` holds the table and checks it). See docs/architecture.md.
//
// types: what every layer speaks in.
mod caller;
pub mod capability;
mod error;
mod secret;
mod site;
mod state;
// codec: the one place that writes outgoing protocol text and frames.
mod codec;
// invocation: calling one command through its shim; injected arguments.
mod invoke;
// routing: dispatcher, reserved methods, event bus, channels.
mod route;
// sessions: one frontend's state, its outbox and its limits.
pub mod session;
// transports: bytes to session calls and back.
pub mod transport;
// The app, beside the layers: `App` (its whole API in app.rs), its builder,
// the bindings, and the path generated code uses.
mod app;
pub mod bindings;
mod builder;
mod typed_event;

// Test support for the unit tests of each layer (commands, a router, a
// recording peer); the generated code of its commands names this crate.
#[cfg(test)]
extern crate self as ipc_runtime;
#[cfg(test)]
mod testing;

/// Not public API: the items generated code uses, at the path it uses.
#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;

pub use app::App;
pub use builder::AppBuilder;
pub use caller::Caller;
pub use capability::Capability;
pub use error::{BuildError, EmitError, InvokeError};
pub use invoke::context::InvokeContext;
pub use invoke::extract;
pub use invoke::extract::{CommandArg, State};
pub use invoke::model::Fallback;
pub use invoke::registry::{CommandDef, CommandInfo, ListenerDef};
pub use invoke::upload::{Upload, UploadError};
pub use route::bridge::{
    Bridge, BridgeError, BridgeFilter, BridgeStats, BridgedEvent, Delivered, Inbox,
};
pub use route::channel::{Channel, ChannelClosed};
pub use route::events::{Event, ListenerId};
/// Middleware: tower layers around calls and events ([`AppBuilder::layer`]).
pub use route::inspect;
pub use route::metrics::Metrics;
pub use route::middleware;
pub use site::Site;
pub use typed_event::TypedEvent;

pub use bindings::{Bindings, ExportError, TypeScriptExport};

/// ts-rs, whose `TS` derive makes a type known to the TypeScript bindings
/// (feature `typescript`, on by default). Derive it through this re-export
/// with `#[ts(crate = "ipc_runtime::ts_rs")]`, or depend on `ts-rs` 12
/// yourself and write `#[derive(ts_rs::TS)]`.
#[cfg(feature = "typescript")]
pub use ts_rs;

pub use ipc_core::{ClientId, ErrorObject, EventName, EventTarget, codes};

/// The shared protocol types (messages, error objects, event names).
pub use ipc_core as core;

pub use ipc_macros::{command, event, listen};

/// Compiles and runs every Rust example of the repository's README, so it
/// cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// Runs the examples of `docs/middleware.md`.
#[cfg(doctest)]
#[doc = include_str!("../../docs/middleware.md")]
struct MiddlewareDoctests;

/// Runs the examples of `docs/inspector.md`.
#[cfg(doctest)]
#[doc = include_str!("../../docs/inspector.md")]
struct InspectorDoctests;
