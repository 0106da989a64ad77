//! The reserved methods: the protocol's own (`ipc.listen`, `ipc.unlisten`,
//! `ipc.emit`, `ipc.cancel`, `ipc.upload`), JSON-RPC's service discovery (`rpc.discover`,
//! OpenRPC) and those of Tauri's event plugin
//! (`plugin:event|listen`, `unlisten`, `emit`, `emit_to`), which let an
//! unmodified `@tauri-apps/api` frontend use events against this runtime.

use std::borrow::Cow;
use std::sync::Arc;

use ipc_core::message::RequestEnvelope;
use ipc_core::{EventName, EventTarget, codes, method};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::dispatch::{Reply, Source};
use super::events::{Start, Subscribed};
use super::{Router, discover};
use crate::capability::Action;
use crate::codec;
use crate::error::InvokeError;
use crate::invoke::Peer;

/// Answers a reserved method. Each may also come as a notification (no answer).
pub(crate) fn dispatch(
    router: &Arc<Router>,
    envelope: &RequestEnvelope<'_>,
    source: Source<'_>,
) -> Reply {
    let id = envelope.id().map(RawValue::get);
    let params = envelope.params();
    let name = envelope.method();
    let emits = matches!(
        name,
        method::EMIT | method::TAURI_EMIT | method::TAURI_EMIT_TO
    );
    let admitted = match source.peer.map(Peer::admit) {
        Some(Err(wait)) if emits => Err(InvokeError::rate_limited(wait)),
        _ => Ok(()),
    };
    let result = admitted.and_then(|()| match name {
        method::EMIT => emit(router, params, source).map(|()| "null".to_owned()),
        method::LISTEN => peer(name, source).and_then(|p| listen(router, params, p)),
        method::UNLISTEN => peer(name, source).and_then(|p| unlisten(router, params, p)),
        method::CANCEL => peer(name, source).and_then(|p| cancel(params, p)),
        method::UPLOAD => {
            peer(name, source).and_then(|p| super::upload::upload(params, source.attachments, p))
        }
        method::DISCOVER => Ok(rpc_discover(router, source)),
        method::INSPECT => inspect(router, params, source),
        method::TAURI_LISTEN => peer(name, source).and_then(|p| tauri_listen(router, params, p)),
        method::TAURI_UNLISTEN => {
            peer(name, source).and_then(|p| tauri_unlisten(router, params, p))
        }
        method::TAURI_EMIT => tauri_emit(router, params, source).map(|()| "null".to_owned()),
        method::TAURI_EMIT_TO => tauri_emit_to(router, params, source).map(|()| "null".to_owned()),
        other => Err(InvokeError::new(
            codes::METHOD_NOT_FOUND,
            format!("unknown reserved method `{other}`"),
        )),
    });
    match (id, result) {
        (None, Ok(_)) => Reply::None,
        (None, Err(error)) => {
            tracing::debug!(method = name, error = %error, "reserved notification refused");
            Reply::None
        }
        (Some(id), Ok(result)) => Reply::Ready(codec::result_message(id, &result)),
        (Some(id), Err(error)) => Reply::Ready(codec::error_message(Some(id), error.as_object())),
    }
}

/// The connection, for the methods that need one.
fn peer<'a>(method: &str, source: Source<'a>) -> Result<&'a dyn Peer, InvokeError> {
    source.peer.ok_or_else(|| {
        InvokeError::new(
            codes::METHOD_NOT_FOUND,
            format!(
                "`{method}` needs a connection that can receive pushes; this entry point has none"
            ),
        )
    })
}

/// Reads the params of a reserved method, or explains what is wrong with them.
fn params<'a, T: Deserialize<'a>>(
    method: &str,
    params: Option<&'a RawValue>,
) -> Result<T, InvokeError> {
    let raw = params.map_or("{}", RawValue::get);
    serde_json::from_str(raw)
        .map_err(|e| InvokeError::invalid_params(None, None, format!("{method}: {e}")))
}

fn event_name(name: &str) -> Result<EventName, InvokeError> {
    EventName::new(name)
        .map_err(|e| InvokeError::invalid_params(Some("event"), Some("event name"), e.to_string()))
}

