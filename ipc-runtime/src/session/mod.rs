//! Sessions: one frontend's state with the app, independent of the transport
//! that carries it.
//!
//! A transport (the WebSocket server, stdio, or anything else that moves
//! messages) opens a [`Connection`] ([`App::connect`](crate::App::connect)),
//! feeds every incoming message to [`Connection::handle_text`] (or
//! [`Connection::handle_binary`]), and writes out whatever the [`Outbox`]
//! yields: responses in completion order, pushed events and channel messages
//! in the order they were produced.
//!
//! Flow control: at most `max_in_flight` async calls run per connection;
//! `handle_text` waits for a free slot, so a transport that awaits it stops
//! reading from a client that floods it. Responses and channel messages wait
//! for room in the outbox (a slow reader slows its own calls down, nobody
//! else's). Events never wait: when a client's outbox is full, the event is
//! dropped for that client and counted ([`Connection::dropped_events`]).

mod connection;
mod options;
mod outbox;
mod peer;
mod rate;

pub use crate::codec::Outbound;
pub use connection::Connection;
pub use options::ConnectOptions;
pub use outbox::Outbox;
pub use rate::RateLimit;
