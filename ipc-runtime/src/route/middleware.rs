//! Middleware: [tower](https://docs.rs/tower) layers around every call and
//! every emitted event.
//!
//! A call that reaches a command (its caller may invoke it, the command
//! exists) goes through the layers added with
//! [`AppBuilder::layer`](crate::AppBuilder::layer) as an [`IpcRequest`]: the
//! command's name, its raw params, the [`Caller`] and [`Extensions`]. What
//! comes back is an [`IpcResponse`], the command's result before it is put in
//! a JSON-RPC response, or the error (a layer can map either). Layers are
//! plain `tower::Layer`s, so tower's own work as they are:
//!
//! ```rust,standalone_crate
//! use std::time::Duration;
//! use ipc_runtime::{App, codes, command};
//!
//! #[command]
//! async fn nap(ms: u64) -> u64 {
//!     tokio::time::sleep(Duration::from_millis(ms)).await;
//!     ms
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = App::builder()
//!     .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(50)))
//!     .build()
//!     .unwrap();
//! assert_eq!(app.invoke("nap", serde_json::json!({ "ms": 1 })).await.unwrap(), 1);
//! let late = app.invoke("nap", serde_json::json!({ "ms": 500 })).await.unwrap_err();
//! assert_eq!(late.code(), codes::TIMEOUT);
//! # }
//! ```
//!
//! # Errors
//!
//! A layer's error becomes the caller's JSON-RPC error: an [`InvokeError`]
//! (converted with `.into()`) keeps its code, message and data; tower's
//! `Elapsed` (timeout) is [`codes::TIMEOUT`]; tower's `Overloaded` (load
//! shedding) is [`codes::LIMIT_EXCEEDED`]; anything else is
//! [`codes::INTERNAL_ERROR`] with the error's text. A layer that panics is
//! contained like a panicking command: -32603 to its caller, the app keeps
//! serving.
//!
//! # Sharing
//!
//! One stack serves every connection. Layers whose services are not `Clone`
//! (tower's `RateLimit`) are fine: the stack is held behind an async lock
//! while it becomes ready and takes the call, then released while the call
//! runs. A limit therefore applies to the whole app (a rate limit of 10 per
//! second is 10 per second across all connections); per-connection limits
//! are [`ConnectOptions`](crate::session::ConnectOptions)' own.
//!
//! # Cost
//!
//! With no layer, calls take the dispatcher's usual path, untouched. With
//! layers, a call copies its params, runs as a future (even a sync command),
//! and takes the stack's lock once; `BENCHMARKS.md` has the figures.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use ipc_core::{ErrorObject, EventTarget, codes};
use serde::Serialize;
use serde_json::value::RawValue;
use tower::Service;

use super::Router;
use crate::caller::Caller;
use crate::error::InvokeError;
use crate::invoke::extract::State;
use crate::invoke::{BoxFuture, Encoded, InvokeContext, Out, Params, Peer, Slot, guard};

/// The error type of layered services: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Values attached to a request by layers, for layers further in (and for
/// the app's own layers to pass along), one per type, like `http::Extensions`.
///
/// ```
/// use ipc_runtime::middleware::Extensions;
///
/// #[derive(Debug, PartialEq)]
/// struct User(&'static str);
///
/// let mut extensions = Extensions::default();
/// assert!(extensions.insert(User("ada")).is_none());
/// assert_eq!(extensions.get::<User>(), Some(&User("ada")));
/// assert_eq!(extensions.remove::<User>(), Some(User("ada")));
/// assert!(extensions.is_empty());
/// ```
#[derive(Default)]
pub struct Extensions {
    // An empty map does not allocate: most requests carry none.
    map: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl Extensions {
    /// Stores `value`, returning the value of its type stored before.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.map
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast().ok().map(|old| *old))
    }

    /// The stored value of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref())
    }

    /// The stored value of type `T`, to change.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.map
            .get_mut(&TypeId::of::<T>())
            .and_then(|v| v.downcast_mut())
    }

    /// Takes the stored value of type `T` out.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.map
            .remove(&TypeId::of::<T>())
            .and_then(|old| old.downcast().ok().map(|old| *old))
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.len())
            .finish()
    }
}