fn too_many_subscriptions(peer: &dyn Peer) -> InvokeError {
    let max = peer.max_subscriptions();
    InvokeError::new(
        codes::LIMIT_EXCEEDED,
        format!("too many subscriptions: a connection may hold {max}"),
    )
    .with_data(serde_json::json!({ "limit": "subscriptions", "max": max }))
}

/// A valid name the connection may subscribe to. The inspector's feed is
/// the inspect permission's, which no name pattern grants.
fn listenable(router: &Router, name: &str, peer: &dyn Peer) -> Result<EventName, InvokeError> {
    let name = event_name(name)?;
    let caller = peer.caller();
    if name.as_str() == method::INSPECT_EVENT {
        inspector(router, caller)?;
    } else if !caller.permissions().allows(Action::Listen, name.as_str()) {
        return Err(caller.forbidden(Action::Listen, name.as_str()));
    }
    Ok(name)
}

/// The inspector, for a caller that may inspect.
fn inspector<'r>(
    router: &'r Router,
    caller: &crate::caller::Caller,
) -> Result<&'r Arc<super::inspect::Hub>, InvokeError> {
    if !caller.permissions().may_inspect() {
        return Err(caller.forbidden(Action::Inspect, method::INSPECT_EVENT));
    }
    router.inspector.as_ref().ok_or_else(|| {
        InvokeError::new(
            codes::METHOD_NOT_FOUND,
            "the inspector is off (AppBuilder::inspector turns it on)",
        )
    })
}

/// `ipc.inspect {"recent"?: bool}`: the recent records (unless `recent` is
/// false) and the connections table.
fn inspect(
    router: &Router,
    raw: Option<&RawValue>,
    source: Source<'_>,
) -> Result<String, InvokeError> {
    #[derive(Deserialize)]
    struct Inspect {
        #[serde(default = "yes")]
        recent: bool,
    }
    fn yes() -> bool {
        true
    }
    /// The records are written as they are (not parsed again).
    #[derive(Serialize)]
    struct Snapshot<'a> {
        recent: Vec<&'a RawValue>,
        connections: Vec<serde_json::Value>,
    }
    let hub = inspector(router, source.caller)?;
    let p: Inspect = params(method::INSPECT, raw)?;
    let recent = if p.recent { hub.recent() } else { Vec::new() };
    let snapshot = Snapshot {
        recent: recent.iter().map(|record| &**record).collect(),
        connections: hub.connections(router),
    };
    serde_json::to_string(&snapshot).map_err(|e| InvokeError::internal(e.to_string()))
}

/// `ipc.emit {"event", "payload"?, "target"?}`.
fn emit(
    router: &Arc<Router>,
    raw: Option<&RawValue>,
    source: Source<'_>,
) -> Result<(), InvokeError> {
    #[derive(Deserialize)]
    struct Emit<'a> {
        #[serde(borrow)]
        event: Cow<'a, str>,
        #[serde(borrow, default)]
        payload: Option<&'a RawValue>,
        #[serde(default)]
        target: EventTarget,
    }
    let p: Emit<'_> = params(method::EMIT, raw)?;
    router.emit_from_client(&p.event, p.payload, source.caller, p.target)
}

/// `rpc.discover`: the OpenRPC document of the commands this caller may invoke.
fn rpc_discover(router: &Router, source: Source<'_>) -> String {
    let permissions = source.caller.permissions();
    discover::document(&router.registry, |name| {
        permissions.allows(Action::Invoke, name)
    })
    .to_string()
}

/// How a subscription starts, as `ipc.listen` and (for this runtime's Tauri
/// shim) `plugin:event|listen` may say: `since` the last event a previous
/// connection saw, of the run `epoch`; or with the newest kept event (`last`).
#[derive(Deserialize, Default)]
struct StartParams {
    #[serde(default)]
    since: Option<u64>,
    #[serde(default)]
    epoch: Option<String>,
    #[serde(default)]
    last: bool,
}

impl StartParams {
    fn start(self) -> Start {
        Start {
            since: self.since,
            epoch: self.epoch,
            last: self.last,
        }
    }
}

/// The answer to a subscription: its id, or, when the request said how to
/// start, `{"id", "epoch", "seq"}` (the run, and the number every event it has
/// seen or been sent is at most).
fn subscribed(router: &Router, subscribed: &Subscribed, start: &Start) -> String {
    if start.asked() {
        serde_json::json!({
            "id": subscribed.id.get(),
            "epoch": router.events.epoch(),
            "seq": subscribed.seq,
        })
        .to_string()
    } else {
        subscribed.id.get().to_string()
    }
}

