//! [`Caller`]: who sent a request or emitted an event, and what it may do.

use std::fmt;
use std::sync::Arc;

use ipc_core::ClientId;

use crate::capability::{Action, Permissions};
use crate::error::InvokeError;

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

    /// The error for `action` on `name` refused by this caller's
    /// capabilities; logged for the audit trail.
    pub(crate) fn forbidden(&self, action: Action, name: &str) -> InvokeError {
        tracing::warn!(
            target: "ipc::acl",
            client = %self.client_id(),
            origin = self.origin().unwrap_or(""),
            action = action.as_str(),
            name,
            "request refused by the capability check"
        );
        let what = match action {
            Action::Invoke => format!("invoking `{name}`"),
            Action::Listen => format!("listening to `{name}`"),
            Action::Emit => format!("emitting `{name}`"),
            Action::Inspect => "inspecting the app's traffic".to_owned(),
        };
        InvokeError::new(
            ipc_core::codes::FORBIDDEN,
            format!("{what} is not allowed for this connection"),
        )
        .with_data(serde_json::json!({ "kind": action.as_str(), "name": name }))
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
