//! [`AppBuilder`]: managed state and command registration, checked once at build.

use std::collections::HashMap;
use std::fmt;

use ipc_core::EventName;

use crate::App;
use crate::capability::{Acl, Capability, ConnectionInfo};
use crate::error::BuildError;
use crate::invoke::registry::{
    self, CommandDef, CommandRegistration, ListenerDef, ListenerRegistration, Registered, Registry,
};
use crate::route::Router;
use crate::route::bridge::{Bridge, BridgeFilter};
use crate::route::events::{EventBus, Replay};
use crate::route::history::Keep;
use crate::route::inspect::{Hub, Inspector};
use crate::route::middleware::{
    self, BoxError, CallLayers, EventLayers, EventRequest, IpcRequest, IpcResponse, Next, Reached,
    Wrap,
};
use crate::state::StateMap;

/// Configures an [`App`]. Get one from [`App::builder`].
///
/// ```rust,standalone_crate
/// use std::sync::Mutex;
/// use ipc_runtime::{App, State, command};
///
/// #[derive(Default)]
/// struct Notes(Mutex<Vec<String>>);
///
/// #[command]
/// fn add_note(notes: State<Notes>, text: String) -> usize {
///     let mut notes = notes.0.lock().unwrap();
///     notes.push(text);
///     notes.len()
/// }
///
/// let app = App::builder().manage(Notes::default()).build().unwrap();
/// # let _ = app;
/// ```
pub struct AppBuilder {
    state: StateMap,
    state_error: Option<BuildError>,
    commands: Vec<&'static CommandRegistration>,
    listeners: Vec<&'static ListenerRegistration>,
    discover: bool,
    runtime: Option<tokio::runtime::Handle>,
    acl: Acl,
    /// Replay buffers asked for by name (besides `#[event(replay = N)]`).
    replay: Vec<(String, usize)>,
    replay_bytes: (usize, usize),
    /// Where events cross to other instances, and which.
    bridge: Option<Box<dyn Bridge>>,
    bridge_filter: BridgeFilter,
    /// Middleware: around every call, around one command's calls, around events.
    layers: Vec<Wrap<IpcRequest, IpcResponse>>,
    command_layers: Vec<(String, Wrap<IpcRequest, IpcResponse>)>,
    event_layers: Vec<Wrap<EventRequest, Reached>>,
    /// The live inspector's settings; `None`: off.
    inspector: Option<Inspector>,
}

/// The bytes a replay buffer keeps of one name, and across all names, unless set.
const REPLAY_BYTES: (usize, usize) = (1 << 20, 64 << 20);

impl AppBuilder {
    pub(crate) fn new() -> Self {
        AppBuilder {
            state: StateMap::default(),
            state_error: None,
            commands: Vec::new(),
            listeners: Vec::new(),
            discover: true,
            runtime: None,
            acl: Acl::default(),
            replay: Vec::new(),
            replay_bytes: REPLAY_BYTES,
            bridge: None,
            bridge_filter: BridgeFilter::all(),
            layers: Vec::new(),
            command_layers: Vec::new(),
            event_layers: Vec::new(),
            // On while developing, off in release builds unless asked for.
            inspector: cfg!(debug_assertions).then(Inspector::default),
        }
    }

