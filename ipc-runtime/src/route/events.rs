//! The event bus: Rust listeners (closures and `#[listen]` functions) and
//! frontend subscriptions, keyed by event name.
//!
//! Emitting serializes the payload once; each listener deserializes what it
//! needs from that text, and every subscribed frontend is sent one shared
//! notification. The listener table is copy-on-write: emitting takes a read
//! lock just long enough to clone an `Arc` of the listener list, so listeners
//! may themselves listen, unlisten and emit.
//!
//! Frontend subscriptions hold their connection weakly (a closed connection is
//! not kept alive by its subscriptions), and are also indexed by client, for
//! `ipc.unlisten`, the per-connection limit, and removal when it closes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

use ipc_core::{ClientId, EventName, EventTarget};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::Router;
use super::history::{self, History, Keep, Kept, Resume, Sequence, SharedHistory, TotalBytes};
use super::middleware::Reached;
use crate::caller::Caller;
use crate::codec::{self, Outbound};
use crate::error::{BuildError, InvokeError};
use crate::invoke::guard::{self, panic_message, spawn_detached};
use crate::invoke::registry::ListenerRegistration;
use crate::invoke::{Encoded, Invocation, Out, Params, Peer};

/// An emitted event, as a Rust listener receives it.
///
/// ```rust,standalone_crate
/// use ipc_runtime::App;
///
/// let app = App::builder().build().unwrap();
/// app.listen("progress", |event| {
///     let done: u32 = event.payload().unwrap();
///     assert_eq!((event.name(), done), ("progress", 3));
/// });
/// app.emit("progress", &3).unwrap();
/// ```
#[derive(Clone)]
pub struct Event {
    name: EventName,
    payload: Arc<RawValue>,
    source: ClientId,
    seq: u64,
}

impl Event {
    /// The event's name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Deserializes the payload.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.payload.get())
    }

    /// The payload as raw JSON text.
    pub fn raw_payload(&self) -> &RawValue {
        &self.payload
    }

    /// Who emitted it: [`ClientId::BACKEND`] for Rust, otherwise a frontend.
    pub fn source(&self) -> ClientId {
        self.source
    }

    /// Its sequence number: one counter for the whole app, increasing in
    /// delivery order for each name (what frontends resume from).
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name)
            .field("payload", &self.payload.get())
            .field("source", &self.source)
            .field("seq", &self.seq)
            .finish()
    }
}

/// Identifies a listener, to remove it with [`App::unlisten`](crate::App::unlisten).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(u64);

impl ListenerId {
    /// The raw number (what `ipc.listen` returns to frontends).
    pub fn get(self) -> u64 {
        self.0
    }
}

type Callback = Box<dyn Fn(&Event) + Send + Sync>;