/// One call, as the layers see it: the command, its raw params, who sent it.
///
/// Built by the runtime once the caller's capabilities allow the command and
/// the command exists; a layer reads it, may change the params or the
/// extensions, and passes it on (or answers without passing it on).
///
/// ```rust,standalone_crate
/// use std::future::{Ready, ready};
/// use std::task::{Context, Poll};
/// use ipc_runtime::middleware::{BoxError, IpcRequest, IpcResponse};
/// use ipc_runtime::{App, InvokeError, command};
///
/// /// Refuses every call whose params are longer than 64 bytes.
/// #[derive(Clone)]
/// struct Small<S>(S);
///
/// impl<S> tower::Service<IpcRequest> for Small<S>
/// where
///     S: tower::Service<IpcRequest, Response = IpcResponse, Error = BoxError>,
/// {
///     type Response = IpcResponse;
///     type Error = BoxError;
///     type Future = futures_util::future::Either<S::Future, Ready<Result<IpcResponse, BoxError>>>;
///
///     fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
///         self.0.poll_ready(cx)
///     }
///
///     fn call(&mut self, request: IpcRequest) -> Self::Future {
///         if request.params().is_some_and(|p| p.get().len() > 64) {
///             let error = InvokeError::new(4130, format!("{}: params too long", request.command()));
///             return futures_util::future::Either::Right(ready(Err(error.into())));
///         }
///         futures_util::future::Either::Left(self.0.call(request))
///     }
/// }
///
/// #[command]
/// fn echo(text: String) -> String { text }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder()
///     .layer(tower::layer::layer_fn(Small))
///     .build()
///     .unwrap();
/// assert_eq!(app.invoke("echo", serde_json::json!({ "text": "hi" })).await.unwrap(), "hi");
/// let long = "x".repeat(100);
/// let error = app.invoke("echo", serde_json::json!({ "text": long })).await.unwrap_err();
/// assert_eq!(error.code(), 4130);
/// # }
/// ```
pub struct IpcRequest {
    command: &'static str,
    id: Option<Box<str>>,
    params: Option<Box<RawValue>>,
    caller: Caller,
    extensions: Extensions,
    call: CallParts,
}

/// What running the command needs besides what the layers see.
struct CallParts {
    router: Arc<Router>,
    peer: Option<Weak<dyn Peer>>,
    attachments: Vec<Bytes>,
    out: Out,
    slot: Slot,
}

impl IpcRequest {
    /// The command's wire name.
    pub fn command(&self) -> &'static str {
        self.command
    }

    /// The request's id as the client wrote it (`1`, `"a"`), or `None` for an
    /// in-process call.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The params as sent (an object or an array), or `None` when there were none.
    pub fn params(&self) -> Option<&RawValue> {
        self.params.as_deref()
    }

    /// Replaces the params the command will read.
    pub fn set_params(&mut self, params: Option<Box<RawValue>>) {
        self.params = params;
    }

    /// Who sent the call: client id, origin, label, permissions.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The app's managed value of type `T` (what `State<T>` reads), so a
    /// layer can decide from the app's own data.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        self.call.router.state.get::<T>().map(State::from_arc)
    }

    /// Values attached by layers.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Values attached by layers, to change.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The router the call runs on.
    pub(crate) fn router(&self) -> &Arc<Router> {
        &self.call.router
    }
}

impl fmt::Debug for IpcRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcRequest")
            .field("command", &self.command)
            .field("id", &self.id)
            .field("params", &self.params)
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

/// A command's result, before it is put in a JSON-RPC response.
///
/// A layer may read it ([`result_json`](Self::result_json)) or answer
/// without calling the command ([`json`](Self::json)).
///
/// ```
/// use ipc_runtime::middleware::IpcResponse;
///
/// let cached = IpcResponse::json(&[1, 2, 3]).unwrap();
/// assert_eq!(cached.result_json().as_deref(), Some("[1,2,3]"));
/// ```
pub struct IpcResponse {
    body: Encoded,
    /// Where the result starts in a text body (after the response's prefix).
    prefix: usize,
    extensions: Extensions,
}

