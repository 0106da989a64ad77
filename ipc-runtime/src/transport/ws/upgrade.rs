//! `GET /ipc`: who may open a WebSocket, and the upgrade itself.
//!
//! Checked before the upgrade, each refusal with its own HTTP status and a
//! `tracing` warning: the connection limit (503), the `Origin` header (403),
//! the token (401).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::socket::{Serving, serve_connection};
use super::{Limits, SUBPROTOCOL};
use crate::route::Router;
use crate::secret;
use crate::session::ConnectOptions;

/// What every connection task shares.
pub(super) struct Shared {
    pub(super) router: Arc<Router>,
    pub(super) access: Access,
    pub(super) limits: Limits,
    pub(super) shutdown_drain: Duration,
    pub(super) shutdown: CancellationToken,
    pub(super) connections: TaskTracker,
}

/// The admission rules.
pub(super) struct Access {
    /// Tokens that let a client in: the launch token and every capability
    /// grant token. Empty when no token is required.
    tokens: Vec<String>,
    /// Origins allowed besides the server's own.
    origins: Vec<String>,
    any_origin: bool,
    /// Connections open now.
    open: AtomicUsize,
}

impl Access {
    pub(super) fn new(
        router: &Router,
        launch: Option<String>,
        extra: Vec<String>,
        any_origin: bool,
        local: SocketAddr,
    ) -> Self {
        let tokens = match launch {
            Some(launch) => std::iter::once(launch)
                .chain(router.grant_tokens().map(str::to_owned))
                .collect(),
            None => Vec::new(),
        };
        let port = local.port();
        let mut origins = vec![
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
            format!("http://[::1]:{port}"),
        ];
        if !local.ip().is_loopback() {
            origins.push(format!("http://{local}"));
        }
        origins.extend(extra);
        Access {
            tokens,
            origins,
            any_origin,
            open: AtomicUsize::new(0),
        }
    }

    /// A browser page's origin must be the server's own or allowed; clients
    /// that send no `Origin` are not browsers and are judged by the token alone.
    fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(_) if self.any_origin => true,
            Some(origin) => self.origins.iter().any(|allowed| allowed == origin),
        }
    }

    fn token_accepted(&self, token: Option<&str>) -> bool {
        if self.tokens.is_empty() {
            return true;
        }
        let Some(token) = token else { return false };
        // Every candidate is compared (no early exit), each in constant time.
        self.tokens.iter().fold(false, |found, candidate| {
            secret::same(candidate.as_bytes(), token.as_bytes()) | found
        })
    }

    /// Takes a connection slot if fewer than `max` are taken.
    fn try_admit(&self, max: usize) -> bool {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .is_ok()
    }

    fn release(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A taken connection slot, given back when dropped (on every path).
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.access.release();
    }
}

/// The query parameters the WebSocket endpoint reads.
#[derive(serde::Deserialize, Default)]
struct UpgradeQuery {
    token: Option<String>,
    /// The connection's label (Tauri's window label).
    label: Option<String>,
}

fn refuse(status: StatusCode, why: &'static str, origin: Option<&str>) -> Response {
    tracing::warn!(
        status = status.as_u16(),
        origin = origin.unwrap_or(""),
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
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if !shared.access.origin_allowed(origin.as_deref()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "this page's origin may not connect (cross-site WebSocket connections are refused)",
            origin.as_deref(),
        );
    }
    let query = Query::<UpgradeQuery>::try_from_uri(request.uri())
        .map(|Query(query)| query)
        .unwrap_or_default();
    if !shared.access.token_accepted(query.token.as_deref()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: connect with the ?token= the server printed",
            origin.as_deref(),
        );
    }
    if !shared.access.try_admit(shared.limits.max_connections) {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections",
            origin.as_deref(),
        );
    }
    let slot = Slot(Arc::clone(&shared));

    let label = query
        .label
        .filter(|label| !label.is_empty() && label.len() <= 128);
    let wants_subprotocol = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
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
        token: query.token,
        binary: wants_subprotocol,
        ..shared.limits.connect.clone()
    };
    let task_shared = Arc::clone(&shared);
    shared.connections.spawn(async move {
        let _slot = slot;
        match pending.await {
            Ok(socket) => {
                let serving = Serving {
                    router: &task_shared.router,
                    limits: &task_shared.limits,
                    drain: task_shared.shutdown_drain,
                    shutdown: &task_shared.shutdown,
                };
                serve_connection(serving, socket, options).await;
            }
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade did not complete"),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn access(tokens: &[&str], extra: &[&str], any: bool) -> Access {
        Access {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            origins: ["http://127.0.0.1:8080"]
                .iter()
                .chain(extra)
                .map(|o| o.to_string())
                .collect(),
            any_origin: any,
            open: AtomicUsize::new(0),
        }
    }

    #[test]
    fn origins() {
        let a = access(&[], &["https://app.example"], false);
        assert!(
            a.origin_allowed(None),
            "non-browser clients are judged by the token"
        );
        assert!(a.origin_allowed(Some("http://127.0.0.1:8080")));
        assert!(a.origin_allowed(Some("https://app.example")));
        assert!(!a.origin_allowed(Some("http://127.0.0.1:8081")));
        assert!(!a.origin_allowed(Some("null")));
        assert!(access(&[], &[], true).origin_allowed(Some("http://evil.example")));
    }

    #[test]
    fn tokens() {
        let a = access(&["launch", "grant"], &[], false);
        assert!(a.token_accepted(Some("launch")) && a.token_accepted(Some("grant")));
        assert!(!a.token_accepted(Some("launc")) && !a.token_accepted(None));
        assert!(
            access(&[], &[], false).token_accepted(None),
            "no token required"
        );
    }

    #[test]
    fn the_connection_limit_holds_and_frees() {
        let a = access(&[], &[], false);
        assert!(a.try_admit(2) && a.try_admit(2));
        assert!(!a.try_admit(2));
        a.release();
        assert!(a.try_admit(2));
    }
}
