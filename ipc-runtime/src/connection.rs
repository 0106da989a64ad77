//! A connection: one frontend's session with the app, independent of the
//! transport that carries it.
//!
//! A transport (the WebSocket server, or anything else that moves messages)
//! calls [`App::connect`], feeds every incoming message to
//! [`Connection::handle_text`] (or [`Connection::handle_binary`]), and writes
//! out whatever the [`Outbox`] yields: responses in completion order, pushed
//! events and channel messages in the order they were produced.
//!
//! Flow control: at most `max_in_flight` async calls run per connection;
//! `handle_text` waits for a free slot, so a transport that awaits it stops
//! reading from a client that floods it. Responses and channel messages wait
//! for room in the outbox (a slow reader slows its own calls down, nobody
//! else's). Events never wait: when a client's outbox is full, the event is
//! dropped for that client and counted ([`Connection::dropped_events`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ipc_core::{ClientId, ErrorObject, EventName, codes};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;
use tokio_util::task::TaskTracker;

use crate::App;
use crate::binary;
use crate::capability::ConnectionInfo;
use crate::context::Caller;
use crate::dispatch::{Reply, Response, error_response};
use crate::events::ListenerId;

/// Settings of one connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// The `Origin` the client presented (browsers always send one).
    pub origin: Option<String>,
    /// The client's label (Tauri's window label), addressed by `EventTarget::Label`.
    pub label: Option<String>,
    /// The token the client presented, for capability grants.
    pub token: Option<String>,
    /// A capability the transport itself grants, whatever the client
    /// presented: for transports whose peer is vouched for by how it is
    /// reached (the parent process of a stdio sidecar, a window the app
    /// opened). When set, origin, token and callback grants are not consulted.
    /// Never fill it from anything the client sends.
    pub capability: Option<String>,
    /// Whether the client accepts binary frames (byte results become raw
    /// attachments instead of JSON arrays).
    pub binary: bool,
    /// How many async calls may run at once before `handle_text` waits (default 64).
    pub max_in_flight: usize,
    /// How many outgoing messages may wait for the transport (default 256).
    pub outbox_capacity: usize,
    /// The most requests in one batch (default 64).
    pub max_batch: usize,
    /// The most event subscriptions the connection may hold (default 256).
    pub max_subscriptions: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            origin: None,
            label: None,
            token: None,
            capability: None,
            binary: false,
            max_in_flight: 64,
            outbox_capacity: 256,
            max_batch: 64,
            max_subscriptions: 256,
        }
    }
}

impl ConnectOptions {
    /// Options with this origin and default limits.
    pub fn with_origin(origin: Option<String>) -> Self {
        ConnectOptions {
            origin,
            ..Self::default()
        }
    }

    /// These options, for a client that accepts binary frames.
    #[must_use]
    pub fn binary(mut self, binary: bool) -> Self {
        self.binary = binary;
        self
    }

    /// These options, with a label.
    #[must_use]
    pub fn label(mut self, label: Option<String>) -> Self {
        self.label = label;
        self
    }

    /// These options, with the token the client presented.
    #[must_use]
    pub fn token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// These options, with a capability the transport grants (see
    /// [`capability`](Self::capability)).
    #[must_use]
    pub fn capability(mut self, capability: Option<String>) -> Self {
        self.capability = capability;
        self
    }

    /// These options, with another in-flight limit.
    #[must_use]
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls;
        self
    }

    /// These options, with another batch limit.
    #[must_use]
    pub fn max_batch(mut self, requests: usize) -> Self {
        self.max_batch = requests;
        self
    }

    /// These options, with another subscription limit.
    #[must_use]
    pub fn max_subscriptions(mut self, subscriptions: usize) -> Self {
        self.max_subscriptions = subscriptions;
        self
    }

    /// These options, with another outbox capacity.
    #[must_use]
    pub fn outbox_capacity(mut self, messages: usize) -> Self {
        self.outbox_capacity = messages;
        self
    }
}