impl IpcResponse {
    /// A response made by a layer, with this result.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, InvokeError> {
        let value = serde_json::to_value(value).map_err(|e| {
            InvokeError::internal(format!("the result could not be serialized: {e}"))
        })?;
        Ok(IpcResponse {
            body: Encoded::Value(value),
            prefix: 0,
            extensions: Extensions::default(),
        })
    }

    /// The result's JSON text; `None` for a result sent as binary bytes.
    pub fn result_json(&self) -> Option<Cow<'_, str>> {
        match &self.body {
            Encoded::Text(buf) => std::str::from_utf8(buf.get(self.prefix..)?)
                .ok()
                .map(Cow::Borrowed),
            Encoded::Value(value) => Some(Cow::Owned(value.to_string())),
            Encoded::Binary(_) => None,
            Encoded::Discarded => Some(Cow::Borrowed("null")),
        }
    }

    /// The size of the result in bytes (binary bytes included).
    pub fn len(&self) -> usize {
        match &self.body {
            Encoded::Text(buf) => buf.len().saturating_sub(self.prefix),
            Encoded::Binary(binary) => binary.1.len(),
            Encoded::Value(_) | Encoded::Discarded => {
                self.result_json().map_or(0, |json| json.len())
            }
        }
    }

    /// Whether the result is empty (never: `null` is four bytes).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values attached by layers.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Values attached by layers, to change.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
}

impl fmt::Debug for IpcResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpcResponse")
            .field("result", &self.result_json())
            .finish_non_exhaustive()
    }
}

/// One event on its way to its listeners and subscribers, as event layers
/// ([`AppBuilder::event_layer`](crate::AppBuilder::event_layer)) see it.
pub struct EventRequest {
    event: Box<str>,
    payload: Arc<RawValue>,
    source: Caller,
    target: EventTarget,
    extensions: Extensions,
    router: Arc<Router>,
}

impl EventRequest {
    /// The event's name.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The payload's JSON.
    pub fn payload(&self) -> &RawValue {
        &self.payload
    }

    /// Who emitted it (the backend for `App::emit`).
    pub fn source(&self) -> &Caller {
        &self.source
    }

    /// Whom it is for.
    pub fn target(&self) -> &EventTarget {
        &self.target
    }

    /// Values attached by layers.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Values attached by layers, to change.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The router the event is delivered by.
    pub(crate) fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// The payload, shared (as every receiver gets it).
    pub(crate) fn shared_payload(&self) -> &Arc<RawValue> {
        &self.payload
    }
}

impl fmt::Debug for EventRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRequest")
            .field("event", &self.event)
            .field("payload", &self.payload)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Whom an event reached, as the innermost event service reports it to the
/// event layers: frontends whose queue took it, and Rust listeners run.
///
/// ```rust,standalone_crate
/// use ipc_runtime::App;
/// use ipc_runtime::middleware::{Reached, EventRequest, Next};
/// use std::sync::{Arc, Mutex};
///
/// /// Remembers how many Rust listeners each event reached.
/// #[derive(Clone)]
/// struct Count<S>(S, Arc<Mutex<Vec<usize>>>);
///
/// impl<S> tower::Service<EventRequest> for Count<S>
/// where
///     S: tower::Service<EventRequest, Response = Reached, Error = ipc_runtime::middleware::BoxError>,
///     S::Future: Send + 'static,
/// {
///     type Response = Reached;
///     type Error = S::Error;
///     type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reached, S::Error>> + Send>>;
///     fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
///         self.0.poll_ready(cx)
///     }
///     fn call(&mut self, event: EventRequest) -> Self::Future {
///         let (future, seen) = (self.0.call(event), Arc::clone(&self.1));
///         Box::pin(async move {
///             let reached = future.await?;
///             seen.lock().unwrap().push(reached.listeners());
///             Ok(reached)
///         })
///     }
/// }
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let app = App::builder()
///     .event_layer(tower::layer::layer_fn(move |inner: Next<EventRequest, Reached>| Count(inner, Arc::clone(&log))))
///     .build()
///     .unwrap();
/// app.listen("ping", |_| {});
/// app.emit("ping", &()).unwrap();
/// app.emit("nobody-listens", &()).unwrap();
/// assert_eq!(*seen.lock().unwrap(), [1, 0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reached {
    pub(crate) frontends: usize,
    pub(crate) listeners: usize,
}

impl Reached {
    /// Frontends whose queue took the event (a full queue drops it, and
    /// counts it as lagged).
    pub fn frontends(&self) -> usize {
        self.frontends
    }

    /// Rust listeners run (or started, for async ones).
    pub fn listeners(&self) -> usize {
        self.listeners
    }
}

