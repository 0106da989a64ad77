//! JSON-RPC 2.0 messages.
//!
//! Owned types ([`Request`], [`Notification`], [`Response`], [`Message`]) are for
//! clients and tests. Servers decode requests with the borrowed
//! [`RequestEnvelope`], which keeps `params` as raw JSON so arguments are
//! deserialized once, straight into the command's argument types.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{ErrorObject, codes};

/// The only protocol version spoken.
pub const JSONRPC_VERSION: &str = "2.0";

/// A request id: a number, a string, or (discouraged by the spec) null.
///
/// ```
/// use ipc_core::Id;
///
/// let ids: Vec<Id> = serde_json::from_str(r#"[1, "a", null]"#).unwrap();
/// assert_eq!(ids, [Id::Number(1), Id::String("a".into()), Id::Null]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// `null`.
    Null,
    /// An integer.
    Number(i64),
    /// A string.
    String(String),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Null => f.write_str("null"),
            Id::Number(n) => write!(f, "{n}"),
            Id::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A call that expects a response.
///
/// ```
/// use ipc_core::{Id, Request};
///
/// let r: Request = serde_json::from_str(
///     r#"{"jsonrpc":"2.0","id":"a","method":"add","params":[1,2]}"#,
/// ).unwrap();
/// assert_eq!(r.id, Id::String("a".into()));
/// assert_eq!(r.params, Some(serde_json::json!([1, 2])));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Echoed in the response.
    pub id: Id,
    /// The command or reserved method.
    pub method: String,
    /// Arguments: an object (by name) or an array (by position); `None` for none.
    pub params: Option<Value>,
}

impl Request {
    /// A request with params.
    pub fn new(id: Id, method: impl Into<String>, params: Value) -> Self {
        Request {
            id,
            method: method.into(),
            params: Some(params),
        }
    }
}

/// A one-way message: no id, never answered. Clients send events this way; the
/// server pushes events (`ipc.event`) and channel messages (`ipc.channel`) this way.
///
/// ```
/// use ipc_core::Notification;
///
/// let n = Notification::new("ipc.event", serde_json::json!({"event": "tick", "payload": 1}));
/// assert_eq!(
///     serde_json::to_string(&n).unwrap(),
///     r#"{"jsonrpc":"2.0","method":"ipc.event","params":{"event":"tick","payload":1}}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The method name.
    pub method: String,
    /// Its params.
    pub params: Option<Value>,
}

impl Notification {
    /// A notification with params.
    pub fn new(method: impl Into<String>, params: Value) -> Self {
        Notification {
            method: method.into(),
            params: Some(params),
        }
    }
}

/// The answer to a [`Request`].
///
/// ```
/// use ipc_core::{Id, Response};
///
/// let ok: Response = serde_json::from_str(r#"{"jsonrpc":"2.0","id":1,"result":3}"#).unwrap();
/// assert_eq!(ok.outcome, Ok(serde_json::json!(3)));
/// let err: Response = serde_json::from_str(
///     r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"unknown command `x`"}}"#,
/// ).unwrap();
/// assert_eq!(err.outcome.unwrap_err().code, -32601);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The id of the request this answers (null when the request's id could not be read).
    pub id: Id,
    /// The result, or the error.
    pub outcome: Result<Value, ErrorObject>,
}

/// Anything a server sends to a client: a response or a pushed notification.
///
/// ```
/// use ipc_core::message::Message;
///
/// let m: Message = serde_json::from_str(r#"{"jsonrpc":"2.0","method":"ipc.event","params":{}}"#).unwrap();
/// assert!(matches!(m, Message::Notification(_)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// An answer to a request.
    Response(Response),
    /// A push from the server.
    Notification(Notification),
}

impl Serialize for Request {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("jsonrpc", JSONRPC_VERSION)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("method", &self.method)?;
        if let Some(params) = &self.params {
            map.serialize_entry("params", params)?;
        }
        map.end()
    }
}

