//! The dispatcher: from a JSON-RPC message (text or in-process value) to a
//! command's shim and back to a response.
//!
//! Sync commands run inline; async and blocking commands become futures the
//! caller awaits (or a transport spawns), so one slow command never holds up
//! another. Panics are caught at the shim boundary and answered with -32603.

use std::any::Any;
use std::future::Future;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use ipc_core::message::RequestEnvelope;
use ipc_core::{ErrorObject, EventTarget, codes, method};
use serde_json::Value;
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::binary::BinaryMessage;
use crate::capability::Action;
use crate::connection::{Outbound, Session};
use crate::context::{Caller, InvokeContext};
use crate::private::{BoxFuture, Encoded, Invocation, Out, Params, Pending};
use crate::registry::Command;
use crate::reserved;
use crate::{App, InvokeError};

/// The batch limit of entry points without a connection (`handle_message`).
const DEFAULT_MAX_BATCH: usize = 64;

/// The answer to one incoming message.
pub(crate) enum Reply {
    /// Nothing to send (notifications only).
    None,
    /// The response, ready now.
    Ready(Response),
    /// The response will be ready when this completes (`None`: nothing to send).
    Pending {
        /// The request id as written, for `ipc.cancel` (`None` for batches).
        request: Option<Box<str>>,
        /// Produces the response.
        future: BoxFuture<Option<Response>>,
    },
}

/// A response as the dispatcher builds it: text stays a `Vec` until a
/// transport needs it shared (so `handle_message` returns it without a copy).
#[derive(Debug)]
pub(crate) enum Response {
    /// JSON text (always UTF-8: an ASCII prefix and serde_json's output).
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

    fn into_string(self) -> String {
        match self {
            Response::Text(text) => String::from_utf8(text)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            Response::Frame(frame) => frame.as_str().to_owned(),
        }
    }

    fn text(&self) -> &[u8] {
        match self {
            Response::Text(text) => text,
            Response::Frame(frame) => frame.as_str().as_bytes(),
        }
    }
}

/// Where a message came from: who sent it, on which connection (if it can
/// receive pushes), with which binary attachments.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) session: Option<&'a Arc<Session>>,
    pub(crate) attachments: &'a [Bytes],
}

