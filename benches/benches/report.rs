//! Collects the results of the other benchmarks of this crate and prints the
//! tables of `BENCHMARKS.md` in Markdown: the criterion medians
//! (`target/criterion/**/new/estimates.json`), the WebSocket load and fan-out
//! table (`target/ipc-benches/ws_load.json`), the memory table
//! (`target/ipc-benches/memory.json`), with the ratios and targets of issue 6;
//! then each transport against its floor (`ws_load.json`, `stdio_load.json`
//! and their one-core twins `*.one_core.json`), with their targets.
//! Also writes the output to `target/ipc-benches/report.md`.
//!
//! Run it after the others: `benches/run.sh` does the whole sequence. Without
//! `--bench` (as `cargo test --benches` runs it) it does nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use ipc_benches::{Workload, bench_mode, criterion_dir, results_dir};
use serde_json::Value;

/// The dispatch contenders, in table order: criterion id and row label.
const CONTENDERS: [(&str, &str); 6] = [
    (
        "floor_args_value",
        "floor: `match` + serde_json, args only (`Value` in/out)",
    ),
    (
        "floor_args_str",
        "floor: `match` + serde_json, args only (text in/out)",
    ),
    (
        "floor_envelope",
        "floor + minimal JSON envelope (text in/out)",
    ),
    ("ours_invoke_value", "ours: `app.invoke(name, Value)`"),
    ("ours_handle_message", "ours: `app.handle_message(&str)`"),
    (
        "jsonrpsee_raw_json_request",
        "jsonrpsee 0.26 `RpcModule::raw_json_request`",
    ),
];

/// A criterion median in nanoseconds, if that benchmark has run.
fn median_ns(id: &str) -> Option<f64> {
    let path = criterion_dir().join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let estimates: Value = serde_json::from_str(&text).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

/// The `add` rows of a transport benchmark's results: (in flight, server) →
/// (calls/s, p50 µs, p99 µs).
type AddRows = BTreeMap<(u64, String), (f64, f64, f64)>;

fn add_rows(name: &str) -> Option<AddRows> {
    let results = load_json(name)?;
    let mut rows = AddRows::new();
    for row in results["load"].as_array().into_iter().flatten() {
        if row["workload"] != "add" {
            continue;
        }
        let (Some(depth), Some(server)) = (row["depth"].as_u64(), row["server"].as_str()) else {
            continue;
        };
        let number = |k: &str| row[k].as_f64().unwrap_or(f64::NAN);
        rows.insert(
            (depth, server.to_owned()),
            (number("calls_per_sec"), number("p50_us"), number("p99_us")),
        );
    }
    Some(rows)
}

/// The rows of each transport's table: the server's name in the results and its label.
const WS_SERVERS: [(&str, &str); 3] = [
    ("ours", "ours"),
    ("floor", "floor: bare fastwebsockets echo"),
    ("jsonrpsee", "jsonrpsee 0.26"),
];
const STDIO_SERVERS: [(&str, &str); 3] = [
    ("ours", "ours: `serve_stdio()` sidecar"),
    ("floor", "floor: line-echo child"),
    (
        "ours, current-thread runtime",
        "diagnostic: ours on a current-thread runtime",
    ),
];

/// Each transport and each core setting, with what their results are called.
struct TransportRun {
    transport: &'static str,
    cores: &'static str,
    rows: Option<AddRows>,
    servers: &'static [(&'static str, &'static str)],
}

impl TransportRun {
    fn get(&self, depth: u64, server: &str) -> Option<(f64, f64, f64)> {
        self.rows
            .as_ref()?
            .get(&(depth, server.to_owned()))
            .copied()
    }
    fn calls(&self, depth: u64, server: &str) -> Option<f64> {
        self.get(depth, server).map(|r| r.0)
    }
    fn cpus(&self) -> &'static str {
        if self.cores == "one" {
            "one CPU"
        } else {
            "all CPUs"
        }
    }
    fn p50_ns(&self, depth: u64, server: &str) -> Option<f64> {
        self.get(depth, server).map(|r| r.1 * 1e3)
    }
}

