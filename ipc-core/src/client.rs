//! Identity of a connected frontend.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The identity of one connection (a browser tab, a Node process, ...).
///
/// Ids are assigned by the runtime, unique for the life of the process and never
/// reused. [`ClientId::BACKEND`] names the Rust side itself: in-process
/// [`invoke`](https://docs.rs/ipc-runtime) calls and events emitted from Rust.
///
/// ```
/// use ipc_core::ClientId;
///
/// let id = ClientId::new(7);
/// assert_eq!(id.get(), 7);
/// assert!(!id.is_backend());
/// assert_eq!(serde_json::to_string(&id).unwrap(), "7");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(u64);

impl ClientId {
    /// The Rust backend itself (in-process callers and Rust emitters).
    pub const BACKEND: ClientId = ClientId(0);

    /// Wraps a raw id.
    pub const fn new(raw: u64) -> Self {
        ClientId(raw)
    }

    /// The raw number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Whether this id names the Rust backend rather than a frontend.
    pub const fn is_backend(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_backend() {
            f.write_str("ClientId(backend)")
        } else {
            write!(f, "ClientId({})", self.0)
        }
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_backend() {
            f.write_str("backend")
        } else {
            write!(f, "client {}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_zero_and_displays_as_backend() {
        assert!(ClientId::BACKEND.is_backend());
        assert_eq!(ClientId::BACKEND.to_string(), "backend");
        assert_eq!(ClientId::new(3).to_string(), "client 3");
        assert_eq!(format!("{:?}", ClientId::new(3)), "ClientId(3)");
    }

    #[test]
    fn round_trips_as_a_bare_number() {
        let id: ClientId = serde_json::from_str("42").unwrap();
        assert_eq!(id, ClientId::new(42));
    }
}
