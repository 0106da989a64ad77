//! The command registry: every `#[command]` found by `inventory` or registered
//! by hand, keyed by wire name, built once when the [`App`](crate::App) is built.

use std::collections::HashMap;
use std::fmt;

use rustc_hash::FxBuildHasher;

use super::describe::{CommandTypes, TypeCollector, TypeDesc};
use super::{CommandShim, ListenerShim};
use crate::error::BuildError;
use crate::site::Site;

/// How a command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub enum CommandKind {
    /// A plain `fn`, run inline on the dispatching task.
    Sync,
    /// An `async fn`, awaited concurrently with other calls.
    Async,
    /// A `#[command(blocking)]` `fn`, run on tokio's blocking thread pool.
    Blocking,
}

/// One argument as declared in the function signature.
#[derive(Debug)]
#[doc(hidden)]
pub struct ArgSpec {
    /// The name on the wire (after `rename_all`).
    pub name: &'static str,
    /// The Rust type as written.
    pub ty: &'static str,
}

/// What `#[command]` generates and submits to `inventory`. Not public API.
#[doc(hidden)]
pub struct CommandRegistration {
    /// The wire name.
    pub name: &'static str,
    /// The Rust function's name.
    pub function: &'static str,
    /// Every argument, injected or not, in declaration order.
    pub args: &'static [ArgSpec],
    /// Bit `i` is set when argument `i` is read from the params (not injected).
    pub reads_params: fn() -> u64,
    /// Reads the arguments, calls the function, encodes the result.
    pub shim: CommandShim,
    /// Sync, async or blocking.
    pub kind: CommandKind,
    /// Where the function is.
    pub site: Site,
    /// The function's doc comment (for the bindings and `rpc.discover`).
    pub docs: &'static str,
    /// Describes the arguments, result and error for the bindings.
    pub types: fn(&mut TypeCollector) -> CommandTypes,
}

impl fmt::Debug for CommandRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandRegistration")
            .field("name", &self.name)
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

/// What `#[listen]` generates and submits to `inventory`. Not public API.
#[doc(hidden)]
pub struct ListenerRegistration {
    /// The event name.
    pub event: &'static str,
    /// The Rust function's name.
    pub function: &'static str,
    /// Deserializes the payload, calls the function.
    pub shim: ListenerShim,
    /// Sync, async or blocking.
    pub kind: CommandKind,
    /// Where the function is.
    pub site: Site,
    /// Describes the payload type for the bindings.
    pub payload: fn(&mut TypeCollector) -> TypeDesc,
}

impl fmt::Debug for ListenerRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerRegistration")
            .field("event", &self.event)
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

