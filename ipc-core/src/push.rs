//! The params of the server's other notifications: `ipc.channel` (a message
//! on a channel a command streams to its caller), `ipc.lagged` (events a slow
//! reader missed), `ipc.gap` (events a resumed subscription missed) and
//! `ipc.upload` (credit for an upload from the client, or its end).
//! `ipc.event`'s params are [`EventPush`](crate::event::EventPush).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::EventName;

/// The params of an `ipc.channel` push: message `index` of `channel`, or, with
/// `end`, the marker after the last message.
///
/// Messages of one channel may arrive out of order; a client delivers them by
/// `index`, starting at 0, and knows the stream is complete once it has every
/// index below the end marker's.
///
/// ```
/// use ipc_core::push::ChannelPush;
///
/// let push: ChannelPush = serde_json::from_str(r#"{"channel":3,"index":0,"message":"hi"}"#).unwrap();
/// assert_eq!((push.channel, push.index, push.end), (3, 0, false));
/// assert_eq!(push.message.unwrap().get(), r#""hi""#);
/// let end: ChannelPush = serde_json::from_str(r#"{"channel":3,"index":1,"end":true}"#).unwrap();
/// assert!(end.end && end.message.is_none());
/// ```
#[derive(Debug, Serialize, Deserialize)]
pub struct ChannelPush {
    /// The channel's id, as the caller chose it.
    pub channel: u64,
    /// The message's position in the stream (or, with `end`, the count of messages).
    pub index: u64,
    /// The message, as the command serialized it (absent on the end marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<RawValue>>,
    /// Whether this is the end marker.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub end: bool,
}

/// The params of an `ipc.lagged` push: how many events were dropped for this
/// connection since the last notice, because it did not read fast enough.
///
/// ```
/// let push: ipc_core::push::LaggedPush = serde_json::from_str(r#"{"dropped":4}"#).unwrap();
/// assert_eq!(push.dropped, 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaggedPush {
    /// The number of events dropped.
    pub dropped: u64,
}

/// The params of an `ipc.gap` push: a subscription that resumed after its
/// last seen event (`ipc.listen`'s `since`) missed `lost` events of `event`
/// that are no longer kept (`None`: an unknown number, as when the backend was
/// restarted). It comes before the events that are still kept.
///
/// ```
/// let push: ipc_core::push::GapPush = serde_json::from_str(r#"{"event":"todos:changed","lost":2}"#).unwrap();
/// assert_eq!((push.event.as_str(), push.lost), ("todos:changed", Some(2)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapPush {
    /// The event's name.
    pub event: EventName,
    /// How many were lost, if known.
    pub lost: Option<u64>,
}

/// The params of an `ipc.upload` push, the server's side of an upload: the
/// credit granted so far, or (with `done`) that the server reads no more of
/// it, with `error` when it failed (too large, sent past its credit).
///
/// `credit` is a running total of bytes: the client may have sent that many
/// bytes of the upload in all, no more. A later grant may arrive before an
/// earlier one; the larger total counts.
///
/// ```
/// use ipc_core::push::UploadPush;
///
/// let grant: UploadPush = serde_json::from_str(r#"{"upload":2,"credit":1048576}"#).unwrap();
/// assert_eq!((grant.upload, grant.credit, grant.done), (2, Some(1 << 20), false));
/// let done: UploadPush = serde_json::from_str(r#"{"upload":2,"done":true,"error":"too large"}"#).unwrap();
/// assert!(done.done && done.error.as_deref() == Some("too large"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadPush {
    /// The upload's id, as the client chose it.
    pub upload: u64,
    /// The bytes the client may have sent in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<u64>,
    /// The server reads no more of this upload.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
    /// Why the upload failed, with `done`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
