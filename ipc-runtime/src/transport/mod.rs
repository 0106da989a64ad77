//! Transports: how messages reach an [`App`](crate::App) from outside the process.
//!
//! Every transport is a thin loop around a [`Connection`](crate::connection::Connection):
//! it feeds incoming messages to `handle_text` and writes out what the
//! connection's `Outbox` yields. [`ws`] is the WebSocket server; [`stdio`]
//! serves one session on stdin/stdout (or any reader/writer pair).

#[cfg(feature = "ws")]
pub mod ws;

#[cfg(feature = "stdio")]
pub mod stdio;

#[cfg(feature = "ws")]
mod frames;