    /// Joins this app to its other instances through a broker: events
    /// emitted here (from Rust or a frontend) that the
    /// [`bridge_filter`](Self::bridge_filter) lets cross are published once,
    /// and those of the other instances are delivered here, to the Rust
    /// listeners and subscribed frontends their targets reach. Client ids
    /// then start at a random number, so a client id names one client across
    /// the instances. With the `nats` feature:
    /// [`NatsBridge`](crate::transport::nats::NatsBridge). See
    /// `docs/scale-out.md`.
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::{App, Bridge, BridgeFilter, BridgedEvent, Inbox};
    ///
    /// /// Publishes nowhere: this instance alone.
    /// struct Nowhere;
    /// impl Bridge for Nowhere {
    ///     fn start(&self, _inbox: Inbox) {}
    ///     fn publish(&self, _event: &BridgedEvent) {}
    /// }
    ///
    /// let app = App::builder()
    ///     .bridge(Nowhere)
    ///     .bridge_filter(BridgeFilter::matching(["chat:*"]))
    ///     .build()
    ///     .unwrap();
    /// assert!(app.bridge_stats().is_some());
    /// ```
    #[must_use]
    pub fn bridge(mut self, bridge: impl Bridge) -> Self {
        self.bridge = Some(Box::new(bridge));
        self
    }

    /// Which events cross the [`bridge`](Self::bridge): all (the default),
    /// those matching patterns, or those declared with `#[event("name",
    /// bridge)]`. Runtime events (`ipc:…`) never cross.
    #[must_use]
    pub fn bridge_filter(mut self, filter: BridgeFilter) -> Self {
        self.bridge_filter = filter;
        self
    }

    /// Wraps every call in a tower layer (see [`middleware`]). The first layer
    /// added is the outermost: it sees the request first and the reply last.
    /// Layers see only calls the caller's capabilities allow, to commands
    /// that exist.
    ///
    /// ```rust,standalone_crate
    /// use std::time::Duration;
    /// use ipc_runtime::{App, command};
    ///
    /// #[command]
    /// fn ping() -> &'static str { "pong" }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = App::builder()
    ///     .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(5)))
    ///     .layer(tower::limit::ConcurrencyLimitLayer::new(64))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(app.invoke("ping", serde_json::json!(null)).await.unwrap(), "pong");
    /// # }
    /// ```
    #[must_use]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<Next<IpcRequest, IpcResponse>> + Send + 'static,
        L::Service: tower::Service<IpcRequest, Response = IpcResponse> + Send + 'static,
        <L::Service as tower::Service<IpcRequest>>::Error: Into<BoxError>,
        <L::Service as tower::Service<IpcRequest>>::Future: Send + 'static,
    {
        self.layers.push(middleware::wrap(layer));
        self
    }

    /// Wraps the calls of one command in a tower layer, inside the layers of
    /// [`layer`](Self::layer). Naming a command that is not registered fails
    /// the build.
    ///
    /// ```rust,standalone_crate
    /// use std::time::Duration;
    /// use ipc_runtime::{App, command};
    ///
    /// #[command]
    /// async fn export_all() -> usize { 0 }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = App::builder()
    ///     .layer_for("export_all", tower::limit::ConcurrencyLimitLayer::new(1))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(app.invoke("export_all", serde_json::json!({})).await.unwrap(), 0);
    /// assert!(App::builder().layer_for("nope", tower::layer::util::Identity::new()).build().is_err());
    /// # }
    /// ```
    #[must_use]
    pub fn layer_for<L>(mut self, command: impl Into<String>, layer: L) -> Self
    where
        L: tower::Layer<Next<IpcRequest, IpcResponse>> + Send + 'static,
        L::Service: tower::Service<IpcRequest, Response = IpcResponse> + Send + 'static,
        <L::Service as tower::Service<IpcRequest>>::Error: Into<BoxError>,
        <L::Service as tower::Service<IpcRequest>>::Future: Send + 'static,
    {
        self.command_layers
            .push((command.into(), middleware::wrap(layer)));
        self
    }

