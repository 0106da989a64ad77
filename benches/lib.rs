//! Shared workloads for the benchmarks in `benches/`: the commands under test,
//! the hand-written dispatchers they are measured against (the floor), the
//! same methods as a jsonrpsee `RpcModule`, the requests every contender gets,
//! a small pipelining WebSocket client that drives every WebSocket server
//! (`ws_client`), its twin for child processes on pipes (`stdio_client`), and
//! the transport floors (`ws_floor`, [`floor_response`]).
//!
//! Every contender runs the same functions ([`add`], [`echo`], [`async_add`],
//! [`echo_bytes`]) on the same request text.

use std::path::PathBuf;
use std::sync::Arc;

use ipc_runtime::command;
use jsonrpsee::RpcModule;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

pub mod stdio_client;
pub mod ws_client;
pub mod ws_floor;

// ---------------------------------------------------------------------------
// The workloads, registered as commands of ours.
// ---------------------------------------------------------------------------

/// Echoes bytes: raw attachments for binary clients, JSON arrays otherwise.
#[command]
pub fn echo_bytes(data: Vec<u8>) -> Vec<u8> {
    data
}

/// Reads an upload to its end and returns its size: the upload benchmark's
/// sink (no work per byte, so the transport is what is measured).
#[command]
pub async fn upload_count(mut file: ipc_runtime::Upload) -> Result<u64, ipc_runtime::InvokeError> {
    use futures_util::StreamExt as _;
    let mut size = 0;
    while let Some(chunk) = file.next().await {
        size += chunk?.len() as u64;
    }
    Ok(size)
}

/// `add(a, b)`, the smallest useful command.
#[command]
pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// `add(a, b)` after one trip through the scheduler (`tokio::task::yield_now`):
/// the cost of an async command that really suspends.
#[command]
pub async fn async_add(a: i64, b: i64) -> i64 {
    tokio::task::yield_now().await;
    a + b
}

/// Returns its argument: the ~1 KiB struct in, the same struct out.
#[command]
pub fn echo(payload: Payload) -> Payload {
    payload
}

/// The ~1 KiB struct of the echo workload: strings, numbers and a `Vec` of 20
/// small structs. [`Payload::sample`] serializes to about 1 KiB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// A number.
    pub id: u64,
    /// A short string.
    pub name: String,
    /// A longer string.
    pub description: String,
    /// A float.
    pub score: f64,
    /// A flag.
    pub active: bool,
    /// Twenty small structs.
    pub items: Vec<Item>,
}

/// One element of [`Payload::items`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// A number.
    pub id: u32,
    /// A short string.
    pub label: String,
    /// A signed number.
    pub qty: i32,
}

impl Payload {
    /// The payload every contender echoes.
    pub fn sample() -> Self {
        Payload {
            id: 1_234_567,
            name: "benchmark payload".to_owned(),
            description:
                "A struct of about one kibibyte: strings, numbers and twenty small structs."
                    .to_owned(),
            score: 98.25,
            active: true,
            items: (0..20)
                .map(|i| Item {
                    id: 1000 + i,
                    label: format!("item number {i:02}"),
                    qty: (i as i32 - 10) * 7,
                })
                .collect(),
        }
    }
}

/// The event payload of the fan-out workloads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Which emit this is.
    pub seq: u64,
}

// ---------------------------------------------------------------------------
// The requests: one text per workload, the same for every contender.
// ---------------------------------------------------------------------------

/// The workloads of the dispatch benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `add(1, 2)`.
    Add,
    /// `echo(Payload::sample())`.
    Echo,
    /// `async_add(1, 2)`.
    AsyncAdd,
}

impl Workload {
    /// All of them, in table order.
    pub const ALL: [Workload; 3] = [Workload::Add, Workload::Echo, Workload::AsyncAdd];

    /// The method name.
    pub fn method(self) -> &'static str {
        match self {
            Workload::Add => "add",
            Workload::Echo => "echo",
            Workload::AsyncAdd => "async_add",
        }
    }

    /// The name used for criterion groups and table rows.
    pub fn label(self) -> &'static str {
        match self {
            Workload::Add => "add",
            Workload::Echo => "echo_1k",
            Workload::AsyncAdd => "async_yield",
        }
    }

    /// The arguments, by name.
    pub fn params(self) -> Value {
        match self {
            Workload::Add | Workload::AsyncAdd => serde_json::json!({ "a": 1, "b": 2 }),
            Workload::Echo => serde_json::json!({ "payload": Payload::sample() }),
        }
    }

    /// The full JSON-RPC request text, with this `id`.
    pub fn request(self, id: u64) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"{}","params":{}}}"#,
            self.method(),
            self.params()
        )
    }
}