/// An entry in the `inventory` collection. Not public API.
#[derive(Debug)]
#[doc(hidden)]
pub enum Registered {
    /// A `#[command]`.
    Command(&'static CommandRegistration),
    /// A `#[listen]` handler.
    Listener(&'static ListenerRegistration),
}

inventory::collect!(Registered);

/// What `#[event]` generates and submits to `inventory`: an event declared for
/// the frontend with its payload type. Not public API.
#[doc(hidden)]
pub struct EventRegistration {
    /// The event name.
    pub event: &'static str,
    /// The payload type's Rust name.
    pub payload_type: &'static str,
    /// The payload type's doc comment.
    pub docs: &'static str,
    /// Describes the payload type for the bindings.
    pub payload: fn(&mut TypeCollector) -> TypeDesc,
    /// Where the type is.
    pub site: Site,
    /// How many of its events to keep for resuming frontends (`replay = N`;
    /// `last` is 1; 0: none).
    pub replay: u32,
    /// Whether it crosses between instances under `BridgeFilter::declared()`
    /// (`bridge`).
    pub bridge: bool,
}

impl fmt::Debug for EventRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRegistration")
            .field("event", &self.event)
            .field("payload_type", &self.payload_type)
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

/// An `#[event]` declaration in the `inventory` collection. Not public API.
#[derive(Debug)]
#[doc(hidden)]
pub struct DeclaredEvent(pub &'static EventRegistration);

inventory::collect!(DeclaredEvent);

/// Every `#[event]` declaration `inventory` collected in this binary.
pub(crate) fn declared_events() -> impl Iterator<Item = &'static EventRegistration> {
    inventory::iter::<DeclaredEvent>.into_iter().map(|d| d.0)
}

/// A command that can be registered by hand with
/// [`AppBuilder::command`](crate::AppBuilder::command).
///
/// `#[command] fn greet(..)` implements it for a hidden type it defines next to
/// the function, with the function's name (types and functions live in
/// different namespaces), so `App::builder().command::<greet>()` names the
/// command the way `use` names the function. Implemented by the macro only:
/// its one item is the macro's registration record, which is not public API.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, CommandDef, command};
///
/// #[command]
/// fn greet(name: String) -> String { format!("Hello, {name}!") }
///
/// fn register<C: CommandDef>(builder: ipc_runtime::AppBuilder) -> ipc_runtime::AppBuilder {
///     builder.command::<C>()
/// }
///
/// let app = register::<greet>(App::builder().discover(false)).build().unwrap();
/// assert!(app.has_command("greet"));
/// ```
pub trait CommandDef {
    /// The registration record the macro wrote. Not public API.
    #[doc(hidden)]
    const REGISTRATION: &'static CommandRegistration;
}

/// A `#[listen]` function that can be registered by hand with
/// [`AppBuilder::listener`](crate::AppBuilder::listener): the listener
/// counterpart of [`CommandDef`], implemented by `#[listen]` for a hidden type
/// named like the function.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, listen};
///
/// #[listen("app:ready")]
/// fn on_ready(payload: ()) {}
///
/// let app = App::builder().discover(false).listener::<on_ready>().build().unwrap();
/// assert_eq!(app.listener_count("app:ready"), 1);
/// ```
pub trait ListenerDef {
    /// The registration record the macro wrote. Not public API.
    #[doc(hidden)]
    const REGISTRATION: &'static ListenerRegistration;
}

/// Every registration `inventory` collected in this binary.
pub(crate) fn discovered() -> impl Iterator<Item = &'static Registered> {
    inventory::iter::<Registered>.into_iter()
}

/// A registered command as the dispatcher sees it.
#[derive(Clone, Copy)]
pub(crate) struct Command {
    pub(crate) registration: &'static CommandRegistration,
    /// Cached `reads_params()`.
    pub(crate) params_mask: u64,
}

/// Name → command, built once.
#[derive(Default)]
pub(crate) struct Registry {
    /// Looked up on every call with the caller's string. The table is fixed
    /// when the app is built, so a flooding attack on the hash has nothing to
    /// grow: FxHash's speed costs no safety here.
    commands: HashMap<&'static str, Command, FxBuildHasher>,
}

impl Registry {
    /// Builds the table, rejecting duplicate and reserved names. The same
    /// registration seen twice (found by `inventory` and registered by hand) counts once.
    pub(crate) fn build(
        registrations: impl IntoIterator<Item = &'static CommandRegistration>,
    ) -> Result<Self, BuildError> {
        let mut commands: HashMap<&'static str, Command, FxBuildHasher> = HashMap::default();
        for registration in registrations {
            if ipc_core::method::is_reserved(registration.name) {
                return Err(BuildError::ReservedName {
                    name: registration.name.to_owned(),
                    site: registration.site,
                });
            }
            if let Some(existing) = commands.get(registration.name) {
                if same_definition(existing.registration, registration) {
                    continue;
                }
                return Err(BuildError::DuplicateCommand {
                    name: registration.name.to_owned(),
                    first: existing.registration.site,
                    second: registration.site,
                });
            }
            commands.insert(
                registration.name,
                Command {
                    registration,
                    params_mask: (registration.reads_params)(),
                },
            );
        }
        Ok(Registry { commands })
    }

    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<&Command> {
        self.commands.get(name)
    }

