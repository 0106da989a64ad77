//! The server the Node, browser and third-party-client tests talk to.
//!
//! `ipc-e2e-server [--port N]` prints the page and WebSocket addresses of two
//! windows (`window main http://…`, `window main ws://…`, and the same for
//! `second`), then `http://127.0.0.1:PORT/?token=…` and
//! `ws://127.0.0.1:PORT/ipc?token=…` on their own lines, and serves until it
//! gets Ctrl-C (SIGINT) or is killed.
//!
//! It keeps the recent events of a few names (`e2e:stream` 64, `e2e:short`
//! 4, `e2e:burst` 256, `e2e:last` 1), for the tests of resuming and `last`.
//!
//! `ipc-e2e-server --stdio` serves the same commands to its parent on
//! stdin/stdout instead (one JSON-RPC message per line, nothing else on
//! stdout), until stdin closes.
//!
//! The server's limits keep their defaults unless a flag sets them, so a test
//! (the soak run, `bin/soak.rs`) can have faults detected in seconds:
//! `--max-message-size BYTES`, `--incoming-budget BYTES`, `--max-connections N`,
//! `--max-pending N`, `--write-timeout-ms MS`, `--header-read-timeout-ms MS`,
//! `--idle-timeout-ms MS`, `--ping-interval-ms MS` (given any, it first prints
//! `limits name=value …` for those it applied). With `--exit-on-stdin-eof`
//! it also stops when its stdin closes, so a parent that dies (even killed)
//! never leaves it running. With `--scoped-token T` the app configures
//! capabilities: the launch token's pages may do everything and watch the
//! live inspector, a connection with `T` everything but watch.

#[path = "e2e_uploads.rs"]
mod uploads;

use std::sync::Mutex;
use std::time::Duration;

use ipc_runtime::{
    App, Caller, Capability, Channel, EventTarget, InvokeError, State, command, listen,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[command]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[command]
fn greet(name: String, excited: Option<bool>) -> String {
    let end = if excited == Some(true) { "!" } else { "." };
    format!("Hello, {name}{end}")
}

#[command]
async fn sleep(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum Refusal {
    Refused { reason: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Refused { reason } => write!(f, "refused: {reason}"),
        }
    }
}

#[command]
fn fail(reason: String) -> Result<(), Refusal> {
    Err(Refusal::Refused { reason })
}

#[command]
fn custom_error(code: i32, message: String) -> Result<(), InvokeError> {
    Err(InvokeError::new(code, message))
}

#[command]
fn panic() {
    panic!("this command always panics");
}

#[command]
fn emit_event(app: App, event: String, payload: Value) -> Result<(), InvokeError> {
    app.emit(&event, &payload)?;
    Ok(())
}

/// Emits `count` events named `event` whose payloads are `from`, `from + 1`,
/// ..., `delay_ms` apart (0: one after the other, yielding in between).
/// Returns the last payload.
#[command]
async fn emit_numbered(
    app: App,
    event: String,
    from: u64,
    count: u64,
    delay_ms: u64,
) -> Result<u64, InvokeError> {
    let mut last = from;
    for n in from..from + count {
        app.emit(&event, &n)?;
        last = n;
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    Ok(last)
}

#[command]
fn emit_to_caller(
    app: App,
    caller: Caller,
    event: String,
    payload: Value,
) -> Result<(), InvokeError> {
    app.emit_to(EventTarget::Client(caller.client_id()), &event, &payload)?;
    Ok(())
}

#[command]
fn whoami(caller: Caller) -> u64 {
    caller.client_id().get()
}

#[command]
fn echo(value: Value) -> Value {
    value
}

/// Integers at their full Rust width: the JS client must keep them exact.
#[command]
fn echo_u64(value: u64) -> u64 {
    value
}

#[command]
fn echo_i64(value: i64) -> i64 {
    value
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Limits {
    u64_max: u64,
    i64_min: i64,
    i64_max: i64,
    /// 2^53 - 1, the largest integer a JS number holds exactly.
    max_safe: u64,
    /// 2^53 + 1, the smallest positive integer it cannot hold.
    above_safe: u64,
    /// Digits in a string stay a string.
    digits: String,
    values: Vec<i64>,
}

#[command]
fn limits() -> Limits {
    Limits {
        u64_max: u64::MAX,
        i64_min: i64::MIN,
        i64_max: i64::MAX,
        max_safe: (1 << 53) - 1,
        above_safe: (1 << 53) + 1,
        digits: "18446744073709551615".into(),
        values: vec![i64::MIN, -1, 0, 1, i64::MAX],
    }
}

/// Events named `to-rust` as the Rust side saw them.
#[derive(Default)]
struct Received(Mutex<Vec<Value>>);

#[derive(Serialize, Deserialize)]
struct Seen {
    event: String,
    payload: Value,
    source: u64,
}

#[listen("to-rust")]
fn on_to_rust(payload: Value, caller: Caller, received: State<Received>) {
    let seen = Seen {
        event: "to-rust".into(),
        payload,
        source: caller.client_id().get(),
    };
    if let Ok(value) = serde_json::to_value(seen) {
        received
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(value);
    }
}

#[command]
fn rust_received(received: State<Received>) -> Vec<Value> {
    received.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[derive(Clone, Serialize)]
struct Progress {
    done: u32,
    total: u32,
}

/// Reports `steps` progress messages on the channel, `delay_ms` apart.
#[command]
async fn progress(steps: u32, delay_ms: u64, on_progress: Channel<Progress>) -> u32 {
    for done in 1..=steps {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        if on_progress
            .send(&Progress { done, total: steps })
            .await
            .is_err()
        {
            break;
        }
    }
    steps
}

/// Sends `chunks` binary messages of `size` bytes; byte j of chunk c is (c*7 + j) % 256.
#[command]
async fn stream_bytes(chunks: u32, size: u32, sink: Channel) -> u32 {
    for c in 0..chunks {
        let chunk: Vec<u8> = (0..size).map(|j| ((c * 7 + j) % 256) as u8).collect();
        if sink.send_bytes(chunk).await.is_err() {
            break;
        }
    }
    chunks
}

#[command]
fn echo_bytes(data: Vec<u8>) -> Vec<u8> {
    data
}

#[command]
fn bytes_len(data: bytes::Bytes) -> usize {
    data.len()
}

/// `len` bytes, byte i = (i*31 + seed) % 256: not valid UTF-8.
#[command]
fn make_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed as usize) % 256) as u8)
        .collect()
}