impl App {
    /// Calls a command in-process with JSON arguments (an object by name, an
    /// array by position, or `null` for none) and returns its JSON result.
    ///
    /// The call is made as the backend ([`ClientId::BACKEND`](ipc_core::ClientId::BACKEND)).
    /// Errors are the same as a remote caller would get.
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::{App, codes, command};
    /// use serde_json::json;
    ///
    /// #[command]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = App::builder().build().unwrap();
    /// assert_eq!(app.invoke("add", json!({ "a": 2, "b": 3 })).await.unwrap(), 5);
    /// assert_eq!(app.invoke("add", json!([2, 3])).await.unwrap(), 5);
    /// let err = app.invoke("add", json!({ "a": 2 })).await.unwrap_err();
    /// assert_eq!(err.code(), codes::INVALID_PARAMS);
    /// # }
    /// ```
    pub fn invoke(
        &self,
        command: &str,
        args: Value,
    ) -> impl Future<Output = Result<Value, InvokeError>> + Send + 'static + use<> {
        self.invoke_as(&self.inner.backend, command, args)
    }

    /// [`invoke`](Self::invoke) with the permissions of a named capability, as
    /// a connection granted it would have: the way to test an ACL in-process.
    /// An unknown capability name is an internal error.
    pub fn invoke_with(
        &self,
        capability: &str,
        command: &str,
        args: Value,
    ) -> impl Future<Output = Result<Value, InvokeError>> + Send + 'static + use<> {
        let caller = self.inner.acl.named(capability).map(|permissions| {
            Caller::with_permissions(ipc_core::ClientId::BACKEND, None, None, permissions)
        });
        let call = caller
            .as_ref()
            .map(|caller| self.invoke_as(caller, command, args))
            .ok_or_else(|| {
                InvokeError::internal(format!("there is no capability named `{capability}`"))
            });
        async move { call?.await }
    }

    /// [`invoke`](Self::invoke) on behalf of another caller, with that
    /// caller's permissions.
    pub fn invoke_as(
        &self,
        caller: &Caller,
        command: &str,
        args: Value,
    ) -> impl Future<Output = Result<Value, InvokeError>> + Send + 'static + use<> {
        let found = match self.command_for(caller, command) {
            Ok(found) => found,
            Err(error) => return Invoked::ready(Err(error)),
        };
        let span = InvokeSpan::new(found.registration.name, None);
        let cx = InvokeContext::new(self, caller, found.registration.name);
        match self.start(found, cx, Params::Value(&args), Out::Value) {
            Pending::Ready(result) => {
                span.finish(&result);
                Invoked::ready(result.map(Encoded::into_value))
            }
            Pending::Future(future) => Invoked(Inner::Running(Box::pin(async move {
                let result = guard(future).await;
                span.finish(&result);
                result.map(Encoded::into_value)
            }))),
        }
    }

    /// Handles one JSON-RPC 2.0 message (a request, a notification or a batch)
    /// as the backend, and returns the response text (`None` when there is
    /// nothing to answer, as for notifications).
    ///
    /// This is the entry point every transport uses. Malformed input is answered
    /// with a JSON-RPC error, never a panic.
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::{App, command};
    ///
    /// #[command]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = App::builder().build().unwrap();
    /// let reply = app
    ///     .handle_message(r#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1,"b":2}}"#)
    ///     .await;
    /// assert_eq!(reply.as_deref(), Some(r#"{"jsonrpc":"2.0","id":1,"result":3}"#));
    /// let reply = app.handle_message("{oops").await.unwrap();
    /// assert!(reply.contains("-32700"));
    /// # }
    /// ```
    pub async fn handle_message(&self, text: &str) -> Option<String> {
        let reply = match self.dispatch_text(text, &self.inner.backend, None) {
            Reply::None => None,
            Reply::Ready(response) => Some(response),
            Reply::Pending { future, .. } => future.await,
        };
        // Without a connection nothing is encoded as binary.
        reply.map(Response::into_string)
    }

    /// Starts handling a text message: what is ready is answered now, the rest
    /// becomes a future. `session` is the connection the message came on, if
    /// it can receive pushes (needed by `ipc.listen`, channels, binary replies).
    pub(crate) fn dispatch_text(
        &self,
        text: &str,
        caller: &Caller,
        session: Option<&Arc<Session>>,
    ) -> Reply {
        let source = Source {
            caller,
            session,
            attachments: &[],
        };
        match text.trim_start().as_bytes().first() {
            Some(b'[') => self.dispatch_batch(text, source),
            _ => self.dispatch_one(text, source, true),
        }
    }

    /// Starts handling a binary frame's message (one request, not a batch).
    pub(crate) fn dispatch_binary(&self, message: &BinaryMessage, session: &Arc<Session>) -> Reply {
        let text = message.header_text();
        if text.trim_start().starts_with('[') {
            let error = ErrorObject::new(
                codes::INVALID_REQUEST,
                "invalid request: a binary frame carries one message, not a batch",
            );
            return Reply::Ready(error_message(None, &error));
        }
        let source = Source {
            caller: &session.caller,
            session: Some(session),
            attachments: &message.attachments,
        };
        self.dispatch_one(text, source, true)
    }

    fn dispatch_batch(&self, text: &str, source: Source<'_>) -> Reply {
        let items: Vec<&RawValue> = match serde_json::from_str(text) {
            Ok(items) => items,
            Err(e) => {
                let error = ErrorObject::new(codes::PARSE_ERROR, format!("parse error: {e}"));
                return Reply::Ready(error_message(None, &error));
            }
        };
        if items.is_empty() {
            let error = ErrorObject::new(codes::INVALID_REQUEST, "invalid request: empty batch");
            return Reply::Ready(error_message(None, &error));
        }
        let max = source.session.map_or(DEFAULT_MAX_BATCH, |s| s.max_batch);
        if items.len() > max {
            let error = ErrorObject::new(
                codes::LIMIT_EXCEEDED,
                format!(
                    "batch too large: {} requests; the limit is {max}",
                    items.len()
                ),
            )
            .with_data(serde_json::json!({ "limit": "batch size", "max": max }));
            return Reply::Ready(error_message(None, &error));
        }
        let mut ready = Vec::new();
        let mut pending = Vec::new();
        for item in items {
            // One array answers a batch, so its results stay JSON (no binary frames).
            match self.dispatch_one(item.get(), source, false) {
                Reply::None => {}
                Reply::Ready(message) => ready.push(message),
                Reply::Pending { future, .. } => pending.push(future),
            }
        }
        if pending.is_empty() {
            return join_batch(ready).map_or(Reply::None, Reply::Ready);
        }
        Reply::Pending {
            request: None,
            future: Box::pin(async move {
                ready.extend(
                    futures_util::future::join_all(pending)
                        .await
                        .into_iter()
                        .flatten(),
                );
                join_batch(ready)
            }),
        }
    }

    /// One request or notification (not a batch).
    fn dispatch_one(&self, text: &str, source: Source<'_>, binary_ok: bool) -> Reply {
        let envelope = match RequestEnvelope::parse(text) {
            Ok(envelope) => envelope,
            Err(e) => return Reply::Ready(error_message(e.id.map(RawValue::get), &e.error)),
        };
        let name = envelope.method();
        if method::is_reserved(name) {
            return reserved::dispatch(self, &envelope, source);
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
            Err(error) => return Reply::Ready(error_message(Some(id), error.as_object())),
        };
        let span = InvokeSpan::new(command.registration.name, Some(id));
        let mut buf = Vec::with_capacity(64 + id.len());
        write_result_prefix(&mut buf, id);
        let out = match source.session {
            Some(session) if binary_ok && session.binary() => Out::Binary(buf),
            _ => Out::Text(buf),
        };
        let cx = InvokeContext {
            session: source.session,
            attachments: source.attachments,
            ..InvokeContext::new(self, source.caller, command.registration.name)
        };
        let params = envelope.params().map_or(Params::None, Params::Json);
        let pending = {
            let _entered = span.span.enter();
            self.start(command, cx, params, out)
        };
        match pending {
            Pending::Ready(result) => {
                span.finish(&result);
                Reply::Ready(finish(id, result))
            }
            Pending::Future(future) => {
                let request: Box<str> = id.into();
                let id = request.clone();
                let traced = span.span.clone();
                Reply::Pending {
                    request: Some(request),
                    future: Box::pin(
                        async move {
                            let result = guard(future).await;
                            span.finish(&result);
                            Some(finish(&id, result))
                        }
                        .instrument(traced),
                    ),
                }
            }
        }
    }

    /// Runs a command's shim, catching panics.
    fn start(
        &self,
        command: &Command,
        cx: InvokeContext<'_>,
        params: Params<'_>,
        out: Out,
    ) -> Pending {
        let registration = command.registration;
        let invocation = Invocation::new(cx, params, out);
        match std::panic::catch_unwind(AssertUnwindSafe(|| (registration.shim)(invocation))) {
            Ok(pending) => pending,
            Err(panic) => Pending::Ready(Err(panicked(panic_message(panic.as_ref())))),
        }
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
            return Err(InvokeError::forbidden(Action::Invoke, name, caller));
        }
        self.inner.registry.get(name).ok_or_else(|| {
            let allowed = |candidate: &str| permissions.allows(Action::Invoke, candidate);
            InvokeError::unknown_command(name, self.inner.registry.suggest(name, allowed))
        })
    }
}

