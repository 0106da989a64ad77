//! [`Connection`]: the handle a transport drives, and the [`Outbox`] it drains.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use ipc_core::{ClientId, ErrorObject, codes};
use tokio::sync::{Semaphore, oneshot};
use tokio_util::task::TaskTracker;

use super::ConnectOptions;
use super::outbox::{Outbox, outbox};
use super::peer::{Session, SessionParts};
use crate::caller::Caller;
use crate::capability::ConnectionInfo;
use crate::codec::{self, Outbound, Response};
use crate::invoke::Slot;
use crate::route::dispatch::Call;
use crate::route::{Reply, Router};

/// One frontend's session: feed it messages, send what its [`Outbox`] yields.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, command};
/// use ipc_runtime::session::ConnectOptions;
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
    router: Arc<Router>,
    session: Arc<Session>,
    tasks: TaskTracker,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
}

impl Connection {
    /// Opens a connection with the permissions its transport vouches for, or
    /// that its origin, token and label are granted (see
    /// [`capability`](crate::capability)). Emits `ipc:connected`.
    pub(crate) fn open(router: &Arc<Router>, options: ConnectOptions) -> (Connection, Outbox) {
        let client = router.next_client_id();
        let permissions = router.permissions(
            options.capability.as_deref(),
            &ConnectionInfo {
                origin: options.origin.as_deref(),
                token: options.token.as_deref(),
                label: options.label.as_deref(),
            },
        );
        tracing::debug!(client = %client, ?permissions, "connection opened");
        let (sender, outbox) = outbox(options.outbox_capacity, options.outbox_bytes);
        let session = Session::new(SessionParts {
            caller: Caller::with_permissions(client, options.origin, options.label, permissions),
            binary: options.binary,
            outbound: sender,
            max_batch: options.max_batch,
            max_subscriptions: options.max_subscriptions,
            rate_limit: options.rate_limit,
            upload_limits: crate::invoke::upload::UploadLimits {
                window: options.upload_window,
                max_size: options.max_upload_size,
                max_open: options.max_uploads,
            },
            counters: Arc::clone(&router.counters),
        });
        let connection = Connection {
            router: Arc::clone(router),
            session,
            tasks: TaskTracker::new(),
            in_flight: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
            max_in_flight: options.max_in_flight.max(1),
        };
        if let Some(inspector) = &router.inspector {
            inspector.opened(&*connection.session);
        }
        connection.emit_lifecycle("ipc:connected");
        (connection, outbox)
    }

    /// The connection's client id.
    pub fn client_id(&self) -> ClientId {
        self.session.caller.client_id()
    }

    /// The caller identity commands on this connection receive.
    pub fn caller(&self) -> &Caller {
        &self.session.caller
    }

    /// Handles one incoming text message. Sync commands and reserved methods
    /// are answered before this returns; async ones are started (after waiting
    /// for a free in-flight slot) and answer when they finish.
    pub async fn handle_text(&self, text: &str) {
        self.router.counters.bytes_in(text.len());
        let reply = self
            .router
            .dispatch_text(text, &self.session.caller, Some(&*self.session));
        self.handle_reply(reply).await;
    }

