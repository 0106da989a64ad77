//! A connection: one frontend's session with the app, independent of the
//! transport that carries it.
//!
//! A transport (the WebSocket server, or anything else that moves text
//! messages) calls [`App::connect`], feeds every incoming message to
//! [`Connection::handle_text`], and writes out whatever the [`Outbox`] yields:
//! responses, in completion order, and pushed events, in emit order.
//!
//! Flow control: at most `max_in_flight` async calls run per connection;
//! `handle_text` waits for a free slot, so a transport that awaits it stops
//! reading from a client that floods it. Responses wait for room in the outbox
//! (a slow reader slows its own calls down, nobody else's). Events never wait:
//! when a client's outbox is full, the event is dropped for that client and
//! counted ([`Connection::dropped_events`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ipc_core::{ClientId, EventName};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;
use tokio_util::task::TaskTracker;

use crate::App;
use crate::context::Caller;
use crate::dispatch::Reply;
use crate::events::ListenerId;

/// Settings of one connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// The `Origin` the client presented (browsers always send one).
    pub origin: Option<String>,
    /// How many async calls may run at once before `handle_text` waits (default 64).
    pub max_in_flight: usize,
    /// How many outgoing messages may wait for the transport (default 256).
    pub outbox_capacity: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            origin: None,
            max_in_flight: 64,
            outbox_capacity: 256,
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
}

/// Something to send to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outbound {
    /// A JSON-RPC message (UTF-8 text).
    Text(Bytes),
}

impl Outbound {
    /// The message text.
    pub fn as_str(&self) -> &str {
        match self {
            // Built from `String`s only, so always UTF-8.
            Outbound::Text(bytes) => std::str::from_utf8(bytes).unwrap_or(""),
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

/// The part of a connection the event bus and running calls hold on to.
pub(crate) struct Session {
    pub(crate) caller: Caller,
    outbound: mpsc::Sender<Outbound>,
    subscriptions: Mutex<HashMap<EventName, ListenerId>>,
    dropped_events: AtomicU64,
}

impl Session {
    pub(crate) fn client_id(&self) -> ClientId {
        self.caller.client_id()
    }

    /// Queues a response, waiting for room.
    pub(crate) async fn send(&self, text: String) {
        // A closed outbox means the client is gone; the response has no reader.
        let _ = self.outbound.send(Outbound::Text(Bytes::from(text))).await;
    }

    /// Queues an event without waiting; drops it if the outbox is full.
    pub(crate) fn push_event(&self, frame: &Bytes) {
        match self.outbound.try_send(Outbound::Text(frame.clone())) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let dropped = self.dropped_events.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(client = %self.client_id(), dropped, "client is not reading; events dropped");
                }
            }
        }
    }

    /// Subscribes to `name` (once per name), returning the subscription id.
    pub(crate) fn subscribe(self: &Arc<Self>, app: &App, name: EventName) -> ListenerId {
        let mut subscriptions = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = subscriptions.get(&name) {
            return *id;
        }
        let id = app
            .inner
            .events
            .listen_client(name.clone(), Arc::clone(self));
        subscriptions.insert(name, id);
        id
    }

    /// Drops the subscription to `name`; `false` if there was none.
    pub(crate) fn unsubscribe_name(&self, app: &App, name: &str) -> bool {
        let removed = self
            .subscriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        removed.is_some_and(|id| app.inner.events.unlisten(id))
    }

    /// Drops the subscription with this id; `false` if there was none.
    pub(crate) fn unsubscribe_id(&self, app: &App, id: u64) -> bool {
        let mut subscriptions = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
        let Some(name) = subscriptions
            .iter()
            .find(|(_, listener)| listener.get() == id)
            .map(|(name, _)| name.clone())
        else {
            return false;
        };
        subscriptions.remove(&name);
        drop(subscriptions);
        app.inner.events.unlisten(ListenerId::from_raw(id))
    }

    pub(crate) fn subscription_count(&self) -> usize {
        self.subscriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    fn unsubscribe_all(&self, app: &App) {
        let all: Vec<ListenerId> = self
            .subscriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, id)| id)
            .collect();
        for id in all {
            app.inner.events.unlisten(id);
        }
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
    running: Arc<Mutex<HashMap<u64, AbortHandle>>>,
    next_task: AtomicU64,
    in_flight: Arc<Semaphore>,
}

impl App {
    /// Opens a connection for a transport. Emits `ipc:connected`.
    pub fn connect(&self, options: ConnectOptions) -> (Connection, Outbox) {
        let client = ClientId::new(self.inner.next_client.fetch_add(1, Ordering::Relaxed));
        let (sender, receiver) = mpsc::channel(options.outbox_capacity.max(1));
        let caller = Caller::new(client, options.origin);
        let session = Arc::new(Session {
            caller,
            outbound: sender,
            subscriptions: Mutex::new(HashMap::new()),
            dropped_events: AtomicU64::new(0),
        });
        let connection = Connection {
            app: self.clone(),
            session,
            tasks: TaskTracker::new(),
            running: Arc::new(Mutex::new(HashMap::new())),
            next_task: AtomicU64::new(0),
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
        match self
            .app
            .dispatch_text(text, &self.session.caller, Some(&self.session))
        {
            Reply::None => {}
            Reply::Ready(reply) => self.session.send(reply).await,
            Reply::Pending(future) => {
                let Ok(permit) = Arc::clone(&self.in_flight).acquire_owned().await else {
                    return;
                };
                let session = Arc::clone(&self.session);
                let running = Arc::clone(&self.running);
                let key = self.next_task.fetch_add(1, Ordering::Relaxed);
                // Spawn under the lock, so the task's own removal comes after the insert.
                let mut table = self.running.lock().unwrap_or_else(|p| p.into_inner());
                let task = self.tasks.spawn(async move {
                    if let Some(reply) = future.await {
                        session.send(reply).await;
                    }
                    running
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&key);
                    drop(permit);
                });
                table.insert(key, task.abort_handle());
            }
        }
    }

    /// Queues a message that is not the answer to a call (a transport-level error).
    #[cfg(feature = "ws")]
    pub(crate) async fn send_raw(&self, text: String) {
        self.session.send(text).await;
    }

    /// How many async calls are running.
    pub fn in_flight(&self) -> usize {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// How many events were dropped because the client did not read fast enough.
    pub fn dropped_events(&self) -> u64 {
        self.session.dropped_events.load(Ordering::Relaxed)
    }

    /// How many event names the client subscribed to.
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
            let running: Vec<AbortHandle> = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain()
                .map(|(_, handle)| handle)
                .collect();
            for handle in &running {
                handle.abort();
            }
            self.tasks.wait().await;
            running.len()
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
            ipc_core::EventTarget::All,
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