/// Something to send to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outbound {
    /// A JSON-RPC message (UTF-8 text).
    Text(Bytes),
    /// A binary frame: `head` (length prefix and JSON header) then `body` (the
    /// one attachment). Kept apart so the body is never copied.
    Binary {
        /// Length prefix and header.
        head: Bytes,
        /// The attachment.
        body: Bytes,
    },
}

impl Outbound {
    pub(crate) fn text(text: Vec<u8>) -> Self {
        Outbound::Text(Bytes::from(text))
    }

    /// A binary frame from an unterminated JSON message and its attachment.
    pub(crate) fn binary(open_message: &[u8], body: Bytes) -> Self {
        Outbound::Binary {
            head: binary::encode_head(open_message, body.len()),
            body,
        }
    }

    /// The JSON-RPC message: the whole text, or a binary frame's header.
    pub fn as_str(&self) -> &str {
        // Built from `String`s and checked headers only, so always UTF-8.
        match self {
            Outbound::Text(bytes) => std::str::from_utf8(bytes).unwrap_or(""),
            Outbound::Binary { head, .. } => {
                std::str::from_utf8(head.get(4..).unwrap_or(&[])).unwrap_or("")
            }
        }
    }

    /// A binary frame's attachment.
    pub fn attachment(&self) -> Option<&Bytes> {
        match self {
            Outbound::Text(_) => None,
            Outbound::Binary { body, .. } => Some(body),
        }
    }
}

/// What a connection has to send, in order. Ends when the connection is closed
/// and every call it started has finished.
#[derive(Debug)]
pub struct Outbox {
    receiver: mpsc::Receiver<Outbound>,
}

impl Outbox {
    /// The next message, waiting for one.
    pub async fn recv(&mut self) -> Option<Outbound> {
        self.receiver.recv().await
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        self.receiver.try_recv().ok()
    }
}

#[derive(Default)]
struct Subscriptions {
    /// `ipc.listen`: one per event name.
    by_name: HashMap<EventName, ListenerId>,
    /// `plugin:event|listen`: one per Tauri listener.
    tauri: HashSet<ListenerId>,
}

impl Subscriptions {
    fn len(&self) -> usize {
        self.by_name.len() + self.tauri.len()
    }
}

#[derive(Default)]
struct Calls {
    next: u64,
    running: HashMap<u64, Running>,
}

struct Running {
    /// The request id as the request wrote it (`ipc.cancel` names it).
    request: Option<Box<str>>,
    abort: AbortHandle,
}

/// The part of a connection the event bus, channels and running calls hold on to.
pub(crate) struct Session {
    pub(crate) caller: Caller,
    binary: bool,
    outbound: mpsc::Sender<Outbound>,
    subscriptions: Mutex<Subscriptions>,
    calls: Mutex<Calls>,
    /// Ids of the channels currently open on this connection.
    channels: Mutex<HashSet<u64>>,
    dropped_events: AtomicU64,
    /// Events dropped since the client was last told (`ipc.lagged`).
    lagged: AtomicU64,
    pub(crate) max_batch: usize,
    max_subscriptions: usize,
}