fn transport_runs() -> Vec<TransportRun> {
    let mut runs = Vec::new();
    for (cores, suffix) in [("all", ""), ("one", ".one_core")] {
        runs.push(TransportRun {
            transport: "WebSocket",
            cores,
            rows: add_rows(&format!("ws_load{suffix}.json")),
            servers: &WS_SERVERS,
        });
        runs.push(TransportRun {
            transport: "stdio",
            cores,
            rows: add_rows(&format!("stdio_load{suffix}.json")),
            servers: &STDIO_SERVERS,
        });
    }
    runs
}

/// `ratio (a vs b)` with both values formatted by `f`.
fn ratio_with(r: Option<f64>, a: Option<f64>, b: Option<f64>, f: fn(f64) -> String) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{} ({} vs {})", fmt_ratio(r), f(a), f(b)),
        _ => fmt_ratio(r),
    }
}

fn per_sec(calls: f64) -> String {
    format!("{calls:.0} calls/s")
}

fn load_json(name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(results_dir().join(name)).ok()?;
    serde_json::from_str(&text).ok()
}

fn time(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn opt_time(ns: Option<f64>) -> String {
    ns.map(time).unwrap_or_else(|| "—".into())
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

/// `a / b`, both present.
fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "—".into())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    format!(
        "- machine: {cores} cores (`nproc`), {model}, {:.1} GiB RAM\n- report generated: {date}\n",
        ram_kib as f64 / (1024.0 * 1024.0)
    )
}

