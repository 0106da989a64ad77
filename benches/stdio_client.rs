//! The one client that drives every stdio child in the benchmarks (our
//! sidecar and the line-echo floor): it spawns the child with piped stdin and
//! stdout, writes one JSON-RPC request per line and reads one response per
//! line, with a fixed number of requests in flight and responses matched by
//! id. The pipes are tokio's non-blocking Unix pipes, so the client runs on a
//! current-thread tokio runtime as the WebSocket client does, and it measures
//! and checks responses with the same code (`LoadSample`, `response_id`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;

use crate::Workload;
use crate::ws_client::{LoadSample, READ_TIMEOUT, response_id};

/// A child process spoken to over its stdin and stdout.
#[derive(Debug)]
pub struct StdioChild {
    child: Child,
    input: pipe::Sender,
    output: BufReader<pipe::Receiver>,
    line: Vec<u8>,
}

impl StdioChild {
    /// Spawns `program` with `args`, stdin and stdout piped (stderr inherited).
    /// Must be called inside a tokio runtime with I/O enabled, which then
    /// drives the pipes.
    pub fn spawn(program: &Path, args: &[&str]) -> StdioChild {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        let input = pipe::Sender::from_owned_fd(child.stdin.take().expect("stdin").into())
            .expect("stdin as a non-blocking pipe");
        let output = pipe::Receiver::from_owned_fd(child.stdout.take().expect("stdout").into())
            .expect("stdout as a non-blocking pipe");
        StdioChild {
            child,
            input,
            output: BufReader::with_capacity(64 * 1024, output),
            line: Vec::with_capacity(256),
        }
    }

    /// Writes `bytes` (whole lines) to the child's stdin.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.input
            .write_all(bytes)
            .await
            .expect("write to the child");
    }

    /// The next line of the child's stdout, without its line ending. Panics
    /// on a timeout, at the end of the output, or on invalid UTF-8.
    pub async fn next_line(&mut self) -> &str {
        self.line.clear();
        let read =
            tokio::time::timeout(READ_TIMEOUT, self.output.read_until(b'\n', &mut self.line))
                .await
                .expect("no line within the read timeout")
                .expect("read from the child");
        assert!(read > 0, "the child closed its output");
        let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        std::str::from_utf8(line).expect("a UTF-8 line")
    }

    /// One request (without its line ending) and its response.
    pub async fn call(&mut self, request: &str) -> String {
        let mut line = Vec::with_capacity(request.len() + 1);
        line.extend_from_slice(request.as_bytes());
        line.push(b'\n');
        self.send(&line).await;
        self.next_line().await.to_owned()
    }

    /// Closes the child's stdin (it exits at the end of its input) and waits
    /// for it, killing it if it has not exited within five seconds. Call it
    /// inside the runtime that drives the pipes.
    pub async fn stop(self) {
        let StdioChild {
            mut child,
            input,
            output,
            ..
        } = self;
        drop(input);
        drop(output);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Keeps `depth` requests of `workload` in flight on `child` for `warmup`
/// then `measure`, exactly as [`ws_client::run_load`](crate::ws_client::run_load)
/// does over a WebSocket: each response is matched to its request by id and
/// immediately replaced by a new request (one write each). Only responses that
/// arrive in the measured window count. Request ids are slot numbers
/// (`0..depth`), reused once their response is in.
pub async fn run_load(
    child: &mut StdioChild,
    workload: Workload,
    depth: usize,
    warmup: Duration,
    measure: Duration,
) -> LoadSample {
    let requests: Vec<Vec<u8>> = (0..depth as u64)
        .map(|slot| {
            let mut line = workload.request(slot).into_bytes();
            line.push(b'\n');
            line
        })
        .collect();
    let mut sent_at = vec![Instant::now(); depth];
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut first = Vec::new();
    for (slot, request) in requests.iter().enumerate() {
        sent_at[slot] = Instant::now();
        first.extend_from_slice(request);
    }
    child.send(&first).await;
    let measure_from = Instant::now() + warmup;
    let measure_until = measure_from + measure;
    let mut in_flight = depth;
    let mut calls = 0u64;
    // Bounded by time: no new request is sent after `measure_until`, and every
    // read has a deadline. The cap on iterations is a second guard.
    for _ in 0..50_000_000u64 {
        if in_flight == 0 {
            break;
        }
        let line = child.next_line().await;
        let now = Instant::now();
        let slot = response_id(line) as usize;
        in_flight -= 1;
        if now >= measure_from && now < measure_until {
            latencies.push(now - sent_at[slot]);
            calls += 1;
        }
        if now < measure_until {
            sent_at[slot] = Instant::now();
            child.send(&requests[slot]).await;
            in_flight += 1;
        }
    }
    assert_eq!(in_flight, 0, "responses missing");
    LoadSample {
        calls,
        window: measure,
        latencies,
    }
}
