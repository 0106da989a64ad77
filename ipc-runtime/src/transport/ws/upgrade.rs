//! `GET /ipc`: who may open a WebSocket, and the upgrade itself.
//!
//! Checked before the upgrade, each refusal with its own HTTP status and a
//! `tracing` warning: a malformed or foreign `Origin` (403: another site in
//! the user's browser), no valid token or session key (401; a cookie never
//! opens a socket: see `access.rs`), the server
//! shutting down or the connection limit (503). The `Host` was checked by the
//! guard in front of every route. A connection's label is the one its
//! window's token carries; nothing the client says (`?label=`) sets it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access::{Credential, Origin, Refused, valid_label};
use super::budget::IncomingBudget;
use super::routes::query_param;
use super::socket::{Serving, serve_connection};
use super::{Limits, SUBPROTOCOL};
use crate::route::Router;
use crate::session::ConnectOptions;

/// What every request handler and connection task of a server shares.
pub(super) struct Shared {
    pub(super) router: Arc<Router>,
    pub(super) access: super::access::Access,
    pub(super) ws_path: String,
    pub(super) limits: Limits,
    pub(super) budget: Arc<IncomingBudget>,
    pub(super) shutdown_drain: Duration,
    /// Cancelled when the server starts shutting down (calls drain).
    pub(super) shutdown: CancellationToken,
    /// Cancelled when the drain deadline has passed (sockets are dropped).
    pub(super) hard_stop: CancellationToken,
    pub(super) connections: TaskTracker,
}

/// A taken connection slot, given back when dropped (on every path).
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.access.release();
    }
}

fn refuse(status: StatusCode, why: &'static str, origin: Origin<'_>) -> Response {
    tracing::warn!(
        status = status.as_u16(),
        origin = origin.as_str().unwrap_or(""),
        why,
        "WebSocket upgrade refused"
    );
    (status, why).into_response()
}

/// `GET /ipc`: checks the request, then upgrades to a WebSocket.
pub(super) async fn upgrade(State(shared): State<Arc<Shared>>, mut request: Request) -> Response {
    if !fastwebsockets::upgrade::is_upgrade_request(&request) {
        return (
            StatusCode::UPGRADE_REQUIRED,
            [(header::UPGRADE, "websocket")],
            "this endpoint speaks WebSocket (JSON-RPC 2.0); see /ipc.js for a client",
        )
            .into_response();
    }
    if shared.shutdown.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
            .into_response();
    }
    let origin = Origin::of(request.headers().get(header::ORIGIN));
    if !shared.access.origin_allowed(origin) {
        return refuse(
            StatusCode::FORBIDDEN,
            "this page's origin may not connect (cross-site WebSocket connections are refused)",
            origin,
        );
    }
    let access = &shared.access;
    let asked_label = query_param(request.uri(), "label");
    let proof = access.authenticate(
        query_param(request.uri(), "token"),
        query_param(request.uri(), "session"),
        asked_label,
    );
    let proof = match proof {
        Ok(proof) => proof,
        Err(Refused::NoSession) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: connect with the ?token= the server printed (or, from the app's page, the ?session= key it was given)",
                origin,
            );
        }
        Err(Refused::NotYourWindow) => {
            return refuse(
                StatusCode::FORBIDDEN,
                "this browser was not given the window it names: open that window's own address",
                origin,
            );
        }
    };
    // Only a server that trusts everyone who reaches it takes a label on the
    // client's word; otherwise the label is the one its window's token carries.
    let label = match proof.credential {
        Credential::Open => asked_label.filter(|l| valid_label(l)).map(str::to_owned),
        _ => proof.label(),
    };
    if !access.try_admit(shared.limits.max_connections) {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections",
            origin,
        );
    }
    let slot = Slot(Arc::clone(&shared));

    let wants_subprotocol = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    let origin = origin.as_str().map(str::to_owned);
    let (response, pending) = match fastwebsockets::upgrade::upgrade(&mut request) {
        Ok(upgrade) => upgrade,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("WebSocket upgrade failed: {e}"),
            )
                .into_response();
        }
    };
    let options = ConnectOptions {
        origin,
        label,
        token: proof.token.as_deref().map(str::to_owned),
        binary: wants_subprotocol,
        ..shared.limits.connect.clone()
    };
    let task_shared = Arc::clone(&shared);
    shared.connections.spawn(async move {
        let _slot = slot;
        let socket = match pending.await {
            Ok(socket) => socket,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket upgrade did not complete");
                return;
            }
        };
        let serving = Serving {
            router: &task_shared.router,
            limits: &task_shared.limits,
            budget: &task_shared.budget,
            drain: task_shared.shutdown_drain,
            shutdown: &task_shared.shutdown,
            hard_stop: &task_shared.hard_stop,
        };
        serve_connection(serving, socket.into_inner(), options).await;
    });
    let (mut parts, body) = response.into_parts();
    if wants_subprotocol {
        parts.headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    Response::from_parts(parts, Body::new(body))
}
