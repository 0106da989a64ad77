//! Round trips in a native window (feature `desktop`), timed on the Rust side:
//! the window's own channel (postMessage in, evaluate_script out) against a
//! WebSocket to the same App from the same page. Prints a table.
//!
//! ```text
//! cargo build --release -p ipc-tests --features desktop --bin ipc-desktop-bench
//! xvfb-run -a target/release/ipc-desktop-bench [N] [ROUNDS]
//! ```
//!
//! The page (`tests/desktop/bench.html`) makes N sequential calls, then N
//! with 64 in flight, over each path in turn, ROUNDS times. Sequential: the
//! round trip is the time between two consecutive calls reaching Rust (one
//! answer out, the page handles it, the next call in). 64 in flight: calls
//! per second over the phase. The figures are medians over the rounds.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ipc_runtime::transport::desktop::{DesktopHandle, Window};
use ipc_runtime::{App, command};

/// Every phase's name and the instants its calls arrived at.
static PHASES: Mutex<Vec<(String, Vec<Instant>)>> = Mutex::new(Vec::new());
/// The windows' handle, to close the window when the page is done.
static HANDLE: Mutex<Option<DesktopHandle>> = Mutex::new(None);

fn phases() -> std::sync::MutexGuard<'static, Vec<(String, Vec<Instant>)>> {
    PHASES.lock().unwrap_or_else(|p| p.into_inner())
}

#[command(rename = "bench.phase")]
fn phase(name: String) {
    if name == "done" {
        if let Some(handle) = HANDLE.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = handle.exit();
        }
        return;
    }
    phases().push((name, Vec::new()));
}

#[command(rename = "bench.tick")]
fn tick(i: u64) -> u64 {
    let now = Instant::now();
    if let Some((_, ticks)) = phases().last_mut() {
        ticks.push(now);
    }
    i
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("desktop bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _inside = runtime.enter();
    // The transports are measured, not the inspector (on by default in the
    // debug build this bench is run as).
    let app = App::builder().no_inspector().build()?;
    let server = runtime.block_on(
        app.server()
            .allow_origin("app://localhost")
            .serve("127.0.0.1:0"),
    )?;
    let page = format!(
        "/bench.html?n={n}&rounds={rounds}&ws={}",
        percent(&server.ws_url())
    );
    let started = Instant::now();
    app.desktop()
        .asset(
            "/bench.html",
            "text/html; charset=utf-8",
            include_str!("../desktop/bench.html"),
        )
        .window(
            Window::new("bench")
                .title("ipc desktop bench")
                .size(400, 200)
                .page(page),
        )
        .on_start(|handle| *HANDLE.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle))
        .shutdown_drain(Duration::from_secs(1))
        .run()?;
    runtime.block_on(server.shutdown());
    eprintln!("ran in {:.1} s", started.elapsed().as_secs_f64());

    let mut sequential: BTreeMap<String, Vec<(f64, f64, f64)>> = BTreeMap::new();
    let mut parallel: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (name, ticks) in phases().iter() {
        if ticks.len() != n {
            return Err(format!("phase `{name}` saw {} calls of {n}", ticks.len()).into());
        }
        if let Some(path) = name.strip_suffix(" sequential") {
            let mut gaps: Vec<f64> = ticks
                .windows(2)
                .map(|w| (w[1] - w[0]).as_secs_f64() * 1e3)
                .collect();
            gaps.sort_by(f64::total_cmp);
            let at = |q: f64| gaps[((gaps.len() - 1) as f64 * q) as usize];
            sequential
                .entry(path.to_owned())
                .or_default()
                .push((at(0.5), at(0.9), at(0.99)));
        } else if let Some(path) = name.strip_suffix(" 64 in flight") {
            let span = (ticks[n - 1] - ticks[0]).as_secs_f64();
            parallel
                .entry(path.to_owned())
                .or_default()
                .push((n - 1) as f64 / span);
        }
    }
    println!("{n} calls per phase, {rounds} rounds, medians over rounds");
    println!("| path | sequential p50 (ms) | p90 (ms) | p99 (ms) | 64 in flight (calls/s) |");
    println!("|---|---|---|---|---|");
    for (path, runs) in &sequential {
        let p = |f: fn(&(f64, f64, f64)) -> f64| median(runs.iter().map(f).collect());
        let rate = median(parallel.get(path).cloned().unwrap_or_default());
        println!(
            "| {path} | {:.3} | {:.3} | {:.3} | {:.0} |",
            p(|r| r.0),
            p(|r| r.1),
            p(|r| r.2),
            rate
        );
    }
    Ok(())
}

/// Percent-encodes a URL for a query parameter.
fn percent(url: &str) -> String {
    url.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
