//! The dispatcher: from a JSON-RPC message (text or in-process value) to a
//! command's shim and back to an encoded reply.
//!
//! Sync commands run inline; async and blocking commands become futures the
//! caller awaits (or a session spawns), so one slow command never holds up
//! another. Panics are caught at the shim boundary and answered with -32603.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ipc_core::message::RequestEnvelope;
use ipc_core::{ErrorObject, EventTarget, codes, method};
use serde_json::Value;
use serde_json::value::RawValue;
use tracing::Instrument;

use super::metrics::Counters;
use super::middleware::LayeredCall;
use super::{Router, reserved};
use crate::caller::Caller;
use crate::capability::Action;
use crate::codec::{self, BinaryMessage, Outbound, Response};
use crate::error::InvokeError;
use crate::invoke::guard;
use crate::invoke::registry::Command;
use crate::invoke::{
    BoxFuture, Encoded, Invocation, InvokeContext, Out, Params, Peer, Pending, Slot,
};

/// The batch limit of entry points without a connection (`handle_message`).
const DEFAULT_MAX_BATCH: usize = 64;

/// The longest method name looked at. Longer ones are refused before lookup,
/// suggestion or logging: each of those costs time or space in the name's
/// length, and no command is named that long.
pub(crate) const MAX_METHOD_LEN: usize = 256;

/// The answer to one incoming message.
pub(crate) enum Reply {
    /// Nothing to send (notifications only).
    None,
    /// The response, ready now.
    Ready(Response),
    /// A call still to run; its response comes when it finishes.
    Call(Call),
    /// A batch with calls still to run: its one response is the array of
    /// `ready` and the calls' responses (when there is any).
    Batch {
        ready: Vec<Response>,
        calls: Vec<Call>,
    },
}

/// A call that did not finish when it started: an async or blocking command.
pub(crate) struct Call {
    /// The request id as written, for `ipc.cancel`.
    pub(crate) request: Box<str>,
    run: Box<dyn FnOnce(Slot) -> BoxFuture<Response> + Send>,
}

impl Call {
    /// Runs the call to its response, holding `slot` while it runs (see
    /// [`Slot`]).
    pub(crate) fn run(self, slot: Slot) -> BoxFuture<Response> {
        (self.run)(slot)
    }

    /// Runs it with nothing to hold (in-process entry points).
    pub(crate) fn run_unlimited(self) -> BoxFuture<Response> {
        self.run(Arc::new(()))
    }
}

/// Where a message came from: who sent it, on which connection (if it can
/// receive pushes), with which binary attachments.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) peer: Option<&'a dyn Peer>,
    pub(crate) attachments: &'a [Bytes],
}

impl Router {
    /// Calls a command in-process, as `caller`, with JSON arguments (an object
    /// by name, an array by position, or `null` for none).
    pub(crate) fn invoke(self: &Arc<Self>, caller: &Caller, command: &str, args: Value) -> Invoked {
        let found = match self.command_for(caller, command) {
            Ok(found) => found,
            Err(error) => {
                self.counters.error(error.code());
                return Invoked::ready(Err(error));
            }
        };
        let span = InvokeSpan::new(
            &self.counters,
            found.registration.name,
            None,
            caller.client_id(),
        );
        if let Some(layers) = &self.layers
            && layers.applies_to(found.registration.name)
        {
            // `null` is no params, as on the plain path.
            let params = match &args {
                Value::Null => None,
                args => match serde_json::value::to_raw_value(args) {
                    Ok(raw) => Some(raw),
                    Err(e) => return Invoked::ready(Err(InvokeError::internal(e.to_string()))),
                },
            };
            let call = LayeredCall {
                command: found.registration.name,
                id: None,
                params,
                caller: caller.clone(),
                peer: None,
                attachments: Vec::new(),
                out: Out::Value,
            };
            let running = self.run_layered(call, Arc::new(()));
            let counters = Arc::clone(&self.counters);
            return Invoked(Inner::Running(Box::pin(async move {
                let _in_flight = Counters::in_flight(&counters);
                let result = running.await;
                span.finish(&counters, &result);
                result.map(Encoded::into_value)
            })));
        }
        let cx = self.context(caller, found.registration.name);
        match start(found, cx, Params::Value(&args), Out::Value).split() {
            Ok(result) => {
                span.finish(&self.counters, &result);
                Invoked::ready(result.map(Encoded::into_value))
            }
            Err(running) => {
                let counters = Arc::clone(&self.counters);
                Invoked(Inner::Running(Box::pin(async move {
                    let _in_flight = Counters::in_flight(&counters);
                    let result = guard::finish(running, Arc::new(())).await;
                    span.finish(&counters, &result);
                    result.map(Encoded::into_value)
                })))
            }
        }
    }

