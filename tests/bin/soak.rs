//! The soak run: well-behaved clients call the `ipc-e2e-server` (a child
//! process, loopback only) continuously for minutes while a thousand faulty
//! clients connect and misbehave around them; then it checks that every good
//! call was answered, correctly and in time, and that the server gave back
//! the memory and file descriptors the faulty clients held.
//!
//! ```text
//! cargo build --release -p ipc-tests --bin ipc-e2e-server --bin ipc-soak
//! cargo run --release -p ipc-tests --bin ipc-soak [-- --seconds 180 --faulty 1000 --good 50]
//! ```
//!
//! Other flags: `--wave N` (faulty clients launched together, default 250),
//! `--rate N` (calls per second of each good client, default 100), `--seed N`
//! (the faults' random choices; printed, so a run can be repeated).
//!
//! **Good clients** (tokio-tungstenite) each subscribe to two events, then
//! until the end make `add` calls with random operands, `echo`es of random
//! strings, `sleep`s and `emit_to_caller`s (the event must come back to that
//! client, with its nonce), while an emitter connection broadcasts a numbered
//! tick ten times a second (each good client must see every tick, in order)
//! and a busy 8 KiB event a hundred times a second (nobody good listens to it).
//! Every reply is checked by id and value; a call gets 10 s.
//!
//! **Faulty clients** come in waves of several hundred at once, each one of
//! the kinds in [`Fault`]: frames cut off mid-header or mid-payload (closed or
//! reset), a large frame abandoned, an oversized frame announced, half-open and
//! silent sockets, subscribers with a tiny receive buffer that never read,
//! garbage instead of HTTP, idle and dripping TCP connections, a wrong Host,
//! a wrong token, a foreign Origin, and a reset in the middle of the upgrade.
//! Each checks what the server did about it (for instance that it closed a
//! silent socket) and is bounded in time.
//!
//! The server runs with short timeouts so faults resolve in seconds (see
//! [`ServerSettings`]); once the faulty clients are gone and a settle period
//! has passed, two probes check that nothing they held leaked: two messages
//! that together need nearly the whole incoming-bytes budget are both
//! answered, and every free connection slot can be taken (and the next is
//! refused with 503). The server's RSS and open file descriptors are compared
//! with their values before the faults.
//!
//! The run takes `--seconds` plus about twenty (settling and probing). It
//! prints a table and one JSON line, and exits non-zero, naming each failure,
//! when anything is off. An overall deadline (`--seconds` + 150 s) bounds it;
//! the server is killed on every path (and, started with
//! `--exit-on-stdin-eof`, exits by itself if this process dies).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// How long a good call may take before it counts as a miss.
const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// Good clients call this long before the first faults.
const WARMUP: Duration = Duration::from_secs(3);
/// After the last faulty client is gone, before the leak checks: longer than
/// the server's idle timeout plus its close wait, the longest it may take to
/// notice a client that vanished without a word.
const SETTLE: Duration = Duration::from_secs(10);
/// Longest a faulty client may live, all waits included.
const FAULT_MAX: Duration = Duration::from_secs(30);
/// The faulty clients of a wave start within this long of each other.
const WAVE_SPREAD: Duration = Duration::from_millis(500);
/// The last wave starts at least this long before the end of `--seconds`.
const FAULT_TAIL: Duration = Duration::from_secs(20);
/// Added to `--seconds` for the overall deadline.
const OVERALL_MARGIN: Duration = Duration::from_secs(150);
/// Calls a good client keeps in flight at most.
const GOOD_IN_FLIGHT: usize = 16;
/// The busy event's payload.
const BUSY_BYTES: usize = 8 * 1024;
/// How far above their start the server's RSS and fd count may end.
const RSS_SLACK_KIB: u64 = 8 * 1024;
const FD_SLACK: i64 = 8;

/// The limits the server is started with: short, so that faults resolve in
/// seconds. Each is a flag of `ipc-e2e-server`.
struct ServerSettings {
    write_timeout_ms: u64,
    header_read_timeout_ms: u64,
    idle_timeout_ms: u64,
    ping_interval_ms: u64,
    max_message_size: u64,
    incoming_budget: u64,
    max_connections: usize,
}

impl ServerSettings {
    fn new(config: &Config) -> Self {
        ServerSettings {
            write_timeout_ms: 2_000,
            header_read_timeout_ms: 2_000,
            idle_timeout_ms: 5_000,
            ping_interval_ms: 1_000,
            max_message_size: 1 << 20,
            incoming_budget: 2 << 20,
            // Room for the good clients, the emitter, a whole wave, and spare
            // for the slot probe to fill.
            max_connections: config.good + 1 + config.wave + 128,
        }
    }

    fn flags(&self) -> Vec<(&'static str, String)> {
        vec![
            ("max-message-size", self.max_message_size.to_string()),
            ("incoming-budget", self.incoming_budget.to_string()),
            ("max-connections", self.max_connections.to_string()),
            ("write-timeout-ms", self.write_timeout_ms.to_string()),
            (
                "header-read-timeout-ms",
                self.header_read_timeout_ms.to_string(),
            ),
            ("idle-timeout-ms", self.idle_timeout_ms.to_string()),
            ("ping-interval-ms", self.ping_interval_ms.to_string()),
        ]
    }

    fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    fn header_read(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    fn write(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }
}

#[derive(Clone, Debug)]
struct Config {
    seconds: u64,
    faulty: usize,
    good: usize,
    wave: usize,
    rate: u32,
    seed: u64,
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        seconds: 180,
        faulty: 1000,
        good: 50,
        wave: 250,
        rate: 100,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        let number = |value: Option<String>| -> Result<u64, String> {
            value
                .as_deref()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} needs a number, got {value:?}"))
        };
        match flag.as_str() {
            "--seconds" => config.seconds = number(value)?,
            "--faulty" => config.faulty = number(value)? as usize,
            "--good" => config.good = number(value)? as usize,
            "--wave" => config.wave = (number(value)? as usize).max(1),
            "--rate" => config.rate = (number(value)? as u32).clamp(1, 10_000),
            "--seed" => config.seed = number(value)?,
            _ => {
                return Err(format!(
                    "unknown flag {flag}; flags: --seconds N --faulty N --good N --wave N --rate N --seed N"
                ));
            }
        }
    }
    Ok(config)
}

// ---------------------------------------------------------------- randomness

/// SplitMix64: small, seedable, good enough to pick faults and operands.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}

// ---------------------------------------------------------------- the server

/// The `ipc-e2e-server` child; killed and reaped when dropped, on every path.
struct Server {
    child: Child,
    pid: u32,
    port: u16,
    token: String,
    ws_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(settings: &ServerSettings) -> Result<Server, String> {
        let binary = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("ipc-e2e-server");
        let mut command = Command::new(&binary);
        command.args(["--port", "0", "--exit-on-stdin-eof"]);
        for (name, value) in settings.flags() {
            command.arg(format!("--{name}")).arg(value);
        }
        let mut child = command
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} (build it next to this binary: cargo build [--release] -p ipc-tests --bin ipc-e2e-server)",
                    binary.display()
                )
            })?;
        let pid = child.id();
        let stdout = child.stdout.take().ok_or("the server has no stdout")?;
        // The server lives with `child`: from here on, dropping it kills it.
        let mut server = Server {
            child,
            pid,
            port: 0,
            token: String::new(),
            ws_url: String::new(),
        };
        // Read its lines on a thread (kept draining until it exits), with a deadline.
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    // Nobody listens any more; keep the pipe drained.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut limits = None;
        while server.ws_url.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines_rx.recv_timeout(left).map_err(|_| {
                format!("{} printed no ws:// address within 20 s", binary.display())
            })?;
            if let Some(rest) = line.strip_prefix("limits ") {
                limits = Some(rest.to_owned());
            } else if line.starts_with("ws://") {
                server.ws_url = line.trim().to_owned();
            }
        }
        // A stale server binary would ignore the flags and keep minute-long
        // timeouts: make sure it applied every one.
        let applied = limits.unwrap_or_default();
        for (name, value) in settings.flags() {
            let pair = format!("{name}={value}");
            if !applied.split_whitespace().any(|p| p == pair) {
                return Err(format!(
                    "{} did not apply --{name} {value} (it said `limits {applied}`): rebuild it with cargo build [--release] -p ipc-tests --bin ipc-e2e-server",
                    binary.display()
                ));
            }
        }
        let url = &server.ws_url;
        server.port = url
            .strip_prefix("ws://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .ok_or_else(|| format!("cannot read the port in {url}"))?;
        server.token = url
            .split_once("token=")
            .map(|(_, token)| token.split('&').next().unwrap_or("").to_owned())
            .ok_or_else(|| format!("no token in {url}"))?;
        Ok(server)
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }
}

