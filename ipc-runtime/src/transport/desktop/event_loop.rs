//! The windows' thread: tao's event loop, one wry webview per window, and
//! [`DesktopHandle`], which other threads reach it through.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use ipc_core::EventTarget;
use tao::dpi::{LogicalPosition, LogicalSize};
use tao::event::{Event, WindowEvent};
use tao::event_loop::{
    ControlFlow, EventLoop, EventLoopBuilder, EventLoopProxy, EventLoopWindowTarget,
};
use tao::platform::run_return::EventLoopExtRunReturn;
use tao::window::{WindowBuilder, WindowId};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::task::JoinHandle;
use wry::{PageLoadEvent, WebView, WebViewBuilder};

use super::assets::{Assets, ORIGIN, SCHEME};
use super::bridge::{self, Control, Inbound, PageMessage, PumpOptions, ScriptSink};
use super::{Desktop, DesktopError, Window};
use crate::route::Router;

/// How many posted messages may wait for a window's sessions.
const INBOX: usize = 256;
/// The most sockets one page may hold open.
const MAX_SOCKETS: usize = 16;
/// The most scripts queued for one window's webview.
const MAX_SCRIPTS: usize = 32;

/// What other threads ask of the windows' thread.
pub(super) enum UserEvent {
    /// Evaluate a script in the window labelled so.
    Eval {
        label: Arc<str>,
        script: String,
        permit: Option<OwnedSemaphorePermit>,
    },
    Open(Box<Window>),
    Close(String),
    Exit,
    /// Every closed window's sessions have drained: end the loop.
    Drained,
}

/// Opens and closes windows, and ends the event loop, from any thread.
/// Given to [`Desktop::on_start`](super::Desktop::on_start).
///
/// ```rust
/// use ipc_runtime::transport::desktop::{DesktopHandle, Window};
///
/// fn open_settings(desktop: &DesktopHandle) {
///     let _ = desktop.open(Window::new("settings").title("Settings").page("/settings.html"));
/// }
/// ```
#[derive(Clone)]
pub struct DesktopHandle {
    proxy: EventLoopProxy<UserEvent>,
}

impl DesktopHandle {
    /// Opens another window (an invalid or repeated label is logged and
    /// ignored, as the window thread finds it).
    ///
    /// # Errors
    /// [`DesktopError::Closed`] once the event loop has ended;
    /// [`DesktopError::BadLabel`] for a label no window may have.
    pub fn open(&self, window: Window) -> Result<(), DesktopError> {
        window.check()?;
        self.send(UserEvent::Open(Box::new(window)))
    }

    /// Closes the window labelled `label`, as if its user closed it.
    ///
    /// # Errors
    /// [`DesktopError::Closed`] once the event loop has ended.
    pub fn close(&self, label: &str) -> Result<(), DesktopError> {
        self.send(UserEvent::Close(label.to_owned()))
    }

    /// Closes every window; `run` returns once their calls have drained.
    ///
    /// # Errors
    /// [`DesktopError::Closed`] once the event loop has ended.
    pub fn exit(&self) -> Result<(), DesktopError> {
        self.send(UserEvent::Exit)
    }

    fn send(&self, event: UserEvent) -> Result<(), DesktopError> {
        self.proxy
            .send_event(event)
            .map_err(|_| DesktopError::Closed)
    }
}

impl fmt::Debug for DesktopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DesktopHandle").finish_non_exhaustive()
    }
}

/// A window's scripts, sent to the windows' thread.
struct ProxySink {
    label: Arc<str>,
    proxy: EventLoopProxy<UserEvent>,
}

impl ScriptSink for ProxySink {
    fn eval(&self, script: String, permit: Option<OwnedSemaphorePermit>) -> bool {
        let event = UserEvent::Eval {
            label: Arc::clone(&self.label),
            script,
            permit,
        };
        self.proxy.send_event(event).is_ok()
    }
}

