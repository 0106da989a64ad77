//! The desktop transport end to end: real WebKitGTK windows under a display
//! (`xvfb-run -a cargo test -p ipc-tests --features desktop --test desktop`).
//!
//! One process, one event loop (GTK allows no more), so this is a plain
//! `main` (`harness = false`): the windows run on the main thread, a driver
//! thread checks what their pages report and drives them (events from Rust,
//! `xdotool` typing into the real window, a screenshot), then closes them.
//! The pages (`tests/desktop/page.html`) use `ipc.js` unchanged.

use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipc_runtime::transport::desktop::{DesktopHandle, Window};
use ipc_runtime::{App, Capability, Channel, EventTarget, State, codes, command, listen};
use ipc_tests::WsClient;
use serde_json::{Value, json};

/// How long any one wait of the driver may take.
const WAIT: Duration = Duration::from_secs(30);
/// The windows' drain deadline.
const DRAIN: Duration = Duration::from_secs(2);

#[command(rename = "desk.add")]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[command(rename = "desk.fail")]
fn fail(why: String) -> Result<(), String> {
    Err(format!("refused: {why}"))
}

#[command(rename = "desk.count")]
async fn count(to: u32, out: Channel<u32>) -> u32 {
    for i in 0..to {
        if out.send(&i).await.is_err() {
            break;
        }
    }
    to
}

/// Counts the `desk.sleep` calls whose future was dropped before it finished.
static SLEEPS_DROPPED: AtomicUsize = AtomicUsize::new(0);

