//! Event names, event targets and the shape of an event pushed to a frontend.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::ClientId;

/// The longest event name accepted, in bytes.
pub const MAX_EVENT_NAME_LEN: usize = 128;

/// Why a string is not a valid event name.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidEventName {
    /// The name was empty.
    Empty,
    /// The name was longer than [`MAX_EVENT_NAME_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The name contained a character outside the allowed set.
    BadChar {
        /// The offending character.
        ch: char,
        /// Its byte offset in the name.
        at: usize,
    },
}

impl fmt::Display for InvalidEventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidEventName::Empty => f.write_str("event name is empty"),
            InvalidEventName::TooLong { len } => write!(
                f,
                "event name is {len} bytes long; the limit is {MAX_EVENT_NAME_LEN}"
            ),
            InvalidEventName::BadChar { ch, at } => write!(
                f,
                "event name has {ch:?} at byte {at}; only ASCII letters, digits and `-` `/` `:` `_` `.` are allowed"
            ),
        }
    }
}

impl std::error::Error for InvalidEventName {}

/// A validated event name: 1 to [`MAX_EVENT_NAME_LEN`] bytes of ASCII letters,
/// digits and `-` `/` `:` `_` `.`.
///
/// The rule keeps names safe to log, to use as map keys and to pattern-match in
/// capability sets. Cloning is cheap (a reference count).
///
/// ```
/// use ipc_core::EventName;
///
/// let name = EventName::new("todo:changed").unwrap();
/// assert_eq!(name.as_str(), "todo:changed");
/// assert!(EventName::new("").is_err());
/// assert!(EventName::new("has space").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventName(Arc<str>);

impl EventName {
    /// Validates and wraps a name.
    pub fn new(name: &str) -> Result<Self, InvalidEventName> {
        Self::validate(name)?;
        Ok(EventName(Arc::from(name)))
    }

    /// Checks a name against the rule without allocating.
    ///
    /// ```
    /// assert!(ipc_core::EventName::validate("a/b:c_d-e.f9").is_ok());
    /// ```
    pub const fn validate(name: &str) -> Result<(), InvalidEventName> {
        let bytes = name.as_bytes();
        if bytes.is_empty() {
            return Err(InvalidEventName::Empty);
        }
        if bytes.len() > MAX_EVENT_NAME_LEN {
            return Err(InvalidEventName::TooLong { len: bytes.len() });
        }
        let mut at = 0;
        while at < bytes.len() {
            let b = bytes[at];
            let ok = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b':' | b'_' | b'.');
            if !ok {
                return Err(InvalidEventName::BadChar {
                    ch: first_char_at(name, at),
                    at,
                });
            }
            at += 1;
        }
        Ok(())
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The character starting at byte `at` (which begins a UTF-8 sequence, because
/// every byte before it was ASCII).
const fn first_char_at(s: &str, at: usize) -> char {
    let bytes = s.as_bytes();
    let b0 = bytes[at] as u32;
    let (len, init) = if b0 < 0x80 {
        (1, b0)
    } else if b0 >> 5 == 0b110 {
        (2, b0 & 0x1f)
    } else if b0 >> 4 == 0b1110 {
        (3, b0 & 0x0f)
    } else {
        (4, b0 & 0x07)
    };
    let mut code = init;
    let mut i = 1;
    while i < len && at + i < bytes.len() {
        code = (code << 6) | (bytes[at + i] as u32 & 0x3f);
        i += 1;
    }
    match char::from_u32(code) {
        Some(c) => c,
        None => char::REPLACEMENT_CHARACTER,
    }
}

impl fmt::Debug for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Borrow<str> for EventName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EventName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for EventName {
    type Error = InvalidEventName;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        EventName::new(value)
    }
}

impl Serialize for EventName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        EventName::new(&name).map_err(serde::de::Error::custom)
    }
}

/// Who receives an emitted event.
///
/// On the wire, one of the [`EventTarget::FORMS`]: `"all"`, `"backend"`,
/// `{"client": 7}` or `{"label": "main"}`. That list is the one description
/// of targets: `docs/protocol.md` and the JavaScript client's `ipc.d.ts` are
/// checked against it by the test suite.
///
/// ```
/// use ipc_core::{ClientId, EventTarget};
///
/// assert_eq!(serde_json::to_string(&EventTarget::All).unwrap(), r#""all""#);
/// let one: EventTarget = serde_json::from_str(r#"{"client":7}"#).unwrap();
/// assert_eq!(one, EventTarget::Client(ClientId::new(7)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventTarget {
    /// Every Rust listener and every frontend subscribed to the name.
    #[default]
    All,
    /// Rust listeners only.
    Backend,
    /// One frontend (if it is subscribed to the name); no Rust listener.
    Client(ClientId),
    /// The frontends that connected with this label (Tauri's window/webview
    /// label); no Rust listener.
    Label(String),
}

/// One wire form of an [`EventTarget`], with what it reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetForm {
    /// The form as written in JSON, with a placeholder for the value:
    /// `"all"`, `{"client": id}`.
    pub json: &'static str,
    /// A sample of the form, as serde writes it.
    pub sample: &'static str,
    /// Who receives an event sent to it.
    pub reaches: &'static str,
}

