//! Native desktop windows as a transport: a WebKit window per label (wry and
//! tao), whose page comes from the app's assets and whose IPC goes through
//! the webview itself. No port, no token, no `Origin` check: only the page
//! the app put in the window can reach it. Behind the `desktop` feature.
//!
//! ```rust,standalone_crate,no_run
//! use ipc_runtime::{App, command};
//! use ipc_runtime::transport::desktop::Window;
//!
//! #[command]
//! fn greet(name: String) -> String { format!("Hello, {name}!") }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let runtime = tokio::runtime::Runtime::new()?;
//!     let _inside = runtime.enter(); // the sessions run on it; the window on this thread
//!     let app = App::builder().build()?;
//!     app.desktop()
//!         .asset("/", "text/html", r#"<script type="module">
//!             import { connect } from "/ipc.js";
//!             const ipc = await connect();          // the window's own channel
//!             document.body.textContent = await ipc.invoke("greet", { name: "window" });
//!         </script>"#)
//!         .window(Window::new("main").title("Hello").size(640, 480))
//!         .run()?; // until the last window closes
//!     Ok(())
//! }
//! ```
//!
//! **The page.** Each window shows an asset of the app at
//! `app://localhost/<path>` (a custom protocol of the webview, served from
//! [`Desktop::asset`]; `/ipc.js` and `/ipc-tauri.js` are built in). The
//! window navigates nowhere else: links to other origins are refused.
//!
//! **The IPC path.** Before the page's own scripts, the window injects a
//! small shim (`globalThis.__IPC_DESKTOP__`) that presents the webview's
//! message channel as WebSocket-like sockets; `connect()` from `ipc.js` with
//! no URL uses it, so the same frontend code (typed bindings, the Tauri shim)
//! runs in a window and in a browser tab. Page to app: `window.ipc.postMessage`;
//! app to page: scripts evaluated in the webview on the main thread, several
//! messages per script. Each socket is one session, exactly like a WebSocket
//! connection without binary frames: commands, errors, events both ways,
//! channels, cancellation, limits and capabilities all behave the same; byte
//! results travel as JSON arrays of numbers. The messages a page sends in
//! one task go in one post, and the answers in scripts of up to 64
//! messages (BENCHMARKS.md, "Native window", has the figures).
//!
//! **Identity.** A window's sessions carry its label, set here by the app,
//! never by the page: [`EventTarget::Label`](crate::EventTarget::Label)
//! reaches exactly that window's pages, and capabilities can be granted by
//! label ([`grant_with`](crate::AppBuilder::grant_with)) or per window
//! ([`Window::capability`]).
//!
//! **Lifecycle.** Opening a window emits `window:created`, focus changes
//! `window:focused` (`{"label", "focused"}`), closing it `window:closed`
//! (payloads `{"label": …}`), as ordinary events Rust and pages can listen
//! to. Reloading a page ends its sessions. Closing a window ends its
//! sessions: calls still running get [`Desktop::shutdown_drain`] to finish,
//! the rest are cancelled. When the last window closes, [`Desktop::run`]
//! returns once they are drained (unless [`Desktop::exit_on_last_close`] is
//! off; then [`DesktopHandle::exit`] ends it).
//!
//! **Threads.** The windows live on the thread that calls [`Desktop::run`]
//! (on macOS it must be the main thread); the sessions run on the tokio
//! runtime that was current when `run` was called (a multi-threaded one),
//! or the one given to [`Desktop::runtime`]. One event loop per process.
//!
//! **Platforms.** Linux: WebKitGTK 4.1 (Debian: `libwebkit2gtk-4.1-dev` to
//! build, `libwebkit2gtk-4.1-0` to run) and an X11 or Wayland display.
//! macOS: WKWebView, part of the system. Windows: WebView2 (shipped with
//! Windows 11). See `docs/desktop.md`.

mod assets;
mod bridge;
mod event_loop;
mod window;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::route::Router;
use crate::session::ConnectOptions;

pub use event_loop::DesktopHandle;
pub use window::Window;

