//! Outgoing JSON-RPC text: every `"jsonrpc"` member the runtime sends is
//! written here, from ipc-core's version and method constants.
//!
//! Names written without escaping (event names, method constants) are known to
//! need none: event names are validated to ASCII letters, digits and
//! `-` `/` `:` `_` `.`. Ids and payloads are raw JSON that was parsed or
//! serialized before it got here.

use std::io::Write as _;

use bytes::Bytes;
use ipc_core::message::JSONRPC_VERSION;
use ipc_core::{ClientId, ErrorObject, codes, method};
use serde::Serialize;
use serde_json::value::RawValue;

use super::{Outbound, Response};

/// The placeholder a message carries where its first binary attachment goes.
pub(crate) const BYTES_PLACEHOLDER: &[u8] = br#"{"$bytes":0}"#;

/// `{"jsonrpc":"2.0"`: how every message starts.
fn open(buf: &mut Vec<u8>) {
    buf.extend_from_slice(br#"{"jsonrpc":""#);
    buf.extend_from_slice(JSONRPC_VERSION.as_bytes());
    buf.push(b'"');
}

/// `{"jsonrpc":"2.0","method":"<method>","params":`
fn open_notification(buf: &mut Vec<u8>, method: &str) {
    open(buf);
    buf.extend_from_slice(br#","method":""#);
    buf.extend_from_slice(method.as_bytes());
    buf.extend_from_slice(br#"","params":"#);
}

/// `{"jsonrpc":"2.0","id":<id>,"result":`, to which a call's result is
/// serialized directly; [`close_result`] ends it.
pub(crate) fn result_prefix(id: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + id.len());
    open(&mut buf);
    buf.extend_from_slice(br#","id":"#);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(br#","result":"#);
    buf
}

/// Ends a response begun with [`result_prefix`] once the result is written.
pub(crate) fn close_result(mut buf: Vec<u8>) -> Vec<u8> {
    buf.push(b'}');
    buf
}

/// A response whose result is already JSON text.
pub(crate) fn result_message(id: &str, result: &str) -> Response {
    let mut buf = result_prefix(id);
    buf.extend_from_slice(result.as_bytes());
    Response::Text(close_result(buf))
}

/// `{"jsonrpc":"2.0","id":<id or null>,"error":{...}}`
pub(crate) fn error_text(id: Option<&str>, error: &ErrorObject) -> Vec<u8> {
    let id = id.unwrap_or("null");
    let mut buf = Vec::with_capacity(96 + id.len() + error.message.len());
    open(&mut buf);
    buf.extend_from_slice(br#","id":"#);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(br#","error":"#);
    if serde_json::to_writer(&mut buf, error).is_err() {
        // Only `data` can fail to serialize; say so without it.
        buf.clear();
        open(&mut buf);
        let _ = write!(
            buf,
            r#","id":{id},"error":{{"code":{},"message":"internal error""#,
            codes::INTERNAL_ERROR
        );
        buf.push(b'}');
    }
    buf.push(b'}');
    buf
}

/// An error response.
pub(crate) fn error_message(id: Option<&str>, error: &ErrorObject) -> Response {
    Response::Text(error_text(id, error))
}

/// The answer to a batch: its responses in one array (`None` if every
/// element was a notification).
pub(crate) fn join_batch(parts: Vec<Response>) -> Option<Response> {
    if parts.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.text().len() + 1).sum::<usize>() + 1);
    out.push(b'[');
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&part.text());
    }
    out.push(b']');
    Some(Response::Text(out))
}