/// The future of an in-process call: already finished for sync commands, so
/// they cost no allocation and no state machine.
struct Invoked(Inner);

enum Inner {
    Ready(Option<Result<Value, InvokeError>>),
    Running(BoxFuture<Result<Value, InvokeError>>),
}

impl Invoked {
    fn ready(result: Result<Value, InvokeError>) -> Self {
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

/// Awaits a command's future, turning a panic into -32603.
async fn guard(future: BoxFuture<Result<Encoded, InvokeError>>) -> Result<Encoded, InvokeError> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(panicked(panic_message(panic.as_ref()))),
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(a panic payload that is not a string)"
    }
}

/// The error a caller receives when its command panicked. The panic message is
/// logged, not sent: it may reveal internals.
pub(crate) fn panicked(message: &str) -> InvokeError {
    tracing::error!(panic = message, "command panicked");
    InvokeError::internal("the command panicked (details are in the server log)")
}

/// Spawns a detached task on the current tokio runtime, or the app's. `false`
/// when there is neither.
pub(crate) fn spawn_detached(app: &App, future: impl Future<Output = ()> + Send + 'static) -> bool {
    match tokio::runtime::Handle::try_current()
        .ok()
        .or_else(|| app.inner.runtime.clone())
    {
        Some(handle) => {
            handle.spawn(future);
            true
        }
        None => false,
    }
}

