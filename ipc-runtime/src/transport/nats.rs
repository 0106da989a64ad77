//! [`NatsBridge`]: events across the instances of an app through a
//! nats-server (feature `nats`).
//!
//! Each event crossing is one NATS message on the subject
//! `<prefix>.<event name>` (an empty token of the name, as in `a..b`, is
//! written `_`): the payload's JSON text is the message body, as is, and
//! headers carry the rest:
//!
//! | header | value |
//! |---|---|
//! | `Ipc-Instance` | the emitting instance's id ([`App::instance_id`](crate::App::instance_id)) |
//! | `Ipc-Event` | the event's name (the subject's tail, before any `_` for an empty token) |
//! | `Ipc-Source` | the emitter's client id, in decimal (`0`: the backend) |
//! | `Ipc-Target` | the target as `ipc-core` serializes it: `"all"`, `{"client":7}`, ... |
//!
//! Each instance subscribes to `<prefix>.>`. The connection asks the server
//! not to echo an instance's own messages back, and the inbox skips any that
//! carry its id anyway.
//!
//! Emitting never waits for NATS: an event is put on a queue bounded in
//! count and in bytes, and one task publishes from it. While the broker is
//! unreachable, that task counts what it takes off the queue as lost
//! ([`BridgeStats::dropped_offline`]) instead of buffering it; a full queue
//! counts the event in [`BridgeStats::dropped_full`]; both are logged through
//! `tracing` (the first of a run at `warn`, then every 1000th). async-nats
//! reconnects by itself (retrying every second at most) and subscribes again.
//!
//! ```rust,no_run
//! use ipc_runtime::App;
//! use ipc_runtime::transport::nats::NatsBridge;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bridge = NatsBridge::builder("nats://127.0.0.1:4222").prefix("ipc.chat").connect().await?;
//! let app = App::builder().bridge(bridge).build()?;
//! app.emit("chat:message", &"hello, every instance")?;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::client::PublishErrorKind;
use async_nats::connection::State;
use async_nats::{Client, HeaderMap, Message, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use ipc_core::{ClientId, EventTarget};
use serde_json::value::RawValue;

use crate::route::bridge::{Bridge, BridgeError, BridgeStats, BridgedEvent, Delivered, Inbox};

/// The header naming the emitting instance.
pub const HEADER_INSTANCE: &str = "Ipc-Instance";
/// The header naming the event.
pub const HEADER_EVENT: &str = "Ipc-Event";
/// The header naming the emitting client (decimal; `0` is the backend).
pub const HEADER_SOURCE: &str = "Ipc-Source";
/// The header naming the event's target (as `ipc-core` serializes it).
pub const HEADER_TARGET: &str = "Ipc-Target";

/// The default subject prefix.
pub const DEFAULT_PREFIX: &str = "ipc";

/// The longest time one publish may take before the event is counted lost
/// (a connection that is up but stuck).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// What the queue to the publishing task holds besides the payload, per event
/// (name, headers, bookkeeping), for its byte bound.
const PER_EVENT_BYTES: usize = 128;

/// Why a [`NatsBridge`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The prefix is not a valid subject without wildcards.
    #[error("invalid subject prefix `{0}`: dot-separated tokens without spaces, `*` or `>`")]
    Prefix(String),
    /// No server could be reached.
    #[error("cannot connect to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    /// The subscription to the prefix failed.
    #[error("cannot subscribe to NATS: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    /// Not called inside a tokio runtime.
    #[error("NatsBridge::connect must run inside a tokio runtime")]
    NoRuntime,
}

/// Configures a [`NatsBridge`]; from [`NatsBridge::builder`].
#[derive(Debug, Clone)]
pub struct NatsBridgeBuilder {
    url: String,
    prefix: String,
    queue_count: usize,
    queue_bytes: usize,
    receive_capacity: usize,
    name: Option<String>,
}

impl NatsBridgeBuilder {
    /// The subject prefix (default `ipc`): events go to `<prefix>.<name>`,
    /// so several apps can share one NATS.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The most events (default 4096) and bytes (default 8 MiB) waiting to be
    /// published; past either, events are counted and not published.
    #[must_use]
    pub fn queue(mut self, count: usize, bytes: usize) -> Self {
        self.queue_count = count.max(1);
        self.queue_bytes = bytes.max(1);
        self
    }

    /// The most messages from other instances waiting to be delivered here
    /// (default 4096); past it, the NATS client drops them (a slow consumer,
    /// counted in [`BridgeStats::rejected`]).
    #[must_use]
    pub fn receive_capacity(mut self, count: usize) -> Self {
        self.receive_capacity = count.max(1);
        self
    }