/// A line of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:").unwrap_or(0)
}

fn fd_count(pid: u32) -> i64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(-1, |d| d.count() as i64)
}

/// RSS and open fds at one moment.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    rss_kib: u64,
    fds: i64,
}

fn sample(pid: u32) -> Sample {
    Sample {
        rss_kib: rss_kib(pid),
        fds: fd_count(pid),
    }
}

/// The median of five samples over two seconds: a settled value, not one
/// caught in a burst of traffic.
async fn settled(pid: u32) -> Sample {
    let mut samples = Vec::with_capacity(5);
    for i in 0..5 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        samples.push(sample(pid));
    }
    let mut rss: Vec<u64> = samples.iter().map(|s| s.rss_kib).collect();
    let mut fds: Vec<i64> = samples.iter().map(|s| s.fds).collect();
    rss.sort_unstable();
    fds.sort_unstable();
    Sample {
        rss_kib: rss[2],
        fds: fds[2],
    }
}

/// The largest RSS and fd count seen, sampled every 200 ms.
#[derive(Default)]
struct Peaks {
    rss_kib: AtomicU64,
    fds: AtomicU64,
}

// ---------------------------------------------------------------- good clients

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// What one good client saw.
#[derive(Debug, Default)]
struct GoodReport {
    /// Calls sent (not counting the subscriptions).
    calls: u64,
    /// Answered with the right value within the deadline.
    answered: u64,
    by_method: BTreeMap<&'static str, u64>,
    /// Answers with a wrong value, an unknown or repeated id, or an error.
    mismatched: u64,
    /// Answered after the deadline, or still unanswered at it.
    late: u64,
    /// Never answered (still pending at the end, or the connection died).
    lost: u64,
    /// `emit_to_caller` events: expected, received, wrong (unknown nonce).
    targeted_expected: u64,
    targeted_received: u64,
    targeted_bad: u64,
    targeted_lost: u64,
    /// Broadcast ticks received in order, missing, and out of order.
    ticks_received: u64,
    ticks_lost: u64,
    ticks_bad: u64,
    lagged: u64,
    latencies_us: Vec<u32>,
    problems: Vec<String>,
}

impl GoodReport {
    fn problem(&mut self, text: String) {
        if self.problems.len() < 5 {
            self.problems.push(text);
        }
    }
}

async fn connect_good(url: &str) -> Result<Ws, String> {
    let (mut socket, _) =
        tokio::time::timeout(CALL_DEADLINE, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| "a good client could not connect within 10 s".to_owned())?
            .map_err(|e| format!("a good client could not connect: {e}"))?;
    for (id, event) in [(1, "soak:mine"), (2, "soak:tick")] {
        let listen = json!({ "jsonrpc": "2.0", "id": id, "method": "ipc.listen", "params": { "event": event } });
        socket
            .send(Message::text(listen.to_string()))
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut subscribed = 0;
    let deadline = Instant::now() + CALL_DEADLINE;
    while subscribed < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Text(reply)))) if reply.contains("\"result\"") => subscribed += 1,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => return Err(format!("a good client could not subscribe: {other:?}")),
        }
    }
    Ok(socket)
}

/// What a good call must be answered with.
struct Pending {
    method: &'static str,
    sent: Instant,
    expect: Value,
}

/// One good client: calls at `rate` per second until told to stop (the
/// watch then carries how many ticks were emitted), then waits for its last
/// answers and events.
async fn drive_good(
    socket: Ws,
    index: usize,
    rate: u32,
    mut rng: Rng,
    mut stop: watch::Receiver<Option<u64>>,
) -> GoodReport {
    let (mut sink, mut stream) = socket.split();
    let mut report = GoodReport::default();
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    // Ids given up on at the deadline: their answers, if they come, are late, not unknown.
    let mut missed: HashSet<u64> = HashSet::new();
    let mut targeted: HashMap<u64, Instant> = HashMap::new();
    let mut next_id = 100u64;
    let mut next_tick = 0u64;
    let mut pace = tokio::time::interval(Duration::from_micros(1_000_000 / u64::from(rate)));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweep = tokio::time::interval(Duration::from_millis(250));
    let mut stopping: Option<(u64, Instant)> = None;
    loop {
        tokio::select! {
            biased;
            message = stream.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        report.problem(format!("client {index}: the server closed the connection: {frame:?}"));
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        report.problem(format!("client {index}: connection failed: {e}"));
                        break;
                    }
                    None => {
                        report.problem(format!("client {index}: connection ended"));
                        break;
                    }
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    report.mismatched += 1;
                    report.problem(format!("client {index}: not JSON: {text}"));
                    continue;
                };
                on_message(&value, index, &mut report, &mut pending, &mut missed, &mut targeted, &mut next_tick);
            }
            _ = pace.tick(), if stopping.is_none() && pending.len() < GOOD_IN_FLIGHT => {
                let (method, params, expect) = next_call(&mut rng, index, next_id);
                if method == "emit_to_caller" {
                    targeted.insert(next_id, Instant::now());
                    report.targeted_expected += 1;
                }
                let request = json!({ "jsonrpc": "2.0", "id": next_id, "method": method, "params": params });
                pending.insert(next_id, Pending { method, sent: Instant::now(), expect });
                next_id += 1;
                report.calls += 1;
                match tokio::time::timeout(CALL_DEADLINE, sink.send(Message::text(request.to_string()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        report.problem(format!("client {index}: send failed: {e}"));
                        break;
                    }
                    Err(_) => {
                        report.problem(format!("client {index}: a send took more than 10 s"));
                        break;
                    }
                }
            }
            _ = sweep.tick() => {
                let now = Instant::now();
                pending.retain(|id, call| {
                    if now.duration_since(call.sent) <= CALL_DEADLINE {
                        return true;
                    }
                    missed.insert(*id);
                    report.late += 1;
                    false
                });
                targeted.retain(|_, sent| {
                    let keep = now.duration_since(*sent) <= CALL_DEADLINE;
                    if !keep {
                        report.targeted_lost += 1;
                    }
                    keep
                });
                if let Some((ticks, deadline)) = stopping {
                    let done = pending.is_empty() && targeted.is_empty() && next_tick >= ticks;
                    if done || now >= deadline {
                        break;
                    }
                }
            }
            changed = stop.changed(), if stopping.is_none() => {
                let ticks = if changed.is_ok() { stop.borrow().unwrap_or(0) } else { 0 };
                stopping = Some((ticks, Instant::now() + CALL_DEADLINE));
            }
        }
    }
    let ticks = stopping.map_or(0, |(ticks, _)| ticks);
    report.lost += pending.len() as u64;
    report.targeted_lost += targeted.len() as u64;
    report.ticks_lost += ticks.saturating_sub(next_tick);
    if !pending.is_empty() {
        report.problem(format!(
            "client {index}: {} calls never answered",
            pending.len()
        ));
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
    report
}

/// The next call: mostly `add`, some `echo`, `emit_to_caller` and `sleep`.
fn next_call(rng: &mut Rng, index: usize, id: u64) -> (&'static str, Value, Value) {
    let roll = rng.below(100);
    if roll < 85 {
        let a = rng.between(0, 1 << 41) as i64 - (1 << 40);
        let b = rng.between(0, 1 << 41) as i64 - (1 << 40);
        ("add", json!([a, b]), json!(a + b))
    } else if roll < 92 {
        let len = rng.below(2048) as usize;
        let text: String = (0..len)
            .map(|_| char::from(b'a' + rng.below(26) as u8))
            .collect();
        ("echo", json!({ "value": text }), json!(text))
    } else if roll < 97 {
        let payload = json!({ "client": index, "n": id });
        (
            "emit_to_caller",
            json!({ "event": "soak:mine", "payload": payload }),
            Value::Null,
        )
    } else {
        let ms = rng.between(1, 300);
        ("sleep", json!({ "ms": ms }), json!(ms))
    }
}