fn main() {
    if !bench_mode() {
        return;
    }
    let mut out = String::new();
    out.push_str(&machine());

    // Dispatch medians.
    let mut medians: BTreeMap<(&str, &str), Option<f64>> = BTreeMap::new();
    for workload in Workload::ALL {
        for (id, _) in CONTENDERS {
            let key = format!("dispatch_{}/{id}", workload.label());
            medians.insert((workload.label(), id), median_ns(&key));
        }
    }
    let m = |w: Workload, id: &str| medians.get(&(w.label(), id)).copied().flatten();

    out.push_str("\n### In-process dispatch, per call (criterion medians, `--bench dispatch`)\n\n");
    out.push_str("| contender | add | 1 KiB echo | async yield |\n|---|---|---|---|\n");
    for (id, label) in CONTENDERS {
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} |",
            opt_time(m(Workload::Add, id)),
            opt_time(m(Workload::Echo, id)),
            opt_time(m(Workload::AsyncAdd, id))
        );
    }
    out.push_str("\n| ratio | add | 1 KiB echo | async yield |\n|---|---|---|---|\n");
    let ratio_row = |label: &str, a: &str, b: &str| {
        format!(
            "| {label} | {} | {} | {} |\n",
            fmt_ratio(ratio(m(Workload::Add, a), m(Workload::Add, b))),
            fmt_ratio(ratio(m(Workload::Echo, a), m(Workload::Echo, b))),
            fmt_ratio(ratio(m(Workload::AsyncAdd, a), m(Workload::AsyncAdd, b)))
        )
    };
    out.push_str(&ratio_row(
        "`handle_message` / floor + envelope",
        "ours_handle_message",
        "floor_envelope",
    ));
    out.push_str(&ratio_row(
        "`app.invoke(Value)` / floor args only (`Value`)",
        "ours_invoke_value",
        "floor_args_value",
    ));
    out.push_str(&ratio_row(
        "jsonrpsee / `handle_message` (how much faster we are)",
        "jsonrpsee_raw_json_request",
        "ours_handle_message",
    ));

    // Events in-process.
    out.push_str(
        "\n### One event to in-process listeners (criterion medians, `--bench events`)\n\n",
    );
    out.push_str("| listeners | ours: `app.emit` | per listener | floor: serialize + `Vec<Box<dyn Fn>>` |\n|---|---|---|---|\n");
    for n in [1u32, 10, 100] {
        let ours = median_ns(&format!("emit_in_process/ours_emit/{n}"));
        let floor = median_ns(&format!("emit_in_process/floor_callbacks/{n}"));
        let _ = writeln!(
            out,
            "| {n} | {} | {} | {} |",
            opt_time(ours),
            opt_time(ours.map(|t| t / f64::from(n))),
            opt_time(floor)
        );
    }

    // Replay on and off, to frontends.
    let replay_off = median_ns("emit_to_100_frontends/replay_off/100");
    let replay_on = median_ns("emit_to_100_frontends/replay_on/100");
    out.push_str(
        "\n### One event to 100 in-process frontends, replay off and on (criterion medians, `--bench events`)\n\n",
    );
    out.push_str("| replay off | replay on (64 kept) | on / off |\n|---|---|---|\n");
    let _ = writeln!(
        out,
        "| {} | {} | {} |",
        opt_time(replay_off),
        opt_time(replay_on),
        fmt_ratio(ratio(replay_on, replay_off))
    );

    // Binary payloads.
    out.push_str(
        "\n### Byte payload round trips over WebSocket (criterion medians, `--bench binary`)\n\n",
    );
    out.push_str("| size | binary frames | throughput | JSON number array | binary speed-up |\n|---|---|---|---|---|\n");
    for size in [1u64 << 20, 16 << 20] {
        let binary = median_ns(&format!("bytes_roundtrip/binary_frame/{size}"));
        let array = median_ns(&format!("bytes_roundtrip/json_array/{size}"));
        let _ = writeln!(
            out,
            "| {} MiB | {} | {} | {} | {} |",
            size >> 20,
            opt_time(binary),
            binary
                .map(|t| format!("{:.2} GB/s", size as f64 / t))
                .unwrap_or_else(|| "—".into()),
            opt_time(array),
            fmt_ratio(ratio(array, binary))
        );
    }
    let ws_one = median_ns("ws_roundtrip/add_one_in_flight");
    let _ = writeln!(
        out,
        "\n`add` over WebSocket, one call in flight, tokio-tungstenite client (criterion median, `--bench ws_roundtrip`): {}",
        opt_time(ws_one)
    );

    // WebSocket load and fan-out.
    let ws = load_json("ws_load.json");
    let mut ws_calls: BTreeMap<(String, u64, String), f64> = BTreeMap::new();
    if let Some(ws) = &ws {
        out.push_str("\n### WebSocket load, same client for every server (`--bench ws_load`)\n\n");
        out.push_str(
            "| workload | in flight | server | calls/s | p50 | p99 |\n|---|---|---|---|---|---|\n",
        );
        for row in ws["load"].as_array().into_iter().flatten() {
            let workload = row["workload"].as_str().unwrap_or("?").to_owned();
            let depth = row["depth"].as_u64().unwrap_or(0);
            let server = row["server"].as_str().unwrap_or("?").to_owned();
            let calls = row["calls_per_sec"].as_f64().unwrap_or(0.0);
            let _ = writeln!(
                out,
                "| {workload} | {depth} | {server} | {calls:.0} | {} | {} |",
                time(row["p50_us"].as_f64().unwrap_or(0.0) * 1e3),
                time(row["p99_us"].as_f64().unwrap_or(0.0) * 1e3)
            );
            ws_calls.insert((workload, depth, server), calls);
        }
        out.push_str("\n### One event to 100 subscribed WebSocket clients (`--bench ws_load`)\n\n");
        out.push_str("| server | delivered | p50 | p99 | all 100 delivered, p50 | all 100 delivered, p99 |\n|---|---|---|---|---|---|\n");
        for row in ws["fanout"].as_array().into_iter().flatten() {
            let us = |k: &str| time(row[k].as_f64().unwrap_or(0.0) * 1e3);
            let _ = writeln!(
                out,
                "| {} | {}/{} | {} | {} | {} | {} |",
                row["server"].as_str().unwrap_or("?"),
                row["delivered"],
                row["expected"],
                us("p50_us"),
                us("p99_us"),
                us("round_p50_us"),
                us("round_p99_us")
            );
        }
    }

    // Memory.
    let memory = load_json("memory.json");
    let mut ours_per_conn = None;
    if let Some(memory) = &memory {
        out.push_str("\n### Server memory per idle WebSocket connection (`--bench memory`)\n\n");
        out.push_str("| server | connections | baseline RSS | after handshakes | after one call each | per connection (handshake only) | per connection (after a call) |\n|---|---|---|---|---|---|---|\n");
        for row in memory["memory"].as_array().into_iter().flatten() {
            let kib = |k: &str| format!("{:.1} MiB", row[k].as_f64().unwrap_or(0.0) / 1024.0);
            let per = |k: &str| format!("{:.1} KiB", row[k].as_f64().unwrap_or(0.0) / 1024.0);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                row["server"].as_str().unwrap_or("?"),
                row["connections"],
                kib("baseline_kib"),
                kib("opened_kib"),
                kib("called_kib"),
                per("bytes_per_conn_open"),
                per("bytes_per_conn_called")
            );
            if row["server"] == "ours" {
                let open = row["bytes_per_conn_open"].as_f64().unwrap_or(0.0);
                ours_per_conn = row["bytes_per_conn_called"].as_f64().map(|c| c.max(open));
            }
        }
    }

    // Each transport against its floor.
    let runs = transport_runs();
    let jsonrpsee_64 = runs
        .iter()
        .find(|r| r.transport == "WebSocket" && r.cores == "all")
        .and_then(|r| r.calls(64, "jsonrpsee"));
    if runs.iter().any(|r| r.rows.is_some()) {
        out.push_str("\n### Each transport against its floor, `add` (`--bench ws_load`, `--bench stdio_load`)\n\n");
        out.push_str("CPUs: \"all\" is the normal run; \"one\" is the same benchmark under `taskset -c 0` (`IPC_BENCH_ONE_CORE=1`), the client, the servers and the children on one CPU.\n\n");
        out.push_str("| transport | CPUs | in flight | server | calls/s | p50 | p99 |\n|---|---|---|---|---|---|---|\n");
        for run in &runs {
            for depth in [1u64, 64] {
                for (server, label) in run.servers {
                    if let Some((calls, p50, p99)) = run.get(depth, server) {
                        let _ = writeln!(
                            out,
                            "| {} | {} | {depth} | {label} | {calls:.0} | {} | {} |",
                            run.transport,
                            run.cores,
                            time(p50 * 1e3),
                            time(p99 * 1e3)
                        );
                    }
                }
            }
        }
        out.push_str("\n| transport | CPUs | 1 in flight: p50, ours / floor | 64 in flight: calls/s, ours / floor | 64 in flight: calls/s, ours / jsonrpsee over WebSocket (all CPUs) |\n|---|---|---|---|---|\n");
        for run in runs.iter().filter(|r| r.rows.is_some()) {
            let vs_jsonrpsee = if run.cores == "all" {
                fmt_ratio(ratio(run.calls(64, "ours"), jsonrpsee_64))
            } else {
                "—".into()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {vs_jsonrpsee} |",
                run.transport,
                run.cores,
                fmt_ratio(ratio(run.p50_ns(1, "ours"), run.p50_ns(1, "floor"))),
                fmt_ratio(ratio(run.calls(64, "ours"), run.calls(64, "floor"))),
            );
        }
    }

    // Targets.
    out.push_str("\n### Targets (issue 6)\n\n| target | measured | verdict |\n|---|---|---|\n");
    let mut target = |name: &str, measured: String, met: Option<bool>| {
        let _ = writeln!(out, "| {name} | {measured} | {} |", verdict(met));
    };
    for (workload, limit) in [
        (Workload::Add, 1.3),
        (Workload::Echo, 1.15),
        (Workload::AsyncAdd, 1.5),
    ] {
        let r = ratio(
            m(workload, "ours_handle_message"),
            m(workload, "floor_envelope"),
        );
        target(
            &format!(
                "`handle_message` vs floor + envelope, {}: ≤ {limit}×",
                workload.label()
            ),
            fmt_ratio(r),
            r.map(|r| r <= limit),
        );
    }
    let r = ratio(
        m(Workload::Add, "ours_invoke_value"),
        m(Workload::Add, "floor_args_value"),
    );
    target(
        "`app.invoke(Value)` vs floor args only, add: ≤ 1.5×",
        fmt_ratio(r),
        r.map(|r| r <= 1.5),
    );
    let r = ratio(
        m(Workload::Add, "jsonrpsee_raw_json_request"),
        m(Workload::Add, "ours_handle_message"),
    );
    target(
        "jsonrpsee `raw_json_request` / `handle_message`, add: ≥ 4× (follows from the first)",
        fmt_ratio(r),
        r.map(|r| r >= 4.0),
    );
    for workload in ["add", "echo_1k"] {
        let key = |server: &str| {
            ws_calls
                .get(&(workload.to_owned(), 64, server.to_owned()))
                .copied()
        };
        let r = ratio(key("ours"), key("jsonrpsee"));
        target(
            &format!("WebSocket, 64 in flight, {workload}: ≥ 1.5× jsonrpsee's calls/s"),
            format!(
                "{} ({} vs {} calls/s)",
                fmt_ratio(r),
                key("ours").map(|c| format!("{c:.0}")).unwrap_or_default(),
                key("jsonrpsee")
                    .map(|c| format!("{c:.0}"))
                    .unwrap_or_default()
            ),
            r.map(|r| r >= 1.5),
        );
    }
    let size = 1u64 << 20;
    let binary = median_ns(&format!("bytes_roundtrip/binary_frame/{size}"));
    let array = median_ns(&format!("bytes_roundtrip/json_array/{size}"));
    let gbps = binary.map(|t| size as f64 / t);
    target(
        "1 MiB binary round trip: ≥ 1 GB/s",
        gbps.map(|g| format!("{g:.2} GB/s"))
            .unwrap_or_else(|| "—".into()),
        gbps.map(|g| g >= 1.0),
    );
    let r = ratio(array, binary);
    target(
        "1 MiB binary round trip: ≥ 20× the JSON array",
        fmt_ratio(r),
        r.map(|r| r >= 20.0),
    );
    let per = median_ns("emit_in_process/ours_emit/100").map(|t| t / 100.0);
    target(
        "event to 100 in-process listeners: ≤ 2 µs per listener",
        opt_time(per),
        per.map(|t| t <= 2_000.0),
    );
    let fanout = ws.as_ref().and_then(|ws| {
        ws["fanout"]
            .as_array()?
            .iter()
            .find(|row| row["server"] == "ours")
            .cloned()
    });
    target(
        "event to 100 WebSocket clients: all delivered, p99 reported",
        fanout
            .as_ref()
            .map(|row| {
                format!(
                    "{}/{} delivered, p99 {}",
                    row["delivered"],
                    row["expected"],
                    time(row["p99_us"].as_f64().unwrap_or(0.0) * 1e3)
                )
            })
            .unwrap_or_else(|| "—".into()),
        fanout.map(|row| row["delivered"] == row["expected"]),
    );
    target(
        "server memory per idle connection: ≤ 64 KiB",
        ours_per_conn
            .map(|b| format!("{:.1} KiB", b / 1024.0))
            .unwrap_or_else(|| "—".into()),
        ours_per_conn.map(|b| b <= 64.0 * 1024.0),
    );

    let r = ratio(replay_on, replay_off);
    target(
        "event to 100 frontends with a replay buffer: ≤ 1.2× without (issue 12)",
        ratio_with(r, replay_on, replay_off, time),
        r.map(|r| r <= 1.2),
    );

    // Targets of the transports against their floors.
    if runs.iter().any(|r| r.rows.is_some()) {
        out.push_str("\n### Targets (each transport against its floor)\n\n| target | measured | verdict |\n|---|---|---|\n");
        for run in &runs {
            let (ours, floor) = (run.p50_ns(1, "ours"), run.p50_ns(1, "floor"));
            let r = ratio(ours, floor);
            let _ = writeln!(
                out,
                "| {}, 1 in flight, {}: p50 ≤ 1.1× the floor's | {} | {} |",
                run.transport,
                run.cpus(),
                ratio_with(r, ours, floor, time),
                verdict(r.map(|r| r <= 1.1))
            );
        }
        for run in runs.iter().filter(|r| r.cores == "all") {
            let ours = run.calls(64, "ours");
            let r = ratio(ours, jsonrpsee_64);
            let _ = writeln!(
                out,
                "| {}, 64 in flight: ≥ 2× jsonrpsee's calls/s over WebSocket | {} | {} |",
                run.transport,
                ratio_with(r, ours, jsonrpsee_64, per_sec),
                verdict(r.map(|r| r >= 2.0))
            );
        }
    }

    print!("{out}");
    let dir = results_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let path = dir.join("report.md");
        if std::fs::write(&path, &out).is_ok() {
            println!("\nsaved {}", path_display(&path));
        }
    }
}

fn path_display(path: &Path) -> String {
    path.display().to_string()
}