    /// Answers one JSON-RPC message as the backend, with no connection: the
    /// response text, or `None` for notifications.
    pub(crate) async fn handle_message(self: &Arc<Self>, text: &str) -> Option<String> {
        let reply = match self.dispatch_text(text, &self.backend, None) {
            Reply::None => None,
            Reply::Ready(response) => Some(response),
            Reply::Call(call) => Some(call.run_unlimited().await),
            Reply::Batch { mut ready, calls } => {
                let running = calls.into_iter().map(Call::run_unlimited);
                ready.extend(futures_util::future::join_all(running).await);
                codec::join_batch(ready)
            }
        };
        // Without a connection nothing is encoded as binary.
        reply.map(Response::into_string)
    }

    /// Starts handling a text message: what is ready is answered now, the rest
    /// becomes a future. `peer` is the connection the message came on, if it
    /// can receive pushes (needed by `ipc.listen`, channels, binary replies).
    pub(crate) fn dispatch_text(
        self: &Arc<Self>,
        text: &str,
        caller: &Caller,
        peer: Option<&dyn Peer>,
    ) -> Reply {
        let source = Source {
            caller,
            peer,
            attachments: &[],
        };
        match text.trim_start().as_bytes().first() {
            Some(b'[') => self.dispatch_batch(text, source),
            _ => self.dispatch_one(text, source, true),
        }
    }

    /// Starts handling a binary frame's message (one request, not a batch).
    pub(crate) fn dispatch_binary(
        self: &Arc<Self>,
        message: &BinaryMessage,
        peer: &dyn Peer,
    ) -> Reply {
        let text = message.header_text();
        if text.trim_start().starts_with('[') {
            let error = ErrorObject::new(
                codes::INVALID_REQUEST,
                "invalid request: a binary frame carries one message, not a batch",
            );
            return Reply::Ready(codec::error_message(None, &error));
        }
        let source = Source {
            caller: peer.caller(),
            peer: Some(peer),
            attachments: &message.attachments,
        };
        self.dispatch_one(text, source, true)
    }

    fn dispatch_batch(self: &Arc<Self>, text: &str, source: Source<'_>) -> Reply {
        let items: Vec<&RawValue> = match serde_json::from_str(text) {
            Ok(items) => items,
            Err(e) => {
                let error = ErrorObject::new(codes::PARSE_ERROR, format!("parse error: {e}"));
                return Reply::Ready(codec::error_message(None, &error));
            }
        };
        if items.is_empty() {
            let error = ErrorObject::new(codes::INVALID_REQUEST, "invalid request: empty batch");
            return Reply::Ready(codec::error_message(None, &error));
        }
        let max = source.peer.map_or(DEFAULT_MAX_BATCH, Peer::max_batch);
        if items.len() > max {
            let error = ErrorObject::new(
                codes::LIMIT_EXCEEDED,
                format!(
                    "batch too large: {} requests; the limit is {max}",
                    items.len()
                ),
            )
            .with_data(serde_json::json!({ "limit": "batch size", "max": max }));
            return Reply::Ready(codec::error_message(None, &error));
        }
        let mut ready = Vec::new();
        let mut calls = Vec::new();
        for item in items {
            // One array answers a batch, so its results stay JSON (no binary frames).
            match self.dispatch_one(item.get(), source, false) {
                Reply::None => {}
                Reply::Ready(message) => ready.push(message),
                Reply::Call(call) => calls.push(call),
                // `dispatch_one` answers one message, never a batch.
                Reply::Batch { .. } => {}
            }
        }
        if calls.is_empty() {
            return codec::join_batch(ready).map_or(Reply::None, Reply::Ready);
        }
        Reply::Batch { ready, calls }
    }