// ---------------------------------------------------------------------------
// The floor.
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct AddArgs {
    a: i64,
    b: i64,
}

#[derive(Deserialize)]
struct EchoArgs {
    payload: Payload,
}

/// The args-only floor, from a `Value`: a hand-written `match` on the name,
/// `serde_json` into an argument struct, the function, `serde_json` out. No
/// registry, no envelope, no error detail.
pub async fn floor_invoke(name: &str, args: Value) -> Result<Value, String> {
    fn out<T: Serialize>(value: T) -> Result<Value, String> {
        serde_json::to_value(value).map_err(|e| e.to_string())
    }
    match name {
        "add" => {
            let args: AddArgs = serde_json::from_value(args).map_err(|e| e.to_string())?;
            out(add(args.a, args.b))
        }
        "echo" => {
            let args: EchoArgs = serde_json::from_value(args).map_err(|e| e.to_string())?;
            out(echo(args.payload))
        }
        "async_add" => {
            let args: AddArgs = serde_json::from_value(args).map_err(|e| e.to_string())?;
            out(async_add(args.a, args.b).await)
        }
        other => Err(format!("unknown command {other}")),
    }
}

/// The args-only floor, from the arguments' JSON text to the result's.
pub async fn floor_invoke_str(name: &str, args: &str) -> Result<String, String> {
    fn out<T: Serialize>(value: T) -> Result<String, String> {
        serde_json::to_string(&value).map_err(|e| e.to_string())
    }
    match name {
        "add" => {
            let args: AddArgs = serde_json::from_str(args).map_err(|e| e.to_string())?;
            out(add(args.a, args.b))
        }
        "echo" => {
            let args: EchoArgs = serde_json::from_str(args).map_err(|e| e.to_string())?;
            out(echo(args.payload))
        }
        "async_add" => {
            let args: AddArgs = serde_json::from_str(args).map_err(|e| e.to_string())?;
            out(async_add(args.a, args.b).await)
        }
        other => Err(format!("unknown command {other}")),
    }
}

/// The request envelope of the floor: only what dispatch needs, borrowed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(borrow)]
    method: &'a str,
    #[serde(borrow)]
    params: &'a RawValue,
}

#[derive(Serialize)]
struct Response<'a, T> {
    jsonrpc: &'static str,
    id: &'a RawValue,
    result: T,
}

fn respond<T: Serialize>(id: &RawValue, result: T) -> Result<String, String> {
    serde_json::to_string(&Response {
        jsonrpc: "2.0",
        id,
        result,
    })
    .map_err(|e| e.to_string())
}

/// The floor with a minimal JSON envelope: parse `{id, method, params}` with
/// borrowed fields, dispatch as [`floor_invoke_str`] does, and serialize a
/// JSON-RPC response string. Errors are a bare string (no JSON-RPC error object).
pub async fn floor_handle_message(text: &str) -> Result<String, String> {
    let envelope: Envelope<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let id = envelope.id;
    let params = envelope.params.get();
    match envelope.method {
        "add" => {
            let args: AddArgs = serde_json::from_str(params).map_err(|e| e.to_string())?;
            respond(id, add(args.a, args.b))
        }
        "echo" => {
            let args: EchoArgs = serde_json::from_str(params).map_err(|e| e.to_string())?;
            respond(id, echo(args.payload))
        }
        "async_add" => {
            let args: AddArgs = serde_json::from_str(params).map_err(|e| e.to_string())?;
            respond(id, async_add(args.a, args.b).await)
        }
        other => Err(format!("unknown command {other}")),
    }
}

// ---------------------------------------------------------------------------
// The transport floors' whole "dispatch".
// ---------------------------------------------------------------------------

/// What the transport floors (the bare fastwebsockets echo server of
/// [`ws_floor`], the line-echo child `ipc-bench-stdio-floor`) answer to every
/// message: the response our server gives to `add(1, 2)`, of the same shape
/// and size, `{"jsonrpc":"2.0","id":<id>,"result":3}`, with the request's id
/// copied as it is. Appends it to `out`.
///
/// The id is found by a byte search for `"id":` and ends at the next `,` or
/// `}`: no JSON parsing, no method lookup, no arguments read. Good for the
/// numeric ids the benchmark clients send, not for arbitrary requests.
pub fn floor_response(request: &[u8], out: &mut Vec<u8>) {
    const KEY: &[u8] = b"\"id\":";
    let id = request
        .windows(KEY.len())
        .position(|window| window == KEY)
        .map(|at| {
            let rest = &request[at + KEY.len()..];
            let end = rest
                .iter()
                .position(|&b| b == b',' || b == b'}')
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .unwrap_or(b"null");
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id);
    out.extend_from_slice(b",\"result\":3}");
}

// ---------------------------------------------------------------------------
// The peer: the same methods in a jsonrpsee RpcModule.
// ---------------------------------------------------------------------------

fn invalid_params(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32602, e.to_string(), None::<()>)
}

