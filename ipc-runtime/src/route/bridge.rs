//! Event bridges: events that cross between instances of one app through a
//! broker (NATS with the `nats` feature, or any [`Bridge`]).
//!
//! The event bus hands the bridge each event emitted on this instance that
//! the [`BridgeFilter`] lets cross, after delivering it here; the bridge
//! publishes it and feeds the events of the other instances into its
//! [`Inbox`], which delivers each one here as if it had been emitted here:
//! to the Rust listeners and the subscribed frontends that its target reaches,
//! each subscription having been checked against that frontend's capabilities
//! when it was made (the ACL of the receiving instance). An event that came
//! from the bridge is never handed back to it, and an instance drops events
//! that carry its own id, so nothing is delivered twice.
//!
//! Handing an event to the bridge must never block the emitter: a bridge
//! queues it (bounded) and publishes from its own task.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Weak};

use ipc_core::{ClientId, EventName, EventTarget};
use serde_json::value::RawValue;

use super::{MAX_PAYLOAD_DEPTH, RUNTIME_EVENT_PREFIX, Router, nests_within};
use crate::caller::Caller;
use crate::capability::{Pattern, Permissions};

/// Carries events between instances of an app. Given to
/// [`AppBuilder::bridge`](crate::AppBuilder::bridge).
///
/// A minimal in-memory bridge, joining two apps in one process:
///
/// ```rust,standalone_crate
/// use std::sync::{Arc, Mutex};
/// use ipc_runtime::{App, Bridge, BridgedEvent, Inbox};
///
/// /// Every inbox started so far; publishing delivers to each of them.
/// #[derive(Clone, Default)]
/// struct Loopback(Arc<Mutex<Vec<Inbox>>>);
///
/// impl Bridge for Loopback {
///     fn start(&self, inbox: Inbox) {
///         self.0.lock().unwrap().push(inbox);
///     }
///     fn publish(&self, event: &BridgedEvent) {
///         for inbox in self.0.lock().unwrap().iter() {
///             let _ = inbox.deliver(event.clone()); // its own events are skipped
///         }
///     }
/// }
///
/// let bus = Loopback::default();
/// let a = App::builder().bridge(bus.clone()).build().unwrap();
/// let b = App::builder().bridge(bus).build().unwrap();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&seen);
/// b.listen("hello", move |event| sink.lock().unwrap().push(event.payload::<String>().unwrap()));
/// a.emit("hello", "from a").unwrap();
/// assert_eq!(*seen.lock().unwrap(), ["from a"]);
/// ```
pub trait Bridge: Send + Sync + 'static {
    /// Called once when the app is built: from then on, the events of the
    /// other instances go into `inbox`.
    fn start(&self, inbox: Inbox);

    /// An event emitted on this instance, to publish to the others. Must
    /// return at once (queue it; never wait on the broker).
    fn publish(&self, event: &BridgedEvent);

    /// What the bridge has done so far. The default reports nothing.
    fn stats(&self) -> BridgeStats {
        BridgeStats::default()
    }
}

/// An event crossing between instances: what a [`Bridge`] publishes and
/// what it hands an [`Inbox`].
///
/// ```rust,standalone_crate
/// use ipc_runtime::{BridgedEvent, ClientId, EventTarget};
///
/// let event = BridgedEvent::new("a1b2", "chat:message", br#"{"text":"hi"}"#,
///     ClientId::new(7), EventTarget::All).unwrap();
/// assert_eq!(event.payload().get(), r#"{"text":"hi"}"#);
/// assert!(BridgedEvent::new("a1b2", "bad name!", b"1", ClientId::BACKEND, EventTarget::All).is_err());
/// ```
#[derive(Clone)]
pub struct BridgedEvent {
    instance: Arc<str>,
    name: EventName,
    payload: Arc<RawValue>,
    source: ClientId,
    target: EventTarget,
}