    /// Wraps every emitted event (from Rust or a frontend) in a tower layer,
    /// before it reaches listeners and subscribers. A layer that returns an
    /// error stops the event (the error is logged). When the stack does not
    /// wait, the event is delivered before `emit` returns, as without layers;
    /// a layer that waits (a rate limit) delivers later, on a task.
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::App;
    /// use ipc_runtime::middleware::{BoxError, EventRequest, Reached};
    ///
    /// /// Stops events whose name starts with `secret:`.
    /// #[derive(Clone)]
    /// struct NoSecrets<S>(S);
    ///
    /// impl<S: tower::Service<EventRequest, Response = Reached, Error = BoxError>> tower::Service<EventRequest> for NoSecrets<S> {
    ///     type Response = Reached;
    ///     type Error = BoxError;
    ///     type Future = futures_util::future::Either<S::Future, std::future::Ready<Result<Reached, BoxError>>>;
    ///     fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), BoxError>> {
    ///         self.0.poll_ready(cx)
    ///     }
    ///     fn call(&mut self, event: EventRequest) -> Self::Future {
    ///         if event.event().starts_with("secret:") {
    ///             return futures_util::future::Either::Right(std::future::ready(Err("secret".into())));
    ///         }
    ///         futures_util::future::Either::Left(self.0.call(event))
    ///     }
    /// }
    ///
    /// let app = App::builder().event_layer(tower::layer::layer_fn(NoSecrets)).build().unwrap();
    /// let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    /// let count = seen.clone();
    /// for name in ["news", "secret:key"] {
    ///     let count = count.clone();
    ///     app.listen(name, move |_| { count.fetch_add(1, std::sync::atomic::Ordering::SeqCst); });
    /// }
    /// app.emit("news", &1).unwrap();
    /// app.emit("secret:key", &2).unwrap();
    /// assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    /// ```
    #[must_use]
    pub fn event_layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<Next<EventRequest, Reached>> + Send + 'static,
        L::Service: tower::Service<EventRequest, Response = Reached> + Send + 'static,
        <L::Service as tower::Service<EventRequest>>::Error: Into<BoxError>,
        <L::Service as tower::Service<EventRequest>>::Future: Send + 'static,
    {
        self.event_layers.push(middleware::wrap(layer));
        self
    }

    /// Turns the live inspector on, with these settings (it is on by default
    /// in debug builds, with [`Inspector::default`]'s): every call and event
    /// is recorded (see [`inspect`](crate::inspect)), the WebSocket server
    /// serves its page at `/ipc/inspect`
    /// ([`ServerHandle::inspector_url`](crate::transport::ws::ServerHandle::inspector_url)),
    /// and connections that [may inspect](crate::capability::Permissions::may_inspect)
    /// can watch.
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::App;
    /// use ipc_runtime::inspect::Inspector;
    ///
    /// let app = App::builder().inspector(Inspector::new().max_shown(1024)).build().unwrap();
    /// assert!(app.is_inspected());
    /// let quiet = App::builder().no_inspector().build().unwrap();
    /// assert!(!quiet.is_inspected());
    /// ```
    #[must_use]
    pub fn inspector(mut self, settings: Inspector) -> Self {
        self.inspector = Some(settings);
        self
    }

    /// Turns the live inspector off (in a debug build, where it is on by
    /// default): calls and events take the path without layers, unless the
    /// app adds its own.
    #[must_use]
    pub fn no_inspector(mut self) -> Self {
        self.inspector = None;
        self
    }

    /// Keeps the last `count` events of `event` (at least one), so that a
    /// frontend that reconnects gets the ones it missed, in order, before any
    /// new one, and one that listens with `last` gets the newest at once. The
    /// same as `#[event("name", replay = N)]` on the payload type. Buffers are
    /// bounded in bytes too: see [`replay_bytes`](Self::replay_bytes).
    ///
    /// ```rust,standalone_crate
    /// # use ipc_runtime::App;
    /// let app = App::builder().replay("progress", 16).build().unwrap();
    /// # let _ = app;
    /// ```
    #[must_use]
    pub fn replay(mut self, event: impl Into<String>, count: usize) -> Self {
        self.replay.push((event.into(), count.max(1)));
        self
    }