    pub(crate) fn len(&self) -> usize {
        self.commands.len()
    }

    /// The registered name closest to `name` among those `allowed`, if it is
    /// close enough to be a typo.
    pub(crate) fn suggest(
        &self,
        name: &str,
        allowed: impl Fn(&str) -> bool,
    ) -> Option<&'static str> {
        self.commands
            .keys()
            .filter(|candidate| allowed(candidate))
            .map(|candidate| (strsim::damerau_levenshtein(name, candidate), *candidate))
            .filter(|(distance, candidate)| {
                *distance <= (candidate.len().max(name.len()) / 3).max(1)
            })
            .min()
            .map(|(_, candidate)| candidate)
    }

    /// Every command, sorted by name.
    pub(crate) fn infos(&self) -> Vec<CommandInfo> {
        let mut infos: Vec<CommandInfo> = self
            .commands
            .values()
            .map(|c| CommandInfo { command: *c })
            .collect();
        infos.sort_by_key(|info| info.name());
        infos
    }
}

fn same_definition(a: &'static CommandRegistration, b: &'static CommandRegistration) -> bool {
    std::ptr::eq(a, b) || (a.site == b.site && a.function == b.function)
}

/// A registered command, as listed by [`App::commands`](crate::App::commands).
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, command};
///
/// /// Adds two numbers.
/// #[command]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// let app = App::builder().build().unwrap();
/// let add = app.commands().into_iter().find(|c| c.name() == "add").unwrap();
/// assert_eq!(add.args().collect::<Vec<_>>(), ["a", "b"]);
/// assert!(format!("{add:?}").contains("src/"));
/// ```
#[derive(Clone, Copy)]
pub struct CommandInfo {
    command: Command,
}

impl CommandInfo {
    /// The wire name (what `invoke` takes).
    pub fn name(&self) -> &'static str {
        self.command.registration.name
    }

    /// The Rust function's name.
    pub fn function(&self) -> &'static str {
        self.command.registration.function
    }

    /// The function's doc comment, without the `///` markers (empty if none).
    pub fn docs(&self) -> &'static str {
        self.command.registration.docs
    }

    pub(crate) fn registration(&self) -> &'static CommandRegistration {
        self.command.registration
    }

    /// Whether argument `i` (in declaration order) is read from the params.
    pub(crate) fn reads_param(&self, i: usize) -> bool {
        self.command.params_mask & (1 << i) != 0
    }

    /// Wire names of the arguments read from the params, in declaration order
    /// (injected arguments such as `State<T>` are not listed).
    pub fn args(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.params().map(|(name, _)| name)
    }

    /// Wire names and declared Rust types of the arguments read from the params.
    pub fn params(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        let mask = self.command.params_mask;
        self.command
            .registration
            .args
            .iter()
            .enumerate()
            .filter(move |(i, _)| mask & (1 << i) != 0)
            .map(|(_, spec)| (spec.name, spec.ty))
    }

    /// Whether the function is `async`.
    pub fn is_async(&self) -> bool {
        self.command.registration.kind == CommandKind::Async
    }

    /// Whether it runs on the blocking thread pool (`#[command(blocking)]`).
    pub fn is_blocking(&self) -> bool {
        self.command.registration.kind == CommandKind::Blocking
    }

    /// The module that defines it.
    pub fn module_path(&self) -> &'static str {
        self.command.registration.site.module_path
    }

    /// `file:line (module)` of the definition.
    pub fn site(&self) -> String {
        self.command.registration.site.to_string()
    }
}

impl fmt::Debug for CommandInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandInfo")
            .field("name", &self.name())
            .field("args", &self.args().collect::<Vec<_>>())
            .field("site", &self.command.registration.site)
            .finish()
    }
}