/// `ipc.listen {"event", "since"?, "epoch"?, "last"?}` → the subscription id.
fn listen(router: &Router, raw: Option<&RawValue>, peer: &dyn Peer) -> Result<String, InvokeError> {
    #[derive(Deserialize)]
    struct Listen<'a> {
        #[serde(borrow)]
        event: Cow<'a, str>,
        #[serde(flatten)]
        start: StartParams,
    }
    let p: Listen<'_> = params(method::LISTEN, raw)?;
    let name = listenable(router, &p.event, peer)?;
    let start = p.start.start();
    let done = router
        .events
        .subscribe(peer, name, &start)
        .ok_or_else(|| too_many_subscriptions(peer))?;
    Ok(subscribed(router, &done, &start))
}

/// `ipc.unlisten {"event"}` or `{"id"}` → whether a subscription was removed.
fn unlisten(
    router: &Router,
    raw: Option<&RawValue>,
    peer: &dyn Peer,
) -> Result<String, InvokeError> {
    #[derive(Deserialize)]
    struct Unlisten<'a> {
        #[serde(borrow, default)]
        event: Option<Cow<'a, str>>,
        #[serde(default)]
        id: Option<u64>,
    }
    let p: Unlisten<'_> = params(method::UNLISTEN, raw)?;
    let client = peer.caller().client_id();
    let removed = match (p.event, p.id) {
        (Some(event), _) => router.events.unsubscribe_name(client, &event),
        (None, Some(id)) => router.events.unsubscribe_id(client, id),
        (None, None) => {
            return Err(InvokeError::invalid_params(
                None,
                None,
                "ipc.unlisten needs `event` or `id`".to_owned(),
            ));
        }
    };
    Ok(removed.to_string())
}

/// `ipc.cancel {"id"}` → whether a running call was cancelled.
fn cancel(raw: Option<&RawValue>, peer: &dyn Peer) -> Result<String, InvokeError> {
    #[derive(Deserialize)]
    struct Cancel<'a> {
        #[serde(borrow)]
        id: &'a RawValue,
    }
    let p: Cancel<'_> = params(method::CANCEL, raw)?;
    Ok(peer.cancel(p.id.get()).to_string())
}

/// `plugin:event|listen {"event", "target"?, "handler"}` → the event id.
///
/// Tauri's `target` (which windows' events to hear) has no meaning for a
/// browser connection and is ignored: the listener hears every emit of the name
/// that reaches this connection.
fn tauri_listen(
    router: &Router,
    raw: Option<&RawValue>,
    peer: &dyn Peer,
) -> Result<String, InvokeError> {
    #[derive(Deserialize)]
    struct Listen<'a> {
        #[serde(borrow)]
        event: Cow<'a, str>,
        handler: u64,
        #[serde(flatten)]
        start: StartParams,
    }
    let p: Listen<'_> = params(method::TAURI_LISTEN, raw)?;
    let name = listenable(router, &p.event, peer)?;
    let start = p.start.start();
    let done = router
        .events
        .subscribe_tauri(peer, name, p.handler, &start)
        .ok_or_else(|| too_many_subscriptions(peer))?;
    Ok(subscribed(router, &done, &start))
}

/// `plugin:event|unlisten {"event", "eventId"}` → null.
fn tauri_unlisten(
    router: &Router,
    raw: Option<&RawValue>,
    peer: &dyn Peer,
) -> Result<String, InvokeError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Unlisten {
        event_id: u64,
    }
    let p: Unlisten = params(method::TAURI_UNLISTEN, raw)?;
    router
        .events
        .unsubscribe_tauri(peer.caller().client_id(), p.event_id);
    Ok("null".to_owned())
}

/// `plugin:event|emit {"event", "payload"?}`: to everyone.
fn tauri_emit(
    router: &Arc<Router>,
    raw: Option<&RawValue>,
    source: Source<'_>,
) -> Result<(), InvokeError> {
    #[derive(Deserialize)]
    struct Emit<'a> {
        #[serde(borrow)]
        event: Cow<'a, str>,
        #[serde(borrow, default)]
        payload: Option<&'a RawValue>,
    }
    let p: Emit<'_> = params(method::TAURI_EMIT, raw)?;
    router.emit_from_client(&p.event, p.payload, source.caller, EventTarget::All)
}

