//! Events declared with their payload type: [`#[event]`](crate::event) and
//! [`TypedEvent`], so emitting and listening are typed in Rust, and the
//! TypeScript bindings get `events.<name>.listen(cb)` helpers.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::registry::EventRegistration;
use crate::{App, EmitError, EventTarget, ListenerId};

/// A payload type declared for one event name, by [`#[event("name")]`](crate::event).
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, TypedEvent, event};
/// use serde::{Deserialize, Serialize};
///
/// /// The list changed; the payload is the whole list.
/// #[event("todos:changed")]
/// #[derive(Serialize, Deserialize)]
/// struct TodosChanged(Vec<String>);
///
/// let app = App::builder().build().unwrap();
/// assert_eq!(TodosChanged::NAME, "todos:changed");
/// app.listen_event(|TodosChanged(list)| assert_eq!(list, ["milk"]));
/// app.emit_event(&TodosChanged(vec!["milk".into()])).unwrap();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a declared event payload",
    note = "declare it with `#[ipc_runtime::event(\"event-name\")]` on the type"
)]
pub trait TypedEvent {
    /// The event's name.
    const NAME: &'static str;

    /// The registration record (name, payload type). Not public API.
    #[doc(hidden)]
    const REGISTRATION: &'static EventRegistration;
}

impl App {
    /// Emits a declared event to everyone: [`emit`](App::emit) with the name
    /// the payload type was declared with.
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
}