impl Session {
    /// Marks channel `id` open; `false` if it already is (two calls may not
    /// stream into one channel).
    pub(crate) fn open_channel(&self, id: u64) -> bool {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id)
    }

    /// Marks channel `id` closed, so its id may be used again.
    pub(crate) fn close_channel(&self, id: u64) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    pub(crate) fn client_id(&self) -> ClientId {
        self.caller.client_id()
    }

    /// Whether the client accepts binary frames.
    pub(crate) fn binary(&self) -> bool {
        self.binary
    }

    /// Whether the client can still receive.
    pub(crate) fn is_open(&self) -> bool {
        !self.outbound.is_closed()
    }

    /// Queues a message, waiting for room; `false` if the client is gone.
    pub(crate) async fn send_outbound(&self, message: Outbound) -> bool {
        self.outbound.send(message).await.is_ok()
    }

    /// Queues an event without waiting. When the outbox is full the event is
    /// dropped and counted; before the next event that fits, the client is
    /// told how many it missed with an `ipc.lagged` notification.
    pub(crate) fn push_event(&self, message: Outbound) {
        let lagged = self.lagged.load(Ordering::Acquire);
        if lagged > 0 {
            let notice = format!(
                r#"{{"jsonrpc":"2.0","method":"ipc.lagged","params":{{"dropped":{lagged}}}}}"#
            );
            match self.outbound.try_send(Outbound::text(notice.into_bytes())) {
                Ok(()) => {
                    self.lagged.fetch_sub(lagged, Ordering::AcqRel);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(_)) => return self.drop_event(),
            }
        }
        match self.outbound.try_send(message) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.drop_event(),
        }
    }

    fn drop_event(&self) {
        self.lagged.fetch_add(1, Ordering::AcqRel);
        let dropped = self.dropped_events.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped.is_power_of_two() {
            tracing::warn!(client = %self.client_id(), dropped, "client is not reading; events dropped");
        }
    }

    /// Queues a message from a context that cannot wait (a destructor): now if
    /// there is room, else from a task.
    pub(crate) fn push_final(self: &Arc<Self>, message: Outbound) {
        if let Err(mpsc::error::TrySendError::Full(message)) = self.outbound.try_send(message)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let sender = self.outbound.clone();
            runtime.spawn(async move {
                let _ = sender.send(message).await;
            });
        }
    }

    /// Subscribes to `name` (once per name), returning the subscription id;
    /// `None` if the connection holds as many subscriptions as it may.
    pub(crate) fn subscribe(self: &Arc<Self>, app: &App, name: EventName) -> Option<ListenerId> {
        let mut subscriptions = self.lock_subscriptions();
        if let Some(id) = subscriptions.by_name.get(&name) {
            return Some(*id);
        }
        if subscriptions.len() >= self.max_subscriptions {
            return None;
        }
        let id = app
            .inner
            .events
            .listen_client(name.clone(), Arc::clone(self), None);
        subscriptions.by_name.insert(name, id);
        Some(id)
    }

    /// The subscription limit, for error messages.
    pub(crate) fn max_subscriptions(&self) -> usize {
        self.max_subscriptions
    }

    /// Drops the subscription to `name`; `false` if there was none.
    pub(crate) fn unsubscribe_name(&self, app: &App, name: &str) -> bool {
        let removed = self.lock_subscriptions().by_name.remove(name);
        removed.is_some_and(|id| app.inner.events.unlisten(id))
    }

    /// Drops the subscription with this id; `false` if there was none.
    pub(crate) fn unsubscribe_id(&self, app: &App, id: u64) -> bool {
        let mut subscriptions = self.lock_subscriptions();
        let name = subscriptions
            .by_name
            .iter()
            .find(|(_, listener)| listener.get() == id)
            .map(|(name, _)| name.clone());
        let Some(name) = name else {
            return false;
        };
        subscriptions.by_name.remove(&name);
        drop(subscriptions);
        app.inner.events.unlisten(ListenerId::from_raw(id))
    }

    /// A Tauri listener (`plugin:event|listen`): its own subscription, whose
    /// events carry its id and callback id.
    pub(crate) fn tauri_listen(
        self: &Arc<Self>,
        app: &App,
        name: EventName,
        handler: u64,
    ) -> Option<ListenerId> {
        let mut subscriptions = self.lock_subscriptions();
        if subscriptions.len() >= self.max_subscriptions {
            return None;
        }
        let id = app
            .inner
            .events
            .listen_client(name, Arc::clone(self), Some(handler));
        subscriptions.tauri.insert(id);
        Some(id)
    }

    /// Removes one of this connection's Tauri listeners; `false` if it has no such listener.
    pub(crate) fn tauri_unlisten(&self, app: &App, id: u64) -> bool {
        let id = ListenerId::from_raw(id);
        let owned = self.lock_subscriptions().tauri.remove(&id);
        owned && app.inner.events.unlisten(id)
    }

    pub(crate) fn subscription_count(&self) -> usize {
        self.lock_subscriptions().len()
    }

    fn unsubscribe_all(&self, app: &App) {
        let all: Vec<ListenerId> = {
            let mut subscriptions = self.lock_subscriptions();
            let mut all: Vec<ListenerId> =
                subscriptions.by_name.drain().map(|(_, id)| id).collect();
            all.extend(subscriptions.tauri.drain());
            all
        };
        for id in all {
            app.inner.events.unlisten(id);
        }
    }

    fn lock_subscriptions(&self) -> std::sync::MutexGuard<'_, Subscriptions> {
        self.subscriptions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cancels the running call whose request id is `request` (as written);
    /// `false` if there is none.
    pub(crate) fn cancel(&self, request: &str) -> bool {
        let mut calls = self.lock_calls();
        let key = calls
            .running
            .iter()
            .find(|(_, running)| running.request.as_deref() == Some(request))
            .map(|(key, _)| *key);
        match key.and_then(|key| calls.running.remove(&key)) {
            Some(running) => {
                running.abort.abort();
                true
            }
            None => false,
        }
    }

    fn in_flight(&self) -> usize {
        self.lock_calls().running.len()
    }

    fn abort_all(&self) -> usize {
        let running: Vec<Running> = self.lock_calls().running.drain().map(|(_, r)| r).collect();
        for call in &running {
            call.abort.abort();
        }
        running.len()
    }
}

