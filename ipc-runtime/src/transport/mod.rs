//! Transports: how messages reach an [`App`](crate::App) from outside the
//! process.
//!
//! Every transport is a thin loop around a
//! [`Connection`](crate::session::Connection): it turns what arrives into
//! `handle_text`/`handle_binary` calls and writes out what the connection's
//! `Outbox` yields; everything else (routing, limits, subscriptions, channels)
//! is the session's. [`ws`] is the WebSocket server; [`stdio`] serves one
//! session on stdin/stdout (or any reader/writer pair). [`nats`] (feature
//! `nats`) carries events between the instances of an app, rather than
//! messages from a frontend.

#[cfg(feature = "ws")]
pub mod ws;

#[cfg(feature = "stdio")]
pub mod stdio;

#[cfg(feature = "desktop")]
pub mod desktop;
#[cfg(feature = "nats")]
pub mod nats;
