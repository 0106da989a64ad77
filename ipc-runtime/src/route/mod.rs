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
//! * [`history`]: replay buffers and sequence numbers, for resuming frontends.
//! * [`channel`]: `Channel<T>`, a stream from a command back to its caller.
//! * [`bridge`]: events crossing between instances through a broker.
//! * [`middleware`]: tower layers around calls and emitted events.
//! * [`inspect`]: the live inspector's records, built on those layers.
//! * [`metrics`]: the app's counters (calls, errors, bytes, lag).

pub(crate) mod bridge;
pub(crate) mod channel;
pub(crate) mod discover;
pub(crate) mod dispatch;
pub(crate) mod events;
pub(crate) mod history;
pub mod inspect;
pub(crate) mod metrics;
pub mod middleware;
pub(crate) mod reserved;
mod upload;

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

/// How deeply a frontend's event payload may nest (serde_json's own limit for
/// what it parses). A payload is relayed as raw JSON, which the parser does
/// not hold to that limit, so it is checked here before anyone receives it.
pub(crate) const MAX_PAYLOAD_DEPTH: usize = 128;

/// Whether `json` (valid JSON) nests at most `max` arrays and objects deep.
fn nests_within(json: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

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
    /// Where events cross to the app's other instances, if anywhere.
    bridge: Option<bridge::Link>,
    /// Layers around calls (`AppBuilder::layer`); `None`: the plain path.
    pub(crate) layers: Option<middleware::CallLayers>,
    /// Layers around emitted events (`AppBuilder::event_layer`).
    pub(crate) event_layers: Option<middleware::EventLayers>,
    /// Calls, errors, bytes, lag (`App::metrics`).
    pub(crate) counters: Arc<metrics::Counters>,
    /// The live inspector, when on.
    pub(crate) inspector: Option<Arc<inspect::Hub>>,
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
            bridge: None,
            layers: None,
            event_layers: None,
            counters: Arc::default(),
            inspector: None,
        }
    }

    /// Joins this instance to others through `bridge`. Client ids then start
    /// at a random number (below 2^52, so JavaScript reads them exactly), so
    /// that `emit_to` a client id means one client across the instances.
    pub(crate) fn set_bridge(
        &mut self,
        bridge: Box<dyn bridge::Bridge>,
        filter: bridge::BridgeFilter,
    ) {
        let mut bytes = [0u8; 4];
        let random = match getrandom::fill(&mut bytes) {
            Ok(()) => u64::from(u32::from_le_bytes(bytes) >> 1),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::from(d.subsec_nanos()) >> 1),
        };
        // 2^31 starting blocks of 2^21 ids each.
        self.next_client = AtomicU64::new((random << 21) + 1);
        let instance = self.events.epoch().into();
        self.bridge = Some(bridge::Link {
            bridge,
            filter,
            instance,
        });
    }

    /// Starts the bridge (once the router is shared): it may deliver from now on.
    pub(crate) fn start_bridge(self: &Arc<Self>) {
        if let Some(link) = &self.bridge {
            link.bridge.start(bridge::Inbox::new(self));
        }
    }

    /// The bridge's counters, if the app has one.
    pub(crate) fn bridge_stats(&self) -> Option<bridge::BridgeStats> {
        self.bridge.as_ref().map(|link| link.bridge.stats())
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
        self.counters.event();
        if let Some(layers) = &self.event_layers {
            return layers.emit(self, event, payload, source, target);
        }
        self.deliver_now(event, payload, source, target);
    }

    /// Delivers an event past its layers: to this instance's listeners and
    /// subscribers, then to the other instances.
    pub(crate) fn deliver_now(
        self: &Arc<Self>,
        event: &str,
        payload: &Arc<RawValue>,
        source: &Caller,
        target: &EventTarget,
    ) -> middleware::Reached {
        let reached = self.events.deliver(self, event, payload, source, target);
        if let Some(link) = &self.bridge {
            link.publish(event, payload, source.client_id(), target);
        }
        reached
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
        if let Some(raw) = payload
            && !nests_within(raw.get(), MAX_PAYLOAD_DEPTH)
        {
            return Err(InvokeError::invalid_params(
                Some("payload"),
                None,
                format!("the payload nests deeper than {MAX_PAYLOAD_DEPTH} levels"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings() {
        assert!(nests_within("[[1],{\"a\":[2]}]", 3));
        assert!(!nests_within("[[[1]]]", 2));
        assert!(
            nests_within(r#"["[[[[", "\\\"[[[", {"k": "]]]"}]"#, 2),
            "brackets in strings do not count"
        );
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert!(!nests_within(&deep, MAX_PAYLOAD_DEPTH));
        let limit = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(nests_within(&limit, MAX_PAYLOAD_DEPTH));
    }

    #[tokio::test]
    async fn a_frontend_cannot_relay_a_payload_nested_past_the_limit() {
        let router = crate::testing::router();
        let caller = crate::caller::Caller::new(ipc_core::ClientId::new(5), None);
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        let raw = RawValue::from_string(deep).unwrap();
        let error = router
            .emit_from_client("deep", Some(&raw), &caller, EventTarget::All)
            .unwrap_err();
        assert_eq!(error.code(), ipc_core::codes::INVALID_PARAMS);
        assert_eq!(error.data().unwrap()["argument"], "payload");
    }
}
