//! The WebSocket server: one HTTP listener serving the IPC endpoint (`/ipc`),
//! the JavaScript client (`/ipc.js`, `/ipc-tauri.js` and their `.d.ts`) and,
//! optionally, the application's own frontend files.
//!
//! ```rust,standalone_crate,no_run
//! use ipc_runtime::{App, command};
//!
//! #[command]
//! fn greet(name: String) -> String { format!("Hello, {name}!") }
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let app = App::builder().build().unwrap();
//! let server = app.server().static_dir("web").serve("127.0.0.1:0").await?;
//! println!("open {}", server.http_url()); // http://127.0.0.1:PORT/?token=…
//! tokio::signal::ctrl_c().await?;
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! **Who may connect.** The server binds loopback unless told otherwise, and
//! refuses the WebSocket upgrade to a browser page from another origin (403)
//! and to anyone without the per-launch token (401): another web page in the
//! user's browser cannot drive the backend (cross-site WebSocket hijacking),
//! nor can another local process that does not know the token. The token is a
//! random 256-bit value made at start-up, carried in the URLs the handle gives
//! (`?token=…`), compared in constant time. See `SECURITY.md`.
//!
//! **Limits.** Each has a default and a setter: message size, calls in flight
//! per connection (the server stops reading from a client at the limit),
//! outgoing queue per connection (events beyond it are dropped with an
//! `ipc.lagged` notice; responses and channel messages wait), batch size,
//! subscriptions per connection, connections, and a ping/idle timeout.
//!
//! Shutdown stops accepting, lets running calls finish within a deadline, and
//! closes every socket with a close frame.

mod frames;
mod socket;
mod upgrade;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use bytes::Bytes;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::route::Router;
use crate::session::ConnectOptions;

/// The JavaScript client, served at `/ipc.js`.
pub const IPC_JS: &str = include_str!("../../../js/ipc.js");
/// Its TypeScript declarations, served at `/ipc.d.ts`.
pub const IPC_D_TS: &str = include_str!("../../../js/ipc.d.ts");
/// The shim that lets an unmodified `@tauri-apps/api` frontend run against
/// this server, served at `/ipc-tauri.js`.
pub const IPC_TAURI_JS: &str = include_str!("../../../js/ipc-tauri.js");
/// Its TypeScript declarations, served at `/ipc-tauri.d.ts`.
pub const IPC_TAURI_D_TS: &str = include_str!("../../../js/ipc-tauri.d.ts");

/// The WebSocket subprotocol a client offers to receive binary frames.
pub const SUBPROTOCOL: &str = "ipc.v1";

/// Configures a WebSocket server for an [`App`](crate::App). Get one from
/// [`App::server`](crate::App::server).
pub struct ServerBuilder {
    router: Arc<Router>,
    ws_path: String,
    static_dir: Option<PathBuf>,
    assets: HashMap<String, Asset>,
    allow_non_loopback: bool,
    token: TokenPolicy,
    origins: OriginPolicy,
    limits: Limits,
    shutdown_drain: Duration,
}

/// Whether a token is required, and which.
#[derive(Clone, Debug)]
enum TokenPolicy {
    /// A fresh random token (the default).
    Random,
    /// This token.
    Fixed(String),
    /// No token: anyone who can reach the port and passes the origin check.
    None,
}

/// Which browser origins may connect.
#[derive(Clone, Debug, Default)]
struct OriginPolicy {
    /// Besides the server's own origin.
    extra: Vec<String>,
    any: bool,
}

/// Every limit, with its default.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) max_message_size: usize,
    pub(crate) max_connections: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) connect: ConnectOptions,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 32 << 20,
            max_connections: 1024,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            connect: ConnectOptions::default(),
        }
    }
}

#[derive(Clone)]
struct Asset {
    content_type: &'static str,
    body: Bytes,
}

