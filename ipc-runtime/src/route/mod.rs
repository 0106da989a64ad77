//! Routing: from a message to the command, reserved method or event it names.
//!
//! The [`Router`] holds what every message is routed with (the commands, the
//! event bus, the capabilities, managed state) and answers with encoded
//! replies ([`Reply`]); it never names a connection type. What it needs from
//! the connection a message came on goes through [`Peer`](crate::invoke::Peer):
//! pushing, binary support, limits, cancelling. The session layer calls it;
//! the app layer holds it.
//!
//! * [`dispatch`]: requests, notifications and batches; in-process calls.
//! * [`reserved`]: `ipc.*`, `rpc.discover` and Tauri's `plugin:event|*`.
//! * [`discover`]: the OpenRPC document `rpc.discover` answers with.
//! * [`events`]: the event bus (Rust listeners and frontend subscriptions).
//! * [`channel`]: `Channel<T>`, a stream from a command back to its caller.

pub(crate) mod channel;
pub(crate) mod discover;
pub(crate) mod dispatch;
pub(crate) mod events;
pub(crate) mod reserved;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ipc_core::{ClientId, EventName, EventTarget};
use serde::Serialize;
use serde_json::value::RawValue;

pub(crate) use dispatch::Reply;

use crate::caller::Caller;
use crate::capability::{Acl, Action, ConnectionInfo, Permissions};
use crate::error::{EmitError, InvokeError};
use crate::invoke::registry::Registry;
use crate::state::StateMap;
use events::EventBus;

/// Events with this prefix come from the runtime (`ipc:connected`, ...);
/// frontends may not emit them.
pub(crate) const RUNTIME_EVENT_PREFIX: &str = "ipc:";

/// Everything a message is routed with. One per app, shared by every session.
pub(crate) struct Router {
    pub(crate) registry: Registry,
    pub(crate) events: EventBus,
    pub(crate) acl: Acl,
    pub(crate) state: StateMap,
    /// The caller of in-process calls and of events emitted from Rust.
    pub(crate) backend: Caller,
    /// Where async listeners run when an event is emitted outside any runtime.
    pub(crate) runtime: Option<tokio::runtime::Handle>,
    /// The next connection's client id (0 is the backend).
    next_client: AtomicU64,
}

impl Router {
    pub(crate) fn new(
        registry: Registry,
        events: EventBus,
        acl: Acl,
        state: StateMap,
        runtime: Option<tokio::runtime::Handle>,
    ) -> Self {
        Router {
            registry,
            events,
            acl,
            state,
            backend: Caller::backend(),
            runtime,
            next_client: AtomicU64::new(1),
        }
    }

    /// A client id never used before in this process.
    pub(crate) fn next_client_id(&self) -> ClientId {
        ClientId::new(self.next_client.fetch_add(1, Ordering::Relaxed))
    }

    /// The permissions of a new connection: the capability its transport
    /// vouches for, else what its origin, token and label are granted.
    pub(crate) fn permissions(
        &self,
        vouched: Option<&str>,
        info: &ConnectionInfo<'_>,
    ) -> Permissions {
        match vouched {
            Some(name) => self.acl.vouched(name),
            None => self.acl.resolve(info),
        }
    }

    /// The tokens that grant a capability (each lets a client connect, like
    /// a server's launch token).
    #[cfg(feature = "ws")]
    pub(crate) fn grant_tokens(&self) -> impl Iterator<Item = &str> {
        self.acl.grant_tokens()
    }

    /// Emits an event from the backend: validated, serialized once, delivered.
    pub(crate) fn emit<T: Serialize + ?Sized>(
        self: &Arc<Self>,
        target: EventTarget,
        event: &str,
        payload: &T,
    ) -> Result<(), EmitError> {
        EventName::validate(event)?;
        let payload: Arc<RawValue> = serde_json::value::to_raw_value(payload)?.into();
        self.deliver_event(event, &payload, &self.backend, &target);
        Ok(())
    }

    /// Delivers an already-validated event.
    pub(crate) fn deliver_event(
        self: &Arc<Self>,
        event: &str,
        payload: &Arc<RawValue>,
        source: &Caller,
        target: &EventTarget,
    ) {
        self.events.deliver(self, event, payload, source, target);
    }

    /// An event from a caller (a frontend's `ipc.emit` or notification):
    /// checked against its name rules and the caller's capabilities first.
    pub(crate) fn emit_from_client(
        self: &Arc<Self>,
        event: &str,
        payload: Option<&RawValue>,
        caller: &Caller,
        target: EventTarget,
    ) -> Result<(), InvokeError> {
        EventName::validate(event).map_err(|e| {
            InvokeError::invalid_params(Some("event"), Some("event name"), e.to_string())
        })?;
        if !caller.permissions().allows(Action::Emit, event) {
            return Err(caller.forbidden(Action::Emit, event));
        }
        if !caller.is_backend() && event.starts_with(RUNTIME_EVENT_PREFIX) {
            return Err(InvokeError::invalid_params(
                Some("event"),
                Some("event name"),
                format!(
                    "events starting with `{RUNTIME_EVENT_PREFIX}` are emitted by the runtime only"
                ),
            ));
        }
        let payload: Arc<RawValue> = match payload {
            Some(raw) => raw.to_owned().into(),
            None => RawValue::NULL.to_owned().into(),
        };
        self.deliver_event(event, &payload, caller, &target);
        Ok(())
    }
}