/// A Rust listener.
enum Handler {
    Closure(Callback),
    Registered(&'static ListenerRegistration),
}

struct Entry {
    id: ListenerId,
    handler: Handler,
    once: bool,
    fired: AtomicBool,
}

/// A frontend's subscription: the event is pushed to its connection. With a
/// Tauri callback id, the push names this listener (`id`, `handler`).
struct Subscriber {
    peer: Weak<dyn Peer>,
    tauri_handler: Option<u64>,
}

/// Everyone listening to one event name.
#[derive(Default)]
struct Listeners {
    /// Rust listeners: few, and changed rarely, so copy-on-write; an emit
    /// clones the `Arc` and runs them without a lock held (a listener may
    /// listen, unlisten and emit).
    rust: RwLock<Arc<[Arc<Entry>]>>,
    /// Frontend subscriptions: many, so a map (subscribing and leaving cost
    /// about the same however many there are), ordered by id so pushes go out
    /// in subscription order; an emit pushes to them under this lock, which
    /// pushing never waits on.
    clients: Mutex<BTreeMap<ListenerId, Subscriber>>,
}

impl Listeners {
    fn rust(&self) -> Arc<[Arc<Entry>]> {
        Arc::clone(&self.rust.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn lock_clients(&self) -> MutexGuard<'_, BTreeMap<ListenerId, Subscriber>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_empty(&self) -> bool {
        self.rust().is_empty() && self.lock_clients().is_empty()
    }
}

#[derive(Default)]
struct Table {
    by_name: HashMap<EventName, Arc<Listeners>>,
    names: HashMap<ListenerId, EventName>,
}

/// One connection's subscriptions.
#[derive(Default)]
struct ClientSubscriptions {
    /// `ipc.listen`: one per event name.
    by_name: HashMap<EventName, ListenerId>,
    /// `plugin:event|listen`: one per Tauri listener.
    tauri: HashSet<ListenerId>,
}

impl ClientSubscriptions {
    fn len(&self) -> usize {
        self.by_name.len() + self.tauri.len()
    }
}

/// Listeners by event name.
///
/// Lock order, where several are taken: `clients`, then a name's history,
/// then `table`, then a name's subscribers or Rust listeners. `table` is held
/// until the name's own lock is taken (then released): whoever finds an entry
/// holds it before a leaving last listener can remove it, so nobody joins or
/// pushes to an entry that is no longer the name's.
pub(crate) struct EventBus {
    /// Held only to find or change a name's [`Listeners`], never while
    /// listeners run or events are pushed.
    table: RwLock<Table>,
    /// Frontend subscriptions by client.
    clients: Mutex<HashMap<ClientId, ClientSubscriptions>>,
    next_id: AtomicU64,
    /// The sequence numbers of delivered events, and the app's epoch.
    sequence: Sequence,
    /// The replay buffers of the names configured for them (fixed at build).
    histories: HashMap<EventName, SharedHistory>,
    /// What every replay buffer holds, against one bound.
    kept_bytes: TotalBytes,
}

/// How a frontend wants its subscription to start (`ipc.listen`'s `since`,
/// `epoch` and `last`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Start {
    /// Resume after the event with this number...
    pub(crate) since: Option<u64>,
    /// ...of this run of the app.
    pub(crate) epoch: Option<String>,
    /// Deliver the newest kept event first (when not resuming).
    pub(crate) last: bool,
}

impl Start {
    /// Whether the frontend asked for any of it (and so for the detailed answer).
    pub(crate) fn asked(&self) -> bool {
        self.since.is_some() || self.epoch.is_some() || self.last
    }
}

/// A new subscription: its id, and where the app's numbering stands.
#[derive(Clone, Debug)]
pub(crate) struct Subscribed {
    pub(crate) id: ListenerId,
    /// Every event delivered before the subscription (or replayed by it) is
    /// numbered at most this.
    pub(crate) seq: u64,
}

/// The replay configuration of a bus.
#[derive(Clone, Debug)]
pub(crate) struct Replay {
    /// What to keep of each configured name.
    pub(crate) names: HashMap<EventName, Keep>,
    /// The most payload bytes kept across every name.
    pub(crate) total_bytes: usize,
}

impl Default for Replay {
    fn default() -> Self {
        Replay {
            names: HashMap::new(),
            total_bytes: 64 << 20,
        }
    }
}

impl EventBus {
    pub(crate) fn new(
        registered: &[&'static ListenerRegistration],
        replay: Replay,
    ) -> Result<Self, BuildError> {
        let bus = EventBus {
            table: RwLock::new(Table::default()),
            clients: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            sequence: Sequence::new(),
            histories: replay
                .names
                .into_iter()
                .map(|(name, keep)| (name, Arc::new(Mutex::new(History::new(keep)))))
                .collect(),
            kept_bytes: TotalBytes::new(replay.total_bytes),
        };
        for registration in registered {
            let name = EventName::new(registration.event).map_err(|error| {
                BuildError::InvalidEventName {
                    site: registration.site,
                    error,
                }
            })?;
            bus.insert_rust(name, Handler::Registered(registration), false);
        }
        Ok(bus)
    }

    /// A fresh id, shared with frontend subscriptions so ids never collide.
    fn next_id(&self) -> ListenerId {
        ListenerId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn write_table(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The listeners of `name`, created if there are none yet; and records
    /// that `id` listens to it. The table stays locked until the caller has
    /// locked what it adds to (see [`EventBus`]'s lock order).
    fn listeners_for(
        &self,
        name: EventName,
        id: ListenerId,
    ) -> (Arc<Listeners>, std::sync::RwLockWriteGuard<'_, Table>) {
        let mut table = self.write_table();
        table.names.insert(id, name.clone());
        let listeners = Arc::clone(table.by_name.entry(name).or_default());
        (listeners, table)
    }

    fn insert_rust(&self, name: EventName, handler: Handler, once: bool) -> ListenerId {
        let id = self.next_id();
        let entry = Arc::new(Entry {
            id,
            handler,
            once,
            fired: AtomicBool::new(false),
        });
        let (listeners, table) = self.listeners_for(name, id);
        let mut rust = listeners.rust.write().unwrap_or_else(|p| p.into_inner());
        drop(table);
        let mut grown: Vec<Arc<Entry>> = rust.iter().cloned().collect();
        grown.push(entry);
        *rust = grown.into();
        id
    }

    /// Adds a frontend subscription; first pushes to `peer` what `start`
    /// asks for of the name's history, under the locks an emit of the name
    /// takes, so nothing is missed or sent twice between the two.
    fn insert_client(
        &self,
        name: EventName,
        subscriber: Subscriber,
        peer: &dyn Peer,
        start: &Start,
    ) -> Subscribed {
        let id = self.next_id();
        let history = self.histories.get(&name).map(history::lock);
        let (listeners, table) = self.listeners_for(name.clone(), id);
        let mut subscribers = listeners.lock_clients();
        drop(table);
        if start.asked() {
            self.catch_up(
                peer,
                &name,
                id,
                subscriber.tauri_handler,
                history.as_deref(),
                start,
            );
        }
        let seq = self.sequence.current();
        subscribers.insert(id, subscriber);
        Subscribed { id, seq }
    }

    /// Pushes what a subscription that starts with `start` missed or asked
    /// for: a gap notice if events after its position are no longer kept,
    /// then the kept events after it (or the newest one, for `last`), those
    /// whose target reaches `peer`.
    fn catch_up(
        &self,
        peer: &dyn Peer,
        name: &EventName,
        id: ListenerId,
        tauri_handler: Option<u64>,
        history: Option<&History>,
        start: &Start,
    ) {
        let same_run = start.epoch.as_deref() == Some(self.sequence.epoch());
        // Whether the events pushed are a starting value (`last`) rather than
        // missed ones.
        let mut starting = false;
        let (resume, events): (Resume, Vec<&Kept>) = match (start.since, history) {
            // A position from another run of the app: unknown; the newest
            // kept event stands for what came since.
            (Some(_), history) if !same_run => (
                Resume::Lost(None),
                history.and_then(History::last).into_iter().collect(),
            ),
            // A position in this run, against what the name keeps.
            (Some(since), Some(history)) => {
                let (resume, events) = history.since(since);
                (resume, events.collect())
            }
            // A position in this run, for a name that keeps nothing: nothing
            // to tell (its events are not kept).
            (Some(_), None) => (Resume::Complete, Vec::new()),
            (None, history) if start.last => {
                starting = true;
                (
                    Resume::Complete,
                    history.and_then(History::last).into_iter().collect(),
                )
            }
            (None, _) => (Resume::Complete, Vec::new()),
        };
        if let Resume::Lost(lost) = resume {
            peer.push_event(codec::gap(name.as_str(), lost));
        }
        let to = peer.caller();
        for kept in events {
            if !kept.target.reaches_client(to.client_id(), to.label()) {
                continue;
            }
            let body = codec::event_body(
                name.as_str(),
                &kept.payload,
                kept.source,
                Some(kept.seq),
                starting,
            );
            let message = match tauri_handler {
                None => codec::event_message(&body),
                Some(handler) => codec::tauri_event_message(&body, id.get(), handler),
            };
            peer.push_event(message);
        }
    }

    /// This run of the app's epoch (what resuming frontends echo back).
    pub(crate) fn epoch(&self) -> &str {
        self.sequence.epoch()
    }

    pub(crate) fn listen(&self, name: EventName, callback: Callback, once: bool) -> ListenerId {
        self.insert_rust(name, Handler::Closure(callback), once)
    }

    /// Subscribes a connection to `name` (`ipc.listen`: once per name; the
    /// id of an existing subscription is returned again, and nothing is
    /// replayed). `None` when the connection holds as many subscriptions as
    /// it may. What `start` asks for is pushed before any new event.
    pub(crate) fn subscribe(
        &self,
        peer: &dyn Peer,
        name: EventName,
        start: &Start,
    ) -> Option<Subscribed> {
        let mut clients = self.lock_clients();
        let mine = clients.entry(peer.caller().client_id()).or_default();
        if let Some(id) = mine.by_name.get(&name) {
            return Some(Subscribed {
                id: *id,
                seq: self.sequence.current(),
            });
        }
        if mine.len() >= peer.max_subscriptions() {
            return None;
        }
        let subscriber = Subscriber {
            peer: peer.downgrade(),
            tauri_handler: None,
        };
        let subscribed = self.insert_client(name.clone(), subscriber, peer, start);
        mine.by_name.insert(name, subscribed.id);
        Some(subscribed)
    }

    /// A Tauri listener (`plugin:event|listen`): its own subscription, whose
    /// pushes carry its id and callback id. `None` at the connection's limit.
    pub(crate) fn subscribe_tauri(
        &self,
        peer: &dyn Peer,
        name: EventName,
        handler: u64,
        start: &Start,
    ) -> Option<Subscribed> {
        let mut clients = self.lock_clients();
        let mine = clients.entry(peer.caller().client_id()).or_default();
        if mine.len() >= peer.max_subscriptions() {
            return None;
        }
        let subscriber = Subscriber {
            peer: peer.downgrade(),
            tauri_handler: Some(handler),
        };
        let subscribed = self.insert_client(name, subscriber, peer, start);
        mine.tauri.insert(subscribed.id);
        Some(subscribed)
    }

    /// Drops `client`'s subscription to `name`; `false` if there was none.
    pub(crate) fn unsubscribe_name(&self, client: ClientId, name: &str) -> bool {
        let removed = self
            .lock_clients()
            .get_mut(&client)
            .and_then(|mine| mine.by_name.remove(name));
        removed.is_some_and(|id| self.unlisten(id))
    }

    /// Drops `client`'s `ipc.listen` subscription with this id; `false` if it
    /// has none.
    pub(crate) fn unsubscribe_id(&self, client: ClientId, id: u64) -> bool {
        let id = ListenerId(id);
        let removed = {
            let mut clients = self.lock_clients();
            let Some(mine) = clients.get_mut(&client) else {
                return false;
            };
            let before = mine.by_name.len();
            mine.by_name.retain(|_, listener| *listener != id);
            before != mine.by_name.len()
        };
        removed && self.unlisten(id)
    }

    /// Removes one of `client`'s Tauri listeners; `false` if it has no such listener.
    pub(crate) fn unsubscribe_tauri(&self, client: ClientId, id: u64) -> bool {
        let id = ListenerId(id);
        let owned = self
            .lock_clients()
            .get_mut(&client)
            .is_some_and(|mine| mine.tauri.remove(&id));
        owned && self.unlisten(id)
    }

    /// Drops every subscription of a connection that closed.
    pub(crate) fn drop_client(&self, client: ClientId) {
        let Some(mine) = self.lock_clients().remove(&client) else {
            return;
        };
        for id in mine.by_name.into_values().chain(mine.tauri) {
            self.unlisten(id);
        }
    }

    /// Whether anyone (a frontend or a Rust listener) listens to `name` now.
    pub(crate) fn is_listened(&self, name: &str) -> bool {
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        table.by_name.get(name).is_some_and(|l| !l.is_empty())
    }

    /// How many subscriptions `client` holds.
    pub(crate) fn subscriptions_of(&self, client: ClientId) -> usize {
        self.lock_clients()
            .get(&client)
            .map_or(0, ClientSubscriptions::len)
    }

    fn lock_clients(&self) -> MutexGuard<'_, HashMap<ClientId, ClientSubscriptions>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes a listener or subscription; `false` if there was none with that id.
    pub(crate) fn unlisten(&self, id: ListenerId) -> bool {
        let mut table = self.write_table();
        let Some(name) = table.names.remove(&id) else {
            return false;
        };
        let Some(listeners) = table.by_name.get(&name).map(Arc::clone) else {
            return true;
        };
        if listeners.lock_clients().remove(&id).is_none() {
            let mut rust = listeners.rust.write().unwrap_or_else(|p| p.into_inner());
            let kept: Vec<Arc<Entry>> = rust.iter().filter(|e| e.id != id).cloned().collect();
            *rust = kept.into();
        }
        if listeners.is_empty() {
            table.by_name.remove(&name);
        }
        true
    }

    /// Number of Rust listeners for `name` (frontend subscriptions not counted).
    pub(crate) fn count(&self, name: &str) -> usize {
        self.listeners(name).map_or(0, |(_, l)| l.rust().len())
    }

    fn listeners(&self, name: &str) -> Option<(EventName, Arc<Listeners>)> {
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        table
            .by_name
            .get_key_value(name)
            .map(|(name, listeners)| (name.clone(), Arc::clone(listeners)))
    }

    /// The `#[listen]` functions in the bus (found by `inventory` or
    /// registered by hand), for the bindings.
    pub(crate) fn registered(&self) -> Vec<&'static ListenerRegistration> {
        let all: Vec<Arc<Listeners>> = {
            let table = self.table.read().unwrap_or_else(|p| p.into_inner());
            table.by_name.values().cloned().collect()
        };
        all.iter()
            .flat_map(|listeners| listeners.rust().to_vec())
            .filter_map(|entry| match entry.handler {
                Handler::Registered(registration) => Some(registration),
                Handler::Closure(_) => None,
            })
            .collect()
    }

    /// Delivers an event: queues it for every subscribed frontend the target
    /// includes, then runs every Rust listener of its name (if the target
    /// includes the backend). The notification's body (name, payload, source)
    /// is written once for all frontends.
    pub(crate) fn deliver(
        &self,
        router: &Arc<Router>,
        name: &str,
        payload: &Arc<RawValue>,
        source: &Caller,
        target: &EventTarget,
    ) -> Reached {
        // The `emit` span: the event, its source, and how many frontends and
        // Rust listeners it reached (its delivery to each frontend is a
        // trace event inside it).
        let span = tracing::debug_span!(
            "emit",
            event = name,
            source = %source.client_id(),
            frontends = tracing::field::Empty,
            listeners = tracing::field::Empty,
        );
        let _entered = span.enter();
        let history = self.histories.get_key_value(name);
        // Numbered, kept and queued under the name's locks, so frontends get
        // its events in number order and a subscribe that replays sees each
        // event either kept or queued, never neither or both. The table stays
        // read-locked until the subscribers are, so the entry found is the
        // name's: a last subscriber leaving (which removes the entry) and a
        // new one arriving (which makes a fresh one) wait for this push.
        let mut kept = history.map(|(_, h)| history::lock(h));
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        let listeners = table
            .by_name
            .get_key_value(name)
            .map(|(name, listeners)| (name.clone(), Arc::clone(listeners)));
        #[cfg(test)]
        tests::after_lookup();
        let subscribers = listeners.as_ref().map(|(_, l)| l.lock_clients());
        drop(table);
        let name = match (&listeners, history) {
            (Some((name, _)), _) | (None, Some((name, _))) => name.clone(),
            // Nobody listens and nothing is kept: nothing to do.
            (None, None) => return Reached::default(),
        };
        let event = Event {
            name,
            payload: Arc::clone(payload),
            source: source.client_id(),
            seq: self.sequence.take(),
        };
        if let Some(kept) = kept.as_mut() {
            let copy = Kept {
                seq: event.seq,
                payload: Arc::clone(payload),
                source: event.source,
                target: target.clone(),
            };
            kept.push(copy, &self.kept_bytes);
        }
        let frontends = subscribers.as_ref().map_or(0, |subscribers| {
            push_to_subscribers(subscribers, &event, target)
        });
        span.record("frontends", frontends);
        drop(subscribers);
        drop(kept);
        let mut ran = 0usize;
        if let Some((_, listeners)) = listeners
            && target.reaches_backend()
        {
            for entry in listeners.rust().iter() {
                if entry.once && entry.fired.swap(true, Ordering::AcqRel) {
                    continue;
                }
                run(router, entry, &event, source);
                ran += 1;
                if entry.once {
                    self.unlisten(entry.id);
                }
            }
        }
        span.record("listeners", ran);
        Reached {
            frontends,
            listeners: ran,
        }
    }
}

/// Queues an event for the subscribers `target` reaches. Pushing never waits
/// (a full queue drops the event for that connection and counts it), so this
/// runs under the subscribers' lock, which keeps each name's events in order.
fn push_to_subscribers(
    subscribers: &BTreeMap<ListenerId, Subscriber>,
    event: &Event,
    target: &EventTarget,
) -> usize {
    if subscribers.is_empty() {
        return 0;
    }
    let mut reached = 0;
    let body = codec::event_body(
        event.name.as_str(),
        &event.payload,
        event.source,
        Some(event.seq),
        false,
    );
    let mut shared: Option<Outbound> = None;
    for (id, subscriber) in subscribers.iter() {
        let Some(peer) = subscriber.peer.upgrade() else {
            continue;
        };
        let to = peer.caller();
        if !target.reaches_client(to.client_id(), to.label()) {
            continue;
        }
        let message = match subscriber.tauri_handler {
            None => shared
                .get_or_insert_with(|| codec::event_message(&body))
                .clone(),
            Some(handler) => codec::tauri_event_message(&body, id.get(), handler),
        };
        tracing::trace!(client = %to.client_id(), "event delivered");
        peer.push_event(message);
        reached += 1;
    }
    reached
}

fn run(router: &Arc<Router>, entry: &Entry, event: &Event, source: &Caller) {
    match &entry.handler {
        Handler::Closure(callback) => {
            if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| callback(event))) {
                tracing::error!(
                    event = event.name(),
                    listener = entry.id.0,
                    panic = panic_message(panic.as_ref()),
                    "event listener panicked"
                );
            }
        }
        Handler::Registered(registration) => run_registered(router, registration, event, source),
    }
}

fn run_registered(
    router: &Arc<Router>,
    registration: &'static ListenerRegistration,
    event: &Event,
    source: &Caller,
) {
    let cx = router.context(source, event.name());
    let invocation = Invocation::new(cx, Params::Json(&event.payload), Out::Discard);
    let report = move |result: Result<Encoded, InvokeError>| {
        if let Err(error) = result {
            tracing::error!(
                event = registration.event,
                listener = registration.function,
                site = %registration.site,
                error = %error,
                "#[listen] handler failed"
            );
        }
    };
    let panicked = move |panic: &(dyn std::any::Any + Send)| {
        tracing::error!(
            event = registration.event,
            listener = registration.function,
            site = %registration.site,
            panic = panic_message(panic),
            "#[listen] handler panicked"
        );
    };
    let running =
        match std::panic::catch_unwind(AssertUnwindSafe(|| (registration.shim)(invocation))) {
            Ok(pending) => pending.split(),
            Err(panic) => return panicked(panic.as_ref()),
        };
    match running {
        Ok(result) => report(result),
        Err(running) => {
            // A blocking listener's job starts inside the task, where a runtime
            // is; `finish` turns a panic into an error, reported like any other.
            let finished = async move { report(guard::finish(running, Arc::new(())).await) };
            if !spawn_detached(router.runtime.as_ref(), finished) {
                tracing::error!(
                    event = registration.event,
                    listener = registration.function,
                    "async #[listen] handler not run: no tokio runtime"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::mpsc;
    use std::time::Duration;

    use ipc_core::EventTarget;

    use super::{EventName, Start};
    use crate::capability::Permissions;
    use crate::invoke::peer::Peer;
    use crate::testing::{self, TestPeer};

    thread_local! {
        /// Run by `deliver` on this thread once it has found the name's
        /// listeners and before it locks them: where another thread could
        /// change the table under it.
        static AFTER_LOOKUP: RefCell<Option<Box<dyn FnOnce()>>> = RefCell::new(None);
    }

    pub(super) fn after_lookup() {
        if let Some(hook) = AFTER_LOOKUP.with(|hook| hook.borrow_mut().take()) {
            hook();
        }
    }

    /// The seqs of the events a peer was sent, in order.
    fn seqs(peer: &TestPeer) -> Vec<u64> {
        peer.texts()
            .iter()
            .filter_map(|text| testing::json(text)["params"]["seq"].as_u64())
            .collect()
    }

    /// An emit that has found a name's listeners while its last subscriber
    /// leaves (which removes the name's entry) and a new one subscribes
    /// (which makes a fresh entry) pushes to whoever is subscribed when it
    /// pushes, so the new subscriber misses nothing numbered after its
    /// subscription.
    #[test]
    fn a_subscriber_replacing_the_last_one_misses_nothing_emitted_meanwhile() {
        let router = testing::router();
        let name = EventName::new("race").unwrap();
        let leaving = TestPeer::new(1, Permissions::all());
        let arriving = TestPeer::new(2, Permissions::all());
        router
            .events
            .subscribe(&*leaving, name.clone(), &Start::default())
            .unwrap();
        let (subscribed_tx, subscribed_rx) = mpsc::channel();
        let churn = {
            let (router, leaving, arriving) = (router.clone(), leaving.clone(), arriving.clone());
            move || {
                let events = &router.events;
                events.unsubscribe_name(leaving.caller().client_id(), "race");
                let subscribed = events.subscribe(&*arriving, name, &Start::default());
                let _ = subscribed_tx.send(subscribed.map(|s| s.seq));
            }
        };
        AFTER_LOOKUP.with(|hook| {
            *hook.borrow_mut() = Some(Box::new(move || {
                // The other side leaves and joins while this emit sits
                // between finding the listeners and locking them; given a
                // moment, it gets there first unless the emit holds it off.
                let other = std::thread::spawn(churn);
                std::thread::sleep(Duration::from_millis(50));
                drop(other);
            }));
        });
        router.emit(EventTarget::All, "race", &1).unwrap();
        let since = subscribed_rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("subscribed");
        router.emit(EventTarget::All, "race", &2).unwrap();

        let got = seqs(&arriving);
        let expected: Vec<u64> = (since + 1..=since + got.len() as u64).collect();
        assert_eq!(
            got, expected,
            "every event after subscribing at {since}, in order"
        );
        assert_eq!(
            seqs(&leaving).len() + got.len(),
            2,
            "each event went to one of them"
        );
    }
}
