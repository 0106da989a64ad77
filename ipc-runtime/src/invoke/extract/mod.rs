//! Injected arguments: values a command receives from the runtime instead of
//! from the caller's JSON.
//!
//! Every argument of a `#[command]` is either read from the params (any type that
//! implements `serde::Deserialize`) or *injected*: built from the
//! [`InvokeContext`] by its [`CommandArg`] implementation. The macro does not
//! look at type names; it asks the type system which of the two applies, so type
//! aliases and re-exports work. If a type is both, injection wins.
//!
//! Provided: [`State<T>`](crate::State), [`Caller`](crate::Caller) and
//! [`App`](crate::App) (whose impl is in app.rs: the app sits above this
//! layer). Applications add their own by implementing [`CommandArg`].

mod state;

pub use state::State;

use crate::caller::Caller;
use crate::error::InvokeError;
use crate::invoke::InvokeContext;

/// A type a `#[command]` or `#[listen]` function can take as an argument without
/// the caller sending it, built from the [`InvokeContext`].
///
/// Implement it for your own types to inject them, as with axum's extractors:
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, CommandArg, InvokeContext, InvokeError, command};
///
/// /// The caller's origin, required.
/// struct Origin(String);
///
/// impl CommandArg for Origin {
///     fn from_invoke(cx: &InvokeContext<'_>) -> Result<Self, InvokeError> {
///         match cx.caller().origin() {
///             Some(origin) => Ok(Origin(origin.to_owned())),
///             None => Err(InvokeError::command("this command is for browser pages only")),
///         }
///     }
/// }
///
/// #[command]
/// fn whoami(origin: Origin) -> String {
///     origin.0
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// let err = app.invoke("whoami", serde_json::json!({})).await.unwrap_err();
/// assert_eq!(err.message(), "this command is for browser pages only");
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected into a #[command] or #[listen] function",
    label = "not an injectable type",
    note = "injectable types implement `ipc_runtime::CommandArg` (State<T>, Caller, App, ...)",
    note = "a #[listen] function gets the event's payload as its first argument only; the ones after it must be injectable"
)]
pub trait CommandArg: Sized {
    /// Builds the value, or fails the call with an error sent to the caller.
    fn from_invoke(cx: &InvokeContext<'_>) -> Result<Self, InvokeError>;
}

impl CommandArg for Caller {
    fn from_invoke(cx: &InvokeContext<'_>) -> Result<Self, InvokeError> {
        Ok(cx.caller().clone())
    }
}