impl Serialize for Notification {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("jsonrpc", JSONRPC_VERSION)?;
        map.serialize_entry("method", &self.method)?;
        if let Some(params) = &self.params {
            map.serialize_entry("params", params)?;
        }
        map.end()
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("jsonrpc", JSONRPC_VERSION)?;
        map.serialize_entry("id", &self.id)?;
        match &self.outcome {
            Ok(result) => map.serialize_entry("result", result)?,
            Err(error) => map.serialize_entry("error", error)?,
        }
        map.end()
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Message::Response(r) => r.serialize(serializer),
            Message::Notification(n) => n.serialize(serializer),
        }
    }
}

/// Every member any message may have; shared by the owned decoders below.
#[derive(Default)]
struct Members {
    jsonrpc: Option<String>,
    id: Option<Id>,
    method: Option<String>,
    params: Option<Value>,
    result: Option<Value>,
    error: Option<ErrorObject>,
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC 2.0 message object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut m = Members::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match &*key {
                        "jsonrpc" => m.jsonrpc = Some(map.next_value()?),
                        // `"id": null` is present-and-null, unlike a missing id.
                        "id" => m.id = Some(map.next_value()?),
                        "method" => m.method = Some(map.next_value()?),
                        "params" => m.params = Some(map.next_value()?),
                        "result" => m.result = Some(map.next_value()?),
                        "error" => m.error = Some(map.next_value()?),
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(m)
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

impl Members {
    fn check_version<E: de::Error>(&self) -> Result<(), E> {
        match self.jsonrpc.as_deref() {
            Some(JSONRPC_VERSION) => Ok(()),
            Some(other) => Err(E::custom(format!("unsupported jsonrpc version {other:?}"))),
            None => Err(E::missing_field("jsonrpc")),
        }
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let m = Members::deserialize(deserializer)?;
        m.check_version()?;
        Ok(Request {
            id: m.id.ok_or_else(|| de::Error::missing_field("id"))?,
            method: m.method.ok_or_else(|| de::Error::missing_field("method"))?,
            params: m.params,
        })
    }
}

impl<'de> Deserialize<'de> for Notification {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let m = Members::deserialize(deserializer)?;
        m.check_version()?;
        if m.id.is_some() {
            return Err(de::Error::custom("a notification has no id"));
        }
        Ok(Notification {
            method: m.method.ok_or_else(|| de::Error::missing_field("method"))?,
            params: m.params,
        })
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let m = Members::deserialize(deserializer)?;
        m.check_version()?;
        members_to_response(m)
    }
}

fn members_to_response<E: de::Error>(m: Members) -> Result<Response, E> {
    let id = m.id.ok_or_else(|| E::missing_field("id"))?;
    let outcome = match (m.result, m.error) {
        (Some(result), None) => Ok(result),
        (None, Some(error)) => Err(error),
        (Some(_), Some(_)) => return Err(E::custom("a response has both result and error")),
        // `"result": null` decodes as present because `Value` keeps nulls.
        (None, None) => return Err(E::custom("a response needs result or error")),
    };
    Ok(Response { id, outcome })
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let m = Members::deserialize(deserializer)?;
        m.check_version()?;
        if m.method.is_some() && m.id.is_none() {
            Ok(Message::Notification(Notification {
                method: m.method.unwrap_or_default(),
                params: m.params,
            }))
        } else {
            members_to_response(m).map(Message::Response)
        }
    }
}

/// A request or notification as a server first sees it: borrowed from the
/// message text, with `params` still raw JSON.
///
/// ```
/// use ipc_core::message::RequestEnvelope;
///
/// let text = r#"{"jsonrpc":"2.0","id":7,"method":"add","params":{"a":1,"b":2}}"#;
/// let env = RequestEnvelope::parse(text).unwrap();
/// assert_eq!(env.method(), "add");
/// assert_eq!(env.id().map(|id| id.get()), Some("7"));
/// assert_eq!(env.params().map(|p| p.get()), Some(r#"{"a":1,"b":2}"#));
///
/// // A notification has no id; a JSON syntax error is a parse error (-32700).
/// let note = RequestEnvelope::parse(r#"{"jsonrpc":"2.0","method":"ping"}"#).unwrap();
/// assert!(note.is_notification());
/// let bad = RequestEnvelope::parse("{").unwrap_err();
/// assert_eq!(bad.error.code, ipc_core::codes::PARSE_ERROR);
/// ```
#[derive(Debug)]
pub struct RequestEnvelope<'a> {
    id: Option<&'a RawValue>,
    method: Cow<'a, str>,
    params: Option<&'a RawValue>,
}

