//! The codec: the one place that writes outgoing protocol text and frames.
//!
//! Everything the runtime sends is built here, from ipc-core's constants:
//! responses and error responses, batches, the `ipc.event`, `ipc.channel`,
//! `ipc.lagged`, `ipc.gap` and `ipc.upload` notifications, and binary frames. The layers above hand it
//! values and raw JSON and get back [`Response`]s and [`Outbound`] messages;
//! none of them writes a `"jsonrpc"` member itself.
//!
//! Two fast paths are kept: a call's result is serialized straight after the
//! response prefix ([`result_prefix`], then [`close_result`]) into one buffer,
//! and an event's notification is written once and shared ([`bytes::Bytes`])
//! by every frontend it goes to.

mod binary;
mod json;
mod outbound;

pub(crate) use binary::{BinaryMessage, decode as decode_binary};
pub(crate) use json::{
    BYTES_PLACEHOLDER, channel_bytes, channel_end, channel_message, close_result, error_message,
    error_text, event_body, event_message, gap, join_batch, lagged, result_message, result_prefix,
    tauri_event_message, upload_credit, upload_done,
};
pub use outbound::Outbound;
pub(crate) use outbound::Response;