/// Tauri's event targets.
#[derive(Deserialize)]
#[serde(tag = "kind")]
enum TauriTarget {
    Any,
    App,
    AnyLabel { label: String },
    Window { label: String },
    Webview { label: String },
    WebviewWindow { label: String },
}

impl From<TauriTarget> for EventTarget {
    fn from(target: TauriTarget) -> Self {
        match target {
            TauriTarget::Any => EventTarget::All,
            TauriTarget::App => EventTarget::Backend,
            TauriTarget::AnyLabel { label }
            | TauriTarget::Window { label }
            | TauriTarget::Webview { label }
            | TauriTarget::WebviewWindow { label } => EventTarget::Label(label),
        }
    }
}

/// `plugin:event|emit_to {"target", "event", "payload"?}`.
fn tauri_emit_to(
    router: &Arc<Router>,
    raw: Option<&RawValue>,
    source: Source<'_>,
) -> Result<(), InvokeError> {
    #[derive(Deserialize)]
    struct EmitTo<'a> {
        target: TauriTarget,
        #[serde(borrow)]
        event: Cow<'a, str>,
        #[serde(borrow, default)]
        payload: Option<&'a RawValue>,
    }
    let p: EmitTo<'_> = params(method::TAURI_EMIT_TO, raw)?;
    router.emit_from_client(&p.event, p.payload, source.caller, p.target.into())
}

#[cfg(test)]
mod tests {
    //! Every reserved method, as a request and as a notification, without a session.

    use std::sync::{Arc, Mutex};

    use ipc_core::codes;
    use serde_json::{Value, json};

    use super::*;
    use crate::capability::{Acl, Capability, Permissions};
    use crate::testing::{self, TestPeer, reply_text};

    async fn call(
        router: &Arc<Router>,
        peer: Option<&dyn Peer>,
        method: &str,
        params: Value,
    ) -> Value {
        let text =
            json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
        let caller = peer.map_or(&router.backend, |p| p.caller());
        let reply = reply_text(router.dispatch_text(&text, caller, peer))
            .await
            .expect("a request is answered");
        testing::json(&reply)
    }

    fn events_of(peer: &TestPeer) -> Vec<Value> {
        peer.texts()
            .iter()
            .map(|t| testing::json(t))
            .filter(|m| m["method"] == method::EVENT)
            .collect()
    }

    #[tokio::test]
    async fn listen_subscribes_once_per_name_and_unlisten_by_name_or_id() {
        let router = testing::router();
        let peer = TestPeer::new(1, Permissions::all());
        let first = call(
            &router,
            Some(&*peer),
            method::LISTEN,
            json!({ "event": "news" }),
        )
        .await["result"]
            .clone();
        let again = call(
            &router,
            Some(&*peer),
            method::LISTEN,
            json!({ "event": "news" }),
        )
        .await["result"]
            .clone();
        assert!(first.is_u64());
        assert_eq!(first, again, "one subscription per name");
        router.emit(EventTarget::All, "news", &1).unwrap();
        assert_eq!(events_of(&peer).len(), 1, "delivered once");
        assert_eq!(router.events.subscriptions_of(peer.caller().client_id()), 1);

        let by_name = call(
            &router,
            Some(&*peer),
            method::UNLISTEN,
            json!({ "event": "news" }),
        )
        .await;
        assert_eq!(by_name["result"], true);
        let twice = call(
            &router,
            Some(&*peer),
            method::UNLISTEN,
            json!({ "event": "news" }),
        )
        .await;
        assert_eq!(twice["result"], false);
        let id = call(
            &router,
            Some(&*peer),
            method::LISTEN,
            json!({ "event": "news" }),
        )
        .await["result"]
            .clone();
        let by_id = call(&router, Some(&*peer), method::UNLISTEN, json!({ "id": id })).await;
        assert_eq!(by_id["result"], true);
        router.emit(EventTarget::All, "news", &2).unwrap();
        assert_eq!(events_of(&peer).len(), 1, "nothing after unlisten");
        let neither = call(&router, Some(&*peer), method::UNLISTEN, json!({})).await;
        assert_eq!(neither["error"]["code"], codes::INVALID_PARAMS);
    }

