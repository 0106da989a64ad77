//! [`Channel<T>`]: a stream of messages from a running command back to its caller.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use serde::Serialize;
use serde::de::{self, Deserializer, Visitor};

use crate::connection::{Outbound, Session};

/// Streams messages from a command to its caller, in order.
///
/// Declare it as an argument: the caller passes a channel it opened
/// (`new Channel(onmessage)` in `ipc.js` or `@tauri-apps/api`), the runtime
/// connects it. Each message arrives as an `ipc.channel` push with an index, so
/// the caller delivers them in order; when the channel is dropped (usually when
/// the command returns) the caller gets an end marker.
///
/// Flow control: [`send`](Self::send) waits when the connection's outgoing queue
/// is full, so a slow reader slows the command instead of growing memory. Once
/// the caller has disconnected, `send` returns [`ChannelClosed`] and the command
/// can stop.
///
/// ```rust,standalone_crate,no_run
/// use ipc_runtime::{Channel, command};
/// use serde::Serialize;
///
/// #[derive(Clone, Serialize)]
/// struct Progress { done: u32, total: u32 }
///
/// #[command]
/// async fn import(files: Vec<String>, on_progress: Channel<Progress>) -> u32 {
///     let total = files.len() as u32;
///     for (i, _file) in files.iter().enumerate() {
///         // ... import the file ...
///         if on_progress.send(&Progress { done: i as u32 + 1, total }).await.is_err() {
///             break; // the caller went away
///         }
///     }
///     total
/// }
/// ```
pub struct Channel<T = serde_json::Value> {
    inner: Arc<Inner>,
    _message: PhantomData<fn(T)>,
}

struct Inner {
    id: u64,
    session: Weak<Session>,
    next_index: AtomicU64,
    ended: AtomicBool,
}

/// The caller is gone: the message was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the channel is closed: its caller disconnected")]
pub struct ChannelClosed;

impl<T> Channel<T> {
    /// Opens channel `id` on the connection; `None` if it is already open.
    pub(crate) fn open(id: u64, session: &Arc<Session>) -> Option<Self> {
        if !session.open_channel(id) {
            return None;
        }
        Some(Channel {
            inner: Arc::new(Inner {
                id,
                session: Arc::downgrade(session),
                next_index: AtomicU64::new(0),
                ended: AtomicBool::new(false),
            }),
            _message: PhantomData,
        })
    }

    /// The id the caller gave the channel.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Whether the caller is still connected.
    pub fn is_open(&self) -> bool {
        self.inner
            .session
            .upgrade()
            .is_some_and(|session| session.is_open())
    }

    /// Sends raw bytes: a binary frame for clients that accept them, else a
    /// JSON array of numbers. Waits for room like [`send`](Self::send).
    pub async fn send_bytes(&self, bytes: impl Into<Bytes>) -> Result<(), ChannelClosed> {
        let session = self.inner.session.upgrade().ok_or(ChannelClosed)?;
        let index = self.inner.next_index.fetch_add(1, Ordering::Relaxed);
        let bytes = bytes.into();
        let open = self.open_message(index);
        let frame = if session.binary() {
            let mut head = open;
            head.extend_from_slice(br#"{"$bytes":0}}"#);
            Outbound::binary(&head, bytes)
        } else {
            let mut text = open;
            // Bytes serialize as an array of numbers in JSON; this cannot fail.
            serde_json::to_writer(&mut text, &bytes).map_err(|_| ChannelClosed)?;
            text.extend_from_slice(b"}}");
            Outbound::text(text)
        };
        session
            .send_outbound(frame)
            .await
            .then_some(())
            .ok_or(ChannelClosed)
    }

    /// `{"jsonrpc":"2.0","method":"ipc.channel","params":{"channel":ID,"index":I,"message":`
    fn open_message(&self, index: u64) -> Vec<u8> {
        format!(
            r#"{{"jsonrpc":"2.0","method":"ipc.channel","params":{{"channel":{},"index":{index},"message":"#,
            self.inner.id
        )
        .into_bytes()
    }
}

impl<T: Serialize> Channel<T> {
    /// Sends one message, waiting while the connection's outgoing queue is full.
    /// Fails once the caller has disconnected (or the message cannot be
    /// serialized, which is logged).
    pub async fn send(&self, message: &T) -> Result<(), ChannelClosed> {
        let session = self.inner.session.upgrade().ok_or(ChannelClosed)?;
        let index = self.inner.next_index.fetch_add(1, Ordering::Relaxed);
        let mut text = self.open_message(index);
        if let Err(e) = serde_json::to_writer(&mut text, message) {
            tracing::error!(channel = self.inner.id, error = %e, "channel message could not be serialized");
            return Err(ChannelClosed);
        }
        text.extend_from_slice(b"}}");
        session
            .send_outbound(Outbound::text(text))
            .await
            .then_some(())
            .ok_or(ChannelClosed)
    }
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Channel {
            inner: Arc::clone(&self.inner),
            _message: PhantomData,
        }
    }
}

impl Drop for Inner {
    /// The last handle is gone: tell the caller no more messages will come.
    fn drop(&mut self) {
        if self.ended.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(session) = self.session.upgrade() else {
            return;
        };
        session.close_channel(self.id);
        let index = self.next_index.load(Ordering::Relaxed);
        let end = format!(
            r#"{{"jsonrpc":"2.0","method":"ipc.channel","params":{{"channel":{},"index":{index},"end":true}}}}"#,
            self.id
        );
        session.push_final(Outbound::text(end.into_bytes()));
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.inner.id)
            .field("sent", &self.inner.next_index.load(Ordering::Relaxed))
            .finish()
    }
}

/// A channel as an argument value: `"__CHANNEL__:<id>"`, or the bare id.
pub(crate) struct ChannelId(pub(crate) u64);

impl<'de> de::Deserialize<'de> for ChannelId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = ChannelId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a channel: "__CHANNEL__:<id>""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChannelId, E> {
                v.strip_prefix("__CHANNEL__:")
                    .and_then(|id| id.parse().ok())
                    .map(ChannelId)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ChannelId, E> {
                Ok(ChannelId(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ChannelId, E> {
                u64::try_from(v)
                    .map(ChannelId)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_parse_in_both_spellings() {
        let id: ChannelId = serde_json::from_str(r#""__CHANNEL__:42""#).unwrap();
        assert_eq!(id.0, 42);
        let id: ChannelId = serde_json::from_str("7").unwrap();
        assert_eq!(id.0, 7);
        assert!(serde_json::from_str::<ChannelId>(r#""42""#).is_err());
        assert!(serde_json::from_str::<ChannelId>(r#""__CHANNEL__:x""#).is_err());
        assert!(serde_json::from_str::<ChannelId>("-1").is_err());
    }
}
