//! [`Session`]: one frontend's state as the layers below see it, through the
//! [`Peer`] trait: its identity, its outgoing queue, its open channels, its
//! running calls and its limits.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::task::AbortHandle;

use super::outbox::{OutboxSender, TrySendError};
use super::rate::Bucket;
use crate::caller::Caller;
use crate::codec::{self, Outbound};
use crate::invoke::Peer;
use crate::invoke::peer::{PeerStats, SendFuture};
use crate::invoke::upload::{Inbox, OpenRefused, UploadLimits};
use crate::route::metrics::Counters;

/// The calls of a connection that are running, for `ipc.cancel` and shutdown.
#[derive(Default)]
pub(super) struct Calls {
    next: u64,
    running: HashMap<u64, Running>,
}

struct Running {
    /// The request id as the request wrote it (`ipc.cancel` names it).
    request: Option<Box<str>>,
    abort: AbortHandle,
}

impl Calls {
    /// A key for a call about to start.
    pub(super) fn next_key(&mut self) -> u64 {
        let key = self.next;
        self.next += 1;
        key
    }

    pub(super) fn insert(&mut self, key: u64, request: Option<Box<str>>, abort: AbortHandle) {
        self.running.insert(key, Running { request, abort });
    }

    pub(super) fn remove(&mut self, key: u64) {
        self.running.remove(&key);
    }
}

/// One connection, as calls, channels and the event bus reach it.
pub(crate) struct Session {
    /// Itself, weakly, for the handles channels and subscriptions keep.
    me: Weak<Session>,
    pub(super) caller: Caller,
    binary: bool,
    outbound: OutboxSender,
    calls: Mutex<Calls>,
    /// Ids of the channels currently open on this connection.
    channels: Mutex<HashSet<u64>>,
    pub(super) dropped_events: AtomicU64,
    /// Events dropped since the client was last told (`ipc.lagged`).
    lagged: AtomicU64,
    max_batch: usize,
    max_subscriptions: usize,
    rate: Option<Bucket>,
    /// Uploads open on this connection, by the id the client chose.
    uploads: Mutex<HashMap<u64, Arc<Inbox>>>,
    upload_limits: UploadLimits,
    /// The app's counters (bytes out, lagged events).
    counters: Arc<Counters>,
}

/// What a session is made from.
pub(super) struct SessionParts {
    pub(super) caller: Caller,
    pub(super) binary: bool,
    pub(super) outbound: OutboxSender,
    pub(super) max_batch: usize,
    pub(super) max_subscriptions: usize,
    pub(super) rate_limit: Option<super::RateLimit>,
    pub(super) upload_limits: UploadLimits,
    pub(super) counters: Arc<Counters>,
}

impl Session {
    pub(super) fn new(parts: SessionParts) -> Arc<Self> {
        Arc::new_cyclic(|me| Session {
            me: me.clone(),
            caller: parts.caller,
            binary: parts.binary,
            outbound: parts.outbound,
            calls: Mutex::new(Calls::default()),
            channels: Mutex::new(HashSet::new()),
            dropped_events: AtomicU64::new(0),
            lagged: AtomicU64::new(0),
            max_batch: parts.max_batch,
            max_subscriptions: parts.max_subscriptions,
            rate: parts.rate_limit.map(Bucket::new),
            uploads: Mutex::new(HashMap::new()),
            upload_limits: parts.upload_limits,
            counters: parts.counters,
        })
    }

    pub(super) fn lock_calls(&self) -> MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a message, waiting for room; `false` if the client is gone.
    pub(super) async fn send_outbound(&self, message: Outbound) -> bool {
        let len = message.len();
        let sent = self.outbound.send(message).await;
        if sent {
            self.counters.bytes_out(len);
        }
        sent
    }

    pub(super) fn in_flight(&self) -> usize {
        self.lock_calls().running.len()
    }

    /// Cancels every running call; how many there were.
    pub(super) fn abort_all(&self) -> usize {
        let running: Vec<Running> = self.lock_calls().running.drain().map(|(_, r)| r).collect();
        for call in &running {
            call.abort.abort();
        }
        running.len()
    }

