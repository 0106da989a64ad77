//! The long fuzz run: `ipc-fuzz [--cases N] [--minutes M]` (default 1,000,000
//! cases, at most 20 minutes) over `handle_message` and the binary-frame path.
//! Any property failure or panic is reported and makes the exit status 1.
//!
//! Run it with `cargo run --release -p ipc-tests --bin ipc-fuzz`.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use ipc_tests::fuzz;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};

fn main() {
    let mut cases: u64 = 1_000_000;
    let mut minutes: u64 = 20;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cases" => cases = args.next().and_then(|v| v.parse().ok()).unwrap_or(cases),
            "--minutes" => minutes = args.next().and_then(|v| v.parse().ok()).unwrap_or(minutes),
            _ => {}
        }
    }
    // Panics are the finding: count them instead of printing each backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = fuzz::app();
    let (connection, mut outbox) = fuzz::connection(&app);
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let hostile = fuzz::hostile_text().boxed();
    let requests = fuzz::request().boxed();
    let typed = fuzz::typed_call().boxed();
    let frames = fuzz::binary_frame().boxed();

    let deadline = Instant::now() + Duration::from_secs(minutes * 60);
    let started = Instant::now();
    let (mut run, mut panics, mut failures) = (0u64, 0u64, 0u64);
    while run < cases && Instant::now() < deadline {
        let outcome = match run % 4 {
            0..=2 => {
                let strategy = match run % 4 {
                    0 => &hostile,
                    1 => &requests,
                    _ => &typed,
                };
                let text = strategy.new_tree(&mut runner).expect("a case").current();
                runtime.block_on(AssertUnwindSafe(fuzz::text_case(&app, &text)).catch_unwind())
            }
            _ => {
                let frame = frames.new_tree(&mut runner).expect("a case").current();
                runtime.block_on(
                    AssertUnwindSafe(fuzz::binary_case(&connection, &mut outbox, frame))
                        .catch_unwind(),
                )
            }
        };
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => {
                failures += 1;
                if failures <= 5 {
                    eprintln!("property failed: {problem}");
                }
            }
            Err(_) => panics += 1,
        }
        run += 1;
        if run % 100_000 == 0 {
            eprintln!(
                "{run} cases, {panics} panics, {failures} failures, {:.0?}",
                started.elapsed()
            );
        }
    }
    println!(
        "fuzzed {run} cases in {:.1?}: {panics} panics, {failures} property failures",
        started.elapsed()
    );
    if panics > 0 || failures > 0 {
        std::process::exit(1);
    }
}