/// One frontend's session: feed it messages, send what its [`Outbox`] yields.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, command};
/// use ipc_runtime::connection::ConnectOptions;
///
/// #[command]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// let (connection, mut outbox) = app.connect(ConnectOptions::default());
/// connection.handle_text(r#"{"jsonrpc":"2.0","id":1,"method":"add","params":[2,2]}"#).await;
/// let reply = outbox.recv().await.unwrap();
/// assert_eq!(reply.as_str(), r#"{"jsonrpc":"2.0","id":1,"result":4}"#);
/// connection.close();
/// # }
/// ```
pub struct Connection {
    app: App,
    session: Arc<Session>,
    tasks: TaskTracker,
    in_flight: Arc<Semaphore>,
}

impl App {
    /// Opens a connection for a transport, with the permissions its origin,
    /// token and label are granted (see [`capability`](crate::capability)).
    /// Emits `ipc:connected`.
    pub fn connect(&self, options: ConnectOptions) -> (Connection, Outbox) {
        let client = ClientId::new(self.inner.next_client.fetch_add(1, Ordering::Relaxed));
        let permissions = match &options.capability {
            Some(name) => self.inner.acl.vouched(name),
            None => self.inner.acl.resolve(&ConnectionInfo {
                origin: options.origin.as_deref(),
                token: options.token.as_deref(),
                label: options.label.as_deref(),
            }),
        };
        tracing::debug!(client = %client, ?permissions, "connection opened");
        let (sender, receiver) = mpsc::channel(options.outbox_capacity.max(1));
        let session = Arc::new(Session {
            caller: Caller::with_permissions(client, options.origin, options.label, permissions),
            binary: options.binary,
            outbound: sender,
            subscriptions: Mutex::new(Subscriptions::default()),
            calls: Mutex::new(Calls::default()),
            channels: Mutex::new(HashSet::new()),
            dropped_events: AtomicU64::new(0),
            lagged: AtomicU64::new(0),
            max_batch: options.max_batch,
            max_subscriptions: options.max_subscriptions,
        });
        let connection = Connection {
            app: self.clone(),
            session,
            tasks: TaskTracker::new(),
            in_flight: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
        };
        connection.emit_lifecycle("ipc:connected");
        (connection, Outbox { receiver })
    }
}

impl Connection {
    /// The connection's client id.
    pub fn client_id(&self) -> ClientId {
        self.session.client_id()
    }

    /// The caller identity commands on this connection receive.
    pub fn caller(&self) -> &Caller {
        &self.session.caller
    }

