//! [`AppBuilder`]: managed state and command registration, checked once at build.

use std::fmt;

use crate::App;
use crate::capability::{Acl, Capability, ConnectionInfo};
use crate::error::BuildError;
use crate::invoke::registry::{
    self, CommandDef, CommandRegistration, ListenerDef, ListenerRegistration, Registered, Registry,
};
use crate::route::Router;
use crate::route::events::EventBus;
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
}

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
        }
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
        let events = EventBus::new(&unique)?;
        tracing::debug!(
            commands = registry.len(),
            listeners = unique.len(),
            discovered = self.discover,
            "ipc app built"
        );
        let runtime = self
            .runtime
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        Ok(App::from_router(Router::new(
            registry, events, self.acl, self.state, runtime,
        )))
    }
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