fn on_message(
    value: &Value,
    index: usize,
    report: &mut GoodReport,
    pending: &mut HashMap<u64, Pending>,
    missed: &mut HashSet<u64>,
    targeted: &mut HashMap<u64, Instant>,
    next_tick: &mut u64,
) {
    match value["method"].as_str() {
        Some("ipc.event") => {
            let params = &value["params"];
            match params["event"].as_str() {
                Some("soak:mine") => {
                    let n = params["payload"]["n"].as_u64().unwrap_or(u64::MAX);
                    if params["payload"]["client"] == json!(index) && targeted.remove(&n).is_some()
                    {
                        report.targeted_received += 1;
                    } else {
                        report.targeted_bad += 1;
                        report
                            .problem(format!("client {index}: unexpected targeted event {value}"));
                    }
                }
                Some("soak:tick") => {
                    let seq = params["payload"]["seq"].as_u64().unwrap_or(u64::MAX);
                    if seq == *next_tick {
                        report.ticks_received += 1;
                        *next_tick += 1;
                    } else if seq > *next_tick && seq != u64::MAX {
                        report.ticks_lost += seq - *next_tick;
                        report.problem(format!(
                            "client {index}: ticks {}..{seq} never arrived",
                            *next_tick
                        ));
                        report.ticks_received += 1;
                        *next_tick = seq + 1;
                    } else {
                        report.ticks_bad += 1;
                        report.problem(format!("client {index}: tick out of order: {value}"));
                    }
                }
                _ => {
                    report.targeted_bad += 1;
                    report.problem(format!(
                        "client {index}: an event it never listened to: {value}"
                    ));
                }
            }
        }
        Some("ipc.lagged") => {
            report.lagged += 1;
            report.problem(format!("client {index}: lagged: {value}"));
        }
        Some(_) => {}
        None => {
            let Some(id) = value["id"].as_u64() else {
                report.mismatched += 1;
                report.problem(format!(
                    "client {index}: a response without a numeric id: {value}"
                ));
                return;
            };
            if missed.remove(&id) {
                // Already counted as late at its deadline.
                return;
            }
            let Some(call) = pending.remove(&id) else {
                report.mismatched += 1;
                report.problem(format!(
                    "client {index}: an answer to no pending call: {value}"
                ));
                return;
            };
            let elapsed = call.sent.elapsed();
            if value.get("result") != Some(&call.expect) {
                report.mismatched += 1;
                report.problem(format!(
                    "client {index}: {} id {id} answered {value}, expected result {}",
                    call.method, call.expect
                ));
            } else if elapsed > CALL_DEADLINE {
                report.late += 1;
            } else {
                report.answered += 1;
                *report.by_method.entry(call.method).or_default() += 1;
                // `sleep` takes as long as it is told: not a latency.
                if call.method != "sleep" {
                    report
                        .latencies_us
                        .push(elapsed.as_micros().min(u128::from(u32::MAX)) as u32);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- the emitter

#[derive(Debug, Default)]
struct EmitterReport {
    ticks: u64,
    busy: u64,
    problems: Vec<String>,
}

/// Broadcasts a numbered tick every 100 ms (the next only once the server
/// answered the last, so they reach everyone in order) and a busy event
/// every 10 ms, as a notification, until told to stop.
async fn emitter(socket: Ws, mut stop: watch::Receiver<bool>) -> EmitterReport {
    let (mut sink, mut stream) = socket.split();
    let mut report = EmitterReport::default();
    let padding = "b".repeat(BUSY_BYTES);
    let mut busy = tokio::time::interval(Duration::from_millis(10));
    busy.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outstanding: Option<Instant> = None;
    let mut last_tick = Instant::now();
    let mut stopping = false;
    loop {
        if stopping && outstanding.is_none() {
            break;
        }
        if let Some(sent) = outstanding
            && sent.elapsed() > CALL_DEADLINE
        {
            report
                .problems
                .push(format!("tick {} unanswered after 10 s", report.ticks));
            break;
        }
        tokio::select! {
            biased;
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if value["id"] == json!(report.ticks) && outstanding.is_some() && value.get("result") == Some(&Value::Null) {
                        report.ticks += 1;
                        outstanding = None;
                    } else if value.get("id").is_some() {
                        report.problems.push(format!("unexpected answer to the emitter: {text}"));
                        break;
                    }
                }
                Some(Ok(_)) => {}
                other => {
                    report.problems.push(format!("the emitter's connection ended: {other:?}"));
                    break;
                }
            },
            _ = busy.tick(), if !stopping => {
                let mut messages = vec![json!({ "jsonrpc": "2.0", "method": "soak:busy", "params": { "pad": padding } })];
                report.busy += 1;
                if outstanding.is_none() && last_tick.elapsed() >= Duration::from_millis(100) {
                    messages.push(json!({ "jsonrpc": "2.0", "id": report.ticks, "method": "ipc.emit", "params": { "event": "soak:tick", "payload": { "seq": report.ticks } } }));
                    outstanding = Some(Instant::now());
                    last_tick = Instant::now();
                }
                for message in messages {
                    let sent = tokio::time::timeout(CALL_DEADLINE, sink.send(Message::text(message.to_string()))).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        report.problems.push(format!("the emitter could not send: {sent:?}"));
                        return report;
                    }
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            changed = stop.changed(), if !stopping => {
                let _ = changed;
                stopping = true;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
    report
}

// ---------------------------------------------------------------- faulty clients

/// The kinds of faulty client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Fault {
    /// Upgrades, sends part of a frame header, then closes (FIN).
    CloseMidHeader,
    /// Upgrades, sends a header and part of the payload, then resets (RST).
    ResetMidPayload,
    /// Upgrades, announces a 768 KiB frame (within the limit: it takes from
    /// the incoming budget), sends 64 KiB of it, then closes or resets.
    AbandonLargeFrame,
    /// Upgrades, announces a 1 GiB frame: the server must answer -32002 and
    /// close with 1009 without reading it.
    Oversized,
    /// Upgrades, makes a call, shuts its writing side down and keeps reading:
    /// the call is answered and the server closes.
    HalfOpen,
    /// Upgrades, then never reads nor writes: the server closes it at its
    /// idle timeout.
    Silent,
    /// A tiny receive buffer, subscribes to the busy event, never reads: the
    /// server disconnects it at its write deadline.
    NonReader,
    /// Random bytes instead of an HTTP request: refused and closed.
    Garbage,
    /// Connects and sends nothing: closed at the header-read timeout.
    IdleTcp,
    /// Drips a request a few bytes at a time: closed at the header-read
    /// timeout, however it drips.
    DripHeaders,
    /// A valid upgrade addressed to another Host: 421.
    WrongHost,
    /// A wrong token: 401.
    WrongToken,
    /// A page of another origin, with the right token: 403.
    BadOrigin,
    /// Sends the upgrade request and resets before the response.
    ResetDuringUpgrade,
}

const FAULTS: [Fault; 14] = [
    Fault::CloseMidHeader,
    Fault::ResetMidPayload,
    Fault::AbandonLargeFrame,
    Fault::Oversized,
    Fault::HalfOpen,
    Fault::Silent,
    Fault::NonReader,
    Fault::Garbage,
    Fault::IdleTcp,
    Fault::DripHeaders,
    Fault::WrongHost,
    Fault::WrongToken,
    Fault::BadOrigin,
    Fault::ResetDuringUpgrade,
];

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::CloseMidHeader => "close mid-header",
            Fault::ResetMidPayload => "reset mid-payload",
            Fault::AbandonLargeFrame => "abandon large frame",
            Fault::Oversized => "oversized frame",
            Fault::HalfOpen => "half-open (shutdown write)",
            Fault::Silent => "silent (no read, no write)",
            Fault::NonReader => "subscriber never reads",
            Fault::Garbage => "garbage instead of HTTP",
            Fault::IdleTcp => "idle TCP, no request",
            Fault::DripHeaders => "headers dripped slowly",
            Fault::WrongHost => "wrong Host",
            Fault::WrongToken => "wrong token",
            Fault::BadOrigin => "bad Origin",
            Fault::ResetDuringUpgrade => "reset during upgrade",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Fault::CloseMidHeader => "close_mid_header",
            Fault::ResetMidPayload => "reset_mid_payload",
            Fault::AbandonLargeFrame => "abandon_large_frame",
            Fault::Oversized => "oversized_frame",
            Fault::HalfOpen => "half_open",
            Fault::Silent => "silent",
            Fault::NonReader => "non_reader",
            Fault::Garbage => "garbage",
            Fault::IdleTcp => "idle_tcp",
            Fault::DripHeaders => "drip_headers",
            Fault::WrongHost => "wrong_host",
            Fault::WrongToken => "wrong_token",
            Fault::BadOrigin => "bad_origin",
            Fault::ResetDuringUpgrade => "reset_during_upgrade",
        }
    }
}

/// What came of one faulty client.
#[derive(Debug)]
enum Outcome {
    /// The server did what it should.
    Expected,
    /// The server closed the connection before answering it (the cap on
    /// connections that have not upgraded yet, or the connection limit):
    /// allowed, counted.
    Shed,
    /// The server did something else: a failure, with what it did.
    Unexpected(String),
}

#[derive(Debug, Default, Clone)]
struct FaultCounts {
    injected: u64,
    expected: u64,
    shed: u64,
    unexpected: u64,
    samples: Vec<String>,
}

/// What the faulty clients need to reach the server.
#[derive(Clone)]
struct Target {
    port: u16,
    token: String,
    idle: Duration,
    header_read: Duration,
    write: Duration,
}

impl Target {
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

async fn connect_tcp(port: u16, receive_buffer: Option<u32>) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    let connect = socket.connect(([127, 0, 0, 1], port).into());
    tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

/// A hand-written WebSocket upgrade request.
fn upgrade_request(host: &str, token: &str, origin: Option<&str>, key: &str) -> String {
    let mut request = format!(
        "GET /ipc?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(origin) = origin {
        let _ = write!(request, "Origin: {origin}\r\n");
    }
    request.push_str("\r\n");
    request
}

/// An HTTP response's head: its status, the head's text, and the bytes read
/// past it.
struct Head {
    status: u16,
    text: String,
    rest: Vec<u8>,
}

/// Reads a response head; `Ok(None)` if the server closed without one.
async fn read_head(stream: &mut TcpStream, within: Duration) -> Result<Option<Head>, String> {
    let reading = async {
        let mut buffer = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&buffer[..end]).into_owned();
                let status = text
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("not an HTTP response: {text:?}"))?;
                return Ok(Some(Head {
                    status,
                    text,
                    rest: buffer[end + 4..].to_vec(),
                }));
            }
            if buffer.len() > 16 * 1024 {
                return Err("a response head over 16 KiB".to_owned());
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) if buffer.is_empty() => return Ok(None),
                Ok(0) | Err(_) => {
                    return Err(format!(
                        "the response was cut off: {:?}",
                        String::from_utf8_lossy(&buffer)
                    ));
                }
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(within, reading)
        .await
        .map_err(|_| format!("no response within {within:?}"))?
}

/// Opens a WebSocket by hand; `Err(outcome)` when the server did not upgrade.
async fn open_ws(
    target: &Target,
    receive_buffer: Option<u32>,
) -> Result<(TcpStream, Vec<u8>), Outcome> {
    let mut stream = connect_tcp(target.port, receive_buffer)
        .await
        .map_err(|e| Outcome::Unexpected(format!("connect failed: {e}")))?;
    let key = generate_key();
    let request = upgrade_request(&target.host(), &target.token, None, &key);
    if stream.write_all(request.as_bytes()).await.is_err() {
        return Err(Outcome::Shed);
    }
    match read_head(&mut stream, Duration::from_secs(10)).await {
        Ok(None) => Err(Outcome::Shed),
        Ok(Some(head)) if head.status == 101 => {
            let accept = derive_accept_key(key.as_bytes());
            let accepted = head.text.lines().any(|line| {
                line.split_once(':').is_some_and(|(name, value)| {
                    name.eq_ignore_ascii_case("sec-websocket-accept") && value.trim() == accept
                })
            });
            if accepted {
                Ok((stream, head.rest))
            } else {
                Err(Outcome::Unexpected(format!(
                    "101 without the right Sec-WebSocket-Accept: {:?}",
                    head.text
                )))
            }
        }
        // The connection limit, while a wave is at its peak.
        Ok(Some(head)) if head.status == 503 => Err(Outcome::Shed),
        Ok(Some(head)) => Err(Outcome::Unexpected(format!(
            "the upgrade was answered {}",
            head.status
        ))),
        Err(e) => Err(Outcome::Unexpected(e)),
    }
}

/// A client frame's header (always masked, as RFC 6455 requires of clients).
fn frame_header(fin: bool, opcode: u8, len: u64, mask: [u8; 4]) -> Vec<u8> {
    let mut header = vec![if fin { 0x80 } else { 0 } | opcode];
    match len {
        0..=125 => header.push(0x80 | len as u8),
        126..=0xffff => {
            header.push(0x80 | 126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            header.push(0x80 | 127);
            header.extend_from_slice(&len.to_be_bytes());
        }
    }
    header.extend_from_slice(&mask);
    header
}

fn masked(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect()
}

/// A whole masked text frame.
fn text_frame(text: &str, mask: [u8; 4]) -> Vec<u8> {
    let mut frame = frame_header(true, 1, text.len() as u64, mask);
    frame.extend(masked(text.as_bytes(), mask));
    frame
}

/// How a read-until-the-end finished.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The server closed (FIN) or reset the connection.
    Closed,
    /// Still open at the deadline.
    Open,
}

/// Reads and discards until the server closes or `within` passes (at most
/// 64 MiB); returns what it read (the first MiB of it) when `keep` is set.
async fn read_to_end(stream: &mut TcpStream, within: Duration, keep: bool) -> (End, Vec<u8>) {
    let mut kept = Vec::new();
    let mut total = 0usize;
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return (End::Open, kept),
            Ok(Ok(0) | Err(_)) => return (End::Closed, kept),
            Ok(Ok(n)) => {
                total += n;
                if keep && kept.len() < 1 << 20 {
                    kept.extend_from_slice(&chunk[..n]);
                }
                if total > 64 << 20 {
                    return (End::Open, kept);
                }
            }
        }
    }
}