/// The broadcast channel behind jsonrpsee's `subscribe_tick` (the fan-out
/// workload): one message per emit, cloned into every subscriber's sink.
pub type TickSender = tokio::sync::broadcast::Sender<Arc<str>>;

/// `add`, `echo`, `async_add` and the `subscribe_tick` subscription (notifications
/// named `tick`) as a jsonrpsee module, parsing the same argument structs.
pub fn jsonrpsee_module(ticks: TickSender) -> RpcModule<TickSender> {
    let mut module = RpcModule::new(ticks);
    module
        .register_method("add", |params: Params<'_>, _, _| {
            let args: AddArgs = params.parse().map_err(invalid_params)?;
            Ok::<_, ErrorObjectOwned>(add(args.a, args.b))
        })
        .expect("register add");
    module
        .register_method("echo", |params: Params<'_>, _, _| {
            let args: EchoArgs = params.parse().map_err(invalid_params)?;
            Ok::<_, ErrorObjectOwned>(echo(args.payload))
        })
        .expect("register echo");
    module
        .register_async_method("async_add", |params: Params<'static>, _, _| async move {
            let args: AddArgs = params.parse().map_err(invalid_params)?;
            Ok::<_, ErrorObjectOwned>(async_add(args.a, args.b).await)
        })
        .expect("register async_add");
    module
        .register_subscription(
            "subscribe_tick",
            "tick",
            "unsubscribe_tick",
            |_, pending, ticks, _| async move {
                // Subscribe before accepting: no tick sent after the response is missed.
                let mut rx = ticks.subscribe();
                let sink = pending.accept().await?;
                loop {
                    match rx.recv().await {
                        Ok(text) => {
                            let raw = RawValue::from_string(text.to_string())?;
                            sink.send(raw).await?;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                }
                jsonrpsee::core::SubscriptionResult::Ok(())
            },
        )
        .expect("register subscribe_tick");
    module
}

// ---------------------------------------------------------------------------
// Results on disk, for the report.
// ---------------------------------------------------------------------------

/// The cargo target directory, found from the running benchmark binary
/// (`<target>/release/deps/<bench>-<hash>`).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Where criterion writes its estimates.
pub fn criterion_dir() -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => target_dir().join("criterion"),
    }
}

/// Where the table-printing benchmarks (`ws_load`, `memory`) save their results.
pub fn results_dir() -> PathBuf {
    target_dir().join("ipc-benches")
}

/// The environment variable that marks the one-core run of the transport
/// benchmarks (`ws_load`, `stdio_load`): `benches/run.sh` runs them again as
/// `IPC_BENCH_ONE_CORE=1 taskset -c 0 cargo bench ...`.
pub const ONE_CORE_ENV: &str = "IPC_BENCH_ONE_CORE";

/// Whether this is the one-core run: the process (and the children it
/// spawns, which inherit its CPU affinity) confined to one CPU, so every
/// wake-up is a context switch on a running CPU instead of the wake-up of an
/// idle one. Panics if the variable is set but the process may use more than
/// one CPU, so a one-core result is never measured on more.
pub fn one_core() -> bool {
    if std::env::var_os(ONE_CORE_ENV).is_none_or(|v| v.is_empty() || v == "0") {
        return false;
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    assert_eq!(
        cpus, 1,
        "{ONE_CORE_ENV} is set but this process may run on {cpus} CPUs: run it under `taskset -c 0`"
    );
    true
}

/// The results file of the table benchmark `bench` (`ws_load`, `stdio_load`):
/// `<bench>.json`, or `<bench>.one_core.json` in the one-core run.
pub fn results_file(bench: &str) -> PathBuf {
    let name = if one_core() {
        format!("{bench}.one_core.json")
    } else {
        format!("{bench}.json")
    };
    results_dir().join(name)
}

/// Whether the binary runs as a benchmark (`cargo bench` passes `--bench`)
/// rather than as a smoke test (`cargo test --benches`).
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The `q`-quantile (0..=1) of sorted samples.
pub fn quantile(sorted: &[std::time::Duration], q: f64) -> std::time::Duration {
    if sorted.is_empty() {
        return std::time::Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