    /// One request or notification (not a batch).
    fn dispatch_one(self: &Arc<Self>, text: &str, source: Source<'_>, binary_ok: bool) -> Reply {
        let envelope = match RequestEnvelope::parse(text) {
            Ok(envelope) => envelope,
            Err(e) => {
                return Reply::Ready(codec::error_message(e.id.map(RawValue::get), &e.error));
            }
        };
        let name = envelope.method();
        if name.len() > MAX_METHOD_LEN {
            let error = InvokeError::name_too_long("method name", name.len(), MAX_METHOD_LEN);
            return match envelope.id() {
                Some(id) => Reply::Ready(codec::error_message(Some(id.get()), error.as_object())),
                None => Reply::None,
            };
        }
        if method::is_reserved(name) {
            return reserved::dispatch(self, &envelope, source);
        }
        // Every call and emit counts against the connection's rate limit.
        if let Some(Err(wait)) = source.peer.map(Peer::admit) {
            let error = InvokeError::rate_limited(wait);
            tracing::debug!(client = %source.caller.client_id(), "call refused: rate limit");
            return match envelope.id() {
                Some(id) => Reply::Ready(codec::error_message(Some(id.get()), error.as_object())),
                None => Reply::None,
            };
        }
        let Some(id) = envelope.id() else {
            // A notification naming anything but a reserved method is an event.
            let payload = envelope.params();
            if let Err(error) =
                self.emit_from_client(name, payload, source.caller, EventTarget::All)
            {
                tracing::debug!(event = name, error = %error, "notification refused");
            }
            return Reply::None;
        };
        let id = id.get();
        let command = match self.command_for(source.caller, name) {
            Ok(command) => command,
            Err(error) => {
                self.counters.error(error.code());
                return Reply::Ready(codec::error_message(Some(id), error.as_object()));
            }
        };
        let span = InvokeSpan::new(
            &self.counters,
            command.registration.name,
            Some(id),
            source.caller.client_id(),
        );
        let buf = codec::result_prefix(id);
        let out = match source.peer {
            Some(peer) if binary_ok && peer.binary() => Out::Binary(buf),
            _ => Out::Text(buf),
        };
        if let Some(layers) = &self.layers
            && layers.applies_to(command.registration.name)
        {
            let call = LayeredCall {
                command: command.registration.name,
                id: Some(id.into()),
                params: envelope.params().map(ToOwned::to_owned),
                caller: source.caller.clone(),
                peer: source.peer.map(Peer::downgrade),
                attachments: source.attachments.to_vec(),
                out,
            };
            return self.layered_call(call, span);
        }
        let cx = InvokeContext {
            peer: source.peer,
            attachments: source.attachments,
            ..self.context(source.caller, command.registration.name)
        };
        let params = envelope.params().map_or(Params::None, Params::Json);
        let pending = {
            let _entered = span.span.enter();
            start(command, cx, params, out)
        };
        match pending.split() {
            Ok(result) => {
                span.finish(&self.counters, &result);
                Reply::Ready(finish(id, result))
            }
            Err(running) => answer_later(id.into(), span, Arc::clone(&self.counters), |slot| {
                guard::finish(running, slot)
            }),
        }
    }

    /// A call that goes through layers: always answered later.
    fn layered_call(self: &Arc<Self>, call: LayeredCall, span: InvokeSpan) -> Reply {
        let id: Box<str> = call.id.clone().unwrap_or_default();
        let router = Arc::clone(self);
        answer_later(
            id,
            span,
            Arc::clone(&self.counters),
            move |slot| async move { router.run_layered(call, slot).await },
        )
    }