/// The server's frames in `bytes` (unmasked): opcode and payload of each
/// whole one.
fn server_frames(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + 2 {
        let opcode = bytes[at] & 0x0f;
        let (len, header) = match bytes[at + 1] & 0x7f {
            126 if bytes.len() >= at + 4 => (
                u64::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]])),
                4,
            ),
            127 if bytes.len() >= at + 10 => {
                let mut len = [0u8; 8];
                len.copy_from_slice(&bytes[at + 2..at + 10]);
                (u64::from_be_bytes(len), 10)
            }
            126 | 127 => break,
            len => (u64::from(len), 2),
        };
        let start = at + header;
        let Some(end) = start
            .checked_add(len as usize)
            .filter(|&e| e <= bytes.len())
        else {
            break;
        };
        frames.push((opcode, bytes[start..end].to_vec()));
        at = end;
    }
    frames
}

/// Waits up to `max_ms`, at random: how long a faulty client stays before
/// its fault (under the idle and header-read timeouts it does not test).
async fn dwell(rng: &mut Rng, max_ms: u64) {
    tokio::time::sleep(Duration::from_millis(rng.below(max_ms))).await;
}

/// Closes with a reset (RST) instead of a FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn run_fault(fault: Fault, target: &Target, rng: &mut Rng) -> Outcome {
    let mask = [
        rng.next_u64() as u8,
        rng.next_u64() as u8,
        rng.next_u64() as u8,
        rng.next_u64() as u8,
    ];
    match fault {
        Fault::CloseMidHeader => {
            let (mut stream, _) = match open_ws(target, None).await {
                Ok(open) => open,
                Err(outcome) => return outcome,
            };
            // Stay connected a while first, so a wave overlaps.
            dwell(rng, 3_500).await;
            let header = frame_header(true, 1, rng.between(126, 60_000), mask);
            let cut = rng.between(1, header.len() as u64 - 1) as usize;
            let _ = stream.write_all(&header[..cut]).await;
            tokio::time::sleep(Duration::from_millis(rng.below(500))).await;
            let _ = stream.shutdown().await;
            match read_to_end(&mut stream, Duration::from_secs(5), false).await {
                (End::Closed, _) => Outcome::Expected,
                (End::Open, _) => Outcome::Unexpected(
                    "the server kept the connection open 5 s after a FIN mid-header".into(),
                ),
            }
        }
        Fault::ResetMidPayload => {
            let (mut stream, _) = match open_ws(target, None).await {
                Ok(open) => open,
                Err(outcome) => return outcome,
            };
            // Stay connected a while first, so a wave overlaps.
            dwell(rng, 3_500).await;
            let len = rng.between(200, 60_000);
            let mut bytes = frame_header(true, 1, len, mask);
            let sent = rng.between(1, len - 1) as usize;
            bytes.extend(masked(&rng.bytes(sent), mask));
            let _ = stream.write_all(&bytes).await;
            tokio::time::sleep(Duration::from_millis(rng.below(500))).await;
            reset(stream);
            Outcome::Expected
        }
        Fault::AbandonLargeFrame => {
            let (mut stream, _) = match open_ws(target, None).await {
                Ok(open) => open,
                Err(outcome) => return outcome,
            };
            // Stay connected a while first, so a wave overlaps.
            dwell(rng, 3_500).await;
            let mut bytes = frame_header(true, 2, 768 * 1024, mask);
            bytes.extend(masked(&rng.bytes(64 * 1024), mask));
            // The server may hold the payload back while the budget is
            // spent: never wait long on the write.
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(&bytes)).await;
            tokio::time::sleep(Duration::from_millis(rng.below(1000))).await;
            if rng.chance(50) {
                reset(stream);
            } else {
                let _ = stream.shutdown().await;
                drop(stream);
            }
            Outcome::Expected
        }
        Fault::Oversized => {
            let (mut stream, rest) = match open_ws(target, None).await {
                Ok(open) => open,
                Err(outcome) => return outcome,
            };
            // Stay connected a while first, so a wave overlaps.
            dwell(rng, 3_500).await;
            // Only the header: a payload the server never reads would turn
            // its close into a reset, which can discard the close frame.
            let header = frame_header(true, 1, 1 << 30, mask);
            if stream.write_all(&header).await.is_err() {
                return Outcome::Unexpected("the server closed before the frame header".into());
            }
            let (end, mut bytes) = read_to_end(&mut stream, Duration::from_secs(5), true).await;
            let mut all = rest;
            all.append(&mut bytes);
            let frames = server_frames(&all);
            let error = frames
                .iter()
                .any(|(op, p)| *op == 1 && String::from_utf8_lossy(p).contains("-32002"));
            let close = frames.iter().find(|(op, _)| *op == 8).map(|(_, p)| {
                if p.len() >= 2 {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    0
                }
            });
            if end == End::Closed && error && close == Some(1009) {
                Outcome::Expected
            } else {
                Outcome::Unexpected(format!(
                    "after a 1 GiB frame header: closed {}, -32002 error {error}, close code {close:?}",
                    end == End::Closed
                ))
            }
        }
        Fault::HalfOpen => {
            let (mut stream, rest) = match open_ws(target, None).await {
                Ok(open) => open,
                Err(outcome) => return outcome,
            };
            // Stay connected a while first, so a wave overlaps.
            dwell(rng, 3_500).await;
            let call = r#"{"jsonrpc":"2.0","id":7,"method":"add","params":[40,2]}"#;
            if stream.write_all(&text_frame(call, mask)).await.is_err() {
                return Outcome::Unexpected("could not send the call".into());
            }
            let _ = stream.shutdown().await;
            let (end, mut bytes) = read_to_end(&mut stream, Duration::from_secs(8), true).await;
            let mut all = rest;
            all.append(&mut bytes);
            let answered = server_frames(&all)
                .iter()
                .any(|(op, p)| *op == 1 && String::from_utf8_lossy(p).contains(r#""result":42"#));
            match (end, answered) {
                (End::Closed, true) => Outcome::Expected,
                (End::Closed, false) => Outcome::Unexpected(
                    "half-open: the call sent before shutdown(Write) was not answered".into(),
                ),
                (End::Open, _) => Outcome::Unexpected(
                    "half-open: the server kept the connection 8 s after the client's FIN".into(),
                ),
            }
        }
        Fault::Silent => {
            let (mut stream, _) = match open_ws(target, None).await {
                Ok(open) => open,
                Err(outcome) => return outcome,
            };
            // Neither read nor write for the idle timeout and a margin, then
            // see whether the server hung up.
            tokio::time::sleep(target.idle + Duration::from_secs(2)).await;
            match read_to_end(&mut stream, Duration::from_secs(4), false).await {
                (End::Closed, _) => Outcome::Expected,
                (End::Open, _) => Outcome::Unexpected(format!(
                    "a silent client was still connected {:?} after the idle timeout",
                    Duration::from_secs(6)
                )),
            }
        }
        Fault::NonReader => {
            let (mut stream, _) = match open_ws(target, Some(4096)).await {
                Ok(open) => open,
                Err(outcome) => return outcome,
            };
            let listen =
                r#"{"jsonrpc":"2.0","id":1,"method":"ipc.listen","params":{"event":"soak:busy"}}"#;
            if stream.write_all(&text_frame(listen, mask)).await.is_err() {
                return Outcome::Unexpected("could not subscribe".into());
            }
            // Fill the buffers (8 KiB events, 100 a second), then the write
            // deadline: the server must have let go by then.
            tokio::time::sleep(Duration::from_secs(10) + target.write).await;
            match read_to_end(&mut stream, Duration::from_secs(5), false).await {
                (End::Closed, _) => Outcome::Expected,
                (End::Open, _) => Outcome::Unexpected(
                    "the server still served a subscriber that had read nothing for 12 s".into(),
                ),
            }
        }
        Fault::Garbage => {
            let Ok(mut stream) = connect_tcp(target.port, None).await else {
                return Outcome::Unexpected("connect failed".into());
            };
            dwell(rng, 1_200).await;
            let len = rng.between(1, 2048) as usize;
            let mut garbage = rng.bytes(len);
            if rng.chance(50) {
                garbage.extend_from_slice(b"\r\n\r\n");
            }
            let _ = stream.write_all(&garbage).await;
            let within = target.header_read + Duration::from_secs(3);
            let (end, bytes) = read_to_end(&mut stream, within, true).await;
            let text = String::from_utf8_lossy(&bytes);
            if text.starts_with("HTTP/1.1 101") || text.starts_with("HTTP/1.1 2") {
                Outcome::Unexpected(format!("garbage was accepted: {text:.60}"))
            } else if end == End::Closed {
                Outcome::Expected
            } else {
                Outcome::Unexpected(format!("garbage kept a connection open for {within:?}"))
            }
        }
        Fault::IdleTcp => {
            let Ok(mut stream) = connect_tcp(target.port, None).await else {
                return Outcome::Unexpected("connect failed".into());
            };
            let within = target.header_read + Duration::from_secs(3);
            match read_to_end(&mut stream, within, false).await {
                (End::Closed, _) => Outcome::Expected,
                (End::Open, _) => Outcome::Unexpected(format!(
                    "a connection that sent nothing was still open after {within:?}"
                )),
            }
        }
        Fault::DripHeaders => {
            let Ok(mut stream) = connect_tcp(target.port, None).await else {
                return Outcome::Unexpected("connect failed".into());
            };
            let request = upgrade_request(&target.host(), &target.token, None, &generate_key());
            let started = Instant::now();
            let limit = target.header_read + Duration::from_secs(3);
            // A few bytes every 200 ms, never the blank line that ends the head.
            for piece in request.trim_end().as_bytes().chunks(3) {
                if started.elapsed() > limit {
                    break;
                }
                if stream.write_all(piece).await.is_err() {
                    return Outcome::Expected;
                }
                let read =
                    tokio::time::timeout(Duration::from_millis(200), stream.read(&mut [0u8; 256]))
                        .await;
                if matches!(read, Ok(Ok(0) | Err(_))) {
                    return Outcome::Expected;
                }
            }
            let left = limit.saturating_sub(started.elapsed());
            match read_to_end(&mut stream, left, false).await {
                (End::Closed, _) => Outcome::Expected,
                (End::Open, _) => Outcome::Unexpected(format!(
                    "a request dripped for {limit:?} was never cut off"
                )),
            }
        }
        Fault::WrongHost | Fault::WrongToken | Fault::BadOrigin => {
            let Ok(mut stream) = connect_tcp(target.port, None).await else {
                return Outcome::Unexpected("connect failed".into());
            };
            dwell(rng, 1_200).await;
            let wrong_token = hex(&rng.bytes(32));
            let (host, token, origin, want) = match fault {
                Fault::WrongHost => (
                    format!("evil.example:{}", target.port),
                    target.token.as_str(),
                    None,
                    421,
                ),
                Fault::WrongToken => (target.host(), wrong_token.as_str(), None, 401),
                _ => (
                    target.host(),
                    target.token.as_str(),
                    Some("http://evil.example"),
                    403,
                ),
            };
            let request = upgrade_request(&host, token, origin, &generate_key());
            if stream.write_all(request.as_bytes()).await.is_err() {
                return Outcome::Shed;
            }
            match read_head(&mut stream, Duration::from_secs(10)).await {
                Ok(Some(head)) if head.status == want => Outcome::Expected,
                Ok(Some(head)) => {
                    Outcome::Unexpected(format!("answered {} where {want} was due", head.status))
                }
                Ok(None) => Outcome::Shed,
                Err(e) => Outcome::Unexpected(e),
            }
        }
        Fault::ResetDuringUpgrade => {
            let Ok(mut stream) = connect_tcp(target.port, None).await else {
                return Outcome::Unexpected("connect failed".into());
            };
            dwell(rng, 1_200).await;
            let request = upgrade_request(&target.host(), &target.token, None, &generate_key());
            let _ = stream.write_all(request.as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(rng.below(20))).await;
            reset(stream);
            Outcome::Expected
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Launches the faulty clients in waves spread over the fault phase, at most
/// `wave` at once per wave; resolves when every one has finished.
async fn run_faults(
    config: &Config,
    target: Target,
    rng: &mut Rng,
    active: Arc<AtomicUsize>,
    peak_active: Arc<AtomicUsize>,
) -> BTreeMap<Fault, FaultCounts> {
    let mut kinds: Vec<Fault> = (0..config.faulty)
        .map(|i| FAULTS[i % FAULTS.len()])
        .collect();
    // Shuffle (Fisher-Yates) so each wave mixes every kind.
    for i in (1..kinds.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        kinds.swap(i, j);
    }
    let waves = config.faulty.div_ceil(config.wave).max(1);
    let phase = Duration::from_secs(config.seconds)
        .saturating_sub(WARMUP)
        .saturating_sub(FAULT_TAIL);
    let spacing = phase / waves as u32;
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (wave, chunk) in kinds.chunks(config.wave).enumerate() {
        tokio::time::sleep_until(started + spacing * wave as u32).await;
        for &fault in chunk {
            let delay = Duration::from_millis(rng.below(WAVE_SPREAD.as_millis() as u64));
            let mut fault_rng = rng.fork();
            let target = target.clone();
            let (active, peak_active) = (Arc::clone(&active), Arc::clone(&peak_active));
            tasks.spawn(async move {
                tokio::time::sleep(delay).await;
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                peak_active.fetch_max(now, Ordering::SeqCst);
                let outcome =
                    tokio::time::timeout(FAULT_MAX, run_fault(fault, &target, &mut fault_rng))
                        .await
                        .unwrap_or_else(|_| {
                            Outcome::Unexpected(format!("did not finish within {FAULT_MAX:?}"))
                        });
                active.fetch_sub(1, Ordering::SeqCst);
                (fault, outcome)
            });
        }
    }
    let mut counts: BTreeMap<Fault, FaultCounts> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((fault, outcome)) = joined else {
            continue;
        };
        let entry = counts.entry(fault).or_default();
        entry.injected += 1;
        match outcome {
            Outcome::Expected => entry.expected += 1,
            Outcome::Shed => entry.shed += 1,
            Outcome::Unexpected(what) => {
                entry.unexpected += 1;
                if entry.samples.len() < 3 {
                    entry.samples.push(what);
                }
            }
        }
    }
    counts
}

// ---------------------------------------------------------------- probes

/// Two messages that together need 1.8 MB of the 2 MiB incoming budget, at
/// once: both are answered only if the faults gave back what they took.
async fn probe_budget(url: &str, max_message: u64) -> Result<Duration, String> {
    let size = (max_message as usize) * 88 / 100;
    let started = Instant::now();
    let probe = |n: usize| {
        let url = url.to_owned();
        async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(&url)
                .await
                .map_err(|e| format!("budget probe {n}: cannot connect: {e}"))?;
            let text = "p".repeat(size);
            let request =
                json!({ "jsonrpc": "2.0", "id": 1, "method": "echo", "params": { "value": text } });
            socket
                .send(Message::text(request.to_string()))
                .await
                .map_err(|e| format!("budget probe {n}: {e}"))?;
            loop {
                match socket.next().await {
                    Some(Ok(Message::Text(reply))) => {
                        let value: Value = serde_json::from_str(&reply).unwrap_or(Value::Null);
                        let _ = socket.close(None).await;
                        return if value["result"].as_str().map(str::len) == Some(size) {
                            Ok(())
                        } else {
                            Err(format!(
                                "budget probe {n}: wrong answer ({} bytes)",
                                reply.len()
                            ))
                        };
                    }
                    Some(Ok(_)) => {}
                    other => return Err(format!("budget probe {n}: {other:?}")),
                }
            }
        }
    };
    let both = async { tokio::try_join!(probe(1), probe(2)) };
    tokio::time::timeout(CALL_DEADLINE, both)
        .await
        .map_err(|_| {
            format!(
                "two {size}-byte messages were not both answered within 10 s: the incoming-bytes budget did not come back whole"
            )
        })??;
    Ok(started.elapsed())
}

/// Takes every free connection slot (`free` of them), checks the next
/// upgrade is refused with 503, then lets them all go.
async fn probe_slots(url: &str, free: usize) -> Result<(), String> {
    let mut sockets = Vec::with_capacity(free);
    let mut failures = Vec::new();
    for batch in (0..free).collect::<Vec<_>>().chunks(16) {
        let connects = batch.iter().map(|_| async {
            tokio::time::timeout(CALL_DEADLINE, tokio_tungstenite::connect_async(url)).await
        });
        for result in futures_util::future::join_all(connects).await {
            match result {
                Ok(Ok((socket, _))) => sockets.push(socket),
                Ok(Err(e)) => failures.push(e.to_string()),
                Err(_) => failures.push("timed out".to_owned()),
            }
        }
    }
    let opened = sockets.len();
    let extra = tokio::time::timeout(CALL_DEADLINE, tokio_tungstenite::connect_async(url)).await;
    let refused = match &extra {
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            response.status().as_u16() == 503
        }
        _ => false,
    };
    let extra = match extra {
        Ok(Ok(_)) => "it was accepted: the server counts fewer connections than it has".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_owned(),
    };
    for mut socket in sockets {
        let _ = tokio::time::timeout(Duration::from_millis(500), socket.close(None)).await;
    }
    if opened < free {
        return Err(format!(
            "only {opened} of the {free} free connection slots could be taken ({}): slots leaked",
            failures.first().map_or("", String::as_str)
        ));
    }
    if !refused {
        return Err(format!(
            "with every slot taken, one more connection was not refused with 503: {extra}"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- the run

struct Outcomes {
    good: Vec<GoodReport>,
    emitter: EmitterReport,
    faults: BTreeMap<Fault, FaultCounts>,
    peak_active: usize,
    idle_start: Sample,
    start: Sample,
    after_faults: Sample,
    end: Sample,
    idle_end: Sample,
    peak: Sample,
    budget_probe: Result<Duration, String>,
    slot_probe: Result<(), String>,
    slots_free: usize,
    elapsed: Duration,
    fault_phase: Duration,
    problems: Vec<String>,
}

async fn run(config: &Config, server: &Server, settings: &ServerSettings) -> Outcomes {
    let run_started = Instant::now();
    let pid = server.pid;
    let mut rng = Rng(config.seed);
    let mut problems = Vec::new();

    let peaks = Arc::new(Peaks::default());
    let sampler = {
        let peaks = Arc::clone(&peaks);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(200));
            loop {
                every.tick().await;
                let now = sample(pid);
                peaks.rss_kib.fetch_max(now.rss_kib, Ordering::Relaxed);
                peaks
                    .fds
                    .fetch_max(now.fds.max(0) as u64, Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_start = settled(pid).await;

    // Good clients and the emitter, all subscribed before the first tick.
    let mut sockets = Vec::with_capacity(config.good);
    for _ in 0..config.good {
        match connect_good(&server.ws_url).await {
            Ok(socket) => sockets.push(socket),
            Err(e) => {
                problems.push(e);
                break;
            }
        }
    }
    let (stop_good, stop_good_rx) = watch::channel(None::<u64>);
    let good_tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(index, socket)| {
            tokio::spawn(drive_good(
                socket,
                index,
                config.rate,
                rng.fork(),
                stop_good_rx.clone(),
            ))
        })
        .collect();
    let (stop_emitter, stop_emitter_rx) = watch::channel(false);
    let emitter_task = match tokio::time::timeout(
        CALL_DEADLINE,
        tokio_tungstenite::connect_async(&server.ws_url),
    )
    .await
    {
        Ok(Ok((socket, _))) => Some(tokio::spawn(emitter(socket, stop_emitter_rx))),
        other => {
            problems.push(format!("the emitter could not connect: {other:?}"));
            None
        }
    };
    tokio::time::sleep(WARMUP).await;
    let start = settled(pid).await;

    // The faults.
    let target = Target {
        port: server.port,
        token: server.token.clone(),
        idle: settings.idle(),
        header_read: settings.header_read(),
        write: settings.write(),
    };
    let active = Arc::new(AtomicUsize::new(0));
    let peak_active = Arc::new(AtomicUsize::new(0));
    let faults_started = Instant::now();
    let faults = run_faults(config, target, &mut rng, active, Arc::clone(&peak_active)).await;
    let fault_phase = faults_started.elapsed();

    // Let the server notice whatever vanished, measure, then probe for leaks.
    tokio::time::sleep(SETTLE).await;
    let after_faults = settled(pid).await;
    let budget_probe = probe_budget(&server.ws_url, settings.max_message_size).await;
    let open_now = good_tasks.len() + usize::from(emitter_task.is_some());
    let slots_free = settings.max_connections.saturating_sub(open_now);
    let slot_probe = tokio::time::timeout(
        Duration::from_secs(30),
        probe_slots(&server.ws_url, slots_free),
    )
    .await
    .unwrap_or_else(|_| Err("the connection-slot probe did not finish within 30 s".into()));
    // The probes' connections go too; good clients go on until `--seconds`.
    let until = run_started + Duration::from_secs(config.seconds);
    tokio::time::sleep_until(tokio::time::Instant::from_std(
        until.max(Instant::now() + Duration::from_secs(3)),
    ))
    .await;
    let end = settled(pid).await;

    // Stop: the emitter first, so the good clients know how many ticks to expect.
    let _ = stop_emitter.send(true);
    let emitter = match emitter_task {
        Some(task) => task.await.unwrap_or_else(|e| EmitterReport {
            problems: vec![format!("the emitter panicked: {e}")],
            ..EmitterReport::default()
        }),
        None => EmitterReport::default(),
    };
    let _ = stop_good.send(Some(emitter.ticks));
    let mut good = Vec::with_capacity(good_tasks.len());
    for task in good_tasks {
        good.push(task.await.unwrap_or_else(|e| GoodReport {
            problems: vec![format!("a good client panicked: {e}")],
            lost: 1,
            ..GoodReport::default()
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_end = settled(pid).await;
    sampler.abort();
    let peak = Sample {
        rss_kib: status_kib(pid, "VmHWM:")
            .unwrap_or(0)
            .max(peaks.rss_kib.load(Ordering::Relaxed)),
        fds: peaks.fds.load(Ordering::Relaxed) as i64,
    };
    Outcomes {
        good,
        emitter,
        faults,
        peak_active: peak_active.load(Ordering::SeqCst),
        idle_start,
        start,
        after_faults,
        end,
        idle_end,
        peak,
        budget_probe,
        slot_probe,
        slots_free,
        elapsed: run_started.elapsed(),
        fault_phase,
        problems,
    }
}

// ---------------------------------------------------------------- the report

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    f64::from(sorted[at]) / 1000.0
}

/// Prints the table and the JSON line; returns every failure.
fn report(
    config: &Config,
    settings: &ServerSettings,
    server_exit: Option<String>,
    o: &Outcomes,
) -> Vec<String> {
    let mut failures = o.problems.clone();
    let sum = |f: fn(&GoodReport) -> u64| o.good.iter().map(f).sum::<u64>();
    let calls = sum(|r| r.calls);
    let answered = sum(|r| r.answered);
    let (lost, mismatched, late) = (sum(|r| r.lost), sum(|r| r.mismatched), sum(|r| r.late));
    let targeted = (
        sum(|r| r.targeted_expected),
        sum(|r| r.targeted_received),
        sum(|r| r.targeted_lost),
        sum(|r| r.targeted_bad),
    );
    let ticks_expected = o.emitter.ticks * o.good.len() as u64;
    let (ticks_received, ticks_lost, ticks_bad, lagged) = (
        sum(|r| r.ticks_received),
        sum(|r| r.ticks_lost),
        sum(|r| r.ticks_bad),
        sum(|r| r.lagged),
    );
    let mut by_method: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &o.good {
        for (method, n) in &r.by_method {
            *by_method.entry(method).or_default() += n;
        }
    }
    let mut latencies: Vec<u32> = o
        .good
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let (p50, p99, max) = (
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().map_or(0.0, |&m| f64::from(m) / 1000.0),
    );

    println!();
    println!(
        "soak: {} s, {} good clients at {} calls/s each, {} faulty clients in waves of up to {}, seed {}",
        config.seconds, config.good, config.rate, config.faulty, config.wave, config.seed
    );
    println!(
        "server: ipc-e2e-server, write timeout {} ms, header-read timeout {} ms, idle timeout {} ms (ping {} ms), max message {} B, incoming budget {} B, max connections {}",
        settings.write_timeout_ms,
        settings.header_read_timeout_ms,
        settings.idle_timeout_ms,
        settings.ping_interval_ms,
        settings.max_message_size,
        settings.incoming_budget,
        settings.max_connections
    );
    println!(
        "ran {:.1} s (faults for {:.1} s, then {} s settle and the probes)",
        o.elapsed.as_secs_f64(),
        o.fault_phase.as_secs_f64(),
        SETTLE.as_secs()
    );
    println!();
    println!("good clients");
    println!("  calls made                     {}", thousands(calls));
    println!("  answered, right value, in time {}", thousands(answered));
    let methods: Vec<String> = by_method
        .iter()
        .map(|(m, n)| format!("{m} {}", thousands(*n)))
        .collect();
    println!("    by method                    {}", methods.join(", "));
    println!("  lost / mismatched / late       {lost} / {mismatched} / {late}");
    println!(
        "  latency p50 / p99 / max        {p50:.2} ms / {p99:.2} ms / {max:.1} ms (all but sleep)"
    );
    println!(
        "  targeted events (emit_to_caller) {} of {} received, {} lost, {} unexpected",
        thousands(targeted.1),
        thousands(targeted.0),
        targeted.2,
        targeted.3
    );
    println!(
        "  broadcast ticks                {} of {} received ({} emitted × {} clients), {} lost, {} out of order, {} lagged notices",
        thousands(ticks_received),
        thousands(ticks_expected),
        o.emitter.ticks,
        o.good.len(),
        ticks_lost,
        ticks_bad,
        lagged
    );
    println!(
        "  busy events emitted            {}",
        thousands(o.emitter.busy)
    );
    println!();
    let injected: u64 = o.faults.values().map(|c| c.injected).sum();
    println!(
        "faulty clients: {injected} injected, at most {} at once",
        o.peak_active
    );
    println!(
        "  {:<28} {:>8} {:>12} {:>6} {:>11}",
        "kind", "injected", "as expected", "shed", "unexpected"
    );
    for (fault, c) in &o.faults {
        println!(
            "  {:<28} {:>8} {:>12} {:>6} {:>11}",
            fault.name(),
            c.injected,
            c.expected,
            c.shed,
            c.unexpected
        );
    }
    println!();
    println!("server        idle before  start   peak  after faults    end  idle after");
    println!(
        "  RSS (MiB)   {:>11.1} {:>6.1} {:>6.1} {:>13.1} {:>6.1} {:>11.1}",
        mib(o.idle_start.rss_kib),
        mib(o.start.rss_kib),
        mib(o.peak.rss_kib),
        mib(o.after_faults.rss_kib),
        mib(o.end.rss_kib),
        mib(o.idle_end.rss_kib)
    );
    println!(
        "  open fds    {:>11} {:>6} {:>6} {:>13} {:>6} {:>11}",
        o.idle_start.fds, o.start.fds, o.peak.fds, o.after_faults.fds, o.end.fds, o.idle_end.fds
    );
    println!("  idle before: no client yet; start: good clients connected and warm, no fault yet;");
    println!(
        "  after faults: every faulty client gone, then {} s settle (the RSS check); end: after the probes;",
        SETTLE.as_secs()
    );
    println!("  idle after: every client gone.");
    println!();
    match &o.budget_probe {
        Ok(took) => println!(
            "probe: incoming budget whole    ok (2 messages of {} B at once, answered in {:.2} s)",
            settings.max_message_size * 88 / 100,
            took.as_secs_f64()
        ),
        Err(e) => println!("probe: incoming budget whole    FAILED: {e}"),
    }
    match &o.slot_probe {
        Ok(()) => println!(
            "probe: connection slots         ok ({} free slots taken, the next refused with 503)",
            o.slots_free
        ),
        Err(e) => println!("probe: connection slots         FAILED: {e}"),
    }

    // The verdict.
    if let Some(status) = &server_exit {
        failures.push(format!("the server exited during the run: {status}"));
    }
    if config.good > 0 && calls == 0 {
        failures.push("the good clients made no calls".into());
    }
    if lost + mismatched + late > 0 {
        failures.push(format!(
            "good calls: {lost} lost, {mismatched} mismatched, {late} late (all must be 0)"
        ));
    }
    if answered + lost + mismatched + late != calls {
        failures.push(format!(
            "good calls do not add up: {calls} made, {answered} answered, {lost} lost, {mismatched} mismatched, {late} late"
        ));
    }
    if targeted.0 != targeted.1 || targeted.2 + targeted.3 > 0 {
        failures.push(format!(
            "targeted events: {} of {} received, {} lost, {} unexpected",
            targeted.1, targeted.0, targeted.2, targeted.3
        ));
    }
    if ticks_received != ticks_expected || ticks_lost + ticks_bad + lagged > 0 {
        failures.push(format!(
            "broadcast ticks: {ticks_received} of {ticks_expected} received, {ticks_lost} lost, {ticks_bad} out of order, {lagged} lagged"
        ));
    }
    for r in &o.good {
        for p in &r.problems {
            if failures.len() < 40 {
                failures.push(p.clone());
            }
        }
    }
    failures.extend(o.emitter.problems.iter().cloned());
    if injected != config.faulty as u64 {
        failures.push(format!(
            "{injected} faulty clients ran, not {}",
            config.faulty
        ));
    }
    for (fault, c) in &o.faults {
        if c.unexpected > 0 {
            failures.push(format!(
                "{}: {} of {} not handled as expected, e.g. {}",
                fault.name(),
                c.unexpected,
                c.injected,
                c.samples.join("; ")
            ));
        }
    }
    let rss_growth = o.after_faults.rss_kib as i64 - o.start.rss_kib as i64;
    if o.start.rss_kib == 0 || o.after_faults.rss_kib == 0 {
        failures.push("could not read the server's RSS".into());
    } else if rss_growth > RSS_SLACK_KIB as i64 {
        failures.push(format!(
            "after the faults the server's RSS stayed {:.1} MiB above its start ({:.1} → {:.1} MiB; at most {} MiB allowed)",
            rss_growth as f64 / 1024.0,
            mib(o.start.rss_kib),
            mib(o.after_faults.rss_kib),
            RSS_SLACK_KIB / 1024
        ));
    }
    if o.start.fds < 0 || o.after_faults.fds < 0 || o.end.fds < 0 {
        failures.push("could not count the server's open fds".into());
    } else {
        for (when, fds) in [
            ("after the faults", o.after_faults.fds),
            ("at the end", o.end.fds),
        ] {
            if fds - o.start.fds > FD_SLACK {
                failures.push(format!(
                    "{when} the server holds {} more fds than at the start ({} → {fds}): leaked",
                    fds - o.start.fds,
                    o.start.fds
                ));
            }
        }
        if o.idle_end.fds - o.idle_start.fds > FD_SLACK {
            failures.push(format!(
                "with every client gone the server holds {} fds, {} when it started idle: leaked",
                o.idle_end.fds, o.idle_start.fds
            ));
        }
    }
    if let Err(e) = &o.budget_probe {
        failures.push(e.clone());
    }
    if let Err(e) = &o.slot_probe {
        failures.push(e.clone());
    }

    let faults_json: serde_json::Map<String, Value> = o
        .faults
        .iter()
        .map(|(fault, c)| {
            (
                fault.key().to_owned(),
                json!({ "injected": c.injected, "expected": c.expected, "shed": c.shed, "unexpected": c.unexpected }),
            )
        })
        .collect();
    let line = json!({
        "soak": {
            "seconds": config.seconds,
            "elapsed_s": (o.elapsed.as_secs_f64() * 10.0).round() / 10.0,
            "seed": config.seed,
            "good_clients": config.good,
            "rate_per_client": config.rate,
            "calls": calls,
            "answered": answered,
            "lost": lost,
            "mismatched": mismatched,
            "late": late,
            "latency_ms": { "p50": p50, "p99": p99, "max": max },
            "targeted_events": { "expected": targeted.0, "received": targeted.1 },
            "ticks": { "emitted": o.emitter.ticks, "expected": ticks_expected, "received": ticks_received, "lagged": lagged },
            "faulty": { "total": injected, "peak_at_once": o.peak_active, "by_kind": faults_json },
            "rss_kib": { "idle_start": o.idle_start.rss_kib, "start": o.start.rss_kib, "peak": o.peak.rss_kib, "after_faults": o.after_faults.rss_kib, "end": o.end.rss_kib, "idle_end": o.idle_end.rss_kib },
            "fds": { "idle_start": o.idle_start.fds, "start": o.start.fds, "peak": o.peak.fds, "after_faults": o.after_faults.fds, "end": o.end.fds, "idle_end": o.idle_end.fds },
            "probes": { "budget": o.budget_probe.is_ok(), "slots": o.slot_probe.is_ok() },
            "passed": failures.is_empty(),
        }
    });
    println!();
    println!("{line}");
    failures
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("ipc-soak: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = ServerSettings::new(&config);
    let mut server = match Server::start(&settings) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("ipc-soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "ipc-soak: server pid {} on 127.0.0.1:{}; {} s with {} good and {} faulty clients (seed {})",
        server.pid, server.port, config.seconds, config.good, config.faulty, config.seed
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ipc-soak: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let overall = Duration::from_secs(config.seconds) + OVERALL_MARGIN;
    let outcome = runtime
        .block_on(async { tokio::time::timeout(overall, run(&config, &server, &settings)).await });
    let server_exit = server.exited();
    let failures = match outcome {
        Ok(outcomes) => report(&config, &settings, server_exit, &outcomes),
        Err(_) => vec![format!(
            "the soak did not finish within its overall deadline of {} s",
            overall.as_secs()
        )],
    };
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(server);
    if failures.is_empty() {
        println!("\nsoak PASSED");
        ExitCode::SUCCESS
    } else {
        println!("\nsoak FAILED:");
        for failure in &failures {
            println!("  - {failure}");
        }
        ExitCode::FAILURE
    }
}