/// One open window.
struct Entry {
    label: Arc<str>,
    // Field order is drop order: the webview goes before its window.
    webview: WebView,
    _window: tao::window::Window,
    stop: oneshot::Sender<()>,
    pump: JoinHandle<()>,
}

/// Everything the loop owns.
struct State {
    router: Arc<Router>,
    desktop: Settings,
    runtime: tokio::runtime::Handle,
    proxy: EventLoopProxy<UserEvent>,
    windows: HashMap<WindowId, Entry>,
    closing: Vec<JoinHandle<()>>,
    exiting: bool,
}

/// What `Desktop` was configured with, minus what `run` consumed.
struct Settings {
    assets: Assets,
    connect: crate::session::ConnectOptions,
    max_message_size: usize,
    shutdown_drain: Duration,
    exit_on_last_close: bool,
}

fn has_display() -> bool {
    if !cfg!(any(
        target_os = "linux",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd"
    )) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

pub(super) fn run(desktop: Desktop) -> Result<(), DesktopError> {
    let Desktop {
        router,
        windows,
        assets,
        connect,
        max_message_size,
        shutdown_drain,
        exit_on_last_close,
        runtime,
        on_start,
    } = desktop;
    let runtime = runtime
        .or_else(|| tokio::runtime::Handle::try_current().ok())
        .ok_or(DesktopError::NoRuntime)?;
    let mut labels = std::collections::HashSet::new();
    for window in &windows {
        window.check()?;
        if !labels.insert(window.label.as_str()) {
            return Err(DesktopError::DuplicateLabel(window.label.clone()));
        }
    }
    if !has_display() {
        return Err(DesktopError::NoDisplay);
    }
    let _inside = runtime.enter();
    let mut event_loop = new_event_loop()?;
    let proxy = event_loop.create_proxy();
    if let Some(start) = on_start {
        start(DesktopHandle {
            proxy: proxy.clone(),
        });
    }
    let mut state = State {
        router,
        desktop: Settings {
            assets,
            connect,
            max_message_size,
            shutdown_drain,
            exit_on_last_close,
        },
        runtime,
        proxy,
        windows: HashMap::new(),
        closing: Vec::new(),
        exiting: false,
    };
    for window in windows {
        if let Err(e) = state.open(&event_loop, window) {
            state.close_all();
            return Err(e);
        }
    }
    if state.windows.is_empty() && state.desktop.exit_on_last_close {
        return Ok(());
    }
    event_loop.run_return(move |event, target, control_flow| {
        *control_flow = ControlFlow::Wait;
        state.handle(event, target, control_flow);
    });
    Ok(())
}

fn new_event_loop() -> Result<EventLoop<UserEvent>, DesktopError> {
    let build = || {
        let mut builder = EventLoopBuilder::<UserEvent>::with_user_event();
        #[cfg(any(
            target_os = "linux",
            target_os = "dragonfly",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd"
        ))]
        {
            use tao::platform::unix::EventLoopBuilderExtUnix;
            builder.with_any_thread(true);
        }
        builder.build()
    };
    // tao panics when the windowing system cannot start (no usable display).
    std::panic::catch_unwind(build).map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the event loop panicked".to_owned());
        DesktopError::EventLoop(why)
    })
}