impl BridgedEvent {
    /// An event as read from a broker: the instance that emitted it, its
    /// name, its payload (JSON text), who emitted it and whom it is for.
    /// Fails on an invalid name or a payload that is not JSON.
    pub fn new(
        instance: &str,
        name: &str,
        payload: &[u8],
        source: ClientId,
        target: EventTarget,
    ) -> Result<Self, BridgeError> {
        let name = EventName::new(name).map_err(|e| BridgeError::Name(e.to_string()))?;
        let payload: Box<RawValue> =
            serde_json::from_slice(payload).map_err(|e| BridgeError::Payload(e.to_string()))?;
        Ok(BridgedEvent {
            instance: instance.into(),
            name,
            payload: payload.into(),
            source,
            target,
        })
    }

    /// The id of the instance it was emitted on ([`App::instance_id`](crate::App::instance_id)).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The payload, as JSON text (sent as is: serialized once, on the emitting instance).
    pub fn payload(&self) -> &RawValue {
        &self.payload
    }

    /// The payload, shared (for a bridge that sends it without copying).
    #[cfg(feature = "nats")]
    pub(crate) fn payload_arc(&self) -> Arc<RawValue> {
        Arc::clone(&self.payload)
    }

    /// Who emitted it: [`ClientId::BACKEND`] or a frontend of its instance.
    pub fn source(&self) -> ClientId {
        self.source
    }

    /// Whom it is for, as given to `emit_to` (client ids are unique across
    /// the instances of a bridged app).
    pub fn target(&self) -> &EventTarget {
        &self.target
    }
}

impl fmt::Debug for BridgedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BridgedEvent")
            .field("instance", &self.instance)
            .field("name", &self.name)
            .field("payload", &self.payload.get())
            .field("source", &self.source)
            .field("target", &self.target)
            .finish()
    }
}

/// Why an event from a broker was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The event's name is not a valid event name.
    #[error("invalid event name: {0}")]
    Name(String),
    /// The payload is not JSON, or nests too deep.
    #[error("invalid payload: {0}")]
    Payload(String),
    /// A runtime event (`ipc:…`), which never crosses between instances.
    #[error("runtime events (`{RUNTIME_EVENT_PREFIX}…`) do not cross between instances")]
    RuntimeEvent,
    /// The message lacks something a bridged event carries, or has it malformed.
    #[error("malformed bridge message: {0}")]
    Malformed(String),
    /// The app the inbox delivers to is gone.
    #[error("the app was dropped")]
    AppGone,
}

/// Where a [`Bridge`] delivers the events of other instances. Cheap to clone.
///
/// See [`Bridge`] for an example.
#[derive(Clone)]
pub struct Inbox {
    router: Weak<Router>,
    instance: Arc<str>,
}

/// What [`Inbox::deliver`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivered {
    /// Delivered on this instance.
    Delivered,
    /// Skipped: this instance emitted it (and delivered it when it did).
    Own,
}

impl Inbox {
    pub(crate) fn new(router: &Arc<Router>) -> Self {
        Inbox {
            router: Arc::downgrade(router),
            instance: router.events.epoch().into(),
        }
    }

    /// The id of the instance this inbox delivers to.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Delivers an event from another instance here, as if emitted here
    /// (never handed back to the bridge). An event carrying this instance's
    /// own id is skipped. Refused: runtime events (`ipc:…`) and payloads
    /// nested deeper than frontends may send.
    pub fn deliver(&self, event: BridgedEvent) -> Result<Delivered, BridgeError> {
        if *event.instance == *self.instance {
            return Ok(Delivered::Own);
        }
        if event.name.as_str().starts_with(RUNTIME_EVENT_PREFIX) {
            return Err(BridgeError::RuntimeEvent);
        }
        if !nests_within(event.payload.get(), MAX_PAYLOAD_DEPTH) {
            return Err(BridgeError::Payload(format!(
                "it nests deeper than {MAX_PAYLOAD_DEPTH} levels"
            )));
        }
        let router = self.router.upgrade().ok_or(BridgeError::AppGone)?;
        let source = Caller::with_permissions(event.source, None, None, Permissions::none());
        router.events.deliver(
            &router,
            event.name.as_str(),
            &event.payload,
            &source,
            &event.target,
        );
        Ok(Delivered::Delivered)
    }

