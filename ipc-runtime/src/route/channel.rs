//! [`Channel<T>`]: a stream of messages from a running command back to its caller.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use serde::Serialize;
use serde::de::{self, Deserialize as _, Deserializer, Visitor};

use crate::codec;
use crate::invoke::InvokeContext;
use crate::invoke::Peer;
use crate::invoke::args::{ArgProbe, ArgSlot, SlotError, SpecialKind};
use crate::invoke::describe::{TypeCollector, TypeDesc};
use crate::invoke::probes::TypeProbe;

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
    peer: Weak<dyn Peer>,
    next_index: AtomicU64,
    ended: AtomicBool,
    /// The `channel` span: opened with the channel, closed when it ends.
    span: tracing::Span,
}

/// The caller is gone: the message was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the channel is closed: its caller disconnected")]
pub struct ChannelClosed;

impl<T> Channel<T> {
    /// Opens channel `id` on the connection; `None` if it is already open.
    pub(crate) fn open(id: u64, peer: &dyn Peer) -> Option<Self> {
        if !peer.open_channel(id) {
            return None;
        }
        let span = tracing::debug_span!(
            "channel",
            channel = id,
            client = %peer.caller().client_id(),
            messages = tracing::field::Empty,
        );
        tracing::debug!(parent: &span, "channel opened");
        Some(Channel {
            inner: Arc::new(Inner {
                id,
                peer: peer.downgrade(),
                next_index: AtomicU64::new(0),
                ended: AtomicBool::new(false),
                span,
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
        self.inner.peer.upgrade().is_some_and(|peer| peer.is_open())
    }

    /// Sends raw bytes: a binary frame for clients that accept them, else a
    /// JSON array of numbers. Waits for room like [`send`](Self::send).
    pub async fn send_bytes(&self, bytes: impl Into<Bytes>) -> Result<(), ChannelClosed> {
        let peer = self.inner.peer.upgrade().ok_or(ChannelClosed)?;
        let index = self.inner.next_index.fetch_add(1, Ordering::Relaxed);
        let message = codec::channel_bytes(self.inner.id, index, bytes.into(), peer.binary());
        peer.send(message).await.then_some(()).ok_or(ChannelClosed)
    }
}

impl<T: Serialize> Channel<T> {
    /// Sends one message, waiting while the connection's outgoing queue is full.
    /// Fails once the caller has disconnected (or the message cannot be
    /// serialized, which is logged).
    pub async fn send(&self, message: &T) -> Result<(), ChannelClosed> {
        let peer = self.inner.peer.upgrade().ok_or(ChannelClosed)?;
        let index = self.inner.next_index.fetch_add(1, Ordering::Relaxed);
        let message = codec::channel_message(self.inner.id, index, message).map_err(|e| {
            tracing::error!(channel = self.inner.id, error = %e, "channel message could not be serialized");
            ChannelClosed
        })?;
        peer.send(message).await.then_some(()).ok_or(ChannelClosed)
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
        let index = self.next_index.load(Ordering::Relaxed);
        self.span.record("messages", index);
        tracing::debug!(parent: &self.span, messages = index, "channel closed");
        let Some(peer) = self.peer.upgrade() else {
            return;
        };
        peer.close_channel(self.id);
        peer.push_final(codec::channel_end(self.id, index));
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

impl<T> SpecialKind for &&&ArgProbe<Channel<T>> {
    type Tag = ChannelTag<T>;
    fn __ipc_arg_kind(&self) -> ChannelTag<T> {
        ChannelTag(PhantomData)
    }
}

/// Chosen for `Channel<T>` arguments. Not public API.
#[derive(Debug)]
pub struct ChannelTag<T>(PhantomData<fn() -> T>);

impl<T> ChannelTag<T> {
    /// An empty slot.
    pub fn slot(self) -> ChannelSlot<T> {
        ChannelSlot(None, PhantomData)
    }
}

/// Slot of a `Channel<T>` argument: the id the caller sent, then the channel
/// opened on the call's connection. Not public API.
#[derive(Debug)]
pub struct ChannelSlot<T>(Option<u64>, PhantomData<fn() -> T>);

impl<T> ArgSlot for ChannelSlot<T> {
    type Value = Channel<T>;
    const READS_PARAMS: bool = true;

    fn is_filled(&self) -> bool {
        self.0.is_some()
    }

    fn read<'de, D: Deserializer<'de>>(&mut self, deserializer: D) -> Result<(), D::Error> {
        self.0 = Some(ChannelId::deserialize(deserializer)?.0);
        Ok(())
    }

    fn finish(self, cx: &InvokeContext<'_>) -> Result<Channel<T>, SlotError> {
        let Some(id) = self.0 else {
            return Err(SlotError::Missing);
        };
        match cx.peer {
            Some(peer) => Channel::open(id, peer).ok_or_else(|| {
                SlotError::Invalid(format!("channel {id} is already open for another call"))
            }),
            None => Err(SlotError::Invalid(
                "channels stream to a connection; this call has none (use App::connect)".to_owned(),
            )),
        }
    }
}

impl<T> SpecialKind for &&&ArgProbe<Option<Channel<T>>> {
    type Tag = OptionalChannelTag<T>;
    fn __ipc_arg_kind(&self) -> OptionalChannelTag<T> {
        OptionalChannelTag(PhantomData)
    }
}

/// Chosen for `Option<Channel<T>>` arguments (a caller may pass no channel,
/// or `null`). Not public API.
#[derive(Debug)]
pub struct OptionalChannelTag<T>(PhantomData<fn() -> T>);

impl<T> OptionalChannelTag<T> {
    /// An empty slot.
    pub fn slot(self) -> OptionalChannelSlot<T> {
        OptionalChannelSlot(None, PhantomData)
    }
}

/// Slot of an `Option<Channel<T>>` argument. Not public API.
#[derive(Debug)]
pub struct OptionalChannelSlot<T>(Option<Option<u64>>, PhantomData<fn() -> T>);

impl<T> ArgSlot for OptionalChannelSlot<T> {
    type Value = Option<Channel<T>>;
    const READS_PARAMS: bool = true;

    fn is_filled(&self) -> bool {
        self.0.is_some()
    }

    fn read<'de, D: Deserializer<'de>>(&mut self, deserializer: D) -> Result<(), D::Error> {
        self.0 = Some(Option::<ChannelId>::deserialize(deserializer)?.map(|id| id.0));
        Ok(())
    }

    fn finish(self, cx: &InvokeContext<'_>) -> Result<Option<Channel<T>>, SlotError> {
        match self.0.flatten() {
            None => Ok(None),
            Some(id) => ChannelSlot::<T>(Some(id), PhantomData).finish(cx).map(Some),
        }
    }
}

/// Describes a channel whose message type implements `TS` (the probe level
/// above plain `TS` types; see `invoke/probes.rs`). Not public API.
pub trait ChannelTsType {
    /// Describes the type.
    fn __ipc_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

#[cfg(feature = "typescript")]
impl<T: ts_rs::TS + 'static> ChannelTsType for &&&&TypeProbe<Channel<T>> {
    fn __ipc_type(&self, c: &mut TypeCollector) -> TypeDesc {
        TypeDesc::Channel(Box::new(c.ts::<T>()))
    }
}

/// Describes any other channel: its messages are `unknown`. Not public API.
pub trait ChannelType {
    /// Describes the type.
    fn __ipc_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

impl<T> ChannelType for &&&TypeProbe<Channel<T>> {
    fn __ipc_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::Channel(Box::new(TypeDesc::unknown::<T>(false)))
    }
}

/// A channel as an argument value: `"__CHANNEL__:<id>"`, or the bare id.
struct ChannelId(u64);

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

    #[test]
    #[expect(
        clippy::needless_borrow,
        reason = "the probes are written as the macros write them: the borrows pick the level"
    )]
    fn channels_are_described_by_their_message_type() {
        use crate::invoke::probes::{BytesType, OptionType, UnknownType};
        struct Opaque;
        let c = &mut TypeCollector::new();
        assert!(matches!(
            (&&&&&&TypeProbe::<Channel<Opaque>>::NEW).__ipc_type(c),
            TypeDesc::Channel(inner) if matches!(*inner, TypeDesc::Unknown { .. })
        ));
        #[cfg(feature = "typescript")]
        assert_eq!(
            (&&&&&&TypeProbe::<Channel<u32>>::NEW).__ipc_type(c),
            TypeDesc::Channel(Box::new(TypeDesc::Ts {
                ts: "number".into(),
                optional: false
            }))
        );
        // The other levels' traits are in scope as in generated code.
        let _ = (&&&&&&TypeProbe::<Vec<u8>>::NEW).__ipc_type(c);
        let _ = (&&&&&&TypeProbe::<Option<Opaque>>::NEW).__ipc_type(c);
        let _ = (&&&&&&TypeProbe::<Opaque>::NEW).__ipc_type(c);
    }
}
