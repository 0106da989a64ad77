//! [`App`]: the handle to everything the runtime holds.

use std::fmt;
use std::sync::Arc;

use ipc_core::{EventName, EventTarget};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::capability::Action;
use crate::context::Caller;
use crate::error::EmitError;
use crate::events::{Event, EventBus, ListenerId};
use crate::registry::{CommandInfo, Registry};
use crate::state::StateMap;
use crate::{AppBuilder, InvokeError, State};

/// Events with this prefix come from the runtime (`ipc:connected`, ...); frontends may not emit them.
pub(crate) const RUNTIME_EVENT_PREFIX: &str = "ipc:";

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
    pub(crate) inner: Arc<AppInner>,
}

pub(crate) struct AppInner {
    pub(crate) registry: Registry,
    pub(crate) state: StateMap,
    pub(crate) events: EventBus,
    pub(crate) backend: Caller,
    pub(crate) runtime: Option<tokio::runtime::Handle>,
    /// The next connection's client id (0 is the backend).
    pub(crate) next_client: std::sync::atomic::AtomicU64,
    /// Who may do what.
    pub(crate) acl: crate::capability::Acl,
}

impl App {
    /// Starts configuring an app.
    pub fn builder() -> AppBuilder {
        AppBuilder::new()
    }

    pub(crate) fn from_inner(inner: AppInner) -> Self {
        App {
            inner: Arc::new(inner),
        }
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
        self.inner.registry.infos()
    }

    /// Whether a command with this wire name is registered.
    pub fn has_command(&self, name: &str) -> bool {
        self.inner.registry.get(name).is_some()
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
        self.inner.state.get::<T>().map(State::from_arc)
    }

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
        EventName::validate(event)?;
        let payload: Arc<RawValue> = serde_json::value::to_raw_value(payload)?.into();
        self.deliver_event(event, &payload, &self.inner.backend, &target);
        Ok(())
    }

    /// Delivers an already-validated event.
    pub(crate) fn deliver_event(
        &self,
        event: &str,
        payload: &Arc<RawValue>,
        source: &Caller,
        target: &EventTarget,
    ) {
        self.inner
            .events
            .deliver(self, event, payload, source, target);
    }

    /// An event from a caller (a frontend's `ipc.emit` or notification).
    pub(crate) fn emit_from_client(
        &self,
        event: &str,
        payload: Option<&RawValue>,
        caller: &Caller,
        target: EventTarget,
    ) -> Result<(), InvokeError> {
        EventName::validate(event).map_err(|e| {
            InvokeError::invalid_params(Some("event"), Some("event name"), e.to_string())
        })?;
        if !caller.permissions().allows(Action::Emit, event) {
            return Err(InvokeError::forbidden(Action::Emit, event, caller));
        }
        if !caller.is_backend() && event.starts_with(RUNTIME_EVENT_PREFIX) {
            return Err(InvokeError::invalid_params(
                Some("event"),
                Some("event name"),
                format!(
                    "events starting with `{RUNTIME_EVENT_PREFIX}` are emitted by the runtime only"
                ),
            ));
        }
        let payload: Arc<RawValue> = match payload {
            Some(raw) => raw.to_owned().into(),
            None => RawValue::NULL.to_owned().into(),
        };
        self.deliver_event(event, &payload, caller, &target);
        Ok(())
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
        Ok(self.inner.events.listen(name, Box::new(handler), false))
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
            Ok(name) => self.inner.events.listen(name, Box::new(handler), true),
            Err(e) => panic!("App::once({event:?}): {e}"),
        }
    }

    /// Removes a listener. Returns `false` if it was already gone (removing
    /// twice is harmless).
    pub fn unlisten(&self, id: ListenerId) -> bool {
        self.inner.events.unlisten(id)
    }

    /// How many Rust listeners `event` has (including `#[listen]` functions).
    pub fn listener_count(&self, event: &str) -> usize {
        self.inner.events.count(event)
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("commands", &self.inner.registry.len())
            .field("state", &self.inner.state.len())
            .finish_non_exhaustive()
    }
}
