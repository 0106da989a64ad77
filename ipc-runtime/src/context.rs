//! Who is calling, and what injected arguments are built from.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use ipc_core::ClientId;

use crate::App;
use crate::capability::Permissions;
use crate::connection::Session;

/// The identity of whoever sent a request or emitted an event.
///
/// An injectable argument: declare `caller: Caller` in a command or listener to
/// receive it. For in-process calls and events emitted from Rust, the caller is
/// the backend ([`ClientId::BACKEND`]).
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, Caller, command};
///
/// #[command]
/// fn who_am_i(caller: Caller) -> String {
///     caller.client_id().to_string()
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// let me = app.invoke("who_am_i", serde_json::json!({})).await.unwrap();
/// assert_eq!(me, "backend");
/// # }
/// ```
#[derive(Clone)]
pub struct Caller(Arc<CallerInfo>);

struct CallerInfo {
    client: ClientId,
    origin: Option<String>,
    label: Option<String>,
    permissions: Permissions,
}

impl Caller {
    /// A caller with this id and, for browser connections, the page's origin.
    pub fn new(client: ClientId, origin: Option<String>) -> Self {
        Self::with_label(client, origin, None)
    }

    /// A caller that also has a label (Tauri's window label; `?label=` on the
    /// WebSocket URL), which `EventTarget::Label` addresses.
    pub fn with_label(client: ClientId, origin: Option<String>, label: Option<String>) -> Self {
        Self::with_permissions(client, origin, label, Permissions::all())
    }

    /// A caller restricted to `permissions`. Callers built with
    /// [`new`](Self::new) are unrestricted, like the backend.
    pub fn with_permissions(
        client: ClientId,
        origin: Option<String>,
        label: Option<String>,
        permissions: Permissions,
    ) -> Self {
        Caller(Arc::new(CallerInfo {
            client,
            origin,
            label,
            permissions,
        }))
    }

    /// What this caller may invoke, listen to and emit.
    pub fn permissions(&self) -> &Permissions {
        &self.0.permissions
    }

    /// The Rust backend itself.
    pub fn backend() -> Self {
        Self::new(ClientId::BACKEND, None)
    }

    /// The connection's id ([`ClientId::BACKEND`] for in-process calls).
    pub fn client_id(&self) -> ClientId {
        self.0.client
    }

    /// The `Origin` the connection presented, if any (browsers always send one).
    pub fn origin(&self) -> Option<&str> {
        self.0.origin.as_deref()
    }

    /// The connection's label, if it gave one.
    pub fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }

    /// Whether this is the backend rather than a frontend.
    pub fn is_backend(&self) -> bool {
        self.0.client.is_backend()
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("client", &self.0.client)
            .field("origin", &self.0.origin)
            .field("label", &self.0.label)
            .field("permissions", &self.0.permissions)
            .finish()
    }
}

/// What injected arguments are built from: the app, the caller and the name of
/// the command (or event) being handled. See [`CommandArg`](crate::CommandArg).
#[derive(Clone, Copy)]
pub struct InvokeContext<'a> {
    pub(crate) app: &'a App,
    pub(crate) caller: &'a Caller,
    pub(crate) name: &'a str,
    /// The connection the call came on (absent for in-process calls).
    pub(crate) session: Option<&'a Arc<Session>>,
    /// Binary attachments of the request (see `docs/protocol.md`).
    pub(crate) attachments: &'a [Bytes],
}

impl<'a> InvokeContext<'a> {
    pub(crate) fn new(app: &'a App, caller: &'a Caller, name: &'a str) -> Self {
        InvokeContext {
            app,
            caller,
            name,
            session: None,
            attachments: &[],
        }
    }

    /// The application.
    pub fn app(&self) -> &'a App {
        self.app
    }

    /// Who sent the request or emitted the event.
    pub fn caller(&self) -> &'a Caller {
        self.caller
    }

    /// The command's wire name, or for listeners the event's name.
    pub fn name(&self) -> &'a str {
        self.name
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