/// The shared part of an event's `ipc.event` notifications: from the
/// event's name to the end, `"event":"<name>","payload":<payload>,"source":<id>,"seq":<n>}}`
/// (with `"last":true` when it is a subscription's starting value, sent
/// because it asked for `last`). Written once per emit and shared by every
/// notification of it.
pub(crate) fn event_body(
    event: &str,
    payload: &RawValue,
    source: ClientId,
    seq: Option<u64>,
    last: bool,
) -> Bytes {
    let mut buf = Vec::with_capacity(64 + event.len() + payload.get().len());
    buf.extend_from_slice(br#""event":""#);
    buf.extend_from_slice(event.as_bytes());
    buf.extend_from_slice(br#"","payload":"#);
    buf.extend_from_slice(payload.get().as_bytes());
    let _ = write!(buf, r#","source":{}"#, source.get());
    if let Some(seq) = seq {
        let _ = write!(buf, r#","seq":{seq}"#);
    }
    if last {
        buf.extend_from_slice(br#","last":true"#);
    }
    buf.extend_from_slice(b"}}");
    Bytes::from(buf)
}

/// `ipc.gap`: events of `event` after a resuming subscription's position are
/// no longer kept; `lost` of them (`null`: unknown).
pub(crate) fn gap(event: &str, lost: Option<u64>) -> Outbound {
    let mut buf = Vec::with_capacity(96 + event.len());
    open_notification(&mut buf, method::GAP);
    buf.extend_from_slice(br#"{"event":""#);
    buf.extend_from_slice(event.as_bytes());
    buf.extend_from_slice(br#"","lost":"#);
    match lost {
        Some(lost) => {
            let _ = write!(buf, "{lost}");
        }
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b"}}");
    Outbound::text(buf)
}

/// The `ipc.event` notification of an event (an [`event_body`]), as sent to
/// `ipc.listen` subscribers: one contiguous text, shared by all of them.
pub(crate) fn event_message(body: &Bytes) -> Outbound {
    let mut buf = Vec::with_capacity(64 + body.len());
    open_notification(&mut buf, method::EVENT);
    buf.push(b'{');
    buf.extend_from_slice(body);
    Outbound::text(buf)
}

/// The same notification for one Tauri listener (`plugin:event|listen`): it
/// also names the listener (`id`) and its callback (`handler`). Only this head
/// is the listener's own; the body is shared.
pub(crate) fn tauri_event_message(body: &Bytes, listener: u64, handler: u64) -> Outbound {
    let mut head = Vec::with_capacity(96);
    open_notification(&mut head, method::EVENT);
    let _ = write!(head, r#"{{"id":{listener},"handler":{handler},"#);
    Outbound::SharedText {
        head: Bytes::from(head),
        body: Bytes::clone(body),
    }
}

/// `{"jsonrpc":"2.0","method":"ipc.channel","params":{"channel":C,"index":I`
fn open_channel_push(channel: u64, index: u64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128);
    open_notification(&mut buf, method::CHANNEL);
    let _ = write!(buf, r#"{{"channel":{channel},"index":{index}"#);
    buf
}

/// Message `index` of a channel, as JSON.
pub(crate) fn channel_message<T: Serialize + ?Sized>(
    channel: u64,
    index: u64,
    message: &T,
) -> Result<Outbound, serde_json::Error> {
    let mut buf = open_channel_push(channel, index);
    buf.extend_from_slice(br#","message":"#);
    serde_json::to_writer(&mut buf, message)?;
    buf.extend_from_slice(b"}}");
    Ok(Outbound::text(buf))
}

/// Message `index` of a channel carrying raw bytes: a binary frame for a
/// client that accepts them, else a JSON array of numbers.
pub(crate) fn channel_bytes(channel: u64, index: u64, bytes: Bytes, binary: bool) -> Outbound {
    let mut buf = open_channel_push(channel, index);
    buf.extend_from_slice(br#","message":"#);
    if binary {
        buf.extend_from_slice(BYTES_PLACEHOLDER);
        buf.push(b'}');
        return Outbound::binary(&buf, bytes);
    }
    // `Bytes` serializes as bytes, which JSON writes as an array of numbers;
    // writing to a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut buf, &bytes);
    buf.extend_from_slice(b"}}");
    Outbound::text(buf)
}

/// The end marker of a channel: no message has an index of `index` or more.
pub(crate) fn channel_end(channel: u64, index: u64) -> Outbound {
    let mut buf = open_channel_push(channel, index);
    buf.extend_from_slice(br#","end":true}}"#);
    Outbound::text(buf)
}

/// `ipc.lagged`: `dropped` events were not delivered to this client.
pub(crate) fn lagged(dropped: u64) -> Outbound {
    let mut buf = Vec::with_capacity(80);
    open_notification(&mut buf, method::LAGGED);
    let _ = write!(buf, r#"{{"dropped":{dropped}}}}}"#);
    Outbound::text(buf)
}

/// `ipc.upload` granting credit: the client may have sent `credit` bytes of
/// upload `upload` in all.
pub(crate) fn upload_credit(upload: u64, credit: u64) -> Outbound {
    let mut buf = Vec::with_capacity(80);
    open_notification(&mut buf, method::UPLOAD);
    let _ = write!(buf, r#"{{"upload":{upload},"credit":{credit}}}}}"#);
    Outbound::text(buf)
}

/// `ipc.upload` ending an upload on the server's side: it reads no more of
/// it, because the command stopped reading (`error` is `None`) or the upload
/// failed.
pub(crate) fn upload_done(upload: u64, error: Option<&str>) -> Outbound {
    let mut buf = Vec::with_capacity(80);
    open_notification(&mut buf, method::UPLOAD);
    let _ = write!(buf, r#"{{"upload":{upload},"done":true"#);
    if let Some(error) = error {
        buf.extend_from_slice(br#","error":"#);
        // Serializing a string to a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut buf, error);
    }
    buf.extend_from_slice(b"}}");
    Outbound::text(buf)
}

#[cfg(test)]
mod tests {
    //! Each kind of message, byte for byte against ipc-core's serde types.

    use ipc_core::message::{Id, Response as WireResponse};
    use ipc_core::push::{ChannelPush, GapPush, LaggedPush, UploadPush};
    use ipc_core::{EventName, event::EventPush};
    use serde_json::json;

    use super::*;

    /// A notification as serde writes it from typed params.
    fn notification<P: Serialize>(method: &str, params: &P) -> String {
        #[derive(Serialize)]
        struct Wire<'a, P> {
            jsonrpc: &'a str,
            method: &'a str,
            params: &'a P,
        }
        serde_json::to_string(&Wire {
            jsonrpc: JSONRPC_VERSION,
            method,
            params,
        })
        .unwrap()
    }

    fn text(outbound: &Outbound) -> String {
        outbound.as_str().into_owned()
    }

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn results_and_errors_match_the_wire_types() {
        let ok = result_message("7", r#"{"a":[1,2]}"#);
        let expected = WireResponse {
            id: Id::Number(7),
            outcome: Ok(json!({ "a": [1, 2] })),
        };
        assert_eq!(
            ok.text(),
            serde_json::to_string(&expected).unwrap().as_bytes()
        );

        let mut streamed = result_prefix(r#""x""#);
        serde_json::to_writer(&mut streamed, &"hi").unwrap();
        let expected = WireResponse {
            id: Id::String("x".into()),
            outcome: Ok(json!("hi")),
        };
        assert_eq!(
            close_result(streamed),
            serde_json::to_vec(&expected).unwrap()
        );

        let error = ErrorObject::new(codes::INVALID_PARAMS, "missing argument `a`")
            .with_data(json!({ "argument": "a" }));
        let expected = WireResponse {
            id: Id::Number(3),
            outcome: Err(error.clone()),
        };
        assert_eq!(
            error_text(Some("3"), &error),
            serde_json::to_vec(&expected).unwrap()
        );
        let expected = WireResponse {
            id: Id::Null,
            outcome: Err(error.clone()),
        };
        assert_eq!(
            error_text(None, &error),
            serde_json::to_vec(&expected).unwrap()
        );
    }

    #[test]
    fn a_batch_is_an_array_of_its_responses() {
        let joined = join_batch(vec![
            result_message("1", "1"),
            error_message(Some("2"), &ErrorObject::new(codes::METHOD_NOT_FOUND, "no")),
        ])
        .unwrap();
        let parsed: Vec<WireResponse> = serde_json::from_slice(&joined.text()).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            joined.text().into_owned(),
            serde_json::to_vec(&parsed).unwrap(),
            "written exactly as serde writes the typed batch"
        );
        assert!(join_batch(Vec::new()).is_none());
    }

    #[test]
    fn events_match_event_push() {
        let payload = raw(r#"{"done":3}"#);
        let push = EventPush {
            id: None,
            handler: None,
            event: EventName::new("progress").unwrap(),
            payload: payload.clone(),
            source: ClientId::new(4),
            seq: Some(31),
            last: false,
        };
        let body = event_body("progress", &payload, ClientId::new(4), Some(31), false);
        let written = event_message(&body);
        assert_eq!(text(&written), notification(method::EVENT, &push));

        let tauri = EventPush {
            id: Some(9),
            handler: Some(12),
            ..push
        };
        let written = tauri_event_message(&body, 9, 12);
        assert_eq!(text(&written), notification(method::EVENT, &tauri));
        let starting = EventPush {
            last: true,
            seq: Some(31),
            ..EventPush {
                id: None,
                handler: None,
                event: EventName::new("progress").unwrap(),
                payload: payload.clone(),
                source: ClientId::new(4),
                seq: None,
                last: false,
            }
        };
        let marked = event_message(&event_body(
            "progress",
            &payload,
            ClientId::new(4),
            Some(31),
            true,
        ));
        assert_eq!(text(&marked), notification(method::EVENT, &starting));
        match written {
            Outbound::SharedText { body: shared, .. } => {
                assert_eq!(
                    shared.as_ptr(),
                    body.as_ptr(),
                    "the body is shared, not copied"
                )
            }
            other => panic!("a shared text: {other:?}"),
        }
    }

    #[test]
    fn channel_pushes_match_channel_push() {
        let message = channel_message(5, 2, &json!({ "n": 1 })).unwrap();
        let expected = ChannelPush {
            channel: 5,
            index: 2,
            message: Some(raw(r#"{"n":1}"#)),
            end: false,
        };
        assert_eq!(text(&message), notification(method::CHANNEL, &expected));

        let inline = channel_bytes(5, 3, Bytes::from_static(&[0, 7, 255]), false);
        let expected = ChannelPush {
            channel: 5,
            index: 3,
            message: Some(raw("[0,7,255]")),
            end: false,
        };
        assert_eq!(text(&inline), notification(method::CHANNEL, &expected));

        let framed = channel_bytes(5, 4, Bytes::from_static(&[1, 2]), true);
        assert_eq!(
            text(&framed),
            r#"{"jsonrpc":"2.0","method":"ipc.channel","params":{"channel":5,"index":4,"message":{"$bytes":0}},"attachments":[2]}"#
        );
        assert_eq!(framed.attachment().map(|b| &b[..]), Some(&[1, 2][..]));

        let end = channel_end(5, 5);
        let expected = ChannelPush {
            channel: 5,
            index: 5,
            message: None,
            end: true,
        };
        assert_eq!(text(&end), notification(method::CHANNEL, &expected));
    }

    #[test]
    fn gaps_match_gap_push() {
        let known = GapPush {
            event: EventName::new("todos:changed").unwrap(),
            lost: Some(3),
        };
        assert_eq!(
            text(&gap("todos:changed", Some(3))),
            notification(method::GAP, &known)
        );
        let unknown = GapPush {
            event: EventName::new("x").unwrap(),
            lost: None,
        };
        assert_eq!(text(&gap("x", None)), notification(method::GAP, &unknown));
    }

    #[test]
    fn lagged_matches_lagged_push() {
        assert_eq!(
            text(&lagged(17)),
            notification(method::LAGGED, &LaggedPush { dropped: 17 })
        );
    }

    #[test]
    fn upload_pushes_match_upload_push() {
        let push = |credit, done, error: Option<&str>| UploadPush {
            upload: 4,
            credit,
            done,
            error: error.map(str::to_owned),
        };
        assert_eq!(
            text(&upload_credit(4, 1 << 20)),
            notification(method::UPLOAD, &push(Some(1 << 20), false, None))
        );
        assert_eq!(
            text(&upload_done(4, None)),
            notification(method::UPLOAD, &push(None, true, None))
        );
        assert_eq!(
            text(&upload_done(4, Some("too \"large\""))),
            notification(method::UPLOAD, &push(None, true, Some("too \"large\"")))
        );
    }
}