    /// Handles one incoming text message. Sync commands and reserved methods
    /// are answered before this returns; async ones are started (after waiting
    /// for a free in-flight slot) and answer when they finish.
    pub async fn handle_text(&self, text: &str) {
        let reply = self
            .app
            .dispatch_text(text, &self.session.caller, Some(&self.session));
        self.handle_reply(reply).await;
    }

    /// Handles one incoming binary frame (see `docs/protocol.md`, "Binary
    /// payloads"); a malformed one is answered with -32600.
    pub async fn handle_binary(&self, frame: Bytes) {
        let reply = match binary::decode(frame) {
            Ok(message) => self.app.dispatch_binary(&message, &self.session),
            Err(why) => {
                let error = ErrorObject::new(
                    codes::INVALID_REQUEST,
                    format!("invalid binary frame: {why}"),
                );
                Reply::Ready(Response::Text(error_response(None, &error).into_bytes()))
            }
        };
        self.handle_reply(reply).await;
    }

    async fn handle_reply(&self, reply: Reply) {
        match reply {
            Reply::None => {}
            Reply::Ready(response) => {
                self.session.send_outbound(response.into_outbound()).await;
            }
            Reply::Pending { request, future } => {
                let Ok(permit) = Arc::clone(&self.in_flight).acquire_owned().await else {
                    return;
                };
                let session = Arc::clone(&self.session);
                // Spawn under the lock, so the task's own removal comes after the insert.
                let mut calls = self.session.lock_calls();
                let key = calls.next;
                calls.next += 1;
                let task = self.tasks.spawn(async move {
                    if let Some(response) = future.await {
                        session.send_outbound(response.into_outbound()).await;
                    }
                    session.lock_calls().running.remove(&key);
                    drop(permit);
                });
                calls.running.insert(
                    key,
                    Running {
                        request,
                        abort: task.abort_handle(),
                    },
                );
            }
        }
    }

    /// Queues a message that is not the answer to a call (a transport-level error).
    pub async fn send_error(&self, error: &ErrorObject) {
        let text = error_response(None, error);
        self.session
            .send_outbound(Outbound::text(text.into_bytes()))
            .await;
    }

    /// How many async calls are running.
    pub fn in_flight(&self) -> usize {
        self.session.in_flight()
    }

    /// How many events were dropped because the client did not read fast enough.
    pub fn dropped_events(&self) -> u64 {
        self.session.dropped_events.load(Ordering::Relaxed)
    }

    /// How many subscriptions the client holds.
    pub fn subscriptions(&self) -> usize {
        self.session.subscription_count()
    }

    /// Closes the connection because the client went away: its subscriptions
    /// end at once; calls still running finish (their results are discarded),
    /// so a command is never stopped half-way by a disconnect. Emits
    /// `ipc:disconnected`.
    pub fn close(self) {
        self.session.unsubscribe_all(&self.app);
        self.tasks.close();
        self.emit_lifecycle("ipc:disconnected");
    }

    /// Closes the connection for a server shutdown: subscriptions end, running
    /// calls get up to `drain` to finish and send their responses, and the rest
    /// are cancelled. Returns how many were cancelled.
    pub async fn shutdown(self, drain: Duration) -> usize {
        self.session.unsubscribe_all(&self.app);
        self.tasks.close();
        let cancelled = if tokio::time::timeout(drain, self.tasks.wait())
            .await
            .is_err()
        {
            let cancelled = self.session.abort_all();
            self.tasks.wait().await;
            cancelled
        } else {
            0
        };
        self.emit_lifecycle("ipc:disconnected");
        cancelled
    }

    fn emit_lifecycle(&self, event: &str) {
        let payload = serde_json::json!({
            "client": self.client_id(),
            "origin": self.session.caller.origin(),
        });
        let payload = match serde_json::value::to_raw_value(&payload) {
            Ok(raw) => Arc::from(raw),
            Err(_) => return,
        };
        self.app.deliver_event(
            event,
            &payload,
            &self.app.inner.backend,
            &ipc_core::EventTarget::All,
        );
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("client", &self.client_id())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}
