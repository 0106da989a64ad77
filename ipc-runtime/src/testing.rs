//! Test support for the unit tests of each layer: a few commands, a router
//! built from them, and a [`Peer`] that records what it is sent, so routing
//! and invocation are tested without a session, a socket or an `App`.
#![cfg(test)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};

use ipc_core::ClientId;
use serde::{Deserialize, Serialize};

use crate::caller::Caller;
use crate::capability::{Acl, Permissions};
use crate::codec::Outbound;
use crate::error::InvokeError;
use crate::invoke::Peer;
use crate::invoke::peer::SendFuture;
use crate::invoke::registry::{CommandDef, CommandRegistration, Registry};
use crate::invoke::upload::Upload;
use crate::route::Router;
use crate::route::channel::Channel;
use crate::route::events::EventBus;
use crate::state::StateMap;

#[ipc_macros::command]
pub(crate) fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[ipc_macros::command]
pub(crate) fn greet(name: String, excited: Option<bool>) -> String {
    let end = if excited == Some(true) { "!" } else { "." };
    format!("Hello, {name}{end}")
}

/// A borrowed argument (sync commands only).
#[ipc_macros::command]
pub(crate) fn shout(text: &str) -> String {
    text.to_uppercase()
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Point {
    pub(crate) x: i32,
    pub(crate) y: i32,
}

#[ipc_macros::command]
pub(crate) fn mirror(point: Point) -> Point {
    Point {
        x: -point.x,
        y: -point.y,
    }
}

#[ipc_macros::command]
pub(crate) async fn slow(ms: u64) -> u64 {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    ms
}

#[ipc_macros::command]
pub(crate) fn refuse(reason: String) -> Result<(), InvokeError> {
    Err(InvokeError::command(reason))
}

#[ipc_macros::command]
pub(crate) fn explode() {
    panic!("this command always panics");
}

#[ipc_macros::command]
pub(crate) fn numbered(len: usize) -> Vec<u8> {
    (0..len).map(|i| i as u8).collect()
}

/// Streams `count` numbers, then returns `count`.
#[ipc_macros::command]
pub(crate) async fn count(to: u32, out: Channel<u32>) -> u32 {
    for i in 0..to {
        if out.send(&i).await.is_err() {
            break;
        }
    }
    to
}

/// Keeps a channel open for `ms`, then ends it.
#[ipc_macros::command]
pub(crate) async fn hold(ms: u64, out: Channel<u32>) {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    drop(out);
}

/// Sleeps on the blocking pool.
#[ipc_macros::command(blocking)]
pub(crate) fn block(ms: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    ms
}

/// What each upload `digest` read ended with, by upload id: `Ok(size)` or
/// the error's text (seen even when the caller is gone).
pub(crate) static UPLOAD_OUTCOMES: Mutex<Vec<(u64, Result<u64, String>)>> = Mutex::new(Vec::new());

/// Reads an upload to its end (sleeping `ms` after each chunk, with at most
/// `limit` bytes): its size and FNV-1a hash.
#[ipc_macros::command]
pub(crate) async fn digest(
    file: Upload,
    ms: Option<u64>,
    limit: Option<u64>,
) -> Result<(u64, u64), InvokeError> {
    use futures_util::StreamExt as _;
    let id = file.id();
    let mut file = match limit {
        Some(max) => file.limit(max),
        None => file,
    };
    let (mut size, mut hash) = (0u64, 0xcbf2_9ce4_8422_2325_u64);
    let outcome = loop {
        match file.next().await {
            None => break Ok(size),
            Some(Err(e)) => break Err(e.to_string()),
            Some(Ok(chunk)) => {
                size += chunk.len() as u64;
                for &b in chunk.iter() {
                    hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
                }
                if let Some(ms) = ms {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
            }
        }
    };
    UPLOAD_OUTCOMES.lock().unwrap().push((id, outcome.clone()));
    outcome
        .map(|size| (size, hash))
        .map_err(InvokeError::command)
}

/// Reads one chunk of an upload and stops: the chunk's length.
#[ipc_macros::command]
pub(crate) async fn sip(mut file: Upload) -> Result<usize, InvokeError> {
    use futures_util::StreamExt as _;
    match file.next().await {
        Some(chunk) => Ok(chunk?.len()),
        None => Ok(0),
    }
}

/// Every test command above.
pub(crate) fn registrations() -> Vec<&'static CommandRegistration> {
    vec![
        <add as CommandDef>::REGISTRATION,
        <greet as CommandDef>::REGISTRATION,
        <shout as CommandDef>::REGISTRATION,
        <mirror as CommandDef>::REGISTRATION,
        <slow as CommandDef>::REGISTRATION,
        <refuse as CommandDef>::REGISTRATION,
        <explode as CommandDef>::REGISTRATION,
        <numbered as CommandDef>::REGISTRATION,
        <count as CommandDef>::REGISTRATION,
        <hold as CommandDef>::REGISTRATION,
        <block as CommandDef>::REGISTRATION,
        <digest as CommandDef>::REGISTRATION,
        <sip as CommandDef>::REGISTRATION,
    ]
}

/// A router with the test commands and `acl`.
pub(crate) fn router_with(acl: Acl) -> Arc<Router> {
    router_with_replay(acl, crate::route::events::Replay::default())
}

/// A router with the test commands, `acl` and replay buffers.
pub(crate) fn router_with_replay(acl: Acl, replay: crate::route::events::Replay) -> Arc<Router> {
    let registry = Registry::build(registrations()).expect("the test commands register");
    let events = EventBus::new(&[], replay).expect("no listeners");
    Arc::new(Router::new(
        registry,
        events,
        acl,
        StateMap::default(),
        None,
    ))
}

/// A router with the test commands and no ACL (everything allowed).
pub(crate) fn router() -> Arc<Router> {
    router_with(Acl::default())
}

/// A connection that records what it is sent, for tests below the session.
pub(crate) struct TestPeer {
    me: Weak<TestPeer>,
    caller: Caller,
    pub(crate) binary: bool,
    pub(crate) max_batch: usize,
    pub(crate) max_subscriptions: usize,
    pub(crate) sent: Mutex<Vec<Outbound>>,
    channels: Mutex<HashSet<u64>>,
    /// The request ids `ipc.cancel` asked for, and whether each was "running".
    pub(crate) cancelled: Mutex<Vec<String>>,
    pub(crate) running: Mutex<HashSet<String>>,
}

impl TestPeer {
    pub(crate) fn new(client: u64, permissions: Permissions) -> Arc<Self> {
        Self::with(client, permissions, |_| {})
    }

    pub(crate) fn with(
        client: u64,
        permissions: Permissions,
        configure: impl FnOnce(&mut TestPeer),
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| {
            let mut peer = TestPeer {
                me: me.clone(),
                caller: Caller::with_permissions(
                    ClientId::new(client),
                    None,
                    Some(format!("label-{client}")),
                    permissions,
                ),
                binary: false,
                max_batch: 64,
                max_subscriptions: 8,
                sent: Mutex::new(Vec::new()),
                channels: Mutex::new(HashSet::new()),
                cancelled: Mutex::new(Vec::new()),
                running: Mutex::new(HashSet::new()),
            };
            configure(&mut peer);
            peer
        })
    }

    /// The text of everything sent so far, in order.
    pub(crate) fn texts(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|m| m.as_str().into_owned())
            .collect()
    }
}