    #[tokio::test]
    async fn listen_is_checked_limited_and_needs_a_connection() {
        let mut acl = Acl::default();
        acl.add(Capability::new("reader").allow_listen(["news:*"]));
        let router = testing::router_with(acl);
        let peer = TestPeer::with(1, router.acl.named("reader").unwrap(), |p| {
            p.max_subscriptions = 2
        });
        let refused = call(
            &router,
            Some(&*peer),
            method::LISTEN,
            json!({ "event": "secrets" }),
        )
        .await;
        assert_eq!(refused["error"]["code"], codes::FORBIDDEN);
        let invalid = call(
            &router,
            Some(&*peer),
            method::LISTEN,
            json!({ "event": "has space" }),
        )
        .await;
        assert_eq!(invalid["error"]["code"], codes::INVALID_PARAMS);
        assert_eq!(invalid["error"]["data"]["argument"], "event");
        for name in ["news:a", "news:b"] {
            assert!(
                call(
                    &router,
                    Some(&*peer),
                    method::LISTEN,
                    json!({ "event": name })
                )
                .await["result"]
                    .is_u64()
            );
        }
        let third = call(
            &router,
            Some(&*peer),
            method::LISTEN,
            json!({ "event": "news:c" }),
        )
        .await;
        assert_eq!(third["error"]["code"], codes::LIMIT_EXCEEDED);
        assert_eq!(
            third["error"]["data"],
            json!({ "limit": "subscriptions", "max": 2 })
        );
        let bad_params = call(
            &router,
            Some(&*peer),
            method::LISTEN,
            json!({ "name": "news:a" }),
        )
        .await;
        assert_eq!(bad_params["error"]["code"], codes::INVALID_PARAMS);

        let no_peer = call(&router, None, method::LISTEN, json!({ "event": "news:a" })).await;
        assert_eq!(no_peer["error"]["code"], codes::METHOD_NOT_FOUND);
        assert!(
            no_peer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("connection")
        );
    }

