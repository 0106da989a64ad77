//! The load test: 200 concurrent WebSocket clients × 1,000 invokes each, mixed
//! with events, against `ipc-e2e-server` running in a child process. Asserts
//! that no response is lost or mismatched and every event arrives; prints
//! throughput, p50/p99 latency and the server's peak RSS. Bounded in count and
//! time (it gives up after 5 minutes), loopback only.
//!
//! Run it with `cargo run --release -p ipc-tests --bin ipc-load [-- --clients N --calls M]`
//! (it starts the `ipc-e2e-server` built next to it).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Calls a client keeps in flight at once.
const PIPELINE: usize = 8;
/// Every this many calls, a client emits an event to everyone.
const EVENT_EVERY: u64 = 50;

struct ClientReport {
    latencies_us: Vec<u64>,
    events_sent: u64,
    events_received: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut clients: usize = 200;
    let mut calls: u64 = 1_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--clients" => clients = args.next().and_then(|v| v.parse().ok()).unwrap_or(clients),
            "--calls" => calls = args.next().and_then(|v| v.parse().ok()).unwrap_or(calls),
            _ => {}
        }
    }
    let server_bin = std::env::current_exe()?.with_file_name("ipc-e2e-server");
    let mut server = Command::new(&server_bin)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {}: {e} (build it: cargo build --release -p ipc-tests)",
                server_bin.display()
            )
        })?;
    let mut ws_url = String::new();
    for line in BufReader::new(server.stdout.take().ok_or("no stdout")?).lines() {
        let line = line?;
        if line.starts_with("ws://") {
            ws_url = line;
            break;
        }
    }
    let pid = server.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(300), run(&ws_url, clients, calls)).await
    });
    let peak_rss = peak_rss_kib(pid);
    let _ = server.kill();
    let _ = server.wait();
    let (elapsed, reports) =
        outcome.map_err(|_| "the load test did not finish within 5 minutes")??;

    let mut latencies: Vec<u64> = reports
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let total = latencies.len() as u64;
    let expected_calls = clients as u64 * calls;
    let events_sent: u64 = reports.iter().map(|r| r.events_sent).sum();
    let events_received: u64 = reports.iter().map(|r| r.events_received).sum();
    let expected_events = events_sent * clients as u64;
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!("clients                 {clients}");
    println!("invokes                 {total} of {expected_calls} answered, 0 mismatched");
    println!(
        "events                  {events_received} of {expected_events} delivered ({events_sent} emitted, each to {clients} clients)"
    );
    println!("wall time               {:.2} s", elapsed.as_secs_f64());
    println!(
        "throughput              {:.0} invokes/s",
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency p50 / p99       {} µs / {} µs",
        pct(0.50),
        pct(0.99)
    );
    println!(
        "server peak RSS         {:.1} MiB",
        peak_rss as f64 / 1024.0
    );
    if total != expected_calls {
        return Err(format!("{} responses lost", expected_calls - total).into());
    }
    if events_received != expected_events {
        return Err(format!("{} events lost", expected_events - events_received).into());
    }
    Ok(())
}

/// VmHWM (peak resident set) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn run(
    url: &str,
    clients: usize,
    calls: u64,
) -> Result<(Duration, Vec<ClientReport>), String> {
    // Connect and subscribe everyone first, so every emitted event has all its receivers.
    let mut sockets = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| e.to_string())?;
        let listen = json!({ "jsonrpc": "2.0", "id": 0, "method": "ipc.listen", "params": { "event": "load:tick" } });
        socket
            .send(Message::text(listen.to_string()))
            .await
            .map_err(|e| e.to_string())?;
        match socket.next().await {
            Some(Ok(Message::Text(reply))) if reply.contains("\"result\"") => {}
            other => return Err(format!("subscribe failed: {other:?}")),
        }
        sockets.push(socket);
    }
    let events_per_client = calls / EVENT_EVERY;
    let expected_events = events_per_client * clients as u64;
    let started = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(client, socket)| tokio::spawn(drive(socket, client as u64, calls, expected_events)))
        .collect();
    let mut reports = Vec::with_capacity(clients);
    for task in tasks {
        reports.push(task.await.map_err(|e| e.to_string())??);
    }
    Ok((started.elapsed(), reports))
}

/// One client: `calls` `add` invokes, PIPELINE in flight, every answer checked
/// against what was asked; an event every EVENT_EVERY calls; then it waits for
/// every event anyone emitted.
async fn drive(
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    client: u64,
    calls: u64,
    expected_events: u64,
) -> Result<ClientReport, String> {
    let (mut sink, mut stream) = socket.split();
    let mut pending: HashMap<u64, (i64, Instant)> = HashMap::new();
    let mut report = ClientReport {
        latencies_us: Vec::with_capacity(calls as usize),
        events_sent: 0,
        events_received: 0,
    };
    let mut next = 0u64;
    while (report.latencies_us.len() as u64) < calls || report.events_received < expected_events {
        while next < calls && pending.len() < PIPELINE {
            let (a, b) = (client as i64, next as i64);
            let id = next + 1;
            let request = json!({ "jsonrpc": "2.0", "id": id, "method": "add", "params": [a, b] });
            pending.insert(id, (a + b, Instant::now()));
            sink.send(Message::text(request.to_string()))
                .await
                .map_err(|e| e.to_string())?;
            if next % EVENT_EVERY == EVENT_EVERY - 1 {
                let event = json!({ "jsonrpc": "2.0", "method": "load:tick", "params": { "from": client } });
                sink.send(Message::text(event.to_string()))
                    .await
                    .map_err(|e| e.to_string())?;
                report.events_sent += 1;
            }
            next += 1;
        }
        let message = match stream.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            other => {
                return Err(format!(
                    "client {client}: connection ended early: {other:?}"
                ));
            }
        };
        let value: Value = serde_json::from_str(&message).map_err(|e| e.to_string())?;
        if value["method"] == "ipc.event" {
            report.events_received += 1;
            continue;
        }
        let id = value["id"]
            .as_u64()
            .ok_or_else(|| format!("client {client}: response without id: {value}"))?;
        let (expected, sent) = pending
            .remove(&id)
            .ok_or_else(|| format!("client {client}: unexpected or duplicate response {id}"))?;
        if value["result"] != json!(expected) {
            return Err(format!(
                "client {client}: mismatched response {id}: {value}, wanted {expected}"
            ));
        }
        report.latencies_us.push(sent.elapsed().as_micros() as u64);
    }
    Ok(report)
}