/// Why a message could not be read as a request, with the id to answer to when
/// it could be recovered.
#[derive(Debug)]
pub struct EnvelopeError<'a> {
    /// The request's id, if the message had a readable one.
    pub id: Option<&'a RawValue>,
    /// A [`codes::PARSE_ERROR`] or [`codes::INVALID_REQUEST`] error.
    pub error: ErrorObject,
}

impl<'a> RequestEnvelope<'a> {
    /// Reads one request object (not a batch) from `text`.
    ///
    /// Malformed JSON is [`codes::PARSE_ERROR`]; JSON that is not a JSON-RPC 2.0
    /// request (wrong version, missing method, an id that is not a string, number
    /// or null, params that are not an object or array) is
    /// [`codes::INVALID_REQUEST`].
    #[inline]
    pub fn parse(text: &'a str) -> Result<Self, EnvelopeError<'a>> {
        match serde_json::from_str::<Wire<'a>>(text) {
            Ok(wire) => wire.validate(),
            Err(e) if e.is_data() => Err(EnvelopeError {
                id: recover_id(text),
                error: ErrorObject::new(codes::INVALID_REQUEST, format!("invalid request: {e}")),
            }),
            Err(e) => Err(EnvelopeError {
                id: None,
                error: ErrorObject::new(codes::PARSE_ERROR, format!("parse error: {e}")),
            }),
        }
    }

    /// Reads a request from an already-split batch element.
    pub fn from_raw(raw: &'a RawValue) -> Result<Self, EnvelopeError<'a>> {
        Self::parse(raw.get())
    }

    /// The id as raw JSON, or `None` for a notification.
    #[inline]
    pub fn id(&self) -> Option<&'a RawValue> {
        self.id
    }

    /// Whether this is a notification (no `id` member).
    #[inline]
    pub fn is_notification(&self) -> bool {
        self.id.is_none()
    }

    /// The method name.
    #[inline]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The params as raw JSON (always an object or an array), or `None`.
    #[inline]
    pub fn params(&self) -> Option<&'a RawValue> {
        self.params
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    jsonrpc: Text<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Text<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<&'a RawValue>,
}

/// A string member (`None` when absent), borrowed from the message unless it
/// has escapes: serde's own `Cow<str>` always copies, and `Option`'s null
/// check is wasted on members that must be strings. This is on every
/// request's path.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
        }
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// Deserializes a member that is present (even as `null`) into `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

impl<'a> Wire<'a> {
    #[inline]
    fn validate(self) -> Result<RequestEnvelope<'a>, EnvelopeError<'a>> {
        let id = match self.id {
            Some(raw)
                if !matches!(
                    raw.get().as_bytes().first(),
                    Some(b'"' | b'-' | b'0'..=b'9' | b'n')
                ) =>
            {
                return Err(invalid(None, "`id` must be a string, a number or null"));
            }
            id => id,
        };
        match self.jsonrpc.0.as_deref() {
            Some(JSONRPC_VERSION) => {}
            Some(other) => {
                return Err(invalid(
                    id,
                    &format!("`jsonrpc` must be \"2.0\", not {other:?}"),
                ));
            }
            None => return Err(invalid(id, "missing `jsonrpc: \"2.0\"`")),
        }
        let Some(method) = self.method.0 else {
            return Err(invalid(id, "missing `method`"));
        };
        if let Some(params) = self.params
            && !matches!(params.get().as_bytes().first(), Some(b'{' | b'['))
        {
            return Err(invalid(id, "`params` must be an object or an array"));
        }
        Ok(RequestEnvelope {
            id,
            method,
            params: self.params,
        })
    }
}

