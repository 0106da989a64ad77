//! [`Peer`]: the far end of a call, as the layers above invocation reach it.
//!
//! A call that came on a connection can stream back to it (channels), the
//! event bus pushes to it, and the reserved methods cancel its calls. All of
//! them go through this trait, which the session layer implements, so nothing
//! below the session names a connection type.
//!
//! It is declared here rather than in routing because [`InvokeContext`] must
//! carry it: injected arguments such as `Channel<T>` are built from the
//! context, and argument reading is part of invocation.
//!
//! [`InvokeContext`]: super::InvokeContext

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use crate::caller::Caller;
use crate::codec::Outbound;
use crate::invoke::upload::{Inbox, OpenRefused, UploadLimits};

/// A future borrowing the peer, for [`Peer::send`].
pub(crate) type SendFuture<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// A connection's queue and counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PeerStats {
    /// Async calls running.
    pub(crate) in_flight: usize,
    /// Messages waiting in its outgoing queue.
    pub(crate) outbox_messages: usize,
    /// Bytes waiting in its outgoing queue.
    pub(crate) outbox_bytes: usize,
    /// Events dropped because it did not read fast enough, since it opened.
    pub(crate) lagged: u64,
}

/// What calls, channels, events and the reserved methods need from the
/// connection a message came on.
pub(crate) trait Peer: Send + Sync + 'static {
    /// Who is at the other end, with its permissions.
    fn caller(&self) -> &Caller;

    /// Whether the client accepts binary frames.
    fn binary(&self) -> bool;

    /// Whether the client can still receive.
    fn is_open(&self) -> bool;

    /// Queues a message, waiting while the outgoing queue is full; `false`
    /// once the client is gone. For responses and channel messages: a slow
    /// reader slows its own producer down.
    fn send(&self, message: Outbound) -> SendFuture<'_>;

    /// Queues an event without waiting: when the queue is full the event is
    /// dropped, counted, and later reported with `ipc.lagged`.
    fn push_event(&self, message: Outbound);

    /// Queues a message from a context that cannot wait (a destructor).
    fn push_final(&self, message: Outbound);

    /// Marks channel `id` open; `false` if it already is.
    fn open_channel(&self, id: u64) -> bool;

    /// Marks channel `id` closed, so its id may be used again.
    fn close_channel(&self, id: u64);

    /// The limits of this connection's uploads.
    fn upload_limits(&self) -> UploadLimits {
        UploadLimits::default()
    }

    /// Registers upload `id`, so its chunks reach `inbox`; refused when the id
    /// is open already or the connection has as many uploads as it may.
    fn open_upload(&self, id: u64, inbox: Arc<Inbox>) -> Result<(), OpenRefused> {
        let _ = (id, inbox);
        Err(OpenRefused::TooMany(0))
    }

    /// The open upload `id`, for its chunks.
    fn upload(&self, id: u64) -> Option<Arc<Inbox>> {
        let _ = id;
        None
    }

    /// Forgets upload `id` if it is `inbox` (its id may then be used again).
    fn close_upload(&self, id: u64, inbox: &Inbox) {
        let _ = (id, inbox);
    }

    /// Cancels the running call whose request id is `request` (as written);
    /// `false` if there is none.
    fn cancel(&self, request: &str) -> bool;

    /// Takes one call's (or emit's) worth of the connection's rate limit;
    /// `Err(wait)` when it is spent, with how long until it is not.
    fn admit(&self) -> Result<(), std::time::Duration> {
        Ok(())
    }

    /// The most requests one batch may hold.
    fn max_batch(&self) -> usize;

    /// The most event subscriptions the connection may hold.
    fn max_subscriptions(&self) -> usize;

    /// Its queue and counters now (what the inspector's connections table
    /// shows). The default reports nothing queued.
    fn stats(&self) -> PeerStats {
        PeerStats::default()
    }

    /// A handle that does not keep the peer alive (channels and event
    /// subscriptions hold this, so a closed connection is freed).
    fn downgrade(&self) -> Weak<dyn Peer>;
}