/// Markers recorded by `cancellable` calls that ran to the end.
#[derive(Default)]
struct Markers(Mutex<Vec<String>>);

/// Sleeps, then records `marker`: a cancelled call never records it.
#[command]
async fn cancellable(ms: u64, marker: String, markers: State<Markers>) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    markers
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(marker);
}

#[command]
fn markers(markers: State<Markers>) -> Vec<String> {
    markers.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Events the server keeps, for the tests of resuming and of `last`: a
/// stream, one that keeps few (to go past it), one for bursts, and one that
/// keeps only its last value.
const STREAM: &str = "e2e:stream";
const SHORT: &str = "e2e:short";
const BURST: &str = "e2e:burst";
const LAST: &str = "e2e:last";

/// `--port N` (default 0: any free port), `--static DIR`, and `--token T`
/// (default: a random one, as in production); or `--stdio`. The limits are the
/// server's defaults unless given.
struct Args {
    port: u16,
    static_dir: Option<String>,
    token: Option<String>,
    /// `--scoped-token T`: the app configures capabilities: the launch
    /// token's pages may do everything and inspect, `T` everything but inspect.
    scoped_token: Option<String>,
    stdio: bool,
    exit_on_stdin_eof: bool,
    limits: LimitArgs,
}

/// Limits given on the command line; `None` keeps the server's default.
#[derive(Default)]
struct LimitArgs {
    max_message_size: Option<usize>,
    incoming_budget: Option<u64>,
    max_connections: Option<usize>,
    max_pending: Option<usize>,
    write_timeout: Option<Duration>,
    header_read_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    ping_interval: Option<Duration>,
}

impl LimitArgs {
    fn apply(
        &self,
        mut server: ipc_runtime::transport::ws::ServerBuilder,
    ) -> ipc_runtime::transport::ws::ServerBuilder {
        if let Some(bytes) = self.max_message_size {
            server = server.max_message_size(bytes);
        }
        if let Some(bytes) = self.incoming_budget {
            server = server.incoming_budget(bytes);
        }
        if let Some(n) = self.max_connections {
            server = server.max_connections(n);
        }
        if let Some(n) = self.max_pending {
            server = server.max_pending_connections(n);
        }
        if let Some(t) = self.write_timeout {
            server = server.write_timeout(t);
        }
        if let Some(t) = self.header_read_timeout {
            server = server.header_read_timeout(t);
        }
        if let Some(t) = self.idle_timeout {
            server = server.idle_timeout(t);
        }
        if let Some(t) = self.ping_interval {
            server = server.ping_interval(t);
        }
        server
    }

    /// `limits name=value …` for the limits given, so a caller can tell that
    /// this build of the server applied them; `None` when none was given.
    fn describe(&self) -> Option<String> {
        let ms = |t: Option<Duration>| t.map(|t| t.as_millis().to_string());
        let given: Vec<String> = [
            (
                "max-message-size",
                self.max_message_size.map(|v| v.to_string()),
            ),
            (
                "incoming-budget",
                self.incoming_budget.map(|v| v.to_string()),
            ),
            (
                "max-connections",
                self.max_connections.map(|v| v.to_string()),
            ),
            ("max-pending", self.max_pending.map(|v| v.to_string())),
            ("write-timeout-ms", ms(self.write_timeout)),
            ("header-read-timeout-ms", ms(self.header_read_timeout)),
            ("idle-timeout-ms", ms(self.idle_timeout)),
            ("ping-interval-ms", ms(self.ping_interval)),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| format!("{name}={v}")))
        .collect();
        (!given.is_empty()).then(|| format!("limits {}", given.join(" ")))
    }
}