    /// The connection's name, as the server's monitoring shows it.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Connects and subscribes. Fails when no server answers; once
    /// connected, the client reconnects by itself whenever it loses it.
    pub async fn connect(self) -> Result<NatsBridge, NatsError> {
        if !valid_prefix(&self.prefix) {
            return Err(NatsError::Prefix(self.prefix));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NatsError::NoRuntime)?;
        let counters = Arc::new(Counters::default());
        let events = Arc::clone(&counters);
        let mut options = async_nats::ConnectOptions::new()
            .no_echo()
            .subscription_capacity(self.receive_capacity)
            // Our own queue bounds what waits; this only smooths bursts.
            .client_capacity(256)
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100 * attempts.min(10) as u64)
            })
            .event_callback(move |event| {
                let counters = Arc::clone(&events);
                async move { counters.on_event(event) }
            });
        if let Some(name) = &self.name {
            options = options.name(name);
        }
        let client = options.connect(self.url.as_str()).await?;
        let subscriber = client.subscribe(format!("{}.>", self.prefix)).await?;
        // Make sure the server has the subscription before anyone emits.
        let _ = tokio::time::timeout(Duration::from_secs(5), client.flush()).await;
        Ok(NatsBridge {
            shared: Arc::new(Shared {
                client,
                prefix: self.prefix,
                queue: Mutex::new(Queue::default()),
                queue_count: self.queue_count,
                queue_bytes: self.queue_bytes,
                wake: tokio::sync::Notify::new(),
                closed: AtomicBool::new(false),
                counters,
            }),
            subscriber: Mutex::new(Some(subscriber)),
            tasks: Mutex::new(Vec::new()),
            runtime,
        })
    }
}

/// Events across instances through NATS: give it to
/// [`AppBuilder::bridge`](crate::AppBuilder::bridge). See the [module docs](self).
///
/// ```rust,no_run
/// # use ipc_runtime::{App, BridgeFilter};
/// # use ipc_runtime::transport::nats::NatsBridge;
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App::builder()
///     .bridge(NatsBridge::connect("nats://127.0.0.1:4222").await?)
///     .bridge_filter(BridgeFilter::matching(["chat:*"]))
///     .build()?;
/// println!("lost so far: {}", app.bridge_stats().unwrap().lost());
/// # Ok(()) }
/// ```
pub struct NatsBridge {
    shared: Arc<Shared>,
    /// Taken by [`Bridge::start`].
    subscriber: Mutex<Option<Subscriber>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    runtime: tokio::runtime::Handle,
}

impl NatsBridge {
    /// Connects with the defaults (prefix `ipc`).
    pub async fn connect(url: impl Into<String>) -> Result<NatsBridge, NatsError> {
        Self::builder(url).connect().await
    }

    /// A bridge to the server(s) at `url` (`nats://host:port`, several
    /// separated by commas), to configure before connecting.
    pub fn builder(url: impl Into<String>) -> NatsBridgeBuilder {
        NatsBridgeBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            queue_count: 4096,
            queue_bytes: 8 << 20,
            receive_capacity: 4096,
            name: None,
        }
    }

    /// The subject prefix.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }
}

impl Bridge for NatsBridge {
    fn start(&self, inbox: Inbox) {
        let Some(subscriber) = lock(&self.subscriber).take() else {
            tracing::error!("NatsBridge started twice: give each app its own bridge");
            return;
        };
        let publishing = self.runtime.spawn(publish_loop(Arc::clone(&self.shared)));
        let receiving =
            self.runtime
                .spawn(receive_loop(Arc::clone(&self.shared), subscriber, inbox));
        lock(&self.tasks).extend([publishing, receiving]);
    }

    fn publish(&self, event: &BridgedEvent) {
        let shared = &self.shared;
        let size = event.payload().get().len() + event.name().len() + PER_EVENT_BYTES;
        {
            let mut queue = lock(&shared.queue);
            if queue.items.len() >= shared.queue_count || queue.bytes + size > shared.queue_bytes {
                drop(queue);
                let n = shared.counters.dropped_full.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n.is_multiple_of(1000) {
                    tracing::warn!(
                        event = event.name(),
                        dropped = n,
                        "NATS bridge queue full: event not published"
                    );
                }
                return;
            }
            queue.bytes += size;
            queue.items.push_back((event.clone(), size));
        }
        shared.wake.notify_one();
    }

    fn stats(&self) -> BridgeStats {
        let c = &self.shared.counters;
        BridgeStats {
            published: c.published.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            dropped_full: c.dropped_full.load(Ordering::Relaxed),
            dropped_offline: c.dropped_offline.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            queued: lock(&self.shared.queue).items.len() as u64,
        }
    }
}