struct CountDrop(bool);
impl Drop for CountDrop {
    fn drop(&mut self) {
        if !self.0 {
            SLEEPS_DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[command(rename = "desk.sleep")]
async fn sleep(ms: u64) -> u64 {
    let mut guard = CountDrop(false);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    guard.0 = true;
    ms
}

#[derive(Default)]
struct Todos(Mutex<Vec<String>>);

#[command(rename = "desk.todo")]
fn todo(todos: State<Todos>, app: App, title: String) -> Vec<String> {
    let list = {
        let mut todos = todos.0.lock().unwrap_or_else(|p| p.into_inner());
        todos.push(title);
        todos.clone()
    };
    let _ = app.emit("todos:changed", &list);
    list
}

/// What `#[listen("page:hello")]` saw: the labels of the pages that said hello.
static HELLOS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[listen("page:hello")]
fn hello(payload: Value) {
    if let Some(label) = payload["label"].as_str() {
        HELLOS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(label.to_owned());
    }
}

fn main() -> ExitCode {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    if !has_display {
        eprintln!("desktop test: no display; run it under `xvfb-run -a` (scripts/test does)");
        return ExitCode::FAILURE;
    }
    match run() {
        Ok(()) => {
            println!("desktop test: ok");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("desktop test FAILED: {why}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let _inside = runtime.enter();
    let app = App::builder()
        .manage(Todos::default())
        .capability(Capability::new("full").allow_all())
        .capability(
            Capability::new("narrow")
                .allow_invoke(["desk.add"])
                .allow_listen(["*"])
                .allow_emit(["test:report", "page:hello"]),
        )
        // The window labelled "second" gets only what "narrow" allows.
        .grant_with(|info| match info.label {
            Some("second") => vec!["narrow".to_owned()],
            _ => vec!["full".to_owned()],
        })
        .deny_by_default()
        .build()
        .map_err(|e| e.to_string())?;

    let (report_tx, reports) = channel::<Value>();
    let report_tx = Mutex::new(report_tx);
    app.listen("test:report", move |event| {
        if let Ok(value) = event.payload::<Value>() {
            let _ = report_tx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(value);
        }
    });
    let lifecycle = Arc::new(Mutex::new(Vec::<String>::new()));
    for name in ["window:created", "window:closed"] {
        let seen = Arc::clone(&lifecycle);
        app.listen(name, move |event| {
            let label = event.payload::<Value>().unwrap_or_default()["label"].clone();
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("{name} {label}"));
        });
    }

    // The same App serves WebSocket clients meanwhile.
    let server = runtime
        .block_on(app.server().serve("127.0.0.1:0"))
        .map_err(|e| e.to_string())?;
    let ws_url = server.ws_url();

    let (handle_tx, handle_rx) = channel::<DesktopHandle>();
    let driver = {
        let app = app.clone();
        let runtime = runtime.handle().clone();
        std::thread::spawn(move || drive(&app, &runtime, &handle_rx, &reports, &ws_url))
    };

    let run = app
        .desktop()
        .asset(
            "/",
            "text/html; charset=utf-8",
            include_str!("desktop/page.html"),
        )
        .window(
            Window::new("main")
                .title("Desktop test: main")
                .size(640, 400)
                .position(0, 0),
        )
        .window(
            Window::new("second")
                .title("Desktop test: second")
                .size(400, 300)
                .position(660, 0),
        )
        .shutdown_drain(DRAIN)
        .on_start(move |handle| {
            let _ = handle_tx.send(handle);
        })
        .run();
    let returned = Instant::now();
    let closed_at = driver
        .join()
        .map_err(|_| "the driver panicked".to_owned())??;
    run.map_err(|e| format!("run failed: {e}"))?;

    // Closing the last window ended `run` once its running call had the
    // drain deadline (and no longer).
    let took = returned.duration_since(closed_at);
    check(
        took >= DRAIN.saturating_sub(Duration::from_millis(100))
            && took < DRAIN + Duration::from_secs(3),
        format!("run returned {took:?} after the last window closed (drain {DRAIN:?})"),
    )?;
    check(
        SLEEPS_DROPPED.load(Ordering::SeqCst) >= 2,
        "the aborted call and the one running at close were dropped".to_owned(),
    )?;
    let seen = lifecycle.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for expected in [
        "window:created \"main\"",
        "window:created \"second\"",
        "window:closed \"second\"",
        "window:closed \"main\"",
        "window:created \"third\"",
        "window:closed \"third\"",
    ] {
        check(
            seen.iter().any(|s| s == expected),
            format!("lifecycle events {seen:?} include {expected}"),
        )?;
    }
    let hellos = HELLOS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    check(
        hellos.contains(&"main".to_owned()) && hellos.contains(&"second".to_owned()),
        format!("#[listen(\"page:hello\")] saw both pages: {hellos:?}"),
    )?;
    runtime.block_on(server.shutdown());
    Ok(())
}

fn check(ok: bool, what: String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what) }
}

/// Reports the pages sent, by (label, name).
struct Reports<'a> {
    rx: &'a Receiver<Value>,
    seen: Vec<Value>,
}

impl Reports<'_> {
    /// The value of the first report `name` from window `label`, waiting for it.
    fn get(&mut self, label: &str, name: &str) -> Result<Value, String> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(r) = self
                .seen
                .iter()
                .find(|r| r["label"] == label && r["name"] == name)
            {
                return Ok(r["value"].clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(report) => self.seen.push(report),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "no `{name}` report from window `{label}` within {WAIT:?}; got {:?}",
                        self.seen
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => return Err("reports ended".into()),
            }
        }
    }

    /// Takes in whatever arrives within `within`.
    fn settle(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while let Ok(report) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(report);
        }
    }
}

fn expect_eq(what: &str, got: Value, want: Value) -> Result<(), String> {
    check(got == want, format!("{what}: got {got}, want {want}"))
}

