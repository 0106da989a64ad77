//! The WebSocket server: one HTTP listener serving the IPC endpoint (`/ipc`),
//! the JavaScript client (`/ipc.js`, `/ipc.d.ts`) and, optionally, the
//! application's own frontend files.
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
//! println!("open {}", server.http_url());
//! tokio::signal::ctrl_c().await?;
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Each connection runs in its own task. Its calls run concurrently (a slow
//! command never delays a fast one), bounded per connection; when the bound is
//! reached the server stops reading from that client until a call finishes.
//! Shutdown stops accepting, lets running calls finish within a deadline, and
//! closes every socket with a close frame.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError, WebSocketRead, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use ipc_core::{ErrorObject, codes};
use tokio::io::{BufWriter, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::frames::{Assembler, Fatal, Message};
use crate::App;
use crate::connection::{ConnectOptions, Connection, Outbound, Outbox};

/// The JavaScript client, served at `/ipc.js`.
pub const IPC_JS: &str = include_str!("../../js/ipc.js");
/// Its TypeScript declarations, served at `/ipc.d.ts`.
pub const IPC_D_TS: &str = include_str!("../../js/ipc.d.ts");
/// The shim that lets an unmodified `@tauri-apps/api` frontend run against
/// this server, served at `/ipc-tauri.js`.
pub const IPC_TAURI_JS: &str = include_str!("../../js/ipc-tauri.js");
/// Its TypeScript declarations, served at `/ipc-tauri.d.ts`.
pub const IPC_TAURI_D_TS: &str = include_str!("../../js/ipc-tauri.d.ts");

/// The WebSocket subprotocol the server offers (clients need not ask for it).
pub const SUBPROTOCOL: &str = "ipc.v1";

/// Configures a WebSocket server for an [`App`]. Get one from [`App::server`].
pub struct ServerBuilder {
    app: App,
    ws_path: String,
    static_dir: Option<PathBuf>,
    assets: HashMap<String, Asset>,
    allow_non_loopback: bool,
    max_message_size: usize,
    max_in_flight: usize,
    outbox_capacity: usize,
    shutdown_drain: Duration,
}

#[derive(Clone)]
struct Asset {
    content_type: &'static str,
    body: Bytes,
}

impl App {
    /// Starts configuring a WebSocket server for this app.
    pub fn server(&self) -> ServerBuilder {
        ServerBuilder {
            app: self.clone(),
            ws_path: "/ipc".to_owned(),
            static_dir: None,
            assets: HashMap::new(),
            allow_non_loopback: false,
            max_message_size: 32 << 20,
            max_in_flight: 64,
            outbox_capacity: 256,
            shutdown_drain: Duration::from_secs(5),
        }
    }

    /// Serves this app over WebSocket on `addr` with the default settings.
    /// `addr` must be a loopback address (`127.0.0.1:0` picks a free port); see
    /// [`ServerBuilder::allow_non_loopback`].
    pub async fn serve(&self, addr: impl ToSocketAddrs) -> io::Result<ServerHandle> {
        self.server().serve(addr).await
    }
}

impl ServerBuilder {
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

    /// The largest message accepted, in bytes (default 32 MiB). A larger one is
    /// answered with a -32002 error and the connection is closed with code
    /// 1009, without reading it into memory.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How many async calls one connection may have running (default 64).
    #[must_use]
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls;
        self
    }

    /// How many outgoing messages may queue per connection (default 256).
    #[must_use]
    pub fn outbox_capacity(mut self, messages: usize) -> Self {
        self.outbox_capacity = messages;
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
        let shutdown = CancellationToken::new();
        let connections = TaskTracker::new();
        let shared = Arc::new(Shared {
            app: self.app,
            max_message_size: self.max_message_size,
            connect: ConnectOptions {
                max_in_flight: self.max_in_flight,
                outbox_capacity: self.outbox_capacity,
                ..ConnectOptions::default()
            },
            shutdown_drain: self.shutdown_drain,
            shutdown: shutdown.clone(),
            connections: connections.clone(),
        });

        let mut router = Router::new()
            .route(&self.ws_path, get(upgrade))
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
        let router = router.with_state(Arc::clone(&shared));

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
            .field("max_message_size", &self.max_message_size)
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
    shutdown: CancellationToken,
    connections: TaskTracker,
    http: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// The address the server is bound to (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page address: `http://127.0.0.1:PORT/`.
    pub fn http_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The WebSocket address: `ws://127.0.0.1:PORT/ipc`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}{}", self.addr, self.ws_path)
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

/// What every connection task shares.
struct Shared {
    app: App,
    max_message_size: usize,
    connect: ConnectOptions,
    shutdown_drain: Duration,
    shutdown: CancellationToken,
    connections: TaskTracker,
}

/// The query parameters the WebSocket endpoint reads.
#[derive(serde::Deserialize, Default)]
struct UpgradeQuery {
    /// The connection's label (Tauri's window label).
    label: Option<String>,
}

/// `GET /ipc`: upgrades to a WebSocket.
async fn upgrade(State(shared): State<Arc<Shared>>, mut request: Request) -> Response {
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
    let query = Query::<UpgradeQuery>::try_from_uri(request.uri())
        .map(|Query(query)| query)
        .unwrap_or_default();
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
    let task_shared = Arc::clone(&shared);
    shared.connections.spawn(async move {
        match pending.await {
            Ok(socket) => {
                let options = ConnectOptions {
                    origin,
                    label,
                    binary: wants_subprotocol,
                    ..task_shared.connect.clone()
                };
                serve_connection(task_shared, socket, options).await;
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

type Socket = TokioIo<Upgraded>;

/// Frames the reader must have written (pongs, close replies), and how the
/// connection ends.
enum Control {
    Frame(OpCode, Vec<u8>),
    Close(u16, &'static str),
}

async fn serve_connection(
    shared: Arc<Shared>,
    socket: fastwebsockets::WebSocket<Socket>,
    options: ConnectOptions,
) {
    let (connection, outbox) = shared.app.connect(options);
    let client = connection.client_id();
    tracing::debug!(client = %client, "connection opened");
    let (mut reader, writer) = socket.split(|s| {
        let (read, write) = tokio::io::split(s);
        (read, BufWriter::new(write))
    });
    // fastwebsockets refuses frames of `max` bytes and more; ours is inclusive.
    reader.set_max_message_size(shared.max_message_size.saturating_add(1));
    let (control_tx, control_rx) = mpsc::channel::<Control>(8);
    let writer = tokio::spawn(write_loop(writer, outbox, control_rx));

    let ended_by = tokio::select! {
        ended = read_loop(&mut reader, &connection, &control_tx, shared.max_message_size) => ended,
        () = shared.shutdown.cancelled() => Ending::Shutdown,
    };
    match ended_by {
        Ending::Peer => connection.close(),
        Ending::Shutdown => {
            let cancelled = connection.shutdown(shared.shutdown_drain).await;
            if cancelled > 0 {
                tracing::warn!(client = %client, cancelled, "calls cancelled at shutdown");
            }
            let _ = control_tx
                .send(Control::Close(1001, "server shutting down"))
                .await;
        }
        Ending::Fatal(code, reason) => {
            connection.close();
            let _ = control_tx.send(Control::Close(code, reason)).await;
        }
    }
    drop(control_tx);
    let _ = writer.await;
    tracing::debug!(client = %client, "connection closed");
}

enum Ending {
    /// The client closed or vanished.
    Peer,
    /// The server is shutting down.
    Shutdown,
    /// The client broke the protocol; close with this code.
    Fatal(u16, &'static str),
}

async fn read_loop(
    reader: &mut WebSocketRead<ReadHalf<Socket>>,
    connection: &Connection,
    control: &mpsc::Sender<Control>,
    max_message_size: usize,
) -> Ending {
    let mut assembler = Assembler::new(max_message_size);
    loop {
        let frame = reader
            .read_frame(&mut |frame: Frame<'_>| {
                let control = control.clone();
                let owned = Control::Frame(frame.opcode, frame.payload.to_vec());
                async move {
                    control
                        .send(owned)
                        .await
                        .map_err(|_| WebSocketError::ConnectionClosed)
                }
            })
            .await;
        let frame = match frame {
            Ok(frame) => frame,
            Err(WebSocketError::InvalidUTF8) => {
                // The frame was consumed whole; the connection can go on.
                reply_error(
                    connection,
                    codes::PARSE_ERROR,
                    "parse error: the text frame is not valid UTF-8",
                )
                .await;
                continue;
            }
            Err(WebSocketError::FrameTooLarge) => {
                return too_large(connection, max_message_size).await;
            }
            Err(
                WebSocketError::UnexpectedEOF
                | WebSocketError::ConnectionClosed
                | WebSocketError::IoError(_),
            ) => {
                return Ending::Peer;
            }
            Err(e) => {
                tracing::debug!(client = %connection.client_id(), error = %e, "WebSocket protocol error");
                return Ending::Fatal(1002, "protocol error");
            }
        };
        match assembler.push(frame) {
            Ok(None) => {}
            Ok(Some(Message::Text(bytes))) => match Message::text(&bytes) {
                Some(text) => connection.handle_text(text).await,
                None => {
                    reply_error(
                        connection,
                        codes::PARSE_ERROR,
                        "parse error: the text message is not valid UTF-8",
                    )
                    .await;
                }
            },
            Ok(Some(Message::Binary(frame))) => connection.handle_binary(frame).await,
            Ok(Some(Message::Close)) => return Ending::Peer,
            Err(Fatal::TooLarge) => return too_large(connection, max_message_size).await,
            Err(Fatal::Protocol) => return Ending::Fatal(1002, "frames out of order"),
        }
    }
}

async fn too_large(connection: &Connection, max: usize) -> Ending {
    let error = ErrorObject::new(
        codes::LIMIT_EXCEEDED,
        format!("message too large: the limit is {max} bytes"),
    )
    .with_data(serde_json::json!({ "limit": "message size", "max": max }));
    connection.send_error(&error).await;
    Ending::Fatal(1009, "message too large")
}

async fn reply_error(connection: &Connection, code: i32, message: &str) {
    connection
        .send_error(&ErrorObject::new(code, message))
        .await;
}

/// Writes responses, events and control frames, batching whatever is queued
/// into one flush. Ends when the outbox ends (every call of the connection is
/// done) or a close is requested; either way it finishes with a close frame.
async fn write_loop(
    mut writer: WebSocketWrite<BufWriter<WriteHalf<Socket>>>,
    mut outbox: Outbox,
    mut control: mpsc::Receiver<Control>,
) {
    let mut control_open = true;
    let (code, reason) = loop {
        let written = tokio::select! {
            biased;
            frame = control.recv(), if control_open => match frame {
                Some(Control::Frame(opcode, payload)) => {
                    writer.write_frame(Frame::new(true, opcode, None, Payload::Owned(payload))).await
                }
                Some(Control::Close(code, reason)) => break (code, reason),
                None => {
                    control_open = false;
                    continue;
                }
            },
            message = outbox.recv() => match message {
                Some(message) => write_batch(&mut writer, &mut outbox, message).await,
                None => break (1000, ""),
            },
        };
        if written.is_err() || writer.flush().await.is_err() {
            // The client is gone; dropping the outbox makes pending sends fail fast.
            return;
        }
    };
    // Whatever is already queued (the last responses, an error) goes out first.
    while let Some(message) = outbox.try_recv() {
        if write_one(&mut writer, message).await.is_err() {
            return;
        }
    }
    let _ = writer
        .write_frame(Frame::close(code, reason.as_bytes()))
        .await;
    let _ = writer.flush().await;
}

/// Writes `first` and up to 63 more queued messages before the caller flushes.
async fn write_batch(
    writer: &mut WebSocketWrite<BufWriter<WriteHalf<Socket>>>,
    outbox: &mut Outbox,
    first: Outbound,
) -> Result<(), WebSocketError> {
    write_one(writer, first).await?;
    for _ in 0..63 {
        match outbox.try_recv() {
            Some(message) => write_one(writer, message).await?,
            None => break,
        }
    }
    Ok(())
}

async fn write_one(
    writer: &mut WebSocketWrite<BufWriter<WriteHalf<Socket>>>,
    message: Outbound,
) -> Result<(), WebSocketError> {
    match message {
        Outbound::Text(text) => {
            writer
                .write_frame(Frame::text(Payload::Borrowed(&text)))
                .await
        }
        // A large attachment goes in a continuation frame of its own, so it is
        // written from where it lies instead of being copied behind the header.
        Outbound::Binary { head, body } if body.len() >= SPLIT_BINARY_AT => {
            writer
                .write_frame(Frame::new(
                    false,
                    OpCode::Binary,
                    None,
                    Payload::Borrowed(&head),
                ))
                .await?;
            writer
                .write_frame(Frame::new(
                    true,
                    OpCode::Continuation,
                    None,
                    Payload::Borrowed(&body),
                ))
                .await
        }
        Outbound::Binary { head, body } => {
            let mut whole = Vec::with_capacity(head.len() + body.len());
            whole.extend_from_slice(&head);
            whole.extend_from_slice(&body);
            writer
                .write_frame(Frame::binary(Payload::Owned(whole)))
                .await
        }
    }
}

/// Attachments at least this large are sent without copying (as a second frame).
const SPLIT_BINARY_AT: usize = 64 * 1024;