/// Why the windows could not be opened or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DesktopError {
    /// `run` was called outside a tokio runtime and none was given.
    #[error(
        "no tokio runtime: call `run` inside one (e.g. after `runtime.enter()`) or give one with `Desktop::runtime`"
    )]
    NoRuntime,
    /// There is no display to open windows on (`DISPLAY` and `WAYLAND_DISPLAY` are unset).
    #[error(
        "no display to open windows on: set DISPLAY or WAYLAND_DISPLAY (under CI: `xvfb-run -a`)"
    )]
    NoDisplay,
    /// The windowing system could not be started.
    #[error("cannot start the windowing system: {0}")]
    EventLoop(String),
    /// A label is empty, too long, or has a character outside `A-Z a-z 0-9 - _ : / .`.
    #[error("invalid window label `{0}`: 1 to 64 of A-Z a-z 0-9 - _ : / .")]
    BadLabel(String),
    /// A window with this label is already open.
    #[error("a window labelled `{0}` is already open")]
    DuplicateLabel(String),
    /// The native window could not be created.
    #[error("cannot create the window")]
    Window(#[source] tao::error::OsError),
    /// The webview could not be created.
    #[error("cannot create the webview")]
    WebView(#[source] wry::Error),
    /// The event loop has ended: the handle can no longer open or close windows.
    #[error("the desktop event loop has ended")]
    Closed,
}

/// Configures the native windows of an [`App`](crate::App). Get one from
/// [`App::desktop`](crate::App::desktop); see the [module docs](self).
///
/// ```rust
/// use std::time::Duration;
/// use ipc_runtime::App;
/// use ipc_runtime::transport::desktop::Window;
///
/// let app = App::builder().build().unwrap();
/// let desktop = app
///     .desktop()
///     .asset("/", "text/html", "<h1>hello</h1>")
///     .window(Window::new("main").title("Hello"))
///     .shutdown_drain(Duration::from_secs(2));
/// // desktop.run()? opens the window and returns when it is closed.
/// # drop(desktop);
/// ```
pub struct Desktop {
    router: Arc<Router>,
    windows: Vec<Window>,
    assets: assets::Assets,
    connect: ConnectOptions,
    max_message_size: usize,
    shutdown_drain: Duration,
    exit_on_last_close: bool,
    runtime: Option<tokio::runtime::Handle>,
    on_start: Option<Box<dyn FnOnce(DesktopHandle)>>,
}

impl Desktop {
    pub(crate) fn new(router: Arc<Router>) -> Self {
        Desktop {
            router,
            windows: Vec::new(),
            assets: assets::Assets::default(),
            connect: ConnectOptions::with_origin(Some(assets::ORIGIN.to_owned())).binary(false),
            max_message_size: 32 << 20,
            shutdown_drain: Duration::from_secs(5),
            exit_on_last_close: true,
            runtime: None,
            on_start: None,
        }
    }

    /// Opens this window when [`run`](Self::run) starts (several may be given,
    /// each with its own label).
    #[must_use]
    pub fn window(mut self, window: Window) -> Self {
        self.windows.push(window);
        self
    }

    /// Serves `body` at `path` to the windows' pages (`/` is also
    /// `/index.html`). `/ipc.js` and `/ipc-tauri.js` are built in.
    #[must_use]
    pub fn asset(
        mut self,
        path: &str,
        content_type: impl Into<Cow<'static, str>>,
        body: impl Into<Bytes>,
    ) -> Self {
        self.assets.insert(path, content_type.into(), body.into());
        self
    }

    /// How long calls still running get to finish when their window closes
    /// (default 5 s); the rest are cancelled.
    #[must_use]
    pub fn shutdown_drain(mut self, drain: Duration) -> Self {
        self.shutdown_drain = drain;
        self
    }

    /// Whether [`run`](Self::run) returns when the last window closes
    /// (default `true`). Off, it runs until [`DesktopHandle::exit`].
    #[must_use]
    pub fn exit_on_last_close(mut self, exit: bool) -> Self {
        self.exit_on_last_close = exit;
        self
    }

    /// How many async calls each page socket may run at once (default 64).
    #[must_use]
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.connect = self.connect.max_in_flight(calls);
        self
    }

    /// The largest message a page may post, in bytes (default 32 MiB); a
    /// larger one ends its socket.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The runtime the sessions run on (default: the one current when
    /// [`run`](Self::run) is called).
    #[must_use]
    pub fn runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Called on the windows' thread once the event loop exists, before the
    /// first window opens, with a handle other threads can open and close
    /// windows with.
    #[must_use]
    pub fn on_start(mut self, start: impl FnOnce(DesktopHandle) + 'static) -> Self {
        self.on_start = Some(Box::new(start));
        self
    }

    /// Opens the windows and runs them on this thread until the last one
    /// closes (see [`exit_on_last_close`](Self::exit_on_last_close)) and its
    /// calls have drained.
    ///
    /// # Errors
    /// [`DesktopError`]: no runtime, no display, a bad or repeated label, or
    /// the window or webview could not be created.
    pub fn run(self) -> Result<(), DesktopError> {
        event_loop::run(self)
    }
}

impl fmt::Debug for Desktop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Desktop")
            .field("windows", &self.windows)
            .field("shutdown_drain", &self.shutdown_drain)
            .field("exit_on_last_close", &self.exit_on_last_close)
            .finish_non_exhaustive()
    }
}
