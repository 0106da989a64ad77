//! What the codec produces: [`Outbound`] messages for a client's queue, and
//! [`Response`]s as the dispatcher returns them.

use std::borrow::Cow;

use bytes::Bytes;

use super::binary;

/// Something to send to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outbound {
    /// A JSON-RPC message (UTF-8 text).
    Text(Bytes),
    /// A JSON-RPC message in two pieces: a small `head` of its own and a
    /// `body` shared with other messages (the same event going to several
    /// listeners costs one copy of its payload, not one per listener).
    SharedText {
        /// The start of the message.
        head: Bytes,
        /// The rest, shared.
        body: Bytes,
    },
    /// A binary frame: `head` (length prefix and JSON header) then `body` (the
    /// one attachment). Kept apart so the body is never copied.
    Binary {
        /// Length prefix and header.
        head: Bytes,
        /// The attachment.
        body: Bytes,
    },
}

impl Outbound {
    pub(crate) fn text(text: Vec<u8>) -> Self {
        Outbound::Text(Bytes::from(text))
    }

    /// A binary frame from an unterminated JSON message and its attachment.
    pub(crate) fn binary(open_message: &[u8], body: Bytes) -> Self {
        Outbound::Binary {
            head: binary::encode_head(open_message, body.len()),
            body,
        }
    }

    /// The JSON-RPC message: the whole text, or a binary frame's header.
    /// Borrowed, but for a [`SharedText`](Outbound::SharedText), whose pieces
    /// are joined.
    pub fn as_str(&self) -> Cow<'_, str> {
        // Built from `String`s and checked headers only, so always UTF-8.
        fn text(bytes: &[u8]) -> &str {
            std::str::from_utf8(bytes).unwrap_or("")
        }
        match self {
            Outbound::Text(bytes) => Cow::Borrowed(text(bytes)),
            Outbound::SharedText { head, body } => {
                Cow::Owned(format!("{}{}", text(head), text(body)))
            }
            Outbound::Binary { head, .. } => Cow::Borrowed(text(head.get(4..).unwrap_or(&[]))),
        }
    }

    /// A binary frame's attachment.
    pub fn attachment(&self) -> Option<&Bytes> {
        match self {
            Outbound::Text(_) | Outbound::SharedText { .. } => None,
            Outbound::Binary { body, .. } => Some(body),
        }
    }

    /// How many bytes the message takes on the wire (header and attachment).
    pub fn len(&self) -> usize {
        match self {
            Outbound::Text(text) => text.len(),
            Outbound::SharedText { head, body } | Outbound::Binary { head, body } => {
                head.len() + body.len()
            }
        }
    }

    /// Whether the message is empty (never, for messages the runtime builds).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A response as the dispatcher builds it: text stays a `Vec` until a
/// transport needs it shared (so `handle_message` returns it without a copy).
#[derive(Debug)]
pub(crate) enum Response {
    /// JSON text (always UTF-8: ASCII written here and serde_json's output).
    Text(Vec<u8>),
    /// A binary frame (boxed: rare, and large).
    Frame(Box<Outbound>),
}

impl Response {
    pub(crate) fn into_outbound(self) -> Outbound {
        match self {
            Response::Text(text) => Outbound::text(text),
            Response::Frame(frame) => *frame,
        }
    }

    pub(crate) fn into_string(self) -> String {
        match self {
            Response::Text(text) => String::from_utf8(text)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            Response::Frame(frame) => frame.as_str().into_owned(),
        }
    }

    /// The JSON text (a frame's header for binary frames).
    pub(crate) fn text(&self) -> Cow<'_, [u8]> {
        match self {
            Response::Text(text) => Cow::Borrowed(text),
            Response::Frame(frame) => match frame.as_str() {
                Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
                Cow::Owned(text) => Cow::Owned(text.into_bytes()),
            },
        }
    }
}
