//! The `#[command]` and `#[listen]` attributes of `ipc-runtime`.
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