impl ServerBuilder {
    pub(crate) fn new(router: Arc<Router>) -> Self {
        ServerBuilder {
            router,
            ws_path: "/ipc".to_owned(),
            static_dir: None,
            assets: HashMap::new(),
            allow_non_loopback: false,
            token: TokenPolicy::Random,
            origins: OriginPolicy::default(),
            limits: Limits::default(),
            shutdown_drain: Duration::from_secs(5),
        }
    }

    /// Serves the files of `dir` for every path not otherwise routed (`/` is
    /// `dir/index.html`).
    #[must_use]
    pub fn static_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.static_dir = Some(dir.into());
        self
    }

    /// Serves `body` at `path` (e.g. `"/"` or `"/app.js"`), typically a file
    /// embedded with `include_str!` so the binary is self-contained.
    #[must_use]
    pub fn asset(mut self, path: &str, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        self.assets.insert(
            path.to_owned(),
            Asset {
                content_type,
                body: body.into(),
            },
        );
        self
    }

    /// The path of the WebSocket endpoint (default `/ipc`).
    #[must_use]
    pub fn ws_path(mut self, path: &str) -> Self {
        self.ws_path = path.to_owned();
        self
    }

    /// Allows binding to addresses other than loopback, which exposes the app to
    /// the network. Off by default.
    #[must_use]
    pub fn allow_non_loopback(mut self) -> Self {
        self.allow_non_loopback = true;
        self
    }

    /// Uses this token instead of a random one. Connections must present it (or
    /// a token granted a capability) as `?token=` on the WebSocket URL.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = TokenPolicy::Fixed(token.into());
        self
    }

    /// Requires no token: anything that can reach the port and passes the
    /// origin check may connect. Only for servers that nothing untrusted can
    /// reach (tests, a sandbox).
    #[must_use]
    pub fn no_token(mut self) -> Self {
        self.token = TokenPolicy::None;
        self
    }

    /// Also lets pages of this origin (`https://app.example`, as browsers send
    /// it) connect. The server's own origin is always allowed; clients that send
    /// no `Origin` (not browsers) are not checked here.
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.origins.extra.push(origin.into());
        self
    }

    /// Lets pages of any origin connect (they still need the token).
    #[must_use]
    pub fn allow_any_origin(mut self) -> Self {
        self.origins.any = true;
        self
    }

    /// The largest message accepted, in bytes (default 32 MiB). A larger one is
    /// answered with a -32002 error and the connection is closed with code
    /// 1009, without reading it into memory.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.limits.max_message_size = bytes;
        self
    }

    /// How many async calls one connection may have running (default 64); at
    /// the limit the server stops reading from that client until one finishes.
    #[must_use]
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.limits.connect.max_in_flight = calls;
        self
    }

    /// How many outgoing messages may queue per connection (default 256).
    #[must_use]
    pub fn outbox_capacity(mut self, messages: usize) -> Self {
        self.limits.connect.outbox_capacity = messages;
        self
    }

    /// The most requests in one batch (default 64); a larger batch is refused whole.
    #[must_use]
    pub fn max_batch(mut self, requests: usize) -> Self {
        self.limits.connect.max_batch = requests;
        self
    }

    /// The most event subscriptions one connection may hold (default 256).
    #[must_use]
    pub fn max_subscriptions(mut self, subscriptions: usize) -> Self {
        self.limits.connect.max_subscriptions = subscriptions;
        self
    }

    /// The most WebSocket connections at once (default 1024); beyond it the
    /// upgrade is refused with 503.
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections;
        self
    }

    /// How often the server pings each client (default 20 s).
    #[must_use]
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.limits.ping_interval = interval;
        self
    }

    /// How long a client may stay silent (no message, no pong) before the
    /// server closes the connection (default 60 s).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// How long shutdown waits for running calls before cancelling them (default 5 s).
    #[must_use]
    pub fn shutdown_drain(mut self, drain: Duration) -> Self {
        self.shutdown_drain = drain;
        self
    }

    /// Binds and starts serving in the background.
    pub async fn serve(self, addr: impl ToSocketAddrs) -> io::Result<ServerHandle> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        if !local.ip().is_loopback() && !self.allow_non_loopback {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "refusing to serve on {local}: not a loopback address; call allow_non_loopback() to expose the app to the network"
                ),
            ));
        }
        let token = match self.token {
            TokenPolicy::Random => Some(crate::secret::token()?),
            TokenPolicy::Fixed(token) => Some(token),
            TokenPolicy::None => None,
        };
        let shutdown = CancellationToken::new();
        let connections = TaskTracker::new();
        let access = upgrade::Access::new(
            &self.router,
            token.clone(),
            self.origins.extra,
            self.origins.any,
            local,
        );
        let shared = Arc::new(upgrade::Shared {
            router: self.router,
            access,
            limits: self.limits,
            shutdown_drain: self.shutdown_drain,
            shutdown: shutdown.clone(),
            connections: connections.clone(),
        });

        let mut router = axum::Router::new()
            .route(&self.ws_path, get(upgrade::upgrade))
            .route("/ipc.js", get(|| async { script(IPC_JS) }))
            .route("/ipc.d.ts", get(|| async { script(IPC_D_TS) }))
            .route("/ipc-tauri.js", get(|| async { script(IPC_TAURI_JS) }))
            .route("/ipc-tauri.d.ts", get(|| async { script(IPC_TAURI_D_TS) }));
        for (path, asset) in self.assets {
            router = router.route(&path, get(move || async move { asset.respond() }));
        }
        if let Some(dir) = self.static_dir {
            router = router.fallback_service(tower_http::services::ServeDir::new(dir));
        }
        // Pages are opened with `?token=` in their URL: never send it on as a Referer.
        let router = router
            .layer(SetResponseHeaderLayer::overriding(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .with_state(Arc::clone(&shared));

        // The writer batches what is queued into one flush; Nagle's delay would
        // only add latency on top.
        let listener = listener.tap_io(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let stop = shutdown.clone();
        let http = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "ipc server stopped with an error");
            }
        });
        tracing::info!(addr = %local, "ipc server listening");
        Ok(ServerHandle {
            addr: local,
            ws_path: self.ws_path,
            token,
            shutdown,
            connections,
            http,
        })
    }
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("ws_path", &self.ws_path)
            .field("static_dir", &self.static_dir)
            .field("assets", &self.assets.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Asset {
    fn respond(&self) -> Response {
        (
            [
                (header::CONTENT_TYPE, self.content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            self.body.clone(),
        )
            .into_response()
    }
}

fn script(source: &'static str) -> Response {
    Asset {
        content_type: "text/javascript; charset=utf-8",
        body: Bytes::from_static(source.as_bytes()),
    }
    .respond()
}

/// A running server. Dropping it leaves the server running; call
/// [`shutdown`](Self::shutdown) to stop it.
pub struct ServerHandle {
    addr: SocketAddr,
    ws_path: String,
    token: Option<String>,
    shutdown: CancellationToken,
    connections: TaskTracker,
    http: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// The address the server is bound to (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token connections must present (`None` after [`ServerBuilder::no_token`]).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The page address with the token: `http://127.0.0.1:PORT/?token=…`. The
    /// JavaScript client forwards the page's token to the WebSocket URL.
    pub fn http_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.token_query())
    }

    /// The WebSocket address with the token: `ws://127.0.0.1:PORT/ipc?token=…`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}{}{}", self.addr, self.ws_path, self.token_query())
    }

    fn token_query(&self) -> String {
        self.token
            .as_ref()
            .map(|t| format!("?token={t}"))
            .unwrap_or_default()
    }

    /// How many WebSocket connections are open.
    pub fn connections(&self) -> usize {
        self.connections.len()
    }

    /// Stops the server: no new connections; running calls get the drain
    /// deadline to finish and answer; then every socket is closed with a close
    /// frame. Returns once everything has stopped.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.connections.close();
        self.connections.wait().await;
        let _ = self.http.await;
        tracing::info!(addr = %self.addr, "ipc server stopped");
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}