    /// The most payload bytes a replay buffer keeps for one event name
    /// (default 1 MiB; its newest event is kept whatever its size), and for
    /// all names together (default 64 MiB). Past them the oldest events go,
    /// and a frontend resuming from before them is told how many it lost.
    #[must_use]
    pub fn replay_bytes(mut self, per_event: usize, total: usize) -> Self {
        self.replay_bytes = (per_event, total);
        self
    }

    /// Defines a capability (see [`capability`](crate::capability)). Once any
    /// capability or grant is configured, connections may only do what their
    /// granted capabilities allow.
    #[must_use]
    pub fn capability(mut self, capability: Capability) -> Self {
        self.acl.add(capability);
        self
    }

    /// Grants `capability` to connections from pages of this origin
    /// (`http://127.0.0.1:8080`, exactly as browsers send it).
    #[must_use]
    pub fn grant_origin(
        mut self,
        origin: impl Into<String>,
        capability: impl Into<String>,
    ) -> Self {
        self.acl.grant_origin(origin.into(), capability.into());
        self
    }

    /// Grants `capability` to connections presenting this token (`?token=` on
    /// the WebSocket URL). Such a token also lets them connect, like the
    /// server's own launch token. Compared in constant time.
    #[must_use]
    pub fn grant_token(mut self, token: impl Into<String>, capability: impl Into<String>) -> Self {
        self.acl.grant_token(token.into(), capability.into());
        self
    }

    /// Grants the capabilities this callback names for what a connection
    /// presented (origin, token, label).
    #[must_use]
    pub fn grant_with<F>(mut self, callback: F) -> Self
    where
        F: Fn(&ConnectionInfo<'_>) -> Vec<String> + Send + Sync + 'static,
    {
        self.acl.grant_with(std::sync::Arc::new(callback));
        self
    }

    /// The capability of connections that nothing else grants anything.
    #[must_use]
    pub fn default_capability(mut self, capability: impl Into<String>) -> Self {
        self.acl.set_default(capability.into());
        self
    }

    /// Refuses everything to connections that no grant covers, even with no
    /// capability defined yet (default-deny).
    #[must_use]
    pub fn deny_by_default(mut self) -> Self {
        self.acl.deny_by_default();
        self
    }

    /// Manages a value: commands and listeners receive it as [`State<T>`](crate::State).
    /// One value per type; managing a type twice fails the build.
    #[must_use]
    pub fn manage<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        if let Err(e) = self.state.insert(value) {
            self.state_error.get_or_insert(e);
        }
        self
    }

    /// Registers a command by hand. `#[command] fn greet` also defines a hidden
    /// type named `greet`, which is what goes between the angle brackets.
    ///
    /// Commands are found automatically (through `inventory`); registering by
    /// hand is for targets where that discovery does not run, and for apps that
    /// turn it off with [`discover(false)`](Self::discover). A command found both
    /// ways counts once.
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::{App, command};
    ///
    /// mod math {
    ///     #[ipc_runtime::command]
    ///     pub fn square(x: i64) -> i64 { x * x }
    /// }
    ///
    /// let app = App::builder().discover(false).command::<math::square>().build().unwrap();
    /// assert_eq!(app.commands().len(), 1);
    /// ```
    #[must_use]
    pub fn command<C: CommandDef>(mut self) -> Self {
        self.commands.push(C::REGISTRATION);
        self
    }

    /// Registers a `#[listen]` function by hand (see [`command`](Self::command)).
    #[must_use]
    pub fn listener<L: ListenerDef>(mut self) -> Self {
        self.listeners.push(L::REGISTRATION);
        self
    }

    /// Whether to collect every `#[command]` and `#[listen]` linked into the
    /// binary (default `true`).
    #[must_use]
    pub fn discover(mut self, discover: bool) -> Self {
        self.discover = discover;
        self
    }