impl EventTarget {
    /// Every form a target takes on the wire, with what it reaches.
    pub const FORMS: [TargetForm; 4] = [
        TargetForm {
            json: r#""all""#,
            sample: r#""all""#,
            reaches: "every Rust listener and every connection subscribed to the name (the default)",
        },
        TargetForm {
            json: r#""backend""#,
            sample: r#""backend""#,
            reaches: "Rust listeners only",
        },
        TargetForm {
            json: r#"{"client": id}"#,
            sample: r#"{"client":7}"#,
            reaches: "one connection, by its client id, if it subscribed to the name; no Rust listener",
        },
        TargetForm {
            json: r#"{"label": label}"#,
            sample: r#"{"label":"main"}"#,
            reaches: "the connections with that label (a window's label), if they subscribed; no Rust listener",
        },
    ];

    /// Whether Rust listeners receive an event sent to this target.
    pub const fn reaches_backend(&self) -> bool {
        matches!(self, EventTarget::All | EventTarget::Backend)
    }

    /// Whether the frontend `client`, connected with `label`, receives an event
    /// sent to this target (provided it subscribed to the event's name).
    pub fn reaches_client(&self, client: ClientId, label: Option<&str>) -> bool {
        match self {
            EventTarget::All => true,
            EventTarget::Backend => false,
            EventTarget::Client(target) => *target == client,
            EventTarget::Label(target) => label == Some(target.as_str()),
        }
    }
}

/// The params of an `ipc.event` push: what a subscribed frontend receives.
///
/// ```
/// use ipc_core::event::EventPush;
///
/// let push: EventPush = serde_json::from_str(
///     r#"{"event":"progress","payload":{"done":3},"source":0}"#,
/// ).unwrap();
/// assert_eq!(push.event.as_str(), "progress");
/// assert_eq!(push.payload.get(), r#"{"done":3}"#);
/// ```
#[derive(Debug, Serialize, Deserialize)]
pub struct EventPush {
    /// For a Tauri listener (`plugin:event|listen`): the listener's id, which
    /// each of its pushes names (Tauri's `Event.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// For a Tauri listener: the callback id it was registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<u64>,
    /// The event's name.
    pub event: EventName,
    /// The payload, as the emitter serialized it.
    pub payload: Box<RawValue>,
    /// Who emitted it: [`ClientId::BACKEND`] for Rust.
    pub source: ClientId,
    /// Its sequence number: one counter per run of the app, increasing in
    /// delivery order for each name; a subscription resumes after the last
    /// one it saw (`ipc.listen`'s `since`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Whether this is the newest kept event, sent when a subscription started
    /// because it asked for the last value (`ipc.listen`'s `last`), rather
    /// than an event that happened since.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub last: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in [
            "a",
            "A9",
            "todo:changed",
            "a/b",
            "x_y",
            "x-y",
            "v1.2",
            "tauri://focus",
        ] {
            assert!(EventName::validate(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_empty_long_and_odd_characters() {
        assert_eq!(EventName::validate(""), Err(InvalidEventName::Empty));
        let long = "a".repeat(MAX_EVENT_NAME_LEN + 1);
        assert_eq!(
            EventName::validate(&long),
            Err(InvalidEventName::TooLong {
                len: MAX_EVENT_NAME_LEN + 1
            })
        );
        assert!(EventName::validate(&"a".repeat(MAX_EVENT_NAME_LEN)).is_ok());
        assert_eq!(
            EventName::validate("ab c"),
            Err(InvalidEventName::BadChar { ch: ' ', at: 2 })
        );
        assert_eq!(
            EventName::validate("caf\u{e9}"),
            Err(InvalidEventName::BadChar {
                ch: '\u{e9}',
                at: 3
            })
        );
        assert_eq!(
            EventName::validate("x\u{1F600}"),
            Err(InvalidEventName::BadChar {
                ch: '\u{1F600}',
                at: 1
            })
        );
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<EventName>(r#""ok""#).is_ok());
        let err = serde_json::from_str::<EventName>(r#""not ok""#).unwrap_err();
        assert!(err.to_string().contains("only ASCII letters"), "{err}");
    }

    #[test]
    fn targets_route_as_documented() {
        let me = ClientId::new(1);
        let other = ClientId::new(2);
        assert!(EventTarget::All.reaches_backend() && EventTarget::All.reaches_client(me, None));
        assert!(
            EventTarget::Backend.reaches_backend()
                && !EventTarget::Backend.reaches_client(me, None)
        );
        assert!(!EventTarget::Client(me).reaches_backend());
        assert!(EventTarget::Client(me).reaches_client(me, None));
        assert!(!EventTarget::Client(me).reaches_client(other, None));
        let main = EventTarget::Label("main".into());
        assert!(!main.reaches_backend());
        assert!(main.reaches_client(other, Some("main")));
        assert!(!main.reaches_client(me, Some("side")) && !main.reaches_client(me, None));
        let wire: EventTarget = serde_json::from_str(r#"{"label":"main"}"#).unwrap();
        assert_eq!(wire, main);
    }

    #[test]
    fn the_documented_forms_are_the_serde_forms() {
        let every = [
            EventTarget::All,
            EventTarget::Backend,
            EventTarget::Client(ClientId::new(7)),
            EventTarget::Label("main".into()),
        ];
        // A new variant fails to compile here until it has a form.
        let index = |target: &EventTarget| match target {
            EventTarget::All => 0,
            EventTarget::Backend => 1,
            EventTarget::Client(_) => 2,
            EventTarget::Label(_) => 3,
        };
        for (target, form) in every.iter().zip(EventTarget::FORMS) {
            assert_eq!(EventTarget::FORMS[index(target)], form);
            assert_eq!(serde_json::to_string(target).unwrap(), form.sample);
            let read: EventTarget = serde_json::from_str(form.sample).unwrap();
            assert_eq!(&read, target);
        }
    }
}
