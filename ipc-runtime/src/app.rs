//! [`App`]: the handle to everything the runtime holds, and the whole of its
//! public API in one file.
//!
//! `App` sits beside the layers (see `docs/architecture.md`): each method
//! hands the work to the layer that owns it (routing for calls and events,
//! sessions for connections, a transport for serving, the bindings for
//! export). No layer below names `App`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use ipc_core::{EventName, EventTarget};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::{Bindings, ExportError, TypeScriptExport};
use crate::builder::AppBuilder;
use crate::caller::Caller;
use crate::error::{EmitError, InvokeError};
use crate::invoke::InvokeContext;
use crate::invoke::extract::{CommandArg, State};
use crate::invoke::registry::{CommandInfo, ListenerRegistration};
use crate::route::events::{Event, ListenerId};
use crate::route::metrics::Metrics;
use crate::route::{Router, discover};
use crate::session::{ConnectOptions, Connection, Outbox};
use crate::typed_event::TypedEvent;

/// The application: its commands, managed state and event bus.
///
/// `App` is a cheap handle (`Clone`, `Send`, `Sync`): clone it into tasks, or
/// take it as an injected argument of a command to emit events from there.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, command};
///
/// #[command]
/// fn greet(name: String) -> String {
///     format!("Hello, {name}!")
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// let reply = app.invoke("greet", serde_json::json!({ "name": "Ada" })).await.unwrap();
/// assert_eq!(reply, "Hello, Ada!");
/// # }
/// ```
#[derive(Clone)]
pub struct App {
    router: Arc<Router>,
}

/// Building and introspection.
impl App {
    /// Starts configuring an app.
    pub fn builder() -> AppBuilder {
        AppBuilder::new()
    }

    pub(crate) fn from_router(router: Router) -> Self {
        let router = Arc::new(router);
        router.start_bridge();
        App { router }
    }

    /// The app a call runs in, read back from its context (the context holds
    /// it opaquely: the layers that build contexts sit below `App`).
    fn of(cx: &InvokeContext<'_>) -> Option<App> {
        let any: &dyn Any = cx.app;
        any.downcast_ref::<Arc<Router>>().map(|router| App {
            router: Arc::clone(router),
        })
    }

    /// A snapshot of the app's counters: calls, errors by code, calls in
    /// flight, bytes in and out, events emitted and dropped. See [`Metrics`].
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::{App, command};
    ///
    /// #[command]
    /// fn ping() -> &'static str { "pong" }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = App::builder().build().unwrap();
    /// app.handle_message(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).await;
    /// app.handle_message(r#"{"jsonrpc":"2.0","id":2,"method":"pong"}"#).await;
    /// let metrics = app.metrics();
    /// assert_eq!(metrics.calls, 1);
    /// assert_eq!(metrics.errors.get(&ipc_runtime::codes::METHOD_NOT_FOUND), Some(&1));
    /// # }
    /// ```
    pub fn metrics(&self) -> Metrics {
        self.router.counters.snapshot()
    }

    /// Publishes the app's counters ([`metrics`](Self::metrics)) to the
    /// `metrics` crate's recorder (feature `metrics`): call it from a timer,
    /// or before each scrape. Counters are set to their absolute values
    /// (`ipc_calls_total`, `ipc_errors_total{code}`, `ipc_bytes_in_total`,
    /// `ipc_bytes_out_total`, `ipc_events_total`, `ipc_lagged_events_total`),
    /// and `ipc_calls_in_flight` is a gauge.
    ///
    /// ```rust,standalone_crate
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = ipc_runtime::App::builder().build().unwrap();
    /// // With a recorder installed (metrics-exporter-prometheus, ...):
    /// app.export_metrics();
    /// # }
    /// ```
    #[cfg(feature = "metrics")]
    pub fn export_metrics(&self) {
        self.metrics().export();
    }

    /// Whether the live inspector is on (see
    /// [`AppBuilder::inspector`](crate::AppBuilder::inspector)).
    pub fn is_inspected(&self) -> bool {
        self.router.inspector.is_some()
    }