    /// The context of a call by `caller` to `name`, before the connection's parts.
    pub(crate) fn context<'a>(
        self: &'a Arc<Self>,
        caller: &'a Caller,
        name: &'a str,
    ) -> InvokeContext<'a> {
        InvokeContext::new(self, &self.state, caller, name)
    }

    /// The command `name`, if `caller` may invoke it. The ACL is checked
    /// first, so a refused caller learns nothing about which commands exist;
    /// an unknown name is answered with the closest name the caller may invoke.
    /// On every call's path, so forced inline (measured: `invoke(add)` stays
    /// within noise of the two open-coded checks it replaces).
    #[inline(always)]
    fn command_for(&self, caller: &Caller, name: &str) -> Result<&Command, InvokeError> {
        let permissions = caller.permissions();
        if !permissions.allows(Action::Invoke, name) {
            return Err(caller.forbidden(Action::Invoke, name));
        }
        self.registry.get(name).ok_or_else(|| {
            let allowed = |candidate: &str| permissions.allows(Action::Invoke, candidate);
            InvokeError::unknown_command(name, self.registry.suggest(name, allowed))
        })
    }
}

/// Runs a command's shim, catching panics.
pub(super) fn start(
    command: &Command,
    cx: InvokeContext<'_>,
    params: Params<'_>,
    out: Out,
) -> Pending {
    let shim = command.registration.shim;
    guard::start(|| shim(Invocation::new(cx, params, out)))
}

/// The future of an in-process call: already finished for sync commands, so
/// they cost no allocation and no state machine.
pub(crate) struct Invoked(Inner);

enum Inner {
    Ready(Option<Result<Value, InvokeError>>),
    Running(BoxFuture<Result<Value, InvokeError>>),
}

impl Invoked {
    pub(crate) fn ready(result: Result<Value, InvokeError>) -> Self {
        Invoked(Inner::Ready(Some(result)))
    }
}

impl Future for Invoked {
    type Output = Result<Value, InvokeError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Inner::Ready(result) => std::task::Poll::Ready(result.take().unwrap_or_else(|| {
                Err(InvokeError::internal(
                    "the invoke future was polled after it finished",
                ))
            })),
            Inner::Running(future) => future.as_mut().poll(cx),
        }
    }
}

/// The complete response to a finished call.
/// A call answered later, on the session's task: counted in flight while
/// `run` runs, its span finished with the outcome, its result encoded as the
/// response to request `id`.
fn answer_later<F>(
    id: Box<str>,
    span: InvokeSpan,
    counters: Arc<Counters>,
    run: impl FnOnce(Slot) -> F + Send + 'static,
) -> Reply
where
    F: Future<Output = Result<Encoded, InvokeError>> + Send + 'static,
{
    Reply::Call(Call {
        request: id.clone(),
        run: Box::new(move |slot| {
            let traced = span.span.clone();
            Box::pin(
                async move {
                    let _in_flight = Counters::in_flight(&counters);
                    let result = run(slot).await;
                    span.finish(&counters, &result);
                    finish(&id, result)
                }
                .instrument(traced),
            )
        }),
    })
}

fn finish(id: &str, result: Result<Encoded, InvokeError>) -> Response {
    match result {
        // The prefix is ASCII and serde_json writes UTF-8, so this is text.
        Ok(Encoded::Text(buf)) => Response::Text(codec::close_result(buf)),
        Ok(Encoded::Binary(binary)) => {
            let (buf, bytes) = *binary;
            Response::Frame(Box::new(Outbound::binary(&buf, bytes)))
        }
        Ok(Encoded::Value(value)) => codec::result_message(id, &value.to_string()),
        Ok(Encoded::Discarded) => codec::result_message(id, "null"),
        Err(error) => codec::error_message(Some(id), error.as_object()),
    }
}

/// The `tracing` span of one invoke: command, id, client, outcome and duration.
struct InvokeSpan {
    span: tracing::Span,
    start: Option<Instant>,
}