/// `{"jsonrpc":"2.0","id":<id>,"result":`
fn write_result_prefix(buf: &mut Vec<u8>, id: &str) {
    buf.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(br#","result":"#);
}

/// The complete response to a finished call.
fn finish(id: &str, result: Result<Encoded, InvokeError>) -> Response {
    match result {
        // The prefix is ASCII and serde_json writes UTF-8, so this is text.
        Ok(Encoded::Text(mut buf)) => {
            buf.push(b'}');
            Response::Text(buf)
        }
        Ok(Encoded::Binary(binary)) => {
            let (buf, bytes) = *binary;
            Response::Frame(Box::new(Outbound::binary(&buf, bytes)))
        }
        Ok(Encoded::Value(value)) => result_message(id, &value.to_string()),
        Ok(Encoded::Discarded) => result_message(id, "null"),
        Err(error) => error_message(Some(id), error.as_object()),
    }
}

/// A response with a result already serialized as JSON text.
pub(crate) fn result_message(id: &str, result: &str) -> Response {
    Response::Text(format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#).into_bytes())
}

/// An error response.
pub(crate) fn error_message(id: Option<&str>, error: &ErrorObject) -> Response {
    Response::Text(error_response(id, error).into_bytes())
}

/// `{"jsonrpc":"2.0","id":<id or null>,"error":{...}}`
pub(crate) fn error_response(id: Option<&str>, error: &ErrorObject) -> String {
    let mut buf = Vec::with_capacity(96 + error.message.len());
    buf.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    buf.extend_from_slice(id.unwrap_or("null").as_bytes());
    buf.extend_from_slice(br#","error":"#);
    if serde_json::to_writer(&mut buf, error).is_err() {
        buf.truncate(0);
        let _ = write!(
            buf,
            r#"{{"jsonrpc":"2.0","id":{},"error":{{"code":{},"message":"internal error"}}"#,
            id.unwrap_or("null"),
            codes::INTERNAL_ERROR
        );
    }
    buf.push(b'}');
    String::from_utf8(buf).unwrap_or_default()
}

fn join_batch(parts: Vec<Response>) -> Option<Response> {
    if parts.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.text().len() + 1).sum::<usize>() + 1);
    out.push(b'[');
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(part.text());
    }
    out.push(b']');
    Some(Response::Text(out))
}

/// The `tracing` span of one invoke: command, id, outcome and duration.
struct InvokeSpan {
    span: tracing::Span,
    start: Option<Instant>,
}

impl InvokeSpan {
    fn new(command: &'static str, id: Option<&str>) -> Self {
        let span = tracing::debug_span!(
            "invoke",
            command,
            id = id.unwrap_or(""),
            outcome = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        let start = (!span.is_disabled()).then(Instant::now);
        InvokeSpan { span, start }
    }

    fn finish(&self, result: &Result<Encoded, InvokeError>) {
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