    /// The tokio runtime to spawn async listeners on when an event is emitted
    /// from outside any runtime. By default: the runtime `build` is called in, if any.
    #[must_use]
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Builds the app: collects commands and listeners, and checks for duplicate
    /// or reserved command names, invalid event names and doubly managed state.
    pub fn build(self) -> Result<App, BuildError> {
        if let Some(error) = self.state_error {
            return Err(error);
        }
        let mut commands = Vec::new();
        let mut listeners = Vec::new();
        if self.discover {
            for found in registry::discovered() {
                match found {
                    Registered::Command(c) => commands.push(*c),
                    Registered::Listener(l) => listeners.push(*l),
                }
            }
        }
        commands.extend(self.commands);
        listeners.extend(self.listeners);
        // A listener registered by hand and also discovered runs once.
        let mut unique: Vec<&'static ListenerRegistration> = Vec::with_capacity(listeners.len());
        for listener in listeners {
            if !unique.iter().any(|seen| {
                std::ptr::eq(*seen, listener)
                    || seen.site == listener.site && seen.function == listener.function
            }) {
                unique.push(listener);
            }
        }
        self.acl.check()?;
        let registry = Registry::build(commands)?;
        let replay = replay_config(self.replay, self.replay_bytes, self.discover)?;
        let events = EventBus::new(&unique, replay)?;
        tracing::debug!(
            commands = registry.len(),
            listeners = unique.len(),
            discovered = self.discover,
            "ipc app built"
        );
        let mut per_command: Vec<(&'static str, Vec<Wrap<IpcRequest, IpcResponse>>)> = Vec::new();
        for (name, wrap) in self.command_layers {
            let Some(command) = registry.get(&name) else {
                return Err(BuildError::LayerForUnknownCommand { name });
            };
            let name = command.registration.name;
            match per_command.iter_mut().find(|(n, _)| *n == name) {
                Some((_, wraps)) => wraps.push(wrap),
                None => per_command.push((name, vec![wrap])),
            }
        }
        let runtime = self
            .runtime
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        let mut router = Router::new(registry, events, self.acl, self.state, runtime);
        if let Some(bridge) = self.bridge {
            let declared = self
                .discover
                .then(registry::declared_events)
                .into_iter()
                .flatten()
                .filter(|d| d.bridge)
                .map(|d| d.event);
            router.set_bridge(bridge, self.bridge_filter.with_declared(declared));
        }
        let (mut layers, mut event_layers) = (self.layers, self.event_layers);
        if let Some(settings) = self.inspector {
            // Outermost: a call's time includes the app's own layers.
            let hub = Hub::new(settings);
            layers.insert(0, middleware::wrap(hub.call_layer()));
            event_layers.insert(0, middleware::wrap(hub.event_layer()));
            router.inspector = Some(hub);
        }
        router.layers = CallLayers::build(layers, per_command);
        router.event_layers = EventLayers::build(event_layers);
        Ok(App::from_router(router))
    }
}

/// The replay buffers: those of `#[event(replay = N)]` declarations, then
/// those asked for by name (which win).
fn replay_config(
    asked: Vec<(String, usize)>,
    (per_event, total): (usize, usize),
    discover: bool,
) -> Result<Replay, BuildError> {
    let declared = discover
        .then(registry::declared_events)
        .into_iter()
        .flatten()
        .filter(|d| d.replay > 0)
        .map(|d| (d.event.to_owned(), d.replay as usize));
    let mut names = HashMap::new();
    for (event, count) in declared.chain(asked) {
        let name = EventName::new(&event).map_err(|error| BuildError::InvalidReplayName {
            name: event.clone(),
            error,
        })?;
        names.insert(
            name,
            Keep {
                count,
                bytes: per_event,
            },
        );
    }
    Ok(Replay {
        names,
        total_bytes: total,
    })
}

impl fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppBuilder")
            .field("state", &self.state.len())
            .field("commands", &self.commands.len())
            .field("listeners", &self.listeners.len())
            .field("discover", &self.discover)
            .finish()
    }
}
