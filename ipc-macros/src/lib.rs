//! The `#[command]`, `#[listen]` and `#[event]` attributes of `ipc-runtime`.
//!
//! Depend on `ipc-runtime`, which re-exports both; the generated code names
//! runtime items through `::ipc_runtime::__private` (override the path with
//! `crate = "..."` when the dependency is renamed).
//!
//! Each attribute keeps the function as written and adds, next to it:
//! a shim that reads the arguments from JSON and encodes the result, a static
//! registration record submitted to `inventory`, and a hidden type with the
//! function's name for registering it by hand (`App::builder().command::<name>()`).
//! Unsupported signatures are compile errors pointing at the offending token.

mod attr;
mod case;
mod command;
mod ctxt;
mod describe;
mod event;
mod expand;
mod listen;
mod signature;

use proc_macro::TokenStream;

/// Makes a function callable from frontends. See `ipc_runtime::command` for the
/// full documentation.
#[proc_macro_attribute]
pub fn command(args: TokenStream, item: TokenStream) -> TokenStream {
    command::expand(args.into(), item.into()).into()
}

/// Makes a function a listener of a named event. See `ipc_runtime::listen` for
/// the full documentation.
#[proc_macro_attribute]
pub fn listen(args: TokenStream, item: TokenStream) -> TokenStream {
    listen::expand(args.into(), item.into()).into()
}

/// Declares a struct or enum as the payload of a named event, for Rust and for
/// the frontend.
///
/// ```ignore
/// use ipc_runtime::{event, ts_rs::TS};
///
/// /// The list changed; the payload is the whole list.
/// #[event("todos:changed")]
/// #[derive(serde::Serialize, TS)]
/// #[ts(crate = "ipc_runtime::ts_rs")]
/// struct TodosChanged(Vec<Todo>);
///
/// app.emit_event(&TodosChanged(list))?;      // the name comes from the type
/// ```
///
/// The type implements `ipc_runtime::TypedEvent` (`NAME`), so
/// `App::emit_event`, `emit_event_to` and `listen_event` are typed, and the
/// declaration is registered through `inventory` (no central list): the
/// TypeScript bindings (`App::export_typescript`) get
/// `events.todosChanged.listen(cb)`, `.once(cb)` and `.emit(payload)` typed
/// with the payload's TypeScript type (`unknown` if it does not derive ts-rs's
/// `TS`). The event name is checked at compile time; the type cannot be
/// generic. Options: `crate = "..."` for a renamed `ipc-runtime` dependency.
/// `#[listen("name")]` functions declare their payload type too.
#[proc_macro_attribute]
pub fn event(args: TokenStream, item: TokenStream) -> TokenStream {
    event::expand(args.into(), item.into()).into()
}
