//! Events declared with their payload type: [`#[event]`](crate::event) and
//! [`TypedEvent`], so emitting and listening are typed in Rust, and the
//! TypeScript bindings get `events.<name>.listen(cb)` helpers.

use crate::invoke::registry::EventRegistration;

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
