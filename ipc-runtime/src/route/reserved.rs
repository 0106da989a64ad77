//! The reserved methods: the protocol's own (`ipc.listen`, `ipc.unlisten`,
//! `ipc.emit`, `ipc.cancel`), JSON-RPC's service discovery (`rpc.discover`,
//! OpenRPC) and those of Tauri's event plugin
//! (`plugin:event|listen`, `unlisten`, `emit`, `emit_to`), which let an
//! unmodified `@tauri-apps/api` frontend use events against this runtime.

use std::borrow::Cow;
use std::sync::Arc;

use ipc_core::message::RequestEnvelope;
use ipc_core::{EventName, EventTarget, codes, method};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::dispatch::{Reply, Source};
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
    let result = match name {
        method::EMIT => emit(router, params, source).map(|()| "null".to_owned()),
        method::LISTEN => peer(name, source).and_then(|p| listen(router, params, p)),
        method::UNLISTEN => peer(name, source).and_then(|p| unlisten(router, params, p)),
        method::CANCEL => peer(name, source).and_then(|p| cancel(params, p)),
        method::DISCOVER => Ok(rpc_discover(router, source)),
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
    };
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

/// A valid name the connection may subscribe to.
fn listenable(name: &str, peer: &dyn Peer) -> Result<EventName, InvokeError> {
    let name = event_name(name)?;
    let caller = peer.caller();
    if !caller.permissions().allows(Action::Listen, name.as_str()) {
        return Err(caller.forbidden(Action::Listen, name.as_str()));
    }
    Ok(name)
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

/// `ipc.listen {"event"}` → the subscription id.
fn listen(router: &Router, raw: Option<&RawValue>, peer: &dyn Peer) -> Result<String, InvokeError> {
    #[derive(Deserialize)]
    struct Listen<'a> {
        #[serde(borrow)]
        event: Cow<'a, str>,
    }
    let p: Listen<'_> = params(method::LISTEN, raw)?;
    Ok(router
        .events
        .subscribe(peer, listenable(&p.event, peer)?)
        .ok_or_else(|| too_many_subscriptions(peer))?
        .get()
        .to_string())
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
    }
    let p: Listen<'_> = params(method::TAURI_LISTEN, raw)?;
    let name = listenable(&p.event, peer)?;
    let id = router
        .events
        .subscribe_tauri(peer, name, p.handler)
        .ok_or_else(|| too_many_subscriptions(peer))?;
    Ok(id.get().to_string())
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