/// The service a layer wraps: the rest of the stack, down to the command
/// (for calls, `Next<IpcRequest, IpcResponse>`) or to delivery (for events,
/// `Next<EventRequest, Reached>`). Layers are usually generic over it.
pub struct Next<Req, Res> {
    inner: Box<dyn Erased<Req, Res>>,
}

trait Erased<Req, Res>: Send {
    fn erased_poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>>;
    fn erased_call(&mut self, request: Req) -> BoxFuture<Result<Res, BoxError>>;
}

impl<S, Req, Res> Erased<Req, Res> for S
where
    S: Service<Req, Response = Res> + Send,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    fn erased_poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Service::poll_ready(self, cx).map_err(Into::into)
    }

    fn erased_call(&mut self, request: Req) -> BoxFuture<Result<Res, BoxError>> {
        let future = Service::call(self, request);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

impl<Req, Res> Next<Req, Res> {
    pub(crate) fn new<S>(service: S) -> Self
    where
        S: Service<Req, Response = Res> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Next {
            inner: Box::new(service),
        }
    }
}

impl<Req, Res> Service<Req> for Next<Req, Res> {
    type Response = Res;
    type Error = BoxError;
    type Future = BoxFuture<Result<Res, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.erased_poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        self.inner.erased_call(request)
    }
}

impl<Req, Res> fmt::Debug for Next<Req, Res> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Next(..)")
    }
}

/// A layer as the builder keeps it: applied once, at build.
pub(crate) type Wrap<Req, Res> = Box<dyn FnOnce(Next<Req, Res>) -> Next<Req, Res> + Send>;

/// Erases a tower layer into a [`Wrap`].
pub(crate) fn wrap<L, Req, Res>(layer: L) -> Wrap<Req, Res>
where
    L: tower::Layer<Next<Req, Res>> + Send + 'static,
    L::Service: Service<Req, Response = Res> + Send + 'static,
    <L::Service as Service<Req>>::Error: Into<BoxError>,
    <L::Service as Service<Req>>::Future: Send + 'static,
    Req: 'static,
    Res: 'static,
{
    Box::new(move |inner| Next::new(layer.layer(inner)))
}

/// Applies layers to `inner`, the first given outermost (as `ServiceBuilder` does).
fn apply<Req, Res>(inner: Next<Req, Res>, layers: Vec<Wrap<Req, Res>>) -> Next<Req, Res> {
    layers
        .into_iter()
        .rev()
        .fold(inner, |service, wrap| wrap(service))
}

/// A stack shared by every call: locked while it becomes ready and takes a
/// call, not while the call runs.
struct Stack<Req, Res> {
    service: tokio::sync::Mutex<Next<Req, Res>>,
}

impl<Req: Send + 'static, Res: 'static> Stack<Req, Res> {
    fn new(service: Next<Req, Res>) -> Self {
        Stack {
            service: tokio::sync::Mutex::new(service),
        }
    }

    /// Runs one request through the stack; a panic in a layer is an error.
    fn call(self: &Arc<Self>, request: Req) -> BoxFuture<Result<Res, BoxError>> {
        let stack = Arc::clone(self);
        let run = async move {
            let future = {
                // `try_lock` first: an uncontended stack is taken at once,
                // where `lock` counts against tokio's cooperative budget and,
                // once a task has spent it (an emit loop), would put the call
                // (or the event) off to a later poll.
                let mut service = match stack.service.try_lock() {
                    Ok(service) => service,
                    Err(_) => stack.service.lock().await,
                };
                std::future::poll_fn(|cx| Service::poll_ready(&mut *service, cx)).await?;
                Service::call(&mut *service, request)
            };
            future.await
        };
        Box::pin(async move {
            match AssertUnwindSafe(run).catch_unwind().await {
                Ok(result) => result,
                Err(panic) => {
                    let message = guard::panic_message(panic.as_ref());
                    tracing::error!(panic = message, "a middleware layer panicked");
                    Err(InvokeError::internal(
                        "a middleware layer panicked (details are in the server log)",
                    )
                    .into())
                }
            }
        })
    }
}

/// The layers around calls, built once.
pub(crate) struct CallLayers {
    /// Around every call (its innermost service routes to `per_command`).
    global: Option<Arc<Stack<IpcRequest, IpcResponse>>>,
    per_command: Arc<HashMap<&'static str, Arc<Stack<IpcRequest, IpcResponse>>>>,
}