    /// Whether the app is still there (a bridge's tasks end when it is not).
    pub fn is_open(&self) -> bool {
        self.router.strong_count() > 0
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("instance", &self.instance)
            .field("open", &self.is_open())
            .finish()
    }
}

/// Counters of a bridge, from [`App::bridge_stats`](crate::App::bridge_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Events published to the broker.
    pub published: u64,
    /// Events from other instances delivered here.
    pub received: u64,
    /// Events not published because the queue to the broker was full (in
    /// count or bytes).
    pub dropped_full: u64,
    /// Events not published because the broker was unreachable.
    pub dropped_offline: u64,
    /// Events the broker's client refused to publish (larger than the
    /// broker accepts, for NATS its `max_payload`, 1 MiB by default).
    pub failed: u64,
    /// Messages from the broker refused (malformed, runtime events), or lost
    /// because this instance read them too slowly.
    pub rejected: u64,
    /// Events waiting in the queue to the broker now.
    pub queued: u64,
}

impl BridgeStats {
    /// Events emitted here that never reached the broker.
    pub fn lost(&self) -> u64 {
        self.dropped_full + self.dropped_offline + self.failed
    }
}

/// Which events cross between instances. Runtime events (`ipc:…`) never do.
///
/// ```rust,standalone_crate
/// use ipc_runtime::BridgeFilter;
///
/// let chat = BridgeFilter::matching(["chat:*", "presence"]);
/// assert!(chat.lets("chat:message") && chat.lets("presence") && !chat.lets("cursor"));
/// assert!(BridgeFilter::all().lets("cursor") && !BridgeFilter::all().lets("ipc:connected"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct BridgeFilter(Filter);

#[derive(Clone, Debug, Default)]
enum Filter {
    #[default]
    All,
    Matching(Vec<Pattern>),
    Declared(HashSet<String>),
}

impl BridgeFilter {
    /// Every event (the default).
    pub fn all() -> Self {
        BridgeFilter(Filter::All)
    }

    /// The events whose name matches one of these patterns (`*` matches any
    /// run of characters, as in capabilities).
    pub fn matching<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        BridgeFilter(Filter::Matching(
            patterns.into_iter().map(Pattern::new).collect(),
        ))
    }

    /// The events declared with `#[event("name", bridge)]` (collected when
    /// the app is built with discovery on).
    pub fn declared() -> Self {
        BridgeFilter(Filter::Declared(HashSet::new()))
    }

    /// Fills in the declared names, when this filter wants them.
    pub(crate) fn with_declared(self, names: impl Iterator<Item = &'static str>) -> Self {
        match self.0 {
            Filter::Declared(mut set) => {
                set.extend(names.map(str::to_owned));
                BridgeFilter(Filter::Declared(set))
            }
            other => BridgeFilter(other),
        }
    }

    /// Whether an event of this name crosses.
    pub fn lets(&self, name: &str) -> bool {
        if name.starts_with(RUNTIME_EVENT_PREFIX) {
            return false;
        }
        match &self.0 {
            Filter::All => true,
            Filter::Matching(patterns) => patterns.iter().any(|p| p.matches(name)),
            Filter::Declared(names) => names.contains(name),
        }
    }
}

/// A router's bridge: where its events go, and which.
pub(crate) struct Link {
    pub(crate) bridge: Box<dyn Bridge>,
    pub(crate) filter: BridgeFilter,
    /// This instance's id, which every event it publishes carries.
    pub(crate) instance: Arc<str>,
}

impl Link {
    /// Hands an event emitted here to the bridge, if it crosses.
    pub(crate) fn publish(
        &self,
        name: &str,
        payload: &Arc<RawValue>,
        source: ClientId,
        target: &EventTarget,
    ) {
        if !self.filter.lets(name) {
            return;
        }
        // A name the bus delivered was validated already.
        let Ok(name) = EventName::new(name) else {
            return;
        };
        self.bridge.publish(&BridgedEvent {
            instance: Arc::clone(&self.instance),
            name,
            payload: Arc::clone(payload),
            source,
            target: target.clone(),
        });
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("filter", &self.filter)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}