impl Peer for TestPeer {
    fn caller(&self) -> &Caller {
        &self.caller
    }

    fn binary(&self) -> bool {
        self.binary
    }

    fn is_open(&self) -> bool {
        true
    }

    fn send(&self, message: Outbound) -> SendFuture<'_> {
        self.sent.lock().unwrap().push(message);
        Box::pin(async { true })
    }

    fn push_event(&self, message: Outbound) {
        self.sent.lock().unwrap().push(message);
    }

    fn push_final(&self, message: Outbound) {
        self.sent.lock().unwrap().push(message);
    }

    fn open_channel(&self, id: u64) -> bool {
        self.channels.lock().unwrap().insert(id)
    }

    fn close_channel(&self, id: u64) {
        self.channels.lock().unwrap().remove(&id);
    }

    fn cancel(&self, request: &str) -> bool {
        self.cancelled.lock().unwrap().push(request.to_owned());
        self.running.lock().unwrap().remove(request)
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn max_subscriptions(&self) -> usize {
        self.max_subscriptions
    }

    fn downgrade(&self) -> Weak<dyn Peer> {
        self.me.clone()
    }
}

/// The text a reply comes to (`None` for nothing to send), awaiting it if it is pending.
pub(crate) async fn reply_text(reply: crate::route::Reply) -> Option<String> {
    use crate::route::Reply;
    match reply {
        Reply::None => None,
        Reply::Ready(response) => Some(response.into_string()),
        Reply::Call(call) => Some(call.run_unlimited().await.into_string()),
        Reply::Batch { mut ready, calls } => {
            for call in calls {
                ready.push(call.run_unlimited().await);
            }
            crate::codec::join_batch(ready).map(|r| r.into_string())
        }
    }
}

/// Parses a JSON text, for assertions.
pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