    #[tokio::test]
    async fn emit_reaches_rust_and_subscribers_and_is_checked() {
        let mut acl = Acl::default();
        acl.add(
            Capability::new("chatter")
                .allow_emit(["chat"])
                .allow_listen(["*"]),
        );
        let router = testing::router_with(acl);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        router.events.listen(
            EventName::new("chat").unwrap(),
            Box::new(move |e| {
                sink.lock()
                    .unwrap()
                    .push((e.source().get(), e.raw_payload().get().to_owned()))
            }),
            false,
        );
        let permissions = router.acl.named("chatter").unwrap();
        let alice = TestPeer::new(1, permissions.clone());
        let bob = TestPeer::new(2, permissions);
        call(
            &router,
            Some(&*bob),
            method::LISTEN,
            json!({ "event": "chat" }),
        )
        .await;

        let sent = call(
            &router,
            Some(&*alice),
            method::EMIT,
            json!({ "event": "chat", "payload": "hi" }),
        )
        .await;
        assert_eq!(sent["result"], Value::Null);
        assert_eq!(*seen.lock().unwrap(), [(1, r#""hi""#.to_owned())]);
        let received = events_of(&bob);
        assert_eq!(received.len(), 1);
        let seq = received[0]["params"]["seq"].clone();
        assert!(seq.is_u64(), "every pushed event is numbered");
        assert_eq!(
            received[0]["params"],
            json!({ "event": "chat", "payload": "hi", "source": 1, "seq": seq })
        );

        let to_backend = json!({ "event": "chat", "payload": 2, "target": "backend" });
        call(&router, Some(&*alice), method::EMIT, to_backend).await;
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert_eq!(events_of(&bob).len(), 1, "`backend` reaches Rust only");

        let refused = call(
            &router,
            Some(&*alice),
            method::EMIT,
            json!({ "event": "other" }),
        )
        .await;
        assert_eq!(refused["error"]["code"], codes::FORBIDDEN);
        let mut everything = Acl::default();
        everything.add(Capability::new("all").allow_all());
        let open = testing::router_with(everything);
        let anyone = TestPeer::new(3, open.acl.named("all").unwrap());
        let runtime_name = call(
            &open,
            Some(&*anyone),
            method::EMIT,
            json!({ "event": "ipc:connected" }),
        )
        .await;
        assert_eq!(
            runtime_name["error"]["code"],
            codes::INVALID_PARAMS,
            "`ipc:` events are the runtime's"
        );
    }

    #[tokio::test]
    async fn events_reach_only_their_target() {
        let router = testing::router();
        let one = TestPeer::new(1, Permissions::all());
        let two = TestPeer::new(2, Permissions::all());
        for peer in [&one, &two] {
            call(
                &router,
                Some(&**peer),
                method::LISTEN,
                json!({ "event": "ping" }),
            )
            .await;
        }
        router
            .emit(EventTarget::Client(ipc_core::ClientId::new(2)), "ping", &())
            .unwrap();
        assert_eq!((events_of(&one).len(), events_of(&two).len()), (0, 1));
        router
            .emit(EventTarget::Label("label-1".into()), "ping", &())
            .unwrap();
        assert_eq!((events_of(&one).len(), events_of(&two).len()), (1, 1));
        router.emit(EventTarget::Backend, "ping", &()).unwrap();
        assert_eq!((events_of(&one).len(), events_of(&two).len()), (1, 1));
    }

    #[tokio::test]
    async fn cancel_asks_the_connection() {
        let router = testing::router();
        let peer = TestPeer::new(1, Permissions::all());
        peer.running.lock().unwrap().insert("7".into());
        let cancelled = call(&router, Some(&*peer), method::CANCEL, json!({ "id": 7 })).await;
        assert_eq!(cancelled["result"], true);
        let again = call(&router, Some(&*peer), method::CANCEL, json!({ "id": 7 })).await;
        assert_eq!(again["result"], false);
        let string_id = call(&router, Some(&*peer), method::CANCEL, json!({ "id": "7" })).await;
        assert_eq!(string_id["result"], false, "ids compare as written");
        assert_eq!(*peer.cancelled.lock().unwrap(), ["7", "7", r#""7""#]);
        let no_id = call(&router, Some(&*peer), method::CANCEL, json!({})).await;
        assert_eq!(no_id["error"]["code"], codes::INVALID_PARAMS);
    }

    #[tokio::test]
    async fn discover_lists_what_the_caller_may_invoke() {
        let mut acl = Acl::default();
        acl.add(Capability::new("math").allow_invoke(["add"]));
        let router = testing::router_with(acl);
        let peer = TestPeer::new(1, router.acl.named("math").unwrap());
        let doc = call(&router, Some(&*peer), method::DISCOVER, json!([])).await["result"].clone();
        let names: Vec<&str> = doc["methods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["add"]);
        let everything = call(&router, None, method::DISCOVER, json!({})).await["result"].clone();
        assert_eq!(
            everything["methods"].as_array().unwrap().len(),
            testing::registrations().len()
        );
    }

    #[tokio::test]
    async fn tauri_listeners_are_their_own_subscriptions() {
        let router = testing::router();
        let peer = TestPeer::new(1, Permissions::all());
        let listen = |handler: u64| json!({ "event": "tick", "target": { "kind": "Any" }, "handler": handler });
        let a =
            call(&router, Some(&*peer), method::TAURI_LISTEN, listen(10)).await["result"].clone();
        let b =
            call(&router, Some(&*peer), method::TAURI_LISTEN, listen(11)).await["result"].clone();
        assert_ne!(a, b, "each Tauri listener is separate");
        router.emit(EventTarget::All, "tick", &5).unwrap();
        let pushes = events_of(&peer);
        assert_eq!(pushes.len(), 2);
        let handlers: Vec<&Value> = pushes.iter().map(|p| &p["params"]["handler"]).collect();
        assert_eq!(handlers, [&json!(10), &json!(11)]);
        assert_eq!(pushes[0]["params"]["id"], a);

        let removed = call(
            &router,
            Some(&*peer),
            method::TAURI_UNLISTEN,
            json!({ "event": "tick", "eventId": a }),
        )
        .await;
        assert_eq!(removed["result"], Value::Null);
        router.emit(EventTarget::All, "tick", &6).unwrap();
        assert_eq!(
            events_of(&peer).len(),
            3,
            "only the remaining listener hears it"
        );

        let emitted = call(
            &router,
            Some(&*peer),
            method::TAURI_EMIT,
            json!({ "event": "tick", "payload": 1 }),
        )
        .await;
        assert_eq!(emitted["result"], Value::Null);
        assert_eq!(events_of(&peer).len(), 4);
        let to = json!({ "target": { "kind": "AnyLabel", "label": "elsewhere" }, "event": "tick" });
        call(&router, Some(&*peer), method::TAURI_EMIT_TO, to).await;
        assert_eq!(events_of(&peer).len(), 4, "another label's event");
        let to =
            json!({ "target": { "kind": "WebviewWindow", "label": "label-1" }, "event": "tick" });
        call(&router, Some(&*peer), method::TAURI_EMIT_TO, to).await;
        assert_eq!(events_of(&peer).len(), 5, "this connection's label");
    }

    /// A router keeping the last 3 events of "todos" (and nothing of others).
    fn replaying(acl: Acl) -> Arc<Router> {
        let mut replay = crate::route::events::Replay::default();
        replay.names.insert(
            EventName::new("todos").unwrap(),
            crate::route::history::Keep {
                count: 3,
                bytes: 1 << 20,
            },
        );
        testing::router_with_replay(acl, replay)
    }

    fn pushes(peer: &TestPeer) -> Vec<Value> {
        peer.texts().iter().map(|t| testing::json(t)).collect()
    }

    #[tokio::test]
    async fn a_resumed_subscription_gets_what_it_missed_once_in_order() {
        let router = replaying(Acl::default());
        let first = TestPeer::new(1, Permissions::all());
        let answer = call(
            &router,
            Some(&*first),
            method::LISTEN,
            json!({ "event": "todos", "last": true }),
        )
        .await;
        let epoch = answer["result"]["epoch"].clone();
        assert!(
            answer["result"]["id"].is_u64() && epoch.is_string(),
            "{answer}"
        );
        for n in 1..=2 {
            router.emit(EventTarget::All, "todos", &n).unwrap();
        }
        let seen = events_of(&first);
        let last_seen = seen[1]["params"]["seq"].as_u64().unwrap();
        // The connection drops; two more changes happen; a new connection resumes.
        for n in 3..=4 {
            router.emit(EventTarget::All, "todos", &n).unwrap();
        }
        let again = TestPeer::new(2, Permissions::all());
        let answer = call(
            &router,
            Some(&*again),
            method::LISTEN,
            json!({ "event": "todos", "since": last_seen, "epoch": epoch }),
        )
        .await;
        router.emit(EventTarget::All, "todos", &5).unwrap();
        let payloads: Vec<Value> = events_of(&again)
            .iter()
            .map(|e| e["params"]["payload"].clone())
            .collect();
        assert_eq!(
            payloads,
            [json!(3), json!(4), json!(5)],
            "missed ones first, in order, then new ones"
        );
        assert!(
            pushes(&again).iter().all(|m| m["method"] != method::GAP),
            "nothing was lost"
        );
        assert!(answer["result"]["seq"].as_u64().unwrap() >= last_seen + 2);
    }

    #[tokio::test]
    async fn a_resume_past_the_buffer_is_told_how_many_were_lost() {
        let router = replaying(Acl::default());
        let peer = TestPeer::new(1, Permissions::all());
        let answer = call(
            &router,
            Some(&*peer),
            method::LISTEN,
            json!({ "event": "todos", "since": 0, "epoch": "" }),
        )
        .await;
        let epoch = answer["result"]["epoch"].clone();
        let since = answer["result"]["seq"].as_u64().unwrap();
        for n in 1..=7 {
            router.emit(EventTarget::Backend, "todos", &n).unwrap(); // Rust only: not pushed, still kept
        }
        let resumed = TestPeer::new(2, Permissions::all());
        call(
            &router,
            Some(&*resumed),
            method::LISTEN,
            json!({ "event": "todos", "since": since, "epoch": epoch }),
        )
        .await;
        let got = pushes(&resumed);
        assert_eq!(got[0]["method"], method::GAP);
        assert_eq!(
            got[0]["params"],
            json!({ "event": "todos", "lost": 4 }),
            "7 emitted, 3 kept"
        );
        assert!(got[1..].iter().all(|m| m["method"] == method::EVENT));
        assert_eq!(
            got.len(),
            1,
            "events for Rust only are kept but never replayed to a frontend"
        );
    }

    #[tokio::test]
    async fn another_runs_position_is_unknown_and_last_stands_for_it() {
        let router = replaying(Acl::default());
        router.emit(EventTarget::All, "todos", &"newest").unwrap();
        let peer = TestPeer::new(1, Permissions::all());
        call(
            &router,
            Some(&*peer),
            method::LISTEN,
            json!({ "event": "todos", "since": 99, "epoch": "a-restarted-backend" }),
        )
        .await;
        let got = pushes(&peer);
        assert_eq!(got[0]["params"], json!({ "event": "todos", "lost": null }));
        assert_eq!(got[1]["params"]["payload"], "newest");
        // `last` alone: the newest kept event, then live ones.
        let late = TestPeer::new(2, Permissions::all());
        call(
            &router,
            Some(&*late),
            method::LISTEN,
            json!({ "event": "todos", "last": true }),
        )
        .await;
        assert_eq!(events_of(&late)[0]["params"]["payload"], "newest");
        // A name that keeps nothing replays nothing.
        router.emit(EventTarget::All, "untracked", &1).unwrap();
        let other = TestPeer::new(3, Permissions::all());
        call(
            &router,
            Some(&*other),
            method::LISTEN,
            json!({ "event": "untracked", "last": true }),
        )
        .await;
        assert!(pushes(&other).is_empty());
    }

    #[tokio::test]
    async fn replay_respects_targets_and_capabilities() {
        let mut acl = Acl::default();
        acl.add(Capability::new("page").allow_listen(["public"]));
        acl.add(Capability::new("all").allow_all());
        let router = replaying(acl);
        router
            .emit(
                EventTarget::Client(ipc_core::ClientId::new(7)),
                "todos",
                &"for 7",
            )
            .unwrap();
        router
            .emit(EventTarget::Label("label-8".into()), "todos", &"for 8")
            .unwrap();
        router.emit(EventTarget::All, "todos", &"for all").unwrap();
        let all = router.acl.named("all").unwrap();
        let eight = TestPeer::new(8, all.clone());
        call(
            &router,
            Some(&*eight),
            method::LISTEN,
            json!({ "event": "todos", "since": 0, "epoch": router.events.epoch() }),
        )
        .await;
        let payloads: Vec<Value> = events_of(&eight)
            .iter()
            .map(|e| e["params"]["payload"].clone())
            .collect();
        assert_eq!(
            payloads,
            [json!("for 8"), json!("for all")],
            "not someone else's"
        );
        let page = TestPeer::new(9, router.acl.named("page").unwrap());
        let refused = call(
            &router,
            Some(&*page),
            method::LISTEN,
            json!({ "event": "todos", "since": 0, "epoch": router.events.epoch() }),
        )
        .await;
        assert_eq!(refused["error"]["code"], codes::FORBIDDEN);
        assert!(
            pushes(&page).is_empty(),
            "nothing replayed to a caller that may not listen"
        );
    }

    #[tokio::test]
    async fn unknown_reserved_methods_and_notifications() {
        let router = testing::router();
        let peer = TestPeer::new(1, Permissions::all());
        let unknown = call(&router, Some(&*peer), "ipc.nope", json!({})).await;
        assert_eq!(unknown["error"]["code"], codes::METHOD_NOT_FOUND);
        assert!(
            unknown["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ipc.nope")
        );
        // As notifications, reserved methods take effect and answer nothing.
        let note =
            json!({ "jsonrpc": "2.0", "method": method::LISTEN, "params": { "event": "quiet" } })
                .to_string();
        assert!(
            reply_text(router.dispatch_text(&note, peer.caller(), Some(&*peer)))
                .await
                .is_none()
        );
        assert_eq!(router.events.subscriptions_of(peer.caller().client_id()), 1);
        let bad =
            json!({ "jsonrpc": "2.0", "method": method::LISTEN, "params": { "event": "no good" } })
                .to_string();
        assert!(
            reply_text(router.dispatch_text(&bad, peer.caller(), Some(&*peer)))
                .await
                .is_none(),
            "refused silently"
        );
    }
}
