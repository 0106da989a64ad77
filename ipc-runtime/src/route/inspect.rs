//! The live inspector: a record of every call and every event, and a table
//! of the connections, for the page at `/ipc/inspect`.
//!
//! It is built on the middleware: a call layer (the outermost, so a call's
//! time includes the app's own layers) and an event layer record what passes
//! through them. Each record goes to a bounded list of recent ones and, while
//! a page watches, as the payload of the event `ipc:inspect` to the
//! connections subscribed to it. Only connections that
//! [may inspect](crate::capability::Permissions::may_inspect) can subscribe,
//! or ask for the snapshot (`ipc.inspect`: the recent records and the
//! connections table). Params, results and payloads are shown after the
//! app's redaction hook, cut to a length; a record is parsed, redacted and
//! serialized only when it is shown (to a watching page, or in a snapshot).
//!
//! ```rust,standalone_crate
//! use ipc_runtime::inspect::{Inspector, Part};
//! use ipc_runtime::{App, command};
//!
//! #[command]
//! fn login(user: String, password: String) -> bool { !user.is_empty() && !password.is_empty() }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = App::builder()
//!     .inspector(Inspector::new().redact(|part: Part<'_>, value: &mut serde_json::Value| {
//!         if let (Part::Params { command: "login" }, Some(password)) = (part, value.get_mut("password")) {
//!             *password = "(hidden)".into();
//!         }
//!     }))
//!     .build()
//!     .unwrap();
//! app.invoke("login", serde_json::json!({ "user": "ada", "password": "hunter2" })).await.unwrap();
//! let recent = app.inspector_records();
//! let call = recent.last().unwrap();
//! assert_eq!(call["command"], "login");
//! assert_eq!(call["outcome"], "ok");
//! assert_eq!(call["params"], r#"{"password":"(hidden)","user":"ada"}"#);
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ipc_core::{ClientId, EventTarget, codes, method};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tower::Service;

use super::Router;
use super::middleware::{self, BoxError, EventRequest, IpcRequest, IpcResponse, Next, Reached};
use crate::invoke::{BoxFuture, Peer};

/// How the app's redaction hook is told what it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part<'a> {
    /// The params of a call to `command`.
    Params {
        /// The command's wire name.
        command: &'a str,
    },
    /// The result of a call to `command`.
    Result {
        /// The command's wire name.
        command: &'a str,
    },
    /// The payload of an event.
    Payload {
        /// The event's name.
        event: &'a str,
    },
}

/// The redaction hook: changes a value in place before the inspector shows it.
pub type RedactFn = dyn Fn(Part<'_>, &mut Value) + Send + Sync;

/// The inspector's settings, for [`AppBuilder::inspector`](crate::AppBuilder::inspector).
///
/// The inspector is on by default in debug builds and off in release builds;
/// giving it settings turns it on in either.
///
/// ```
/// use ipc_runtime::inspect::Inspector;
///
/// let inspector = Inspector::new().max_shown(2048).recent(100);
/// # let _ = inspector;
/// ```
#[derive(Clone)]
pub struct Inspector {
    redact: Arc<RedactFn>,
    max_shown: usize,
    recent: usize,
    recent_bytes: usize,
}

impl Default for Inspector {
    fn default() -> Self {
        Inspector {
            redact: Arc::new(|_, value: &mut Value| redact_secrets(value)),
            max_shown: 4096,
            recent: 500,
            recent_bytes: 4 << 20,
        }
    }
}

impl fmt::Debug for Inspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inspector")
            .field("max_shown", &self.max_shown)
            .field("recent", &self.recent)
            .field("recent_bytes", &self.recent_bytes)
            .finish_non_exhaustive()
    }
}