impl Drop for NatsBridge {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

impl fmt::Debug for NatsBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsBridge")
            .field("prefix", &self.shared.prefix)
            .field("state", &self.shared.client.connection_state())
            .field("stats", &self.stats())
            .finish()
    }
}

/// What the bridge's tasks and its handle share.
struct Shared {
    client: Client,
    prefix: String,
    queue: Mutex<Queue>,
    queue_count: usize,
    queue_bytes: usize,
    wake: tokio::sync::Notify,
    closed: AtomicBool,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Queue {
    /// Each event with the bytes it was counted as.
    items: VecDeque<(BridgedEvent, usize)>,
    bytes: usize,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    received: AtomicU64,
    dropped_full: AtomicU64,
    dropped_offline: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
}

impl Counters {
    fn on_event(&self, event: async_nats::Event) {
        match event {
            async_nats::Event::Connected => tracing::info!("NATS bridge connected"),
            async_nats::Event::Disconnected => {
                tracing::warn!("NATS bridge disconnected; events are delivered locally only")
            }
            async_nats::Event::SlowConsumer(_) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("NATS bridge reads too slowly: messages from other instances lost");
            }
            other => tracing::debug!(event = %other, "NATS bridge"),
        }
    }
}

/// Publishes what the queue holds, until the bridge is dropped.
async fn publish_loop(shared: Arc<Shared>) {
    loop {
        let next = {
            let mut queue = lock(&shared.queue);
            let next = queue.items.pop_front();
            if let Some((_, size)) = &next {
                queue.bytes -= size;
            }
            next
        };
        let Some((event, _)) = next else {
            if shared.closed.load(Ordering::Acquire) {
                return;
            }
            shared.wake.notified().await;
            continue;
        };
        if shared.client.connection_state() != State::Connected {
            shared.lost_offline(&event, "NATS unreachable");
            continue;
        }
        let (subject, headers, payload) = encode(&shared.prefix, &event);
        let sent = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            shared
                .client
                .publish_with_headers(subject, headers, payload),
        )
        .await;
        match sent {
            Ok(Ok(())) => {
                shared.counters.published.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(error)) if error.kind() == PublishErrorKind::Send => {
                shared.lost_offline(&event, &error.to_string())
            }
            Ok(Err(error)) => {
                let n = shared.counters.failed.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n.is_multiple_of(1000) {
                    tracing::warn!(
                        event = event.name(),
                        failed = n,
                        %error,
                        "NATS bridge: event refused by the NATS client"
                    );
                }
            }
            Err(_) => shared.lost_offline(&event, "publish timed out"),
        }
    }
}

impl Shared {
    fn lost_offline(&self, event: &BridgedEvent, why: &str) {
        let n = self
            .counters
            .dropped_offline
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        if n == 1 || n.is_multiple_of(1000) {
            tracing::warn!(
                event = event.name(),
                lost = n,
                why,
                "NATS bridge: event not published"
            );
        }
    }
}

/// Delivers what other instances publish, until the app or the bridge goes.
async fn receive_loop(shared: Arc<Shared>, mut subscriber: Subscriber, inbox: Inbox) {
    while let Some(message) = subscriber.next().await {
        let result = decode(&message).and_then(|event| inbox.deliver(event));
        match result {
            Ok(Delivered::Delivered) => {
                shared.counters.received.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(BridgeError::AppGone) => return,
            Err(error) => {
                let n = shared.counters.rejected.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n.is_multiple_of(1000) {
                    tracing::warn!(
                        subject = message.subject.as_str(),
                        %error,
                        rejected = n,
                        "NATS bridge: message from the broker refused"
                    );
                }
            }
        }
    }
}

/// The payload's text, shared with the event rather than copied.
struct PayloadBytes(Arc<RawValue>);

impl AsRef<[u8]> for PayloadBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.get().as_bytes()
    }
}

/// An event as a NATS message: subject, headers, body.
fn encode(prefix: &str, event: &BridgedEvent) -> (String, HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_INSTANCE, event.instance());
    headers.insert(HEADER_EVENT, event.name());
    headers.insert(HEADER_SOURCE, event.source().get().to_string());
    // A target always serializes; JSON escapes every control character, so
    // the value fits on a header line.
    let target = serde_json::to_string(event.target()).unwrap_or_else(|_| "\"all\"".into());
    headers.insert(HEADER_TARGET, target);
    let payload = Bytes::from_owner(PayloadBytes(event.payload_arc()));
    (subject(prefix, event.name()), headers, payload)
}

/// `<prefix>.<name>`, each empty token of the name written `_`.
fn subject(prefix: &str, name: &str) -> String {
    let mut subject = String::with_capacity(prefix.len() + name.len() + 2);
    subject.push_str(prefix);
    for token in name.split('.') {
        subject.push('.');
        subject.push_str(if token.is_empty() { "_" } else { token });
    }
    subject
}