impl CallLayers {
    /// Builds the stacks; `None` when there is no layer at all.
    pub(crate) fn build(
        global: Vec<Wrap<IpcRequest, IpcResponse>>,
        per_command: Vec<(&'static str, Vec<Wrap<IpcRequest, IpcResponse>>)>,
    ) -> Option<Self> {
        if global.is_empty() && per_command.is_empty() {
            return None;
        }
        let per_command: Arc<HashMap<_, _>> = Arc::new(
            per_command
                .into_iter()
                .map(|(name, layers)| {
                    let service = apply(Next::new(Invoker), layers);
                    (name, Arc::new(Stack::new(service)))
                })
                .collect(),
        );
        let global = (!global.is_empty()).then(|| {
            let inner = Next::new(ByCommand(Arc::clone(&per_command)));
            Arc::new(Stack::new(apply(inner, global)))
        });
        Some(CallLayers {
            global,
            per_command,
        })
    }

    /// Whether calls to `command` go through layers.
    #[inline]
    pub(crate) fn applies_to(&self, command: &str) -> bool {
        self.global.is_some() || self.per_command.contains_key(command)
    }

    /// Runs a call through its layers to the command.
    fn run(&self, request: IpcRequest) -> BoxFuture<Result<IpcResponse, BoxError>> {
        match &self.global {
            Some(global) => global.call(request),
            None => to_command(&self.per_command, request),
        }
    }
}

/// A call to its command's own layers, if it has any, else to the command.
fn to_command(
    per_command: &HashMap<&'static str, Arc<Stack<IpcRequest, IpcResponse>>>,
    request: IpcRequest,
) -> BoxFuture<Result<IpcResponse, BoxError>> {
    match per_command.get(request.command) {
        Some(stack) => stack.call(request),
        None => Service::call(&mut Invoker, request),
    }
}

/// The innermost service of the global stack: the command's own layers, if
/// it has any, else the command.
struct ByCommand(Arc<HashMap<&'static str, Arc<Stack<IpcRequest, IpcResponse>>>>);

impl Service<IpcRequest> for ByCommand {
    type Response = IpcResponse;
    type Error = BoxError;
    type Future = BoxFuture<Result<IpcResponse, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: IpcRequest) -> Self::Future {
        to_command(&self.0, request)
    }
}

/// The innermost service: runs the command's shim, in the panic guard.
struct Invoker;

impl Service<IpcRequest> for Invoker {
    type Response = IpcResponse;
    type Error = BoxError;
    type Future = BoxFuture<Result<IpcResponse, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: IpcRequest) -> Self::Future {
        let IpcRequest {
            command,
            params,
            caller,
            extensions,
            call,
            ..
        } = request;
        let CallParts {
            router,
            peer,
            attachments,
            out,
            slot,
        } = call;
        let prefix = match &out {
            Out::Text(buf) | Out::Binary(buf) => buf.len(),
            Out::Value | Out::Discard => 0,
        };
        let respond = move |result: Result<Encoded, InvokeError>| {
            result
                .map(|body| IpcResponse {
                    body,
                    prefix,
                    extensions,
                })
                .map_err(BoxError::from)
        };
        // The command starts when the future is first polled, not here: a
        // stack is locked while it takes a call, and a sync command run under
        // that lock would hold up every other call (and a listener's nested
        // emit) until it returned.
        Box::pin(async move {
            let Some(found) = router.registry.get(command) else {
                return respond(Err(InvokeError::unknown_command(command, None)));
            };
            let peer = peer.as_ref().and_then(Weak::upgrade);
            let cx = InvokeContext {
                peer: peer.as_deref(),
                attachments: &attachments,
                ..router.context(&caller, command)
            };
            let params = params.as_deref().map_or(Params::None, Params::Json);
            let started = super::dispatch::start(found, cx, params, out).split();
            match started {
                Ok(result) => respond(result),
                Err(running) => respond(guard::finish(running, slot).await),
            }
        })
    }
}

