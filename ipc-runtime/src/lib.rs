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
//! # Crates that only contribute commands
//!
//! Registration runs for every crate linked into the binary. A library crate
//! that defines commands but whose items are never used may not be linked at
//! all: reference it from the application (`use my_commands as _;`).
#![warn(clippy::unwrap_used)]

mod app;
mod binary;
mod builder;
mod channel;
pub mod connection;
mod context;
mod dispatch;
mod error;
mod events;
pub mod extract;
mod registry;
mod reserved;
mod state;
pub mod transport;

/// Not public API: the items generated code uses, at the path it uses.
#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;
pub(crate) use __private as private;

pub use app::App;
pub use builder::AppBuilder;
pub use channel::{Channel, ChannelClosed};
pub use context::{Caller, InvokeContext};
pub use error::{BuildError, EmitError, InvokeError};
pub use events::{Event, ListenerId};
pub use extract::{CommandArg, State};
pub use registry::CommandInfo;

pub use ipc_core::{ClientId, ErrorObject, EventName, EventTarget, codes};

/// The shared protocol types (messages, error objects, event names).
pub use ipc_core as core;

pub use ipc_macros::{command, listen};
