//! The shared vocabulary of the IPC framework.
//!
//! Every other part of the framework (the macros, the runtime, the transports, and
//! any Rust client) speaks in these types. The crate depends on `serde` and
//! `serde_json` only: no async runtime, no I/O.
//!
//! * [`message`]: JSON-RPC 2.0 requests, notifications, responses and batches,
//!   owned for clients and borrowed ([`message::RequestEnvelope`]) for servers.
//! * [`error`]: the error object sent to callers and the named error codes.
//! * [`event`]: validated event names, event targets and the event push payload.
//! * [`client`]: the identity of a connected frontend.
//! * [`method`]: the reserved method names (`ipc.listen`, `ipc.emit`, ...).
//! * [`push`]: the params of the `ipc.channel` and `ipc.lagged` notifications.
//!
//! ```
//! use ipc_core::message::{Id, Request};
//!
//! let request = Request::new(Id::Number(1), "greet", serde_json::json!({ "name": "Ada" }));
//! let text = serde_json::to_string(&request).unwrap();
//! assert_eq!(text, r#"{"jsonrpc":"2.0","id":1,"method":"greet","params":{"name":"Ada"}}"#);
//! ```
#![warn(clippy::unwrap_used)]

pub mod client;
pub mod error;
pub mod event;
pub mod message;
pub mod method;
pub mod push;

pub use client::ClientId;
pub use error::{ErrorObject, codes};
pub use event::{EventName, EventTarget, InvalidEventName, TargetForm};
pub use message::{Id, Notification, Request, Response};