/// The error a caller receives for a layer's error.
pub(crate) fn to_invoke_error(error: BoxError) -> InvokeError {
    let error = match error.downcast::<ErrorObject>() {
        Ok(object) => return InvokeError::from_object(*object),
        Err(error) => error,
    };
    if error.is::<tower::timeout::error::Elapsed>() {
        return InvokeError::new(codes::TIMEOUT, "the call timed out");
    }
    if error.is::<tower::load_shed::error::Overloaded>() {
        return InvokeError::new(codes::LIMIT_EXCEEDED, "the server is overloaded")
            .with_data(serde_json::json!({ "limit": "load" }));
    }
    InvokeError::internal(format!("middleware: {error}"))
}

/// What a layered call is made of, taken when the dispatcher starts it.
pub(crate) struct LayeredCall {
    pub(crate) command: &'static str,
    pub(crate) id: Option<Box<str>>,
    pub(crate) params: Option<Box<RawValue>>,
    pub(crate) caller: Caller,
    pub(crate) peer: Option<Weak<dyn Peer>>,
    pub(crate) attachments: Vec<Bytes>,
    pub(crate) out: Out,
}

impl Router {
    /// Runs a call through the layers (which `applies_to` it), holding `slot`.
    pub(crate) fn run_layered(
        self: &Arc<Self>,
        call: LayeredCall,
        slot: Slot,
    ) -> impl Future<Output = Result<Encoded, InvokeError>> + Send + 'static {
        let request = IpcRequest {
            command: call.command,
            id: call.id,
            params: call.params,
            caller: call.caller,
            extensions: Extensions::default(),
            call: CallParts {
                router: Arc::clone(self),
                peer: call.peer,
                attachments: call.attachments,
                out: call.out,
                slot,
            },
        };
        let future = match &self.layers {
            Some(layers) => layers.run(request),
            None => Service::call(&mut Invoker, request),
        };
        async move {
            match future.await {
                Ok(response) => Ok(response.body),
                Err(error) => Err(to_invoke_error(error)),
            }
        }
    }
}

/// The layers around emitted events, built once.
pub(crate) struct EventLayers {
    stack: Arc<Stack<EventRequest, Reached>>,
}

impl EventLayers {
    /// Builds the stack; `None` when there is no layer.
    pub(crate) fn build(layers: Vec<Wrap<EventRequest, Reached>>) -> Option<Self> {
        if layers.is_empty() {
            return None;
        }
        let stack = Arc::new(Stack::new(apply(Next::new(Deliver), layers)));
        Some(EventLayers { stack })
    }

    /// Sends an event through the layers to delivery: at once when no layer
    /// waits, else on a task.
    pub(crate) fn emit(
        &self,
        router: &Arc<Router>,
        event: &str,
        payload: &Arc<RawValue>,
        source: &Caller,
        target: &EventTarget,
    ) {
        let request = EventRequest {
            event: event.into(),
            payload: Arc::clone(payload),
            source: source.clone(),
            target: target.clone(),
            extensions: Extensions::default(),
            router: Arc::clone(router),
        };
        let name: Box<str> = event.into();
        let call = self.stack.call(request);
        let mut run = Box::pin(async move {
            if let Err(error) = call.await {
                let error = to_invoke_error(error);
                tracing::debug!(
                    event = &*name,
                    code = error.code(),
                    message = error.message(),
                    "event stopped by a layer"
                );
            }
        });
        // Most event layers do not wait: deliver now, like an emit without layers.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if run.as_mut().poll(&mut cx).is_pending()
            && !guard::spawn_detached(router.runtime.as_ref(), run)
        {
            tracing::warn!(
                event,
                "an event layer waited outside any tokio runtime: event dropped"
            );
        }
    }
}

/// The innermost event service: delivery to listeners and subscribers.
struct Deliver;

impl Service<EventRequest> for Deliver {
    type Response = Reached;
    type Error = BoxError;
    type Future = Delivery;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: EventRequest) -> Delivery {
        Delivery(Some(request))
    }
}

/// Delivers its event when first polled, once the stack's lock is released:
/// a listener that emits from inside would otherwise wait for that lock,
/// and its event would come later, on a task.
struct Delivery(Option<EventRequest>);

impl Future for Delivery {
    type Output = Result<Reached, BoxError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(request) = self.0.take() else {
            return Poll::Ready(Ok(Reached::default()));
        };
        let router = &request.router;
        let reached = router.deliver_now(
            &request.event,
            &request.payload,
            &request.source,
            &request.target,
        );
        Poll::Ready(Ok(reached))
    }
}
