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
//! answers only requests addressed to it by its own names (the `Host`
//! header: a DNS-rebinding page reaches it by another, 421). Every route wants
//! a credential: the random per-launch token printed in its URLs
//! (`?token=…`, 256 bits, compared in constant time), or the session a page
//! opened with it receives: a cookie that loads the app's pages and files,
//! and a socket key the page keeps in its origin's `localStorage` and
//! `ipc.js` sends to open the WebSocket (the page then replaces itself with
//! the same address without the token, so the token leaves the address bar).
//! A cookie never opens the WebSocket: browsers send it to every port of the
//! host. The WebSocket upgrade also refuses pages of other origins (403):
//! another web page in the user's browser cannot drive the backend
//! (cross-site WebSocket hijacking), nor can another local process that does
//! not know the token. No page may be framed by another origin.
//! A window's label is bound by the server: [`ServerHandle::window_url`]
//! mints a token that carries it. See `SECURITY.md`.
//!
//! **Limits.** Each has a default and a setter: message size, calls in flight
//! per connection (the server stops reading from a client at the limit),
//! outgoing queue per connection in messages and bytes (events beyond it are
//! dropped with an `ipc.lagged` notice; responses and channel messages wait),
//! a write deadline (a client that stops taking data is disconnected), batch
//! size, subscriptions per connection, connections, connections that have not
//! upgraded yet and the time they get to send their headers, a memory budget
//! for incoming messages across connections, a rate limit per connection, and
//! a ping/idle timeout.
//!
//! Shutdown stops accepting, lets running calls finish within the drain
//! deadline, closes every socket with a close frame, and returns within the
//! deadline (plus a second) whatever the clients do.

mod access;
mod budget;
mod frames;
mod http;
mod routes;
mod socket;
mod upgrade;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::route::Router;
use crate::session::ConnectOptions;
use access::{Access, AccessConfig};
use budget::IncomingBudget;
use http::HttpLimits;
use routes::{Asset, Routes};
use upgrade::Shared;

/// The JavaScript client, served at `/ipc.js`.
pub const IPC_JS: &str = include_str!("../../../js/ipc.js");
/// Its TypeScript declarations, served at `/ipc.d.ts`.
pub const IPC_D_TS: &str = include_str!("../../../js/ipc.d.ts");
/// The shim that lets an unmodified `@tauri-apps/api` frontend run against
/// this server, served at `/ipc-tauri.js`.
pub const IPC_TAURI_JS: &str = include_str!("../../../js/ipc-tauri.js");
/// Its TypeScript declarations, served at `/ipc-tauri.d.ts`.
pub const IPC_TAURI_D_TS: &str = include_str!("../../../js/ipc-tauri.d.ts");

/// The live inspector's page, served at [`INSPECT_PATH`] when the app's
/// inspector is on (`__IPC_WS_PATH__` becomes the WebSocket path).
const INSPECT_HTML: &str = include_str!("inspector/inspect.html");
/// The inspector page's script, served at `/ipc/inspect.js`.
const INSPECT_JS: &str = include_str!("inspector/inspect.js");
/// Where the live inspector's page is served.
pub const INSPECT_PATH: &str = "/ipc/inspect";

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
    hosts: Vec<String>,
    limits: Limits,
    http: HttpLimits,
    incoming_budget: u64,
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

/// Every limit of a WebSocket connection, with its default.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) max_message_size: usize,
    pub(crate) max_connections: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) connect: ConnectOptions,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 32 << 20,
            max_connections: 1024,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            connect: ConnectOptions::default(),
        }
    }
}