    /// The inspector's recent records (calls and events), oldest first, as
    /// the inspector page receives them (`docs/protocol.md`, "The
    /// inspector"); empty when it is off.
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::{App, command};
    /// use ipc_runtime::inspect::Inspector;
    ///
    /// #[command]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = App::builder().inspector(Inspector::new()).build().unwrap();
    /// app.invoke("add", serde_json::json!([2, 3])).await.unwrap();
    /// app.emit("added", &5).unwrap();
    /// let records = app.inspector_records();
    /// assert_eq!(records[0]["command"], "add");
    /// assert_eq!(records[0]["result"], "5");
    /// assert_eq!(records[1]["event"], "added");
    /// # }
    /// ```
    pub fn inspector_records(&self) -> Vec<serde_json::Value> {
        self.router.inspector.as_ref().map_or_else(Vec::new, |hub| {
            hub.recent()
                .iter()
                .filter_map(|record| serde_json::from_str(record.get()).ok())
                .collect()
        })
    }

    /// Every registered command, sorted by name.
    ///
    /// ```rust,standalone_crate
    /// # use ipc_runtime::{App, command};
    /// #[command(rename = "math.double")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let app = App::builder().build().unwrap();
    /// assert!(app.commands().iter().any(|c| c.name() == "math.double"));
    /// ```
    pub fn commands(&self) -> Vec<CommandInfo> {
        self.router.registry.infos()
    }

    /// Whether a command with this wire name is registered.
    pub fn has_command(&self, name: &str) -> bool {
        self.router.registry.get(name).is_some()
    }

    /// The managed value of type `T`, if one was given to the builder.
    ///
    /// ```rust,standalone_crate
    /// # use ipc_runtime::App;
    /// let app = App::builder().manage(41_u32).build().unwrap();
    /// assert_eq!(*app.state::<u32>().unwrap() + 1, 42);
    /// assert!(app.state::<String>().is_none());
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        self.router.state.get::<T>().map(State::from_arc)
    }

    /// The `#[listen]` functions the app runs, for the bindings.
    pub(crate) fn registered_listeners(&self) -> Vec<&'static ListenerRegistration> {
        self.router.events.registered()
    }
}

/// Calling commands in-process.
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
        self.router.invoke(&self.router.backend, command, args)
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
        let caller = self.router.acl.named(capability).map(|permissions| {
            Caller::with_permissions(ipc_core::ClientId::BACKEND, None, None, permissions)
        });
        let call = caller
            .as_ref()
            .map(|caller| self.router.invoke(caller, command, args))
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
        self.router.invoke(caller, command, args)
    }

    /// Handles one JSON-RPC 2.0 message (a request, a notification or a batch)
    /// as the backend, and returns the response text (`None` when there is
    /// nothing to answer, as for notifications).
    ///
    /// Malformed input is answered with a JSON-RPC error, never a panic.
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
        self.router.handle_message(text).await
    }
}