/// A NATS message as an event; what it lacks or has malformed is an error.
fn decode(message: &Message) -> Result<BridgedEvent, BridgeError> {
    let headers = message
        .headers
        .as_ref()
        .ok_or_else(|| BridgeError::Malformed("no headers".into()))?;
    let header = |name: &str| {
        headers
            .get(name)
            .map(|value| value.as_str())
            .ok_or_else(|| BridgeError::Malformed(format!("no `{name}` header")))
    };
    let instance = header(HEADER_INSTANCE)?;
    let name = header(HEADER_EVENT)?;
    let source: u64 = header(HEADER_SOURCE)?
        .parse()
        .map_err(|_| BridgeError::Malformed(format!("`{HEADER_SOURCE}` is not a number")))?;
    let target: EventTarget = serde_json::from_str(header(HEADER_TARGET)?)
        .map_err(|e| BridgeError::Malformed(format!("`{HEADER_TARGET}`: {e}")))?;
    BridgedEvent::new(
        instance,
        name,
        &message.payload,
        ClientId::new(source),
        target,
    )
}

/// Dot-separated non-empty tokens, without whitespace or wildcards.
fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.split('.').all(|token| {
            !token.is_empty()
                && !token
                    .chars()
                    .any(|c| c.is_whitespace() || c == '*' || c == '>')
        })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_keep_the_name_under_the_prefix() {
        assert_eq!(subject("ipc", "chat:message"), "ipc.chat:message");
        assert_eq!(subject("a.b", "x.y"), "a.b.x.y");
        assert_eq!(subject("ipc", ".a..b."), "ipc._.a._.b._");
    }

    #[test]
    fn prefixes_are_plain_subjects() {
        assert!(valid_prefix("ipc") && valid_prefix("apps.chat-1"));
        for bad in ["", "a..b", ".a", "a.", "a.*", "a.>", "a b"] {
            assert!(!valid_prefix(bad), "{bad:?}");
        }
    }

    fn message(headers: &[(&str, &str)], payload: &'static str) -> Message {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, *value);
        }
        Message {
            subject: "ipc.x".into(),
            reply: None,
            payload: Bytes::from_static(payload.as_bytes()),
            headers: Some(map),
            status: None,
            description: None,
            length: 0,
        }
    }

    #[test]
    fn an_encoded_event_decodes_to_itself() {
        let event = BridgedEvent::new(
            "i1",
            "a..b",
            br#"{"x":[1,2]}"#,
            ClientId::new(42),
            EventTarget::Label("win\r\n1".into()),
        )
        .unwrap();
        let (subject, headers, payload) = encode("p", &event);
        assert_eq!(subject, "p.a._.b");
        let back = decode(&Message {
            subject: subject.into(),
            reply: None,
            payload,
            headers: Some(headers),
            status: None,
            description: None,
            length: 0,
        })
        .unwrap();
        assert_eq!(back.instance(), "i1");
        assert_eq!(back.name(), "a..b");
        assert_eq!(back.payload().get(), r#"{"x":[1,2]}"#);
        assert_eq!(back.source(), ClientId::new(42));
        assert_eq!(back.target(), &EventTarget::Label("win\r\n1".into()));
    }

    #[test]
    fn malformed_messages_are_errors() {
        let full = [
            (HEADER_INSTANCE, "i"),
            (HEADER_EVENT, "e"),
            (HEADER_SOURCE, "3"),
            (HEADER_TARGET, "\"all\""),
        ];
        assert!(decode(&message(&full, "1")).is_ok());
        for missing in 0..full.len() {
            let some: Vec<_> = full
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != missing)
                .map(|(_, h)| *h)
                .collect();
            assert!(
                matches!(decode(&message(&some, "1")), Err(BridgeError::Malformed(_))),
                "without {}",
                full[missing].0
            );
        }
        let mut bad_source = full;
        bad_source[2].1 = "-1";
        assert!(matches!(
            decode(&message(&bad_source, "1")),
            Err(BridgeError::Malformed(_))
        ));
        let mut bad_target = full;
        bad_target[3].1 = "{\"nobody\":1}";
        assert!(matches!(
            decode(&message(&bad_target, "1")),
            Err(BridgeError::Malformed(_))
        ));
        assert!(matches!(
            decode(&message(&full, "{not json")),
            Err(BridgeError::Payload(_))
        ));
        let mut bad_name = full;
        bad_name[1].1 = "no spaces";
        assert!(matches!(
            decode(&message(&bad_name, "1")),
            Err(BridgeError::Name(_))
        ));
    }
}