    fn lock_uploads(&self) -> MutexGuard<'_, HashMap<u64, Arc<Inbox>>> {
        self.uploads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The client is gone: every open upload fails with `Disconnected`.
    pub(super) fn disconnect_uploads(&self) {
        let open: Vec<Arc<Inbox>> = self.lock_uploads().drain().map(|(_, i)| i).collect();
        for inbox in open {
            inbox.disconnect();
        }
    }

    fn drop_event(&self) {
        self.counters.lagged();
        self.lagged.fetch_add(1, Ordering::AcqRel);
        let dropped = self.dropped_events.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped.is_power_of_two() {
            tracing::warn!(client = %self.caller.client_id(), dropped, "client is not reading; events dropped");
        }
    }
}

impl Peer for Session {
    fn caller(&self) -> &Caller {
        &self.caller
    }

    fn binary(&self) -> bool {
        self.binary
    }

    fn is_open(&self) -> bool {
        !self.outbound.is_closed()
    }

    fn send(&self, message: Outbound) -> SendFuture<'_> {
        Box::pin(self.send_outbound(message))
    }

    /// When the outbox is full the event is dropped and counted; before the
    /// next event that fits, the client is told how many it missed with an
    /// `ipc.lagged` notification.
    fn push_event(&self, message: Outbound) {
        // Taken whole, so two emitters never report the same drops twice.
        let lagged = self.lagged.swap(0, Ordering::AcqRel);
        if lagged > 0 {
            match self.outbound.try_send(codec::lagged(lagged)) {
                Ok(()) => {}
                Err(TrySendError::Closed) => return,
                Err(TrySendError::Full(_)) => {
                    self.lagged.fetch_add(lagged, Ordering::AcqRel);
                    return self.drop_event();
                }
            }
        }
        let len = message.len();
        match self.outbound.try_send(message) {
            Ok(()) => self.counters.bytes_out(len),
            Err(TrySendError::Closed) => {}
            Err(TrySendError::Full(_)) => self.drop_event(),
        }
    }

    /// Now if there is room, else from a task.
    fn push_final(&self, message: Outbound) {
        if let Err(TrySendError::Full(message)) = self.outbound.try_send(message)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let sender = self.outbound.clone();
            runtime.spawn(async move {
                sender.send(message).await;
            });
        }
    }

    fn open_channel(&self, id: u64) -> bool {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id)
    }

    fn close_channel(&self, id: u64) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    fn upload_limits(&self) -> UploadLimits {
        self.upload_limits
    }

    fn open_upload(&self, id: u64, inbox: Arc<Inbox>) -> Result<(), OpenRefused> {
        let mut uploads = self.lock_uploads();
        if uploads.contains_key(&id) {
            return Err(OpenRefused::InUse);
        }
        if uploads.len() >= self.upload_limits.max_open {
            return Err(OpenRefused::TooMany(self.upload_limits.max_open));
        }
        uploads.insert(id, inbox);
        Ok(())
    }

    fn upload(&self, id: u64) -> Option<Arc<Inbox>> {
        self.lock_uploads().get(&id).cloned()
    }

    fn close_upload(&self, id: u64, inbox: &Inbox) {
        let mut uploads = self.lock_uploads();
        if uploads
            .get(&id)
            .is_some_and(|open| std::ptr::eq(Arc::as_ptr(open), inbox))
        {
            uploads.remove(&id);
        }
    }

    fn cancel(&self, request: &str) -> bool {
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

    fn admit(&self) -> Result<(), std::time::Duration> {
        self.rate.as_ref().map_or(Ok(()), Bucket::take)
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn max_subscriptions(&self) -> usize {
        self.max_subscriptions
    }

    fn stats(&self) -> PeerStats {
        let (outbox_messages, outbox_bytes) = self.outbound.queued();
        PeerStats {
            in_flight: self.in_flight(),
            outbox_messages,
            outbox_bytes,
            lagged: self.dropped_events.load(Ordering::Relaxed),
        }
    }

    fn downgrade(&self) -> Weak<dyn Peer> {
        self.me.clone()
    }
}