impl State {
    fn handle(
        &mut self,
        event: Event<'_, UserEvent>,
        target: &EventLoopWindowTarget<UserEvent>,
        control_flow: &mut ControlFlow,
    ) {
        match event {
            Event::UserEvent(UserEvent::Eval {
                label,
                script,
                permit,
            }) => {
                if let Some(entry) = self.windows.values().find(|e| e.label == label)
                    && let Err(e) = entry.webview.evaluate_script(&script)
                {
                    tracing::warn!(window = %label, error = %e, "cannot deliver to the window");
                }
                drop(permit);
            }
            Event::UserEvent(UserEvent::Open(window)) => {
                if self.exiting {
                    return;
                }
                let label = window.label.clone();
                if let Err(e) = self.open(target, *window) {
                    tracing::error!(window = %label, error = %e, "cannot open the window");
                }
            }
            Event::UserEvent(UserEvent::Close(label)) => {
                let id = self
                    .windows
                    .iter()
                    .find(|(_, e)| *e.label == *label)
                    .map(|(id, _)| *id);
                if let Some(id) = id {
                    self.close(id);
                }
            }
            Event::UserEvent(UserEvent::Exit) => {
                self.exiting = true;
                self.close_all();
            }
            Event::UserEvent(UserEvent::Drained) => *control_flow = ControlFlow::Exit,
            Event::WindowEvent {
                window_id, event, ..
            } => match event {
                WindowEvent::CloseRequested => self.close(window_id),
                WindowEvent::Focused(focused) => {
                    if let Some(entry) = self.windows.get(&window_id) {
                        let payload =
                            serde_json::json!({ "label": &*entry.label, "focused": focused });
                        self.lifecycle("window:focused", &payload);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn lifecycle(&self, event: &str, payload: &serde_json::Value) {
        if let Err(e) = self.router.emit(EventTarget::All, event, payload) {
            tracing::warn!(event, error = %e, "lifecycle event not emitted");
        }
    }

    fn open(
        &mut self,
        target: &EventLoopWindowTarget<UserEvent>,
        window: Window,
    ) -> Result<(), DesktopError> {
        window.check()?;
        if self.windows.values().any(|e| *e.label == *window.label) {
            return Err(DesktopError::DuplicateLabel(window.label));
        }
        let label: Arc<str> = Arc::from(window.label.as_str());
        let mut native = WindowBuilder::new()
            .with_title(&window.title)
            .with_inner_size(LogicalSize::new(window.size.0, window.size.1));
        if let Some((x, y)) = window.position {
            native = native.with_position(LogicalPosition::new(x, y));
        }
        let native = native.build(target).map_err(DesktopError::Window)?;

        let (inbox, inbox_rx) = mpsc::channel(INBOX);
        let (control, control_rx) = mpsc::channel(INBOX);
        let generation = Rc::new(Cell::new(0u64));
        let webview = self.webview(&window, &native, inbox, control, Rc::clone(&generation))?;

        let mut connect = self
            .desktop
            .connect
            .clone()
            .label(Some(window.label.clone()));
        if window.capability.is_some() {
            connect = connect.capability(window.capability.clone());
        }
        let options = PumpOptions {
            connect,
            max_sockets: MAX_SOCKETS,
            drain: self.desktop.shutdown_drain,
            max_scripts: MAX_SCRIPTS,
        };
        let sink = Arc::new(ProxySink {
            label: Arc::clone(&label),
            proxy: self.proxy.clone(),
        });
        let (stop, stopped) = oneshot::channel();
        let pump = self.runtime.spawn(bridge::pump(
            Arc::clone(&self.router),
            options,
            sink,
            inbox_rx,
            control_rx,
            stopped,
        ));
        let id = native.id();
        self.windows.insert(
            id,
            Entry {
                label: Arc::clone(&label),
                webview,
                _window: native,
                stop,
                pump,
            },
        );
        self.lifecycle("window:created", &serde_json::json!({ "label": &*label }));
        Ok(())
    }

    fn webview(
        &self,
        window: &Window,
        native: &tao::window::Window,
        inbox: mpsc::Sender<Inbound>,
        control: mpsc::Sender<Control>,
        generation: Rc<Cell<u64>>,
    ) -> Result<WebView, DesktopError> {
        let assets = self.desktop.assets.clone();
        let label_literal = serde_json::to_string(&window.label)
            .map_err(|_| DesktopError::BadLabel(window.label.clone()))?;
        let shim = include_str!("shim.js").replace("__IPC_DESKTOP_LABEL__", &label_literal);
        let max_message_size = self.desktop.max_message_size;
        let page_generation = Rc::clone(&generation);
        let reset = control.clone();
        let ipc = move |request: wry::http::Request<String>| {
            let from = request.uri().to_string();
            if !from.starts_with(ORIGIN) {
                tracing::warn!(from, "ignored a message from a page outside the app");
                return;
            }
            let posted = request.into_body();
            let socket = match PageMessage::parse(&posted) {
                Ok(
                    PageMessage::Texts(id, _)
                    | PageMessage::Text(id, _)
                    | PageMessage::Open(id)
                    | PageMessage::Close(id),
                ) => id,
                Err(_) => 0,
            };
            let generation = generation.get();
            if posted.len() > max_message_size {
                let _ = control.try_send(Control::Overflowed { generation, socket });
                return;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) =
                inbox.try_send(Inbound { generation, posted })
            {
                let _ = control.try_send(Control::Overflowed { generation, socket });
            }
        };
        let on_load = move |event: PageLoadEvent, _url: String| {
            if let PageLoadEvent::Started = event {
                page_generation.set(page_generation.get() + 1);
                let _ = reset.try_send(Control::PageReset {
                    generation: page_generation.get(),
                });
            }
        };
        let builder = WebViewBuilder::new()
            .with_custom_protocol(SCHEME.to_owned(), move |_id, request| {
                assets.respond(&request)
            })
            .with_initialization_script(shim)
            .with_ipc_handler(ipc)
            .with_on_page_load_handler(on_load)
            .with_navigation_handler(|url: String| url.starts_with(ORIGIN) || url == "about:blank")
            .with_new_window_req_handler(|_url, _features| wry::NewWindowResponse::Deny)
            .with_url(format!("{ORIGIN}{}", window.page));
        #[cfg(any(
            target_os = "linux",
            target_os = "dragonfly",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd"
        ))]
        let built = {
            use tao::platform::unix::WindowExtUnix;
            use wry::WebViewBuilderExtUnix;
            match native.default_vbox() {
                Some(vbox) => builder.build_gtk(vbox),
                None => builder.build(native),
            }
        };
        #[cfg(not(any(
            target_os = "linux",
            target_os = "dragonfly",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd"
        )))]
        let built = builder.build(native);
        built.map_err(DesktopError::WebView)
    }

    /// Closes one window: its webview and window go at once, its sessions
    /// drain on the runtime; the last one ends the loop (when configured).
    fn close(&mut self, id: WindowId) {
        let Some(entry) = self.windows.remove(&id) else {
            return;
        };
        let Entry {
            label,
            webview,
            _window,
            stop,
            pump,
        } = entry;
        drop(webview);
        drop(_window);
        let _ = stop.send(());
        self.closing.push(pump);
        self.lifecycle("window:closed", &serde_json::json!({ "label": &*label }));
        if self.windows.is_empty() && (self.desktop.exit_on_last_close || self.exiting) {
            self.finish();
        }
    }

    fn close_all(&mut self) {
        let ids: Vec<WindowId> = self.windows.keys().copied().collect();
        for &id in &ids {
            self.close(id);
        }
        if ids.is_empty() && self.exiting {
            self.finish();
        }
    }

    /// Ends the loop once every closed window's sessions have drained (each
    /// is bounded by the drain deadline; one more second for the cancelled
    /// ones to unwind).
    fn finish(&mut self) {
        let pumps = std::mem::take(&mut self.closing);
        let proxy = self.proxy.clone();
        let deadline = self.desktop.shutdown_drain + Duration::from_secs(1);
        self.runtime.spawn(async move {
            let all = futures_util::future::join_all(pumps);
            if tokio::time::timeout(deadline, all).await.is_err() {
                tracing::warn!("window sessions still closing after the drain deadline");
            }
            let _ = proxy.send_event(UserEvent::Drained);
        });
    }
}