/// How long the last writes, and an HTTP request being answered, get once the
/// drain deadline has passed at shutdown.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(1);

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
            hosts: Vec::new(),
            limits: Limits::default(),
            http: HttpLimits {
                header_read_timeout: Duration::from_secs(10),
                max_pending: 256,
            },
            incoming_budget: 256 << 20,
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
    /// a token granted a capability) as `?token=` on the WebSocket URL. It must
    /// have at least 128 bits (22 characters of URL-safe base64, 32 of hex):
    /// [`serve`](Self::serve) refuses a shorter one.
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

    /// Also answers requests addressed to this `Host` (`app.localhost:8080`,
    /// as the client writes it). The server's own address, `localhost` and
    /// `[::1]` with its port are always answered; every other name is refused
    /// with 421, so a page that rebinds its own domain to this machine's
    /// address reads nothing.
    #[must_use]
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into());
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

    /// Upload limits per connection (see [`Upload`](crate::Upload)): the
    /// window of bytes held per upload ahead of its command (default 1 MiB),
    /// the most bytes one upload may carry (default 4 GiB), and how many may
    /// be open at once (default 8).
    #[must_use]
    pub fn uploads(mut self, window: u64, max_size: u64, max_open: usize) -> Self {
        self.limits.connect = self
            .limits
            .connect
            .upload_window(window)
            .max_upload_size(max_size)
            .max_uploads(max_open);
        self
    }

    /// How many outgoing messages may queue per connection (default 256).
    #[must_use]
    pub fn outbox_capacity(mut self, messages: usize) -> Self {
        self.limits.connect.outbox_capacity = messages;
        self
    }

    /// How many bytes of outgoing messages may queue per connection (default
    /// 4 MiB; one larger message still goes out alone). Events that do not
    /// fit are dropped for that client with an `ipc.lagged` notice.
    #[must_use]
    pub fn outbox_bytes(mut self, bytes: usize) -> Self {
        self.limits.connect.outbox_bytes = bytes;
        self
    }

    /// How long the server waits for a client to take each frame it writes
    /// (default 10 s). A client that does not (a frozen tab, a program that
    /// stopped reading) is disconnected and its slot freed.
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.limits.write_timeout = timeout;
        self
    }

    /// How long a client may take to send a request's headers, or to start
    /// its next request on a kept-alive connection (default 10 s); then the
    /// connection is closed.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.http.header_read_timeout = timeout;
        self
    }

    /// How many connections may be open that are not WebSockets (default
    /// 256): plain HTTP requests and upgrades in progress. Past it, new
    /// connections are closed at once.
    #[must_use]
    pub fn max_pending_connections(mut self, connections: usize) -> Self {
        self.http.max_pending = connections;
        self
    }

    /// How many bytes of large incoming messages (64 KiB and more) all
    /// connections together may hold while they are read and handled (default
    /// 256 MiB, at least the message size limit). When it is spent, clients
    /// sending large messages are read more slowly; memory stays bounded by
    /// this, not by `connections × message size`.
    #[must_use]
    pub fn incoming_budget(mut self, bytes: u64) -> Self {
        self.incoming_budget = bytes;
        self
    }

    /// How many calls and emits per second each connection may make, with
    /// bursts of up to `burst` (a token bucket; off by default). A call past
    /// the rate is answered with -32006 and `data.retryAfterMs`; an emit past
    /// it is dropped (or answered so, if it was a request).
    #[must_use]
    pub fn rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.limits.connect.rate_limit = Some(crate::session::RateLimit::new(per_second, burst));
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
        let token = match self.token {
            TokenPolicy::Random => Some(crate::secret::token()?),
            TokenPolicy::Fixed(token) if !crate::secret::long_enough(&token) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the server's token is {} characters long; it must have at least 128 bits: 22 characters of URL-safe base64 or 32 of hex",
                        token.len()
                    ),
                ));
            }
            TokenPolicy::Fixed(token) => Some(token),
            TokenPolicy::None => None,
        };
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
        let access = Access::new(
            AccessConfig {
                launch: token.clone(),
                grants: self.router.grant_tokens().map(str::to_owned).collect(),
                extra_hosts: self.hosts,
                extra_origins: self.origins.extra,
                any_origin: self.origins.any,
            },
            local,
        );
        let budget = self
            .incoming_budget
            .max(self.limits.max_message_size as u64);
        let shutdown = CancellationToken::new();
        let hard_stop = CancellationToken::new();
        let connections = TaskTracker::new();
        let shared = Arc::new(Shared {
            router: self.router,
            access,
            ws_path: self.ws_path.clone(),
            limits: self.limits,
            budget: IncomingBudget::new(budget),
            shutdown_drain: self.shutdown_drain,
            shutdown: shutdown.clone(),
            hard_stop: hard_stop.clone(),
            connections: connections.clone(),
        });
        let routes = routes::router(
            Arc::clone(&shared),
            Routes {
                ws_path: self.ws_path.clone(),
                assets: self.assets,
                static_dir: self.static_dir,
            },
        );
        let http = tokio::spawn(http::serve(
            listener,
            routes,
            self.http,
            shutdown.clone(),
            self.shutdown_drain + SHUTDOWN_MARGIN,
        ));
        tracing::info!(addr = %local, "ipc server listening");
        Ok(ServerHandle {
            addr: local,
            ws_path: self.ws_path,
            token,
            shared,
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

/// A running server. Dropping it leaves the server running; call
/// [`shutdown`](Self::shutdown) to stop it.
pub struct ServerHandle {
    addr: SocketAddr,
    ws_path: String,
    token: Option<String>,
    shared: Arc<Shared>,
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

    /// The page address with the token: `http://127.0.0.1:PORT/?token=…`. A
    /// browser that opens it gets a session (a cookie for the pages, a key in
    /// `localStorage` for the WebSocket) and goes on to the same address
    /// without the token.
    pub fn http_url(&self) -> String {
        format!(
            "http://{}/{}",
            self.addr,
            query(self.token.as_deref(), None)
        )
    }

    /// The live inspector's address with the token,
    /// `http://127.0.0.1:PORT/ipc/inspect?token=…`, when the app's inspector
    /// is on ([`AppBuilder::inspector`](crate::AppBuilder::inspector)). The
    /// page shows every connection's calls and events to connections that
    /// [may inspect](crate::capability::Permissions::may_inspect): with the
    /// launch token of an app that configures no capabilities, it does.
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::App;
    /// use ipc_runtime::inspect::Inspector;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let app = App::builder().inspector(Inspector::new()).build().unwrap();
    /// let server = app.server().serve("127.0.0.1:0").await?;
    /// let url = server.inspector_url().unwrap();
    /// assert!(url.starts_with(&format!("http://{}/ipc/inspect?token=", server.local_addr())));
    /// server.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn inspector_url(&self) -> Option<String> {
        self.shared.router.inspector.as_ref()?;
        Some(format!(
            "http://{}{INSPECT_PATH}{}",
            self.addr,
            query(self.token.as_deref(), None)
        ))
    }

    /// The WebSocket address with the token: `ws://127.0.0.1:PORT/ipc?token=…`.
    pub fn ws_url(&self) -> String {
        format!(
            "ws://{}{}{}",
            self.addr,
            self.ws_path,
            query(self.token.as_deref(), None)
        )
    }

    /// The page address of the window labelled `label`: its own token, which
    /// binds the label to every connection made with it (`EventTarget::Label`
    /// reaches them; grant callbacks see it). Nothing a client sends sets a
    /// label otherwise. One token per label, minted on first use (at most
    /// 1024). On a server without a token the label travels as `?label=`.
    ///
    /// # Errors
    ///
    /// If `label` is not 1 to 128 ASCII letters, digits and `-` `_` `:` `/`
    /// `.`, or no more window tokens may be minted.
    pub fn window_url(&self, label: &str) -> io::Result<String> {
        let token = self.window_token(label)?;
        Ok(format!(
            "http://{}/{}",
            self.addr,
            query(token.as_deref(), Some(label))
        ))
    }

    /// The WebSocket address of the window labelled `label`, for clients that
    /// are not pages (see [`window_url`](Self::window_url)).
    ///
    /// # Errors
    ///
    /// As [`window_url`](Self::window_url).
    pub fn window_ws_url(&self, label: &str) -> io::Result<String> {
        let token = self.window_token(label)?;
        Ok(format!(
            "ws://{}{}{}",
            self.addr,
            self.ws_path,
            query(token.as_deref(), Some(label))
        ))
    }

    /// The window's token (`None` on a server without tokens).
    fn window_token(&self, label: &str) -> io::Result<Option<String>> {
        if !access::valid_label(label) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{label:?} is not a window label: use 1 to 128 ASCII letters, digits and - _ : / ."
                ),
            ));
        }
        match self.shared.access.window_token(label)? {
            Some(token) => Ok(Some(token)),
            None if !self.shared.access.requires_token() => Ok(None),
            None => Err(io::Error::other("too many windows: at most 1024 labels")),
        }
    }

    /// How many WebSocket connections are open.
    pub fn connections(&self) -> usize {
        self.shared.connections.len()
    }

    /// Stops the server: no new connections; running calls get the drain
    /// deadline to finish and answer; then every socket is closed with a close
    /// frame. Returns within the drain deadline plus a second, whatever the
    /// clients do: sockets still open then (a client that does not read its
    /// last frames) are dropped.
    pub async fn shutdown(self) {
        let shared = &self.shared;
        shared.shutdown.cancel();
        shared.connections.close();
        let deadline = shared.shutdown_drain + SHUTDOWN_MARGIN;
        if tokio::time::timeout(deadline, shared.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = shared.connections.len(),
                "connections still open at the shutdown deadline are dropped"
            );
            shared.hard_stop.cancel();
            shared.connections.wait().await;
        }
        let _ = self.http.await;
        tracing::info!(addr = %self.addr, "ipc server stopped");
    }
}

/// `?token=…&label=…`, with what there is.
fn query(token: Option<&str>, label: Option<&str>) -> String {
    let pairs: Vec<String> = token
        .map(|t| format!("token={t}"))
        .into_iter()
        .chain(label.map(|l| format!("label={l}")))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .field("connections", &self.shared.connections.len())
            .finish_non_exhaustive()
    }
}
