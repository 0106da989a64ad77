//! Reserved method names.
//!
//! JSON-RPC reserves every method starting with `rpc.`; the framework reserves
//! `ipc.` for its own protocol and `plugin:event|` for Tauri's event plugin. No
//! user command may use these prefixes (the `#[command]` macro rejects such names
//! at compile time and the registry at build time).

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
/// Server push: events that were not delivered to this connection because it
/// did not read fast enough: params `{"dropped": n}`.
pub const LAGGED: &str = "ipc.lagged";
/// Server push: events of a name a subscription resumed are no longer kept:
/// params `{"event": name, "lost": n | null}` (`null`: unknown).
pub const GAP: &str = "ipc.gap";
/// Uploads, both ways. Client → server: a chunk, the end or an abort of an
/// upload the client passed to a command as `"__UPLOAD__:<id>"`
/// (`{"upload": id, "data"?: base64 | {"$bytes": 0}, "end"?: true, "abort"?: reason}`).
/// Server → client: more credit (`{"upload": id, "credit": total bytes}`) or
/// the server's end of it (`{"upload": id, "done": true, "error"?: text}`).
pub const UPLOAD: &str = "ipc.upload";
/// The inspector's snapshot, for connections that may inspect: params
/// `{"recent"?: bool}`, result `{"recent": [record], "connections": [connection]}`
/// (docs/protocol.md, "The inspector").
pub const INSPECT: &str = "ipc.inspect";
/// The event that carries the inspector's live records (one per call and per
/// event); only connections that may inspect can subscribe to it.
pub const INSPECT_EVENT: &str = "ipc:inspect";
/// The OpenRPC description of the commands the caller may invoke.
pub const DISCOVER: &str = "rpc.discover";

/// Tauri's event plugin: subscribe (`{"event", "target"?, "handler"}` → event id).
pub const TAURI_LISTEN: &str = "plugin:event|listen";
/// Tauri's event plugin: drop a subscription (`{"event", "eventId"}`).
pub const TAURI_UNLISTEN: &str = "plugin:event|unlisten";
/// Tauri's event plugin: emit to all (`{"event", "payload"?}`).
pub const TAURI_EMIT: &str = "plugin:event|emit";
/// Tauri's event plugin: emit to a target (`{"target", "event", "payload"?}`).
pub const TAURI_EMIT_TO: &str = "plugin:event|emit_to";

/// Prefixes no user command may take: JSON-RPC's, this protocol's, and Tauri's
/// event plugin's (answered by the runtime for Tauri frontends).
pub const RESERVED_PREFIXES: [&str; 3] = ["rpc.", "ipc.", "plugin:event|"];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_method_is_reserved() {
        for name in [
            LISTEN,
            UNLISTEN,
            EMIT,
            CANCEL,
            EVENT,
            CHANNEL,
            LAGGED,
            GAP,
            UPLOAD,
            INSPECT,
            DISCOVER,
            TAURI_LISTEN,
            TAURI_UNLISTEN,
            TAURI_EMIT,
            TAURI_EMIT_TO,
        ] {
            assert!(is_reserved(name), "{name}");
        }
        assert!(
            !is_reserved("plugin:fs|read"),
            "other Tauri plugins are ordinary command names"
        );
    }
}