impl Inspector {
    /// The default settings: values of keys that name a secret hidden
    /// ([`redact_secrets`]), 4 KiB of each value shown, the last 500 records
    /// (at most 4 MiB) kept for a page that opens later.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the redaction hook. It sees every params, result and payload
    /// (parsed) before it is shown; [`redact_secrets`] is the default, and a
    /// hook may call it too.
    #[must_use]
    pub fn redact(mut self, hook: impl Fn(Part<'_>, &mut Value) + Send + Sync + 'static) -> Self {
        self.redact = Arc::new(hook);
        self
    }

    /// How many bytes of each params, result and payload are shown (the rest
    /// is cut and the record says so).
    #[must_use]
    pub fn max_shown(mut self, bytes: usize) -> Self {
        self.max_shown = bytes;
        self
    }

    /// How many records are kept for a page that opens later.
    #[must_use]
    pub fn recent(mut self, records: usize) -> Self {
        self.recent = records;
        self
    }
}

/// The default redaction: the value of every object key that names a
/// secret (containing `password`, `secret`, `token`, `authorization`,
/// `cookie` or `api_key`/`apikey`, in any case) becomes `"(redacted)"`, at
/// any depth.
///
/// ```
/// let mut value = serde_json::json!({ "user": "ada", "auth": { "accessToken": "abc" } });
/// ipc_runtime::inspect::redact_secrets(&mut value);
/// assert_eq!(value, serde_json::json!({ "user": "ada", "auth": { "accessToken": "(redacted)" } }));
/// ```
pub fn redact_secrets(value: &mut Value) {
    const SECRET: [&str; 7] = [
        "password",
        "secret",
        "token",
        "authorization",
        "cookie",
        "api_key",
        "apikey",
    ];
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if SECRET.iter().any(|s| contains_ignoring_case(key, s)) {
                    *value = Value::from("(redacted)");
                } else {
                    redact_secrets(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

/// Whether `haystack` contains `needle` (lowercase ASCII), in any case.
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Values longer than this are not kept (nor parsed for redaction), so not shown.
const MAX_SHOWN_SOURCE: usize = 1 << 20;

/// A value as recorded: its JSON text, to be redacted and cut when shown,
/// or a note shown as it is (standing for a value too large to show, or not).
enum Text {
    Json(JsonText),
    Note { note: String, too_large: bool },
    Nothing,
}

/// JSON text kept for showing: copied from a call's params or result, or
/// shared with the event's payload.
enum JsonText {
    Owned(Box<str>),
    Shared(Arc<RawValue>),
}

impl Text {
    /// Keeps `json` to show later, unless it is too large.
    fn json(json: &str) -> Text {
        match json.len() {
            len if len > MAX_SHOWN_SOURCE => Text::too_large(len),
            _ => Text::Json(JsonText::Owned(json.into())),
        }
    }

    fn shared(json: &Arc<RawValue>) -> Text {
        match json.get().len() {
            len if len > MAX_SHOWN_SOURCE => Text::too_large(len),
            _ => Text::Json(JsonText::Shared(Arc::clone(json))),
        }
    }

    fn too_large(len: usize) -> Text {
        Text::Note {
            note: format!("({len} bytes: too large to show)"),
            too_large: true,
        }
    }

    /// The bytes it holds, for the recent list's bound.
    fn size(&self) -> usize {
        match self {
            Text::Json(JsonText::Owned(text)) => text.len(),
            Text::Json(JsonText::Shared(raw)) => raw.get().len(),
            Text::Note { note, .. } => note.len(),
            Text::Nothing => 0,
        }
    }

    /// Shows it: parsed, redacted, cut to `settings.max_shown` bytes. The
    /// flag says whether it was cut.
    fn show(&self, part: Part<'_>, settings: &Inspector) -> (Option<String>, bool) {
        let json = match self {
            Text::Nothing => return (None, false),
            Text::Note { note, too_large } => return (Some(note.clone()), *too_large),
            Text::Json(JsonText::Owned(text)) => &**text,
            Text::Json(JsonText::Shared(raw)) => raw.get(),
        };
        let Ok(mut value) = serde_json::from_str::<Value>(json) else {
            return (None, false);
        };
        (settings.redact)(part, &mut value);
        let mut text = value.to_string();
        let cut = text.len() > settings.max_shown;
        if cut {
            let mut end = settings.max_shown;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        (Some(text), cut)
    }
}

/// A call or an event as recorded, before it is shown.
enum Recorded {
    Call(CallFacts),
    Event(EventFacts),
}

struct CallFacts {
    time: u64,
    client: ClientId,
    label: Option<Box<str>>,
    command: &'static str,
    id: Option<Box<str>>,
    arg_bytes: usize,
    duration_us: u64,
    outcome: &'static str,
    code: Option<i32>,
    message: Option<String>,
    params: Text,
    result: Text,
}

struct EventFacts {
    time: u64,
    event: Box<str>,
    source: ClientId,
    target: EventTarget,
    reached: Reached,
    outcome: &'static str,
    payload: Text,
}

/// A call, as shown.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallRecord<'a> {
    kind: &'static str,
    seq: u64,
    time: u64,
    client: ClientId,
    label: Option<&'a str>,
    command: &'a str,
    id: Option<&'a str>,
    arg_bytes: usize,
    duration_us: u64,
    outcome: &'static str,
    code: Option<i32>,
    message: Option<&'a str>,
    params: Option<&'a str>,
    params_truncated: bool,
    result: Option<&'a str>,
    result_truncated: bool,
}

/// An event, as shown.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventRecord<'a> {
    kind: &'static str,
    seq: u64,
    time: u64,
    event: &'a str,
    source: ClientId,
    target: &'a EventTarget,
    frontends: usize,
    listeners: usize,
    outcome: &'static str,
    payload: Option<&'a str>,
    payload_truncated: bool,
}

/// A row of the connections table.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionRow<'a> {
    client: ClientId,
    label: Option<&'a str>,
    origin: Option<&'a str>,
    opened_at: u64,
    in_flight: usize,
    outbox_messages: usize,
    outbox_bytes: usize,
    lagged: u64,
    subscriptions: usize,
}

/// A record in the recent list: what was recorded, and once shown (to a
/// watching page, or in a snapshot), its JSON.
struct Kept {
    seq: u64,
    recorded: Recorded,
    shown: OnceLock<Option<Arc<RawValue>>>,
}

impl Kept {
    /// Bytes it holds, roughly, for the recent list's bound.
    fn size(&self) -> usize {
        const FIXED: usize = 160;
        FIXED
            + match &self.recorded {
                Recorded::Call(call) => {
                    call.params.size()
                        + call.result.size()
                        + call.message.as_ref().map_or(0, String::len)
                }
                Recorded::Event(event) => event.event.len() + event.payload.size(),
            }
    }

    /// The record's JSON, made once: redacted and cut as `settings` say.
    fn shown(&self, settings: &Inspector) -> Option<Arc<RawValue>> {
        self.shown
            .get_or_init(|| self.render(settings).map(Arc::from))
            .clone()
    }

    fn render(&self, settings: &Inspector) -> Option<Box<RawValue>> {
        let json = match &self.recorded {
            Recorded::Call(call) => {
                let command = call.command;
                let (params, params_truncated) =
                    call.params.show(Part::Params { command }, settings);
                let (result, result_truncated) =
                    call.result.show(Part::Result { command }, settings);
                serde_json::value::to_raw_value(&CallRecord {
                    kind: "call",
                    seq: self.seq,
                    time: call.time,
                    client: call.client,
                    label: call.label.as_deref(),
                    command,
                    id: call.id.as_deref(),
                    arg_bytes: call.arg_bytes,
                    duration_us: call.duration_us,
                    outcome: call.outcome,
                    code: call.code,
                    message: call.message.as_deref(),
                    params: params.as_deref(),
                    params_truncated,
                    result: result.as_deref(),
                    result_truncated,
                })
            }
            Recorded::Event(event) => {
                let part = Part::Payload {
                    event: &event.event,
                };
                let (payload, payload_truncated) = event.payload.show(part, settings);
                serde_json::value::to_raw_value(&EventRecord {
                    kind: "event",
                    seq: self.seq,
                    time: event.time,
                    event: &event.event,
                    source: event.source,
                    target: &event.target,
                    frontends: event.reached.frontends,
                    listeners: event.reached.listeners,
                    outcome: event.outcome,
                    payload: payload.as_deref(),
                    payload_truncated,
                })
            }
        };
        json.ok()
    }
}

struct Recent {
    records: VecDeque<Arc<Kept>>,
    bytes: usize,
}

struct Open {
    peer: Weak<dyn Peer>,
    opened_at: u64,
}

/// The inspector of one app: its settings, its recent records, its view
/// of the open connections.
pub(crate) struct Hub {
    settings: Inspector,
    seq: AtomicU64,
    recent: Mutex<Recent>,
    open: Mutex<BTreeMap<ClientId, Open>>,
}

impl Hub {
    pub(crate) fn new(settings: Inspector) -> Arc<Self> {
        Arc::new(Hub {
            settings,
            seq: AtomicU64::new(1),
            recent: Mutex::new(Recent {
                records: VecDeque::new(),
                bytes: 0,
            }),
            open: Mutex::new(BTreeMap::new()),
        })
    }

    /// The layer that records calls (the outermost of the app's).
    pub(crate) fn call_layer(self: &Arc<Self>) -> CallRecorderLayer {
        CallRecorderLayer(Arc::clone(self))
    }

    /// The layer that records events (the outermost of the app's).
    pub(crate) fn event_layer(self: &Arc<Self>) -> EventRecorderLayer {
        EventRecorderLayer(Arc::clone(self))
    }

    fn lock_open(&self) -> MutexGuard<'_, BTreeMap<ClientId, Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_recent(&self) -> MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection opened (the session registers itself).
    pub(crate) fn opened(&self, peer: &dyn Peer) {
        let open = Open {
            peer: peer.downgrade(),
            opened_at: now_ms(),
        };
        self.lock_open().insert(peer.caller().client_id(), open);
    }

    /// A connection closed.
    pub(crate) fn closed(&self, client: ClientId) {
        self.lock_open().remove(&client);
    }

    /// The recent records, oldest first, shown (each is made once).
    pub(crate) fn recent(&self) -> Vec<Arc<RawValue>> {
        let kept: Vec<Arc<Kept>> = self.lock_recent().records.iter().cloned().collect();
        kept.iter()
            .filter_map(|kept| kept.shown(&self.settings))
            .collect()
    }

    /// The connections table now.
    pub(crate) fn connections(&self, router: &Router) -> Vec<Value> {
        let peers: Vec<(Arc<dyn Peer>, u64)> = {
            let mut open = self.lock_open();
            open.retain(|_, o| o.peer.strong_count() > 0);
            open.values()
                .filter_map(|o| Some((o.peer.upgrade()?, o.opened_at)))
                .collect()
        };
        peers
            .iter()
            .filter_map(|(peer, opened_at)| {
                let caller = peer.caller();
                let stats = peer.stats();
                let row = ConnectionRow {
                    client: caller.client_id(),
                    label: caller.label(),
                    origin: caller.origin(),
                    opened_at: *opened_at,
                    in_flight: stats.in_flight,
                    outbox_messages: stats.outbox_messages,
                    outbox_bytes: stats.outbox_bytes,
                    lagged: stats.lagged,
                    subscriptions: router.events.subscriptions_of(caller.client_id()),
                };
                serde_json::to_value(row).ok()
            })
            .collect()
    }

    /// Numbers a record and keeps it; when a page watches, shows it and
    /// sends it. Nothing is parsed or redacted while nobody watches: a page
    /// that opens later has the recent ones shown then.
    fn publish(&self, router: &Arc<Router>, recorded: Recorded) {
        let kept = Arc::new(Kept {
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            recorded,
            shown: OnceLock::new(),
        });
        {
            let mut recent = self.lock_recent();
            recent.bytes += kept.size();
            recent.records.push_back(Arc::clone(&kept));
            while recent.records.len() > self.settings.recent
                || recent.bytes > self.settings.recent_bytes
            {
                match recent.records.pop_front() {
                    Some(old) => recent.bytes -= old.size(),
                    None => break,
                }
            }
        }
        // Kept before this check, so a page that subscribes meanwhile finds
        // it in its snapshot if not live.
        if !router.events.is_listened(method::INSPECT_EVENT) {
            return;
        }
        let Some(shown) = kept.shown(&self.settings) else {
            return;
        };
        // Straight to the bus: past the event layers (this one would record
        // its own records) and never to other instances.
        router.events.deliver(
            router,
            method::INSPECT_EVENT,
            &shown,
            &router.backend,
            &EventTarget::All,
        );
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What is known of a call when it starts.
struct Started {
    hub: Arc<Hub>,
    router: Arc<Router>,
    time: u64,
    at: Instant,
    client: ClientId,
    label: Option<Box<str>>,
    command: &'static str,
    id: Option<Box<str>>,
    arg_bytes: usize,
    params: Text,
}

/// How a call ended.
enum Ended<'a> {
    Ok(&'a IpcResponse),
    Failed(&'a ipc_core::ErrorObject),
    Cancelled,
}

impl Started {
    fn finish(self, ended: Ended<'_>) {
        let duration_us = u64::try_from(self.at.elapsed().as_micros()).unwrap_or(u64::MAX);
        let (outcome, code, message, result) = match ended {
            Ended::Ok(response) => {
                let result = match response.result_json() {
                    Some(json) => Text::json(&json),
                    None => Text::Note {
                        note: format!("({} bytes of binary)", response.len()),
                        too_large: false,
                    },
                };
                ("ok", None, None, result)
            }
            Ended::Failed(error) => (
                "error",
                Some(error.code),
                Some(error.message.clone()),
                Text::Nothing,
            ),
            Ended::Cancelled => ("cancelled", Some(codes::CANCELLED), None, Text::Nothing),
        };
        let call = CallFacts {
            time: self.time,
            client: self.client,
            label: self.label,
            command: self.command,
            id: self.id,
            arg_bytes: self.arg_bytes,
            duration_us,
            outcome,
            code,
            message,
            params: self.params,
            result,
        };
        self.hub.publish(&self.router, Recorded::Call(call));
    }
}

/// Records the call when it ends, or as cancelled when it is dropped first.
struct Pending(Option<Started>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(started) = self.0.take() {
            started.finish(Ended::Cancelled);
        }
    }
}

/// The tower layer that records calls.
#[derive(Clone)]
pub(crate) struct CallRecorderLayer(Arc<Hub>);

impl tower::Layer<Next<IpcRequest, IpcResponse>> for CallRecorderLayer {
    type Service = CallRecorder;

    fn layer(&self, inner: Next<IpcRequest, IpcResponse>) -> CallRecorder {
        CallRecorder {
            hub: Arc::clone(&self.0),
            inner,
        }
    }
}

/// Records each call that passes: who, what, how long, how it ended.
pub(crate) struct CallRecorder {
    hub: Arc<Hub>,
    inner: Next<IpcRequest, IpcResponse>,
}

impl Service<IpcRequest> for CallRecorder {
    type Response = IpcResponse;
    type Error = BoxError;
    type Future = BoxFuture<Result<IpcResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: IpcRequest) -> Self::Future {
        let caller = request.caller();
        let started = Started {
            hub: Arc::clone(&self.hub),
            router: Arc::clone(request.router()),
            time: now_ms(),
            at: Instant::now(),
            client: caller.client_id(),
            label: caller.label().map(Box::from),
            command: request.command(),
            id: request.id().map(Box::from),
            arg_bytes: request.params().map_or(0, |p| p.get().len()),
            params: Text::json(request.params().map_or("null", RawValue::get)),
        };
        let future = self.inner.call(request);
        let mut pending = Pending(Some(started));
        Box::pin(async move {
            let result = match future.await {
                Ok(response) => {
                    if let Some(started) = pending.0.take() {
                        started.finish(Ended::Ok(&response));
                    }
                    Ok(response)
                }
                Err(error) => {
                    let error = ipc_core::ErrorObject::from(middleware::to_invoke_error(error));
                    if let Some(started) = pending.0.take() {
                        started.finish(Ended::Failed(&error));
                    }
                    Err(BoxError::from(error))
                }
            };
            drop(pending);
            result
        })
    }
}

/// The tower layer that records events.
#[derive(Clone)]
pub(crate) struct EventRecorderLayer(Arc<Hub>);

impl tower::Layer<Next<EventRequest, Reached>> for EventRecorderLayer {
    type Service = EventRecorder;

    fn layer(&self, inner: Next<EventRequest, Reached>) -> EventRecorder {
        EventRecorder {
            hub: Arc::clone(&self.0),
            inner,
        }
    }
}

/// Records each event that passes: its name, source, payload and whom it reached.
pub(crate) struct EventRecorder {
    hub: Arc<Hub>,
    inner: Next<EventRequest, Reached>,
}

impl Service<EventRequest> for EventRecorder {
    type Response = Reached;
    type Error = BoxError;
    type Future = BoxFuture<Result<Reached, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: EventRequest) -> Self::Future {
        let hub = Arc::clone(&self.hub);
        let router = Arc::clone(request.router());
        let time = now_ms();
        let event: Box<str> = request.event().into();
        let source = request.source().client_id();
        let target = request.target().clone();
        let payload = Text::shared(request.shared_payload());
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let (reached, outcome) = match &result {
                Ok(reached) => (*reached, "delivered"),
                Err(_) => (Reached::default(), "stopped"),
            };
            let facts = EventFacts {
                time,
                event,
                source,
                target,
                reached,
                outcome,
                payload,
            };
            hub.publish(&router, Recorded::Event(facts));
            result
        })
    }
}