    /// Handles one incoming binary frame (see `docs/protocol.md`, "Binary
    /// payloads"); a malformed one is answered with -32600.
    pub async fn handle_binary(&self, frame: Bytes) {
        self.router.counters.bytes_in(frame.len());
        let reply = match codec::decode_binary(frame) {
            Ok(message) => self.router.dispatch_binary(&message, &*self.session),
            Err(why) => {
                let error = ErrorObject::new(
                    codes::INVALID_REQUEST,
                    format!("invalid binary frame: {why}"),
                );
                Reply::Ready(codec::error_message(None, &error))
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
            Reply::Call(call) => {
                let session = Arc::clone(&self.session);
                self.start(call, move |response| async move {
                    session.send_outbound(response.into_outbound()).await;
                })
                .await;
            }
            Reply::Batch { ready, calls } => {
                // Each call of the batch takes its own slot; the answer is sent
                // once they all have finished (a cancelled one is left out).
                let mut answers = Vec::with_capacity(calls.len());
                for call in calls {
                    let (answer, answered) = oneshot::channel();
                    self.start(call, move |response| async move {
                        let _ = answer.send(response);
                    })
                    .await;
                    answers.push(answered);
                }
                let session = Arc::clone(&self.session);
                self.tasks.spawn(async move {
                    let mut parts = ready;
                    for answered in answers {
                        parts.extend(answered.await.ok());
                    }
                    if let Some(response) = codec::join_batch(parts) {
                        session.send_outbound(response.into_outbound()).await;
                    }
                });
            }
        }
    }

    /// Starts a call once a slot is free (waiting for one stops the reader at
    /// the in-flight limit), and hands its response to `deliver`. The slot is
    /// held until the response is delivered and, for a blocking job, until
    /// the job has finished even if the call is cancelled first.
    async fn start<D, F>(&self, call: Call, deliver: D)
    where
        D: FnOnce(Response) -> F + Send + 'static,
        F: std::future::Future<Output = ()> + Send,
    {
        let Ok(permit) = Arc::clone(&self.in_flight).acquire_owned().await else {
            return;
        };
        let slot: Slot = Arc::new(permit);
        let session = Arc::clone(&self.session);
        // Spawn under the lock, so the task's own removal comes after the insert.
        let mut calls = self.session.lock_calls();
        let key = calls.next_key();
        let request = call.request.clone();
        let task = self.tasks.spawn(async move {
            let response = call.run(Arc::clone(&slot)).await;
            deliver(response).await;
            session.lock_calls().remove(key);
            drop(slot);
        });
        calls.insert(key, Some(request), task.abort_handle());
    }

    /// Queues a message that is not the answer to a call (a transport-level error).
    pub async fn send_error(&self, error: &ErrorObject) {
        self.session
            .send_outbound(Outbound::text(codec::error_text(None, error)))
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
        self.router.events.subscriptions_of(self.client_id())
    }

    /// Closes the connection because the client went away: its subscriptions
    /// end at once, open uploads fail (`UploadError::Disconnected`); calls
    /// still running finish (their results are discarded), so a command is
    /// never stopped half-way by a disconnect. Emits
    /// `ipc:disconnected`.
    pub fn close(self) {
        self.router.events.drop_client(self.client_id());
        self.session.disconnect_uploads();
        self.tasks.close();
        self.disconnected();
    }

    /// Closes the connection for a server shutdown: subscriptions end, running
    /// calls get up to `drain` to finish and send their responses, and the rest
    /// are cancelled. Returns how many were cancelled. Blocking jobs cannot be
    /// stopped: those still running are reported (they keep their slots until
    /// they finish).
    pub async fn shutdown(self, drain: Duration) -> usize {
        self.router.events.drop_client(self.client_id());
        self.session.disconnect_uploads();
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
        let blocking = self.blocking_jobs_running();
        if blocking > 0 {
            tracing::warn!(
                client = %self.client_id(),
                blocking,
                "blocking jobs still running after the drain deadline (they cannot be stopped)"
            );
        }
        self.disconnected();
        cancelled
    }

    /// How many slots are held by blocking jobs whose calls have ended
    /// (cancelled, or their connection closed) but which are still running.
    pub fn blocking_jobs_running(&self) -> usize {
        let held = self.max_in_flight - self.in_flight.available_permits();
        held.saturating_sub(self.session.in_flight())
    }

    /// The connection is gone: the inspector forgets it, and
    /// `ipc:disconnected` is emitted.
    fn disconnected(&self) {
        if let Some(inspector) = &self.router.inspector {
            inspector.closed(self.client_id());
        }
        self.emit_lifecycle("ipc:disconnected");
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
        self.router.deliver_event(
            event,
            &payload,
            &self.router.backend,
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

#[cfg(test)]
mod tests {
    //! A session's limits, subscriptions, cancellation and channels, driven
    //! directly (no transport).

    use std::time::Duration;

    use ipc_core::EventTarget;
    use serde_json::{Value, json};

    use super::*;
    use crate::testing::{self, json as parse};

    fn open(
        configure: impl FnOnce(ConnectOptions) -> ConnectOptions,
    ) -> (Arc<Router>, Connection, Outbox) {
        let router = testing::router();
        let (connection, outbox) = Connection::open(&router, configure(ConnectOptions::default()));
        (router, connection, outbox)
    }

    fn request(id: u64, method: &str, params: Value) -> String {
        json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
    }

    fn drain(outbox: &mut Outbox) -> Vec<Value> {
        std::iter::from_fn(|| outbox.try_recv())
            .map(|m| parse(&m.as_str()))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_are_bounded_and_reading_waits_for_a_slot() {
        let (_router, connection, mut outbox) = open(|o| o.max_in_flight(1));
        connection
            .handle_text(&request(1, "slow", json!({ "ms": 1000 })))
            .await;
        assert_eq!(connection.in_flight(), 1);
        let text = request(2, "slow", json!({ "ms": 1 }));
        let second = connection.handle_text(&text);
        assert!(
            tokio::time::timeout(Duration::from_millis(10), second)
                .await
                .is_err(),
            "the second call waits for the first's slot"
        );
        connection
            .handle_text(&request(3, "slow", json!({ "ms": 1 })))
            .await;
        let first = outbox.recv().await.map(|m| parse(&m.as_str())).unwrap();
        assert_eq!(first["id"], 1, "the slot frees when the first finishes");
        assert_eq!(
            outbox.recv().await.map(|m| parse(&m.as_str())).unwrap()["id"],
            3
        );
        connection.close();
    }

    #[tokio::test]
    async fn events_past_the_outbox_are_dropped_counted_and_reported() {
        let (router, connection, mut outbox) = open(|o| o.outbox_capacity(2));
        connection
            .handle_text(&request(1, "ipc.listen", json!({ "event": "tick" })))
            .await;
        assert_eq!(drain(&mut outbox).len(), 1, "the listen result");
        for i in 0..5 {
            router.emit(EventTarget::All, "tick", &i).unwrap();
        }
        assert_eq!(connection.dropped_events(), 3);
        let kept = drain(&mut outbox);
        assert_eq!(
            kept.iter()
                .map(|m| m["params"]["payload"].clone())
                .collect::<Vec<_>>(),
            [0, 1]
        );
        router.emit(EventTarget::All, "tick", &5).unwrap();
        let next = drain(&mut outbox);
        assert_eq!(
            next[0],
            json!({ "jsonrpc": "2.0", "method": "ipc.lagged", "params": { "dropped": 3 } })
        );
        assert_eq!(next[1]["params"]["payload"], 5, "then the event");
        connection.close();
    }

    #[tokio::test]
    async fn subscriptions_end_with_the_connection() {
        let (router, connection, mut outbox) = open(|o| o);
        let client = connection.client_id();
        connection
            .handle_text(&request(1, "ipc.listen", json!({ "event": "a" })))
            .await;
        connection
            .handle_text(&request(2, "ipc.listen", json!({ "event": "b" })))
            .await;
        assert_eq!(connection.subscriptions(), 2);
        connection.close();
        assert_eq!(router.events.subscriptions_of(client), 0);
        drain(&mut outbox);
        router.emit(EventTarget::All, "a", &()).unwrap();
        assert!(outbox.try_recv().is_none(), "nothing after close");
    }

    #[tokio::test]
    async fn cancel_stops_a_running_call_and_frees_its_slot() {
        let (_router, connection, mut outbox) = open(|o| o);
        connection
            .handle_text(&request(7, "slow", json!({ "ms": 60_000 })))
            .await;
        assert_eq!(connection.in_flight(), 1);
        connection
            .handle_text(&request(8, "ipc.cancel", json!({ "id": 7 })))
            .await;
        let answer = outbox.recv().await.map(|m| parse(&m.as_str())).unwrap();
        assert_eq!(
            (answer["id"].clone(), answer["result"].clone()),
            (json!(8), json!(true))
        );
        assert_eq!(connection.in_flight(), 0);
        connection.close();
        assert!(
            outbox.recv().await.is_none(),
            "the cancelled call never answers"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_blocking_job_keeps_its_slot_until_it_finishes() {
        let (_router, connection, mut outbox) = open(|o| o.max_in_flight(1));
        connection
            .handle_text(&request(1, "block", json!({ "ms": 300 })))
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await; // it is running
        connection
            .handle_text(&request(2, "ipc.cancel", json!({ "id": 1 })))
            .await;
        let answer = outbox.recv().await.map(|m| parse(&m.as_str())).unwrap();
        assert_eq!(answer["result"], true, "the caller hears at once");
        assert_eq!(connection.in_flight(), 0);
        assert_eq!(
            connection.blocking_jobs_running(),
            1,
            "the job still runs, in its slot"
        );
        // So the next call waits for the job, not for nothing.
        let started = std::time::Instant::now();
        connection
            .handle_text(&request(3, "add", json!([1, 1])))
            .await;
        connection
            .handle_text(&request(4, "slow", json!({ "ms": 1 })))
            .await;
        let next = outbox.recv().await.map(|m| parse(&m.as_str())).unwrap();
        assert_eq!(next["id"], 3);
        let slow = outbox.recv().await.map(|m| parse(&m.as_str())).unwrap();
        assert_eq!(slow["id"], 4);
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "the async call waited for the slot"
        );
        // The last call's reply goes out just before its permit is returned.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while connection.blocking_jobs_running() != 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            connection.blocking_jobs_running(),
            0,
            "the job gave its slot back"
        );
        connection.close();
    }

    #[tokio::test(start_paused = true)]
    async fn a_channel_id_serves_one_call_at_a_time() {
        let (_router, connection, mut outbox) = open(|o| o);
        connection
            .handle_text(&request(
                1,
                "hold",
                json!({ "ms": 100, "out": "__CHANNEL__:5" }),
            ))
            .await;
        connection
            .handle_text(&request(
                2,
                "hold",
                json!({ "ms": 1, "out": "__CHANNEL__:5" }),
            ))
            .await;
        let refused = outbox.recv().await.map(|m| parse(&m.as_str())).unwrap();
        assert_eq!(refused["id"], 2);
        assert_eq!(refused["error"]["code"], ipc_core::codes::INVALID_PARAMS);
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("already open")
        );
        let end = outbox.recv().await.map(|m| parse(&m.as_str())).unwrap();
        assert_eq!(
            end["params"],
            json!({ "channel": 5, "index": 0, "end": true })
        );
        assert_eq!(
            outbox.recv().await.map(|m| parse(&m.as_str())).unwrap()["id"],
            1
        );
        connection
            .handle_text(&request(3, "count", json!({ "to": 2, "out": 5 })))
            .await;
        let mut seen = Vec::new();
        while seen.len() < 4 {
            seen.push(outbox.recv().await.map(|m| parse(&m.as_str())).unwrap());
        }
        assert_eq!(
            seen[0]["params"],
            json!({ "channel": 5, "index": 0, "message": 0 }),
            "the id is free again"
        );
        assert_eq!(seen[1]["params"]["message"], 1);
        assert!(seen.iter().any(|m| m["params"]["end"] == true));
        assert!(seen.iter().any(|m| m["id"] == 3 && m["result"] == 2));
        connection.close();
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_lets_calls_drain_then_cancels_the_rest() {
        let (router, connection, mut outbox) = open(|o| o);
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        for event in ["ipc:connected", "ipc:disconnected"] {
            let sink = Arc::clone(&seen);
            router.events.listen(
                ipc_core::EventName::new(event).unwrap(),
                Box::new(move |e| sink.lock().unwrap().push(e.name().to_owned())),
                false,
            );
        }
        connection
            .handle_text(&request(1, "slow", json!({ "ms": 10 })))
            .await;
        connection
            .handle_text(&request(2, "slow", json!({ "ms": 60_000 })))
            .await;
        assert_eq!(connection.shutdown(Duration::from_millis(100)).await, 1);
        assert_eq!(
            outbox.recv().await.map(|m| parse(&m.as_str())).unwrap()["id"],
            1
        );
        assert!(outbox.recv().await.is_none());
        assert_eq!(
            *seen.lock().unwrap(),
            ["ipc:disconnected"],
            "connected was emitted before listening"
        );
    }
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod upload_tests;
