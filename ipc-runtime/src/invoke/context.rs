//! [`InvokeContext`]: what injected arguments are built from.

use std::any::Any;
use std::fmt;

use bytes::Bytes;

use super::Peer;
use crate::caller::Caller;
use crate::invoke::extract::State;
use crate::state::StateMap;

/// What injected arguments are built from: the app, the caller and the name of
/// the command (or event) being handled. See [`CommandArg`](crate::CommandArg).
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, CommandArg, InvokeContext, InvokeError, command};
///
/// /// The name of the command being run, injected.
/// struct CommandName(String);
///
/// impl CommandArg for CommandName {
///     fn from_invoke(cx: &InvokeContext<'_>) -> Result<Self, InvokeError> {
///         Ok(CommandName(cx.name().to_owned()))
///     }
/// }
///
/// #[command]
/// fn whoami(name: CommandName) -> String { name.0 }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// assert_eq!(app.invoke("whoami", serde_json::json!({})).await.unwrap(), "whoami");
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct InvokeContext<'a> {
    /// The application's handle. Opaque at this layer (the `App` type sits
    /// above every layer); `InvokeContext::app`, in app.rs, reads it back.
    pub(crate) app: &'a (dyn Any + Send + Sync),
    /// The application's managed state.
    pub(crate) state: &'a StateMap,
    pub(crate) caller: &'a Caller,
    pub(crate) name: &'a str,
    /// The connection the call came on (absent for in-process calls).
    pub(crate) peer: Option<&'a dyn Peer>,
    /// Binary attachments of the request (see `docs/protocol.md`).
    pub(crate) attachments: &'a [Bytes],
}

impl<'a> InvokeContext<'a> {
    pub(crate) fn new(
        app: &'a (dyn Any + Send + Sync),
        state: &'a StateMap,
        caller: &'a Caller,
        name: &'a str,
    ) -> Self {
        InvokeContext {
            app,
            state,
            caller,
            name,
            peer: None,
            attachments: &[],
        }
    }

    /// Who sent the request or emitted the event.
    pub fn caller(&self) -> &'a Caller {
        self.caller
    }

    /// The command's wire name, or for listeners the event's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The managed value of type `T`, if the app manages one (what
    /// [`State<T>`] is built from).
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        self.state.get::<T>().map(State::from_arc)
    }
}

impl fmt::Debug for InvokeContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvokeContext")
            .field("caller", self.caller)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