/// Events.
impl App {
    /// Emits an event from the backend to every Rust listener of `event` (and,
    /// with a transport running, every frontend subscribed to it).
    ///
    /// The payload is serialized once. Listeners run before `emit` returns
    /// (async `#[listen]` functions are spawned); a panicking listener is
    /// logged and does not stop the others.
    ///
    /// ```rust,standalone_crate
    /// use std::sync::{Arc, Mutex};
    /// use ipc_runtime::App;
    ///
    /// let app = App::builder().build().unwrap();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&seen);
    /// app.listen("progress", move |event| sink.lock().unwrap().push(event.payload::<u32>().unwrap()));
    /// app.emit("progress", &1).unwrap();
    /// app.emit("progress", &2).unwrap();
    /// assert_eq!(*seen.lock().unwrap(), [1, 2]);
    /// assert!(app.emit("bad name", &()).is_err());
    /// ```
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, payload: &T) -> Result<(), EmitError> {
        self.emit_to(EventTarget::All, event, payload)
    }

    /// Emits an event to a [`EventTarget`]: everyone, Rust listeners only, or
    /// one frontend.
    pub fn emit_to<T: Serialize + ?Sized>(
        &self,
        target: EventTarget,
        event: &str,
        payload: &T,
    ) -> Result<(), EmitError> {
        self.router.emit(target, event, payload)
    }

    /// This instance's id: random for each run of the app, carried by the
    /// events it sends across its [`bridge`](crate::AppBuilder::bridge) (and
    /// the epoch resuming frontends echo back).
    ///
    /// ```rust,standalone_crate
    /// # use ipc_runtime::App;
    /// let (a, b) = (App::builder().build().unwrap(), App::builder().build().unwrap());
    /// assert_ne!(a.instance_id(), b.instance_id());
    /// ```
    pub fn instance_id(&self) -> &str {
        self.router.events.epoch()
    }

    /// The counters of the app's [`bridge`](crate::AppBuilder::bridge)
    /// (published, received, lost...), or `None` without one.
    ///
    /// ```rust,standalone_crate
    /// # use ipc_runtime::App;
    /// assert!(App::builder().build().unwrap().bridge_stats().is_none());
    /// ```
    pub fn bridge_stats(&self) -> Option<crate::BridgeStats> {
        self.router.bridge_stats()
    }

    /// Emits a declared event to everyone: [`emit`](App::emit) with the name
    /// the payload type was declared with (see [`TypedEvent`]).
    pub fn emit_event<E: TypedEvent + Serialize>(&self, payload: &E) -> Result<(), EmitError> {
        self.emit(E::NAME, payload)
    }

    /// [`emit_to`](App::emit_to) for a declared event.
    pub fn emit_event_to<E: TypedEvent + Serialize>(
        &self,
        target: EventTarget,
        payload: &E,
    ) -> Result<(), EmitError> {
        self.emit_to(target, E::NAME, payload)
    }

    /// Calls `handler` for every `event` emitted from now on, until
    /// [`unlisten`](Self::unlisten). Takes effect before it returns.
    ///
    /// # Panics
    ///
    /// If `event` is not a valid event name (see [`EventName`]); use
    /// [`try_listen`](Self::try_listen) for names that come from input.
    pub fn listen<F>(&self, event: &str, handler: F) -> ListenerId
    where
        F: Fn(&Event) + Send + Sync + 'static,
    {
        match self.try_listen(event, handler) {
            Ok(id) => id,
            Err(e) => panic!("App::listen({event:?}): {e}"),
        }
    }

    /// [`listen`](Self::listen) for a name that may be invalid.
    pub fn try_listen<F>(
        &self,
        event: &str,
        handler: F,
    ) -> Result<ListenerId, ipc_core::InvalidEventName>
    where
        F: Fn(&Event) + Send + Sync + 'static,
    {
        let name = EventName::new(event)?;
        Ok(self.router.events.listen(name, Box::new(handler), false))
    }

    /// Like [`listen`](Self::listen), but the handler runs at most once, even
    /// when events are emitted from several threads at the same time.
    ///
    /// ```rust,standalone_crate
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// # use ipc_runtime::App;
    /// let app = App::builder().build().unwrap();
    /// let calls = Arc::new(AtomicU32::new(0));
    /// let c = Arc::clone(&calls);
    /// app.once("ready", move |_| { c.fetch_add(1, Ordering::SeqCst); });
    /// app.emit("ready", &()).unwrap();
    /// app.emit("ready", &()).unwrap();
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// ```
    ///
    /// # Panics
    ///
    /// If `event` is not a valid event name.
    pub fn once<F>(&self, event: &str, handler: F) -> ListenerId
    where
        F: Fn(&Event) + Send + Sync + 'static,
    {
        match EventName::new(event) {
            Ok(name) => self.router.events.listen(name, Box::new(handler), true),
            Err(e) => panic!("App::once({event:?}): {e}"),
        }
    }

    /// Calls `handler` with the payload of every `E` event emitted from now on
    /// (until [`unlisten`](App::unlisten)). A payload that does not
    /// deserialize as `E` (sent by a frontend) is logged and skipped.
    pub fn listen_event<E, F>(&self, handler: F) -> ListenerId
    where
        E: TypedEvent + DeserializeOwned,
        F: Fn(E) + Send + Sync + 'static,
    {
        self.listen(E::NAME, move |event| match event.payload::<E>() {
            Ok(payload) => handler(payload),
            Err(error) => tracing::warn!(
                event = E::NAME,
                error = %error,
                "event payload does not match its declared type; listener skipped"
            ),
        })
    }

    /// Removes a listener. Returns `false` if it was already gone (removing
    /// twice is harmless).
    pub fn unlisten(&self, id: ListenerId) -> bool {
        self.router.events.unlisten(id)
    }

    /// How many Rust listeners `event` has (including `#[listen]` functions).
    pub fn listener_count(&self, event: &str) -> usize {
        self.router.events.count(event)
    }
}

/// Connections and transports.
impl App {
    /// Opens a connection for a transport, with the permissions its transport
    /// vouches for ([`ConnectOptions::capability`]) or that its origin, token
    /// and label are granted (see [`capability`](crate::capability)). Emits
    /// `ipc:connected`. See [`session`](crate::session).
    pub fn connect(&self, options: ConnectOptions) -> (Connection, Outbox) {
        Connection::open(&self.router, options)
    }

    /// Starts configuring a WebSocket server for this app.
    #[cfg(feature = "ws")]
    pub fn server(&self) -> crate::transport::ws::ServerBuilder {
        crate::transport::ws::ServerBuilder::new(Arc::clone(&self.router))
    }

