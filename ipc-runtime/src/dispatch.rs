//! The dispatcher: from a JSON-RPC message (text or in-process value) to a
//! command's shim and back to a response.
//!
//! Sync commands run inline; async and blocking commands become futures the
//! caller awaits (or a transport spawns), so one slow command never holds up
//! another. Panics are caught at the shim boundary and answered with -32603.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use ipc_core::message::{EnvelopeError, RequestEnvelope};
use ipc_core::{ErrorObject, EventName, EventTarget, codes, method};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::connection::Session;
use crate::context::{Caller, InvokeContext};
use crate::private::{BoxFuture, Encoded, Invocation, Out, Params, Pending};
use crate::registry::Command;
use crate::{App, InvokeError};

/// The answer to one text message.
pub(crate) enum Reply {
    /// Nothing to send (notifications only).
    None,
    /// The response text, ready now.
    Ready(String),
    /// The response will be ready when this completes (`None`: nothing to send).
    Pending(BoxFuture<Option<String>>),
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
        let caller = self.inner.backend.clone();
        self.invoke_as(&caller, command, args)
    }

    /// [`invoke`](Self::invoke) on behalf of another caller.
    pub fn invoke_as(
        &self,
        caller: &Caller,
        command: &str,
        args: Value,
    ) -> impl Future<Output = Result<Value, InvokeError>> + Send + 'static + use<> {
        let started = match self.inner.registry.get(command) {
            Some(found) => {
                let span = InvokeSpan::new(found.registration.name, None);
                let pending = self.start(found, caller, Params::Value(&args), Out::Value);
                Ok((pending, span))
            }
            None => Err(self.unknown_command(command)),
        };
        async move {
            let (pending, span) = started?;
            let result = match pending {
                Pending::Ready(result) => result,
                Pending::Future(future) => guard(future).await,
            };
            span.finish(&result);
            match result? {
                Encoded::Value(value) => Ok(value),
                Encoded::Text(_) | Encoded::Discarded => Ok(Value::Null),
            }
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
        let caller = self.inner.backend.clone();
        match self.dispatch_text(text, &caller, None) {
            Reply::None => None,
            Reply::Ready(text) => Some(text),
            Reply::Pending(future) => future.await,
        }
    }

    /// Starts handling a text message: what is ready is answered now, the rest
    /// becomes a future.
    /// `session` is the connection the message came on, if it can receive
    /// pushes (needed by `ipc.listen`).
    pub(crate) fn dispatch_text(
        &self,
        text: &str,
        caller: &Caller,
        session: Option<&Arc<Session>>,
    ) -> Reply {
        match text.trim_start().as_bytes().first() {
            Some(b'[') => self.dispatch_batch(text, caller, session),
            _ => self.dispatch_one(RequestEnvelope::parse(text), caller, session),
        }
    }

    fn dispatch_batch(&self, text: &str, caller: &Caller, session: Option<&Arc<Session>>) -> Reply {
        let items: Vec<&RawValue> = match serde_json::from_str(text) {
            Ok(items) => items,
            Err(e) => {
                let error = ErrorObject::new(codes::PARSE_ERROR, format!("parse error: {e}"));
                return Reply::Ready(error_response(None, &error));
            }
        };
        if items.is_empty() {
            let error = ErrorObject::new(codes::INVALID_REQUEST, "invalid request: empty batch");
            return Reply::Ready(error_response(None, &error));
        }
        let mut ready = Vec::new();
        let mut pending = Vec::new();
        for item in items {
            match self.dispatch_one(RequestEnvelope::from_raw(item), caller, session) {
                Reply::None => {}
                Reply::Ready(text) => ready.push(text),
                Reply::Pending(future) => pending.push(future),
            }
        }
        if pending.is_empty() {
            return join_batch(ready).map_or(Reply::None, Reply::Ready);
        }
        Reply::Pending(Box::pin(async move {
            for text in futures_util::future::join_all(pending)
                .await
                .into_iter()
                .flatten()
            {
                ready.push(text);
            }
            join_batch(ready)
        }))
    }

    fn dispatch_one(
        &self,
        envelope: Result<RequestEnvelope<'_>, EnvelopeError<'_>>,
        caller: &Caller,
        session: Option<&Arc<Session>>,
    ) -> Reply {
        let envelope = match envelope {
            Ok(envelope) => envelope,
            Err(e) => return Reply::Ready(error_response(e.id.map(RawValue::get), &e.error)),
        };
        let name = envelope.method();
        if method::is_reserved(name) {
            return self.dispatch_reserved(&envelope, caller, session);
        }
        let Some(id) = envelope.id() else {
            // A notification naming anything but a reserved method is an event.
            let payload = envelope.params();
            if let Err(error) = self.emit_from_client(name, payload, caller, EventTarget::All) {
                tracing::debug!(event = name, error = %error, "notification refused");
            }
            return Reply::None;
        };
        let id = id.get();
        let Some(command) = self.inner.registry.get(name) else {
            return Reply::Ready(error_response(
                Some(id),
                self.unknown_command(name).as_object(),
            ));
        };
        let span = InvokeSpan::new(command.registration.name, Some(id));
        let mut buf = Vec::with_capacity(64 + id.len());
        write_result_prefix(&mut buf, id);
        let params = envelope.params().map_or(Params::None, Params::Json);
        match self.start(command, caller, params, Out::Text(buf)) {
            Pending::Ready(result) => {
                span.finish(&result);
                Reply::Ready(finish_text(id, result))
            }
            Pending::Future(future) => {
                let id: Box<str> = id.into();
                Reply::Pending(Box::pin(async move {
                    let result = guard(future).await;
                    span.finish(&result);
                    Some(finish_text(&id, result))
                }))
            }
        }
    }

    fn dispatch_reserved(
        &self,
        envelope: &RequestEnvelope<'_>,
        caller: &Caller,
        session: Option<&Arc<Session>>,
    ) -> Reply {
        let id = envelope.id().map(RawValue::get);
        let params = envelope.params();
        let name = envelope.method();
        let result = match (name, session) {
            (method::EMIT, _) => self
                .reserved_emit(params, caller)
                .map(|()| "null".to_owned()),
            (method::LISTEN, Some(session)) => self.reserved_listen(params, session),
            (method::UNLISTEN, Some(session)) => self.reserved_unlisten(params, session),
            (method::LISTEN | method::UNLISTEN, None) => Err(InvokeError::new(
                codes::METHOD_NOT_FOUND,
                format!(
                    "`{name}` needs a connection that can receive events; this entry point has none"
                ),
            )),
            (other, _) => Err(InvokeError::new(
                codes::METHOD_NOT_FOUND,
                format!("unknown reserved method `{other}`"),
            )),
        };
        match (id, result) {
            (None, Ok(_)) => Reply::None,
            (None, Err(error)) => {
                tracing::debug!(method = name, error = %error, "reserved notification refused");
                Reply::None
            }
            (Some(id), Ok(result)) => Reply::Ready(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#
            )),
            (Some(id), Err(error)) => Reply::Ready(error_response(Some(id), error.as_object())),
        }
    }

    /// `ipc.emit {"event", "payload", "target"?}` from a caller.
    fn reserved_emit(&self, params: Option<&RawValue>, caller: &Caller) -> Result<(), InvokeError> {
        #[derive(Deserialize)]
        struct EmitParams<'a> {
            #[serde(borrow)]
            event: Cow<'a, str>,
            #[serde(borrow, default)]
            payload: Option<&'a RawValue>,
            #[serde(default)]
            target: EventTarget,
        }
        let params: EmitParams<'_> = reserved_params(method::EMIT, params)?;
        self.emit_from_client(&params.event, params.payload, caller, params.target)
    }

    /// `ipc.listen {"event"}` → the subscription id.
    fn reserved_listen(
        &self,
        params: Option<&RawValue>,
        session: &Arc<Session>,
    ) -> Result<String, InvokeError> {
        #[derive(Deserialize)]
        struct ListenParams<'a> {
            #[serde(borrow)]
            event: Cow<'a, str>,
        }
        let params: ListenParams<'_> = reserved_params(method::LISTEN, params)?;
        let name = EventName::new(&params.event).map_err(|e| {
            InvokeError::invalid_params(Some("event"), Some("event name"), e.to_string())
        })?;
        Ok(session.subscribe(self, name).get().to_string())
    }

    /// `ipc.unlisten {"event"}` or `{"id"}` → whether a subscription was removed.
    fn reserved_unlisten(
        &self,
        params: Option<&RawValue>,
        session: &Arc<Session>,
    ) -> Result<String, InvokeError> {
        #[derive(Deserialize)]
        struct UnlistenParams<'a> {
            #[serde(borrow, default)]
            event: Option<Cow<'a, str>>,
            #[serde(default)]
            id: Option<u64>,
        }
        let params: UnlistenParams<'_> = reserved_params(method::UNLISTEN, params)?;
        let removed = match (params.event, params.id) {
            (Some(event), _) => session.unsubscribe_name(self, &event),
            (None, Some(id)) => session.unsubscribe_id(self, id),
            (None, None) => {
                return Err(InvokeError::invalid_params(
                    None,
                    None,
                    "ipc.unlisten needs `event` or `id`".to_owned(),
                ));
            }
        };
        Ok(removed.to_string())
    }

    /// Runs a command's shim, catching panics.
    fn start(&self, command: &Command, caller: &Caller, params: Params<'_>, out: Out) -> Pending {
        let registration = command.registration;
        let cx = InvokeContext::new(self, caller, registration.name);
        let invocation = Invocation::new(cx, params, out);
        match std::panic::catch_unwind(AssertUnwindSafe(|| (registration.shim)(invocation))) {
            Ok(pending) => pending,
            Err(panic) => Pending::Ready(Err(panicked(panic_message(panic.as_ref())))),
        }
    }

    fn unknown_command(&self, name: &str) -> InvokeError {
        InvokeError::unknown_command(name, self.inner.registry.suggest(name))
    }
}

/// Reads the params of a reserved method, or explains what is wrong with them.
fn reserved_params<'a, T: Deserialize<'a>>(
    method: &str,
    params: Option<&'a RawValue>,
) -> Result<T, InvokeError> {
    let raw = params.map_or("{}", RawValue::get);
    serde_json::from_str(raw)
        .map_err(|e| InvokeError::invalid_params(None, None, format!("{method}: {e}")))
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

/// The complete response text for a finished text-mode call.
fn finish_text(id: &str, result: Result<Encoded, InvokeError>) -> String {
    match result {
        Ok(Encoded::Text(mut buf)) => {
            buf.push(b'}');
            match String::from_utf8(buf) {
                Ok(text) => text,
                Err(_) => error_response(
                    Some(id),
                    InvokeError::internal("the command's result was not UTF-8").as_object(),
                ),
            }
        }
        Ok(Encoded::Value(value)) => {
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{value}}}"#)
        }
        Ok(Encoded::Discarded) => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":null}}"#),
        Err(error) => error_response(Some(id), error.as_object()),
    }
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

fn join_batch(parts: Vec<String>) -> Option<String> {
    if parts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 1);
    out.push('[');
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(part);
    }
    out.push(']');
    Some(out)
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
