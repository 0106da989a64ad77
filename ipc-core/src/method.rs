//! Reserved method names.
//!
//! JSON-RPC reserves every method starting with `rpc.`; the framework reserves
//! `ipc.` for its own protocol. No user command may use either prefix (the
//! `#[command]` macro rejects such names at compile time and the registry at
//! build time).

/// Subscribe the calling connection to an event: params `{"event": name}`.
pub const LISTEN: &str = "ipc.listen";
/// Drop a subscription: params `{"event": name}` or `{"id": n}`.
pub const UNLISTEN: &str = "ipc.unlisten";
/// Emit an event from a frontend: params `{"event": name, "payload": any, "target"?: target}`.
pub const EMIT: &str = "ipc.emit";
/// Cancel an in-flight request of the same connection: params `{"id": request id}`.
pub const CANCEL: &str = "ipc.cancel";
/// Server push: an event a connection subscribed to.
pub const EVENT: &str = "ipc.event";
/// Server push: a message on a channel the caller passed to a command.
pub const CHANNEL: &str = "ipc.channel";
/// The OpenRPC description of the commands the caller may invoke.
pub const DISCOVER: &str = "rpc.discover";

/// Prefixes no user command may take.
pub const RESERVED_PREFIXES: [&str; 2] = ["rpc.", "ipc."];

/// Whether `name` falls in a reserved namespace.
///
/// ```
/// use ipc_core::method::is_reserved;
///
/// assert!(is_reserved("ipc.listen"));
/// assert!(is_reserved("rpc.discover"));
/// assert!(!is_reserved("todo.add"));
/// ```
pub fn is_reserved(name: &str) -> bool {
    RESERVED_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix))
}