    /// Serves this app over WebSocket on `addr` with the default settings.
    /// `addr` must be a loopback address (`127.0.0.1:0` picks a free port); see
    /// [`ServerBuilder::allow_non_loopback`](crate::transport::ws::ServerBuilder::allow_non_loopback).
    #[cfg(feature = "ws")]
    pub async fn serve(
        &self,
        addr: impl tokio::net::ToSocketAddrs,
    ) -> std::io::Result<crate::transport::ws::ServerHandle> {
        self.server().serve(addr).await
    }

    /// Starts configuring a stdio session for this app (see
    /// [`transport::stdio`](crate::transport::stdio)).
    #[cfg(feature = "stdio")]
    pub fn stdio(&self) -> crate::transport::stdio::StdioServer {
        crate::transport::stdio::StdioServer::new(Arc::clone(&self.router))
    }

    /// Starts configuring native windows for this app (see
    /// [`transport::desktop`](crate::transport::desktop)); the same app may
    /// serve WebSocket and stdio clients at the same time.
    ///
    /// ```rust
    /// # let app = ipc_runtime::App::builder().build().unwrap();
    /// let desktop = app.desktop().window(ipc_runtime::transport::desktop::Window::new("main"));
    /// # drop(desktop);
    /// ```
    #[cfg(feature = "desktop")]
    pub fn desktop(&self) -> crate::transport::desktop::Desktop {
        crate::transport::desktop::Desktop::new(Arc::clone(&self.router))
    }

    /// Serves this app on stdin and stdout with the default settings, until
    /// stdin ends. Never print to stdout while it runs.
    ///
    /// ```rust,standalone_crate,no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let app = ipc_runtime::App::builder().build()?;
    /// app.serve_stdio().await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "stdio")]
    pub async fn serve_stdio(&self) -> Result<(), crate::transport::stdio::StdioError> {
        self.stdio().serve().await
    }
}

/// Describing the app: TypeScript bindings and OpenRPC.
impl App {
    /// Writes the TypeScript bindings of every command and declared event to
    /// `path` (one `.ts` file), importing the client from `"/ipc.js"` (where
    /// the server serves it). Returns what was written, including the list
    /// of types that fell back to `unknown` (also logged as warnings).
    ///
    /// For other options (the client's path), use [`App::typescript`].
    pub fn export_typescript(&self, path: impl AsRef<Path>) -> Result<Bindings, ExportError> {
        self.typescript().export(path)
    }

    /// Options for the TypeScript bindings: see [`TypeScriptExport`].
    pub fn typescript(&self) -> TypeScriptExport<'_> {
        TypeScriptExport::new(self)
    }

    /// The OpenRPC document describing every registered command for which
    /// `allowed(name)` is true (what `rpc.discover` answers, filtered by the
    /// caller's capabilities).
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::{App, command};
    ///
    /// /// Says hello.
    /// #[command]
    /// fn greet(name: String) -> String { format!("Hello, {name}!") }
    ///
    /// #[command]
    /// fn secret() -> u32 { 42 }
    ///
    /// let app = App::builder().build().unwrap();
    /// let doc = app.openrpc_document(|name| name != "secret");
    /// assert_eq!(doc["openrpc"], "1.3.2");
    /// let methods = doc["methods"].as_array().unwrap();
    /// assert_eq!(methods.len(), 1);
    /// assert_eq!(methods[0]["name"], "greet");
    /// assert_eq!(methods[0]["description"], "Says hello.");
    /// assert_eq!(methods[0]["params"][0]["name"], "name");
    /// assert_eq!(methods[0]["params"][0]["schema"]["type"], "string");
    /// ```
    pub fn openrpc_document(&self, allowed: impl Fn(&str) -> bool) -> Value {
        discover::document(&self.router.registry, allowed)
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("commands", &self.router.registry.len())
            .field("state", &self.router.state.len())
            .finish_non_exhaustive()
    }
}

impl InvokeContext<'_> {
    /// The application the call runs in.
    pub fn app(&self) -> App {
        match App::of(self) {
            Some(app) => app,
            // Contexts are built by the router only, from the `Arc<Router>`
            // an `App` wraps; a context made otherwise is a bug here.
            None => unreachable!("an InvokeContext always carries its app's router"),
        }
    }
}

impl CommandArg for App {
    fn from_invoke(cx: &InvokeContext<'_>) -> Result<Self, InvokeError> {
        App::of(cx).ok_or_else(|| InvokeError::internal("this call has no app"))
    }
}