/// The value after a flag, parsed; exits with a message when it is missing or
/// does not parse (a typo must not silently keep a default).
fn value<T: std::str::FromStr>(flag: &str, value: Option<String>) -> T {
    match value.as_deref().map(str::parse) {
        Some(Ok(v)) => v,
        _ => {
            eprintln!("ipc-e2e-server: {flag} needs a number, got {value:?}");
            std::process::exit(2);
        }
    }
}

fn parse_args() -> Args {
    let mut parsed = Args {
        port: 0,
        static_dir: None,
        token: None,
        scoped_token: None,
        stdio: false,
        exit_on_stdin_eof: false,
        limits: LimitArgs::default(),
    };
    let limits = &mut parsed.limits;
    let ms = |flag: &str, v: Option<String>| Duration::from_millis(value(flag, v));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => parsed.port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0),
            "--static" => parsed.static_dir = args.next(),
            "--token" => parsed.token = args.next(),
            "--scoped-token" => parsed.scoped_token = args.next(),
            "--stdio" => parsed.stdio = true,
            "--exit-on-stdin-eof" => parsed.exit_on_stdin_eof = true,
            "--max-message-size" => limits.max_message_size = Some(value(&arg, args.next())),
            "--incoming-budget" => limits.incoming_budget = Some(value(&arg, args.next())),
            "--max-connections" => limits.max_connections = Some(value(&arg, args.next())),
            "--max-pending" => limits.max_pending = Some(value(&arg, args.next())),
            "--write-timeout-ms" => limits.write_timeout = Some(ms(&arg, args.next())),
            "--header-read-timeout-ms" => {
                limits.header_read_timeout = Some(ms(&arg, args.next()));
            }
            "--idle-timeout-ms" => limits.idle_timeout = Some(ms(&arg, args.next())),
            "--ping-interval-ms" => limits.ping_interval = Some(ms(&arg, args.next())),
            _ => {}
        }
    }
    parsed
}

/// Resolves when stdin reaches its end (the parent closed it or died).
async fn stdin_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = tx.send(());
    });
    let _ = rx.await;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args();
    let builder = App::builder()
        .manage(Received::default())
        .manage(Markers::default())
        .replay(STREAM, 64)
        .replay(SHORT, 4)
        .replay(BURST, 256)
        .replay(LAST, 1);
    let builder = match &args.scoped_token {
        Some(token) => builder
            .capability(Capability::new("owner").allow_all().allow_inspect())
            .capability(Capability::new("scoped").allow_all())
            .default_capability("owner")
            .grant_token(token.clone(), "scoped"),
        None => builder,
    };
    let app = builder.build()?;
    if args.stdio {
        app.serve_stdio().await?;
        return Ok(());
    }
    let server = match args.static_dir {
        Some(dir) => app.server().static_dir(dir),
        None => app.server().asset(
            "/",
            "text/html; charset=utf-8",
            "<!doctype html><title>ipc e2e</title><p>ipc e2e server",
        ),
    };
    let server = match args.token {
        Some(token) => server.token(token),
        None => server,
    };
    let server = args.limits.apply(server);
    let server = server.serve(("127.0.0.1", args.port)).await?;
    if let Some(limits) = args.limits.describe() {
        println!("{limits}");
    }
    // Two windows, whose labels the server binds to their own tokens (before
    // the main addresses: test helpers stop reading at the `ws://` line).
    for label in ["main", "second"] {
        println!("window {label} {}", server.window_url(label)?);
        println!("window {label} {}", server.window_ws_url(label)?);
    }
    println!("{}", server.http_url());
    println!("{}", server.ws_url());
    if args.exit_on_stdin_eof {
        tokio::select! {
            stopped = tokio::signal::ctrl_c() => stopped?,
            () = stdin_closed() => {}
        }
    } else {
        tokio::signal::ctrl_c().await?;
    }
    server.shutdown().await;
    Ok(())
}