fn invalid<'a>(id: Option<&'a RawValue>, why: &str) -> EnvelopeError<'a> {
    EnvelopeError {
        id,
        error: ErrorObject::new(codes::INVALID_REQUEST, format!("invalid request: {why}")),
    }
}

/// Best effort: the id of a message that is valid JSON but not a valid request.
fn recover_id(text: &str) -> Option<&RawValue> {
    #[derive(Deserialize)]
    struct IdOnly<'a> {
        #[serde(borrow, default, deserialize_with = "present")]
        id: Option<&'a RawValue>,
    }
    let id = serde_json::from_str::<IdOnly<'_>>(text).ok()?.id?;
    matches!(
        id.get().as_bytes().first(),
        Some(b'"' | b'-' | b'0'..=b'9' | b'n')
    )
    .then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code_of(text: &str) -> i32 {
        RequestEnvelope::parse(text).unwrap_err().error.code
    }

    #[test]
    fn owned_request_round_trips() {
        let r = Request::new(Id::String("x".into()), "m", json!({"a": 1}));
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
    }

    #[test]
    fn response_needs_exactly_one_of_result_and_error() {
        assert!(serde_json::from_str::<Response>(r#"{"jsonrpc":"2.0","id":1}"#).is_err());
        assert!(
            serde_json::from_str::<Response>(
                r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}}"#
            )
            .is_err()
        );
        let null_result: Response =
            serde_json::from_str(r#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap();
        assert_eq!(null_result.outcome, Ok(Value::Null));
    }

    #[test]
    fn wrong_version_is_rejected_by_owned_decoders() {
        assert!(
            serde_json::from_str::<Request>(r#"{"jsonrpc":"1.0","id":1,"method":"m"}"#).is_err()
        );
        assert!(serde_json::from_str::<Message>(r#"{"id":1,"result":1}"#).is_err());
    }

    #[test]
    fn envelope_keeps_null_id_distinct_from_missing_id() {
        let with_null =
            RequestEnvelope::parse(r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#).unwrap();
        assert_eq!(with_null.id().map(|r| r.get()), Some("null"));
        assert!(!with_null.is_notification());
        let without = RequestEnvelope::parse(r#"{"jsonrpc":"2.0","method":"m"}"#).unwrap();
        assert!(without.is_notification());
    }

    #[test]
    fn envelope_classifies_errors() {
        assert_eq!(code_of(""), codes::PARSE_ERROR);
        assert_eq!(code_of("{\"jsonrpc\":"), codes::PARSE_ERROR);
        assert_eq!(code_of("nul"), codes::PARSE_ERROR);
        assert_eq!(code_of("1"), codes::INVALID_REQUEST);
        assert_eq!(code_of("\"x\""), codes::INVALID_REQUEST);
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1}"#),
            codes::INVALID_REQUEST
        );
        assert_eq!(code_of(r#"{"id":1,"method":"m"}"#), codes::INVALID_REQUEST);
        assert_eq!(
            code_of(r#"{"jsonrpc":"1.0","id":1,"method":"m"}"#),
            codes::INVALID_REQUEST
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1,"method":5}"#),
            codes::INVALID_REQUEST
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":{},"method":"m"}"#),
            codes::INVALID_REQUEST
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":3}"#),
            codes::INVALID_REQUEST
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1,"method":"m","method":"n"}"#),
            codes::INVALID_REQUEST
        );
    }

    #[test]
    fn invalid_request_keeps_a_readable_id() {
        let e = RequestEnvelope::parse(r#"{"jsonrpc":"2.0","id":9,"method":5}"#).unwrap_err();
        assert_eq!(e.id.map(|r| r.get()), Some("9"));
        let e = RequestEnvelope::parse(r#"{"jsonrpc":"2.0","id":"q"}"#).unwrap_err();
        assert_eq!(e.id.map(|r| r.get()), Some("\"q\""));
    }

    #[test]
    fn escaped_method_names_are_decoded() {
        let env =
            RequestEnvelope::parse(r#"{"jsonrpc":"2.0","id":1,"method":"a\u002eb"}"#).unwrap();
        assert_eq!(env.method(), "a.b");
    }
}
