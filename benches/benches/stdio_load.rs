//! The stdio transport on a child process's pipes: our sidecar against the
//! transport's floor, driven by the same client (`ipc_benches::stdio_client`)
//! in the same run. Prints a table and saves it to
//! `target/ipc-benches/stdio_load.json`.
//!
//! * ours: `ipc-bench-stdio-sidecar`, a child process serving the benchmark
//!   commands with `App::serve_stdio()` on tokio's default multi-thread
//!   runtime (what `#[tokio::main]` builds);
//! * floor: `ipc-bench-stdio-floor`, a bare line-echo child (blocking reads
//!   and writes, no runtime) that answers every line with the fixed response
//!   of `add`, flushing when no more input is buffered;
//! * a diagnostic variant of ours, to see where the time goes: the same
//!   sidecar on a current-thread runtime.
//!
//! The client keeps 1 or 64 `add` requests in flight (one per line), matches
//! each response by id and replaces it at once with a new request: round trips
//! per second and p50/p99 request-to-response time. Each child is spawned
//! once (one session each) and they take turns, 4 runs of 0.5 s each after
//! 150 ms of warm-up, so drift in the machine's load hits all alike. The
//! client runs on a current-thread runtime in this process, as in `ws_load`.
//!
//! With `IPC_BENCH_ONE_CORE=1`, under `taskset -c 0` (`benches/run.sh` does
//! this after the normal run), the children inherit the one CPU and the table
//! goes to `target/ipc-benches/stdio_load.one_core.json`.
//!
//! `cargo bench -p ipc-benches --bench stdio_load` measures; without `--bench`
//! (as `cargo test --benches` runs it) it is a short smoke run.

use std::path::Path;
use std::time::Duration;

use ipc_benches::stdio_client::{self, StdioChild};
use ipc_benches::ws_client::{self, LoadSample};
use ipc_benches::{Workload, bench_mode, one_core, results_file};
use serde_json::json;

/// In-flight depths of the load runs.
const DEPTHS: [usize; 2] = [1, 64];

const SIDECAR: &str = env!("CARGO_BIN_EXE_ipc-bench-stdio-sidecar");
const FLOOR: &str = env!("CARGO_BIN_EXE_ipc-bench-stdio-floor");

/// A child under test: the name of its rows, its program and arguments.
struct Contender {
    name: &'static str,
    program: &'static str,
    args: &'static [&'static str],
}

/// The children, in table order.
const CONTENDERS: [Contender; 3] = [
    Contender {
        name: "ours",
        program: SIDECAR,
        args: &[],
    },
    Contender {
        name: "floor",
        program: FLOOR,
        args: &[],
    },
    Contender {
        name: "ours, current-thread runtime",
        program: SIDECAR,
        args: &["--current-thread"],
    },
];

struct Settings {
    /// Alternating runs per child and depth.
    slices: usize,
    warmup: Duration,
    measure: Duration,
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let settings = if bench_mode() {
        Settings {
            slices: 4,
            warmup: Duration::from_millis(150),
            measure: Duration::from_millis(500),
        }
    } else {
        Settings {
            slices: 1,
            warmup: Duration::from_millis(10),
            measure: Duration::from_millis(50),
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let workload = Workload::Add;

    let mut children: Vec<StdioChild> = runtime.block_on(async {
        let mut children = Vec::new();
        for contender in &CONTENDERS {
            let mut child = StdioChild::spawn(Path::new(contender.program), contender.args);
            // Every child answers `add` alike before anything is timed.
            let reply = child.call(&workload.request(7)).await;
            assert_eq!(
                reply, r#"{"jsonrpc":"2.0","id":7,"result":3}"#,
                "{}",
                contender.name
            );
            assert_eq!(ws_client::response_id(&reply), 7);
            children.push(child);
        }
        children
    });

    let cores = if one_core() { "one CPU" } else { "all CPUs" };
    println!("\n`add` over stdio, a child process's pipes, same client for every child, {cores}");
    println!("| in flight | child | calls/s | p50 µs | p99 µs |\n|---|---|---|---|---|");
    let mut rows = Vec::new();
    for depth in DEPTHS {
        // The children take turns, so drift in the machine's load hits all.
        let mut samples = vec![LoadSample::default(); CONTENDERS.len()];
        for _ in 0..settings.slices {
            for (i, child) in children.iter_mut().enumerate() {
                let sample = runtime.block_on(stdio_client::run_load(
                    child,
                    workload,
                    depth,
                    settings.warmup,
                    settings.measure,
                ));
                samples[i].merge(sample);
            }
        }
        for (contender, mut sample) in CONTENDERS.iter().zip(samples) {
            let (p50, p99) = (sample.latency(0.5), sample.latency(0.99));
            println!(
                "| {depth} | {} | {:.0} | {:.1} | {:.1} |",
                contender.name,
                sample.calls_per_sec(),
                micros(p50),
                micros(p99)
            );
            rows.push(json!({
                "workload": workload.label(),
                "depth": depth,
                "server": contender.name,
                "calls": sample.calls,
                "calls_per_sec": sample.calls_per_sec(),
                "p50_us": micros(p50),
                "p99_us": micros(p99),
            }));
        }
    }

    runtime.block_on(async {
        for child in children.drain(..) {
            child.stop().await;
        }
    });

    if bench_mode() {
        let path = results_file("stdio_load");
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("results dir");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&json!({ "load": rows })).expect("json"),
        )
        .expect("write results");
        println!("\nsaved {}", path.display());
    }
}