impl InvokeSpan {
    fn new(
        counters: &Counters,
        command: &'static str,
        id: Option<&str>,
        client: ipc_core::ClientId,
    ) -> Self {
        counters.call();
        let span = tracing::debug_span!(
            "invoke",
            command,
            id = id.unwrap_or(""),
            client = %client,
            outcome = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        let start = (!span.is_disabled()).then(Instant::now);
        InvokeSpan { span, start }
    }

    fn finish(&self, counters: &Counters, result: &Result<Encoded, InvokeError>) {
        if let Err(error) = result {
            counters.error(error.code());
        }
        let Some(start) = self.start else { return };
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.span.record("duration_us", micros);
        match result {
            Ok(_) => {
                self.span.record("outcome", "ok");
                tracing::debug!(parent: &self.span, duration_us = micros, "invoke ok");
            }
            Err(error) => {
                self.span.record("outcome", codes::name(error.code()));
                tracing::debug!(
                    parent: &self.span,
                    duration_us = micros,
                    code = error.code(),
                    message = error.message(),
                    "invoke failed"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Routing of requests, notifications and batches, without a session.

    use std::sync::Arc;

    use ipc_core::codes;
    use serde_json::json;

    use super::*;
    use crate::capability::{Acl, Capability, Permissions};
    use crate::testing::{self, TestPeer, reply_text};

    async fn answer(router: &Arc<Router>, text: &str, peer: Option<&dyn Peer>) -> Option<Value> {
        let caller = peer.map_or(&router.backend, |p| p.caller());
        reply_text(router.dispatch_text(text, caller, peer))
            .await
            .map(|t| testing::json(&t))
    }

    #[tokio::test]
    async fn a_request_is_answered_with_its_result_by_name_or_position() {
        let router = testing::router();
        let by_name = r#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":2,"b":3}}"#;
        assert_eq!(
            reply_text(router.dispatch_text(by_name, &router.backend, None))
                .await
                .as_deref(),
            Some(r#"{"jsonrpc":"2.0","id":1,"result":5}"#),
            "the response, byte for byte"
        );
        let by_position = r#"{"jsonrpc":"2.0","id":"x","method":"add","params":[2,3]}"#;
        assert_eq!(
            answer(&router, by_position, None).await.unwrap()["result"],
            5
        );
    }

    #[tokio::test]
    async fn each_error_has_its_code() {
        let router = testing::router();
        let cases = [
            ("{oops", codes::PARSE_ERROR, Value::Null),
            (
                r#"{"jsonrpc":"1.0","id":4,"method":"add"}"#,
                codes::INVALID_REQUEST,
                json!(4),
            ),
            (
                r#"{"jsonrpc":"2.0","id":5,"method":"ad","params":{}}"#,
                codes::METHOD_NOT_FOUND,
                json!(5),
            ),
            (
                r#"{"jsonrpc":"2.0","id":6,"method":"add","params":{"a":1}}"#,
                codes::INVALID_PARAMS,
                json!(6),
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"refuse","params":{"reason":"no"}}"#,
                codes::COMMAND_ERROR,
                json!(7),
            ),
            (
                r#"{"jsonrpc":"2.0","id":8,"method":"explode"}"#,
                codes::INTERNAL_ERROR,
                json!(8),
            ),
        ];
        for (text, code, id) in cases {
            let reply = answer(&router, text, None).await.unwrap();
            assert_eq!(reply["error"]["code"], code, "{text} → {reply}");
            assert_eq!(reply["id"], id, "{text} → {reply}");
        }
        let unknown = answer(&router, r#"{"jsonrpc":"2.0","id":5,"method":"ad"}"#, None)
            .await
            .unwrap();
        assert_eq!(unknown["error"]["data"]["suggestion"], "add");
    }

    #[tokio::test]
    async fn the_acl_refuses_before_lookup_and_suggests_only_allowed_names() {
        let mut acl = Acl::default();
        acl.add(Capability::new("greeter").allow_invoke(["greet"]));
        let router = testing::router_with(acl);
        let peer = TestPeer::new(1, router.acl.named("greeter").unwrap());
        let refused = answer(
            &router,
            r#"{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}"#,
            Some(&*peer),
        )
        .await
        .unwrap();
        assert_eq!(refused["error"]["code"], codes::FORBIDDEN);
        assert_eq!(
            refused["error"]["data"],
            json!({ "kind": "invoke", "name": "add" })
        );
        // "adf" is one edit from "add", but the caller may not invoke "add": no hint.
        let unknown = answer(
            &router,
            r#"{"jsonrpc":"2.0","id":2,"method":"adf"}"#,
            Some(&*peer),
        )
        .await
        .unwrap();
        assert_eq!(
            unknown["error"]["code"],
            codes::FORBIDDEN,
            "unknown names are refused too"
        );
        let nobody = TestPeer::new(2, Permissions::none());
        let refused = answer(
            &router,
            r#"{"jsonrpc":"2.0","id":3,"method":"greet","params":["x"]}"#,
            Some(&*nobody),
        )
        .await
        .unwrap();
        assert_eq!(refused["error"]["code"], codes::FORBIDDEN);
    }

    #[tokio::test]
    async fn a_notification_is_not_answered_and_naming_a_command_is_an_event() {
        let router = testing::router();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        router.events.listen(
            ipc_core::EventName::new("add").unwrap(),
            Box::new(move |e| sink.lock().unwrap().push(e.raw_payload().get().to_owned())),
            false,
        );
        let note = r#"{"jsonrpc":"2.0","method":"add","params":{"a":1}}"#;
        assert!(answer(&router, note, None).await.is_none());
        assert_eq!(
            *seen.lock().unwrap(),
            [r#"{"a":1}"#],
            "delivered as an event, not run"
        );
    }

    #[tokio::test]
    async fn batches_answer_in_one_array_and_skip_notifications() {
        let router = testing::router();
        let batch = r#"[
            {"jsonrpc":"2.0","id":1,"method":"add","params":[1,1]},
            {"jsonrpc":"2.0","method":"add","params":[1,1]},
            {"jsonrpc":"2.0","id":2,"method":"slow","params":{"ms":1}},
            {"jsonrpc":"2.0","id":3,"method":"nope"},
            42
        ]"#;
        let reply = answer(&router, batch, None).await.unwrap();
        let replies = reply.as_array().unwrap();
        assert_eq!(replies.len(), 4, "{reply}");
        let by_id = |id: Value| replies.iter().find(|r| r["id"] == id).unwrap().clone();
        assert_eq!(by_id(json!(1))["result"], 2);
        assert_eq!(by_id(json!(2))["result"], 1, "async members are awaited");
        assert_eq!(by_id(json!(3))["error"]["code"], codes::METHOD_NOT_FOUND);
        assert_eq!(by_id(Value::Null)["error"]["code"], codes::INVALID_REQUEST);

        let only_notes = r#"[{"jsonrpc":"2.0","method":"x"},{"jsonrpc":"2.0","method":"y"}]"#;
        assert!(answer(&router, only_notes, None).await.is_none());
        let empty = answer(&router, "[]", None).await.unwrap();
        assert_eq!(empty["error"]["code"], codes::INVALID_REQUEST);
        let broken = answer(&router, "[1,", None).await.unwrap();
        assert_eq!(broken["error"]["code"], codes::PARSE_ERROR);
    }

    #[tokio::test]
    async fn a_batch_over_the_connections_limit_is_refused_whole() {
        let router = testing::router();
        let peer = TestPeer::with(1, Permissions::all(), |p| p.max_batch = 2);
        let three = r#"[{"jsonrpc":"2.0","id":1,"method":"add","params":[1,1]},
                        {"jsonrpc":"2.0","id":2,"method":"add","params":[1,1]},
                        {"jsonrpc":"2.0","id":3,"method":"add","params":[1,1]}]"#;
        let reply = answer(&router, three, Some(&*peer)).await.unwrap();
        assert_eq!(reply["error"]["code"], codes::LIMIT_EXCEEDED);
        assert_eq!(
            reply["error"]["data"],
            json!({ "limit": "batch size", "max": 2 })
        );
    }

    #[tokio::test]
    async fn async_commands_are_pending_with_their_request_id() {
        let router = testing::router();
        let text = r#"{"jsonrpc":"2.0","id":"slow-1","method":"slow","params":{"ms":1}}"#;
        match router.dispatch_text(text, &router.backend, None) {
            Reply::Call(call) => {
                assert_eq!(&*call.request, r#""slow-1""#, "as written, quotes included");
                let text = call.run_unlimited().await.into_string();
                assert_eq!(text, r#"{"jsonrpc":"2.0","id":"slow-1","result":1}"#);
            }
            _ => panic!("an async command answers later"),
        }
    }

    #[tokio::test]
    async fn bytes_go_in_a_binary_frame_only_to_peers_that_take_them() {
        let router = testing::router();
        let text = r#"{"jsonrpc":"2.0","id":1,"method":"numbered","params":{"len":3}}"#;
        let binary = TestPeer::with(1, Permissions::all(), |p| p.binary = true);
        match router.dispatch_text(text, binary.caller(), Some(&*binary)) {
            Reply::Ready(Response::Frame(frame)) => {
                assert_eq!(
                    frame.as_str(),
                    r#"{"jsonrpc":"2.0","id":1,"result":{"$bytes":0},"attachments":[3]}"#
                );
                assert_eq!(frame.attachment().map(|b| b.to_vec()), Some(vec![0, 1, 2]));
            }
            _ => panic!("a binary frame"),
        }
        let plain = TestPeer::new(2, Permissions::all());
        assert_eq!(
            answer(&router, text, Some(&*plain)).await.unwrap()["result"],
            json!([0, 1, 2])
        );
        let in_batch = format!("[{text}]");
        assert_eq!(
            answer(&router, &in_batch, Some(&*binary)).await.unwrap()[0]["result"],
            json!([0, 1, 2]),
            "a batch is one JSON array: no frames inside"
        );
    }

    #[tokio::test]
    async fn binary_frames_carry_one_message_with_its_attachments() {
        let router = testing::router();
        let peer = TestPeer::with(1, Permissions::all(), |p| p.binary = true);
        let frame = |header: &str, body: &[u8]| BinaryMessage {
            header: Bytes::copy_from_slice(header.as_bytes()),
            attachments: vec![Bytes::copy_from_slice(body)],
        };
        let batch = frame(
            r#"[{"jsonrpc":"2.0","id":1,"method":"add","params":[1,1]}]"#,
            b"",
        );
        let reply = reply_text(router.dispatch_binary(&batch, &*peer))
            .await
            .unwrap();
        assert_eq!(
            testing::json(&reply)["error"]["code"],
            codes::INVALID_REQUEST
        );
        let not_bytes = frame(
            r#"{"jsonrpc":"2.0","id":2,"method":"mirror","params":{"point":{"$bytes":0}},"attachments":[1]}"#,
            b"x",
        );
        let reply = testing::json(
            &reply_text(router.dispatch_binary(&not_bytes, &*peer))
                .await
                .unwrap(),
        );
        assert_eq!(
            reply["error"]["code"],
            codes::INVALID_PARAMS,
            "a point is not bytes: {reply}"
        );
        assert_eq!(reply["error"]["data"]["argument"], "point");
    }

    #[tokio::test]
    async fn in_process_calls_take_values_and_return_values() {
        let router = testing::router();
        let result = router
            .invoke(
                &router.backend,
                "mirror",
                json!({ "point": { "x": 1, "y": -2 } }),
            )
            .await;
        assert_eq!(result.unwrap(), json!({ "x": -1, "y": 2 }));
        let error = router
            .invoke(&router.backend, "add", json!("nope"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), codes::INVALID_PARAMS);
        assert_eq!(
            router
                .invoke(&router.backend, "slow", json!([2]))
                .await
                .unwrap(),
            2
        );
    }
}