/// Runs a command with a deadline (`timeout` from coreutils), for the X tools.
fn tool(args: &[&str]) -> Result<String, String> {
    let out = Command::new("timeout")
        .arg("20")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Drives the windows; returns when it asked the last one to close.
fn drive(
    app: &App,
    runtime: &tokio::runtime::Handle,
    handle: &Receiver<DesktopHandle>,
    reports: &Receiver<Value>,
    ws_url: &str,
) -> Result<Instant, String> {
    let handle = handle
        .recv_timeout(WAIT)
        .map_err(|_| "the event loop never started")?;
    let result = drive_windows(app, runtime, &handle, reports, ws_url);
    if result.is_err() {
        let _ = handle.exit(); // end the loop, so main reports the failure
    }
    result
}

fn drive_windows(
    app: &App,
    runtime: &tokio::runtime::Handle,
    handle: &DesktopHandle,
    reports: &Receiver<Value>,
    ws_url: &str,
) -> Result<Instant, String> {
    let mut reports = Reports {
        rx: reports,
        seen: Vec::new(),
    };

    // Values, errors, channels and cancellation, from the page's ipc.js.
    expect_eq("main add", reports.get("main", "add")?, json!(5))?;
    expect_eq(
        "main fail",
        reports.get("main", "fail")?,
        json!({ "code": codes::COMMAND_ERROR, "message": "refused: no milk" }),
    )?;
    expect_eq(
        "main count",
        reports.get("main", "count")?,
        json!({ "n": 3, "got": [0, 1, 2] }),
    )?;
    expect_eq(
        "main cancel",
        reports.get("main", "cancel")?,
        json!(codes::CANCELLED),
    )?;
    expect_eq("second add", reports.get("second", "add")?, json!(5))?;
    let refused = reports.get("second", "fail")?;
    expect_eq(
        "second fail refused by its label's capability",
        refused["code"].clone(),
        json!(codes::FORBIDDEN),
    )?;
    reports.get("main", "ready")?;
    reports.get("second", "ready")?;

    // emit_to a label reaches that window only.
    app.emit_to(
        EventTarget::Label("main".into()),
        "ping",
        &json!({ "to": "main" }),
    )
    .map_err(|e| e.to_string())?;
    app.emit_to(
        EventTarget::Label("second".into()),
        "ping",
        &json!({ "to": "second" }),
    )
    .map_err(|e| e.to_string())?;
    expect_eq(
        "main ping",
        reports.get("main", "ping")?,
        json!({ "to": "main" }),
    )?;
    expect_eq(
        "second ping",
        reports.get("second", "ping")?,
        json!({ "to": "second" }),
    )?;
    reports.settle(Duration::from_millis(300));
    let pings: Vec<&Value> = reports
        .seen
        .iter()
        .filter(|r| r["name"] == "ping")
        .collect();
    check(
        pings.len() == 2,
        format!("each window got its ping only: {pings:?}"),
    )?;

    // Typing into the real window reaches a WebSocket client of the same App.
    let mut ws = runtime.block_on(WsClient::connect(ws_url));
    runtime.block_on(ws.call("ipc.listen", json!({ "event": "todos:changed" })));
    let found = tool(&[
        "xdotool",
        "search",
        "--sync",
        "--name",
        "^Desktop test: main$",
    ])?;
    let window = found
        .lines()
        .next()
        .ok_or("xdotool found no main window")?
        .to_owned();
    tool(&["xdotool", "windowfocus", "--sync", &window])?;
    tool(&["xdotool", "type", "--delay", "30", "buy milk"])?;
    tool(&["xdotool", "key", "Return"])?;
    expect_eq("typed", reports.get("main", "typed")?, json!("buy milk"))?;
    let pushed =
        runtime.block_on(async { tokio::time::timeout(WAIT, ws.event("todos:changed")).await });
    let pushed = pushed.map_err(|_| "the WebSocket client got no todos:changed")?;
    expect_eq(
        "the WebSocket client's todos",
        pushed["payload"].clone(),
        json!(["buy milk"]),
    )?;
    runtime.block_on(ws.close());

    // A screenshot of the main window, once it has painted the new todo.
    std::thread::sleep(Duration::from_millis(500));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let shot = dir.join("desktop.png");
    let _ = std::fs::remove_file(&shot);
    tool(&["import", "-window", &window, &shot.to_string_lossy()])?;
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    check(
        size > 1000,
        format!("screenshot {} is {size} bytes", shot.display()),
    )?;
    println!("screenshot: {}", shot.display());

    // A window opened while the loop runs gets its own page and sessions.
    handle
        .open(
            Window::new("third")
                .title("Desktop test: third")
                .size(300, 200)
                .position(0, 440),
        )
        .map_err(|e| e.to_string())?;
    expect_eq("third add", reports.get("third", "add")?, json!(5))?;
    reports.get("third", "ready")?;
    handle.close("third").map_err(|e| e.to_string())?;

    // Closing a window ends its sessions; the app keeps the other.
    handle.close("second").map_err(|e| e.to_string())?;
    // A call left running in the last window: closing it waits for the drain deadline, no longer.
    app.emit_to(EventTarget::Label("main".into()), "hold", &())
        .map_err(|e| e.to_string())?;
    reports.get("main", "holding")?;
    let closed_at = Instant::now();
    handle.close("main").map_err(|e| e.to_string())?;
    Ok(closed_at)
}
