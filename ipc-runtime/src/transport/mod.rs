//! Transports: how messages reach an [`App`](crate::App) from outside the process.
//!
//! Every transport is a thin loop around a [`Connection`](crate::connection::Connection):
//! it feeds incoming messages to `handle_text` and writes out what the
//! connection's `Outbox` yields. [`ws`] is the WebSocket server.

#[cfg(feature = "ws")]
pub mod ws;

#[cfg(feature = "ws")]
mod frames;
