//! Server memory per idle WebSocket connection, ours and jsonrpsee 0.26's.
//!
//! The server runs in a child process (this binary, re-executed with
//! `IPC_BENCH_MEMORY_SERVER=ours|jsonrpsee`), so the clients' memory is never
//! counted: this process opens the connections and reads the child's `VmRSS`
//! from `/proc/<pid>/status`.
//!
//! 1. warm-up: 20 connections each make one `add` call and close;
//! 2. baseline RSS;
//! 3. 1,000 connections are opened (WebSocket handshake only), RSS again;
//! 4. each of them makes one `add` call and then stays idle, RSS again.
//!
//! Bytes per connection = (RSS after − baseline) / 1,000. Prints a table and
//! saves it to `target/ipc-benches/memory.json`.
//!
//! `cargo bench -p ipc-benches --bench memory` measures; without `--bench` it
//! is a smoke run with 20 connections.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipc_benches::ws_client::{self, Socket};
use ipc_benches::{Workload, bench_mode, jsonrpsee_module, results_dir};
use ipc_runtime::App;
use jsonrpsee::server::{Server, ServerConfig};
use serde_json::json;

const CHILD_ENV: &str = "IPC_BENCH_MEMORY_SERVER";
/// The child exits on its own after this long, whatever happens to the parent.
const CHILD_LIFETIME: Duration = Duration::from_secs(300);
/// Time for the server to settle before each RSS reading.
const SETTLE: Duration = Duration::from_millis(500);

fn main() {
    if let Ok(kind) = std::env::var(CHILD_ENV) {
        serve_until_stdin_closes(&kind);
        return;
    }
    let connections = if bench_mode() { 1000 } else { 20 };
    println!(
        "\nServer RSS with {connections} idle WebSocket connections (server in a child process)"
    );
    println!(
        "| server | baseline RSS KiB | after handshakes KiB | after one call each KiB | bytes/conn (handshake) | bytes/conn (after a call) |\n|---|---|---|---|---|---|"
    );
    let mut rows = Vec::new();
    for kind in ["ours", "jsonrpsee"] {
        let m = measure(kind, connections);
        let per =
            |after: u64| (after.saturating_sub(m.baseline) * 1024) as f64 / connections as f64;
        println!(
            "| {kind} | {} | {} | {} | {:.0} | {:.0} |",
            m.baseline,
            m.opened,
            m.called,
            per(m.opened),
            per(m.called)
        );
        rows.push(json!({
            "server": kind,
            "connections": connections,
            "baseline_kib": m.baseline,
            "opened_kib": m.opened,
            "called_kib": m.called,
            "bytes_per_conn_open": per(m.opened),
            "bytes_per_conn_called": per(m.called),
        }));
    }
    if bench_mode() {
        let dir = results_dir();
        std::fs::create_dir_all(&dir).expect("results dir");
        let path = dir.join("memory.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&json!({ "memory": rows })).expect("json"),
        )
        .expect("write results");
        println!("\nsaved {}", path.display());
    }
}

/// RSS readings, in KiB.
struct Measured {
    baseline: u64,
    opened: u64,
    called: u64,
}

fn measure(kind: &str, connections: usize) -> Measured {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env(CHILD_ENV, kind)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut url = String::new();
    stdout.read_line(&mut url).expect("server url");
    let url = url.trim().to_owned();
    assert!(url.starts_with("ws://"), "child said {url:?}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let add = Workload::Add.request(1);
    let measured = runtime.block_on(async {
        for _ in 0..20 {
            let mut socket = ws_client::connect(&url).await;
            ws_client::response_id(&ws_client::call(&mut socket, &add).await);
            let _ = socket.close(None).await;
        }
        tokio::time::sleep(SETTLE).await;
        let baseline = rss_kib(pid);
        let mut sockets: Vec<Socket> = Vec::with_capacity(connections);
        for _ in 0..connections {
            sockets.push(ws_client::connect(&url).await);
        }
        tokio::time::sleep(SETTLE).await;
        let opened = rss_kib(pid);
        for socket in &mut sockets {
            ws_client::response_id(&ws_client::call(socket, &add).await);
        }
        tokio::time::sleep(SETTLE).await;
        let called = rss_kib(pid);
        for mut socket in sockets {
            let _ = socket.close(None).await;
        }
        Measured {
            baseline,
            opened,
            called,
        }
    });
    stop(child);
    measured
}

/// Closes the child's stdin (it exits on EOF) and waits for it, killing it if
/// it has not exited within five seconds.
fn stop(mut child: Child) {
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// The child: serves until its stdin closes (or `CHILD_LIFETIME` passes).
fn serve_until_stdin_closes(kind: &str) {
    std::thread::spawn(|| {
        std::thread::sleep(CHILD_LIFETIME);
        std::process::exit(1);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let _running = runtime.block_on(async {
        match kind {
            "ours" => {
                let app = App::builder().build().expect("app");
                let server = app.serve("127.0.0.1:0").await.expect("serve");
                println!("{}", server.ws_url());
                Box::new(server) as Box<dyn std::any::Any>
            }
            "jsonrpsee" => {
                let (ticks, _) = tokio::sync::broadcast::channel(16);
                let config = ServerConfig::builder().max_connections(10_000).build();
                let server = Server::builder()
                    .set_config(config)
                    .build("127.0.0.1:0")
                    .await
                    .expect("bind");
                println!("ws://{}", server.local_addr().expect("addr"));
                Box::new(server.start(jsonrpsee_module(ticks))) as Box<dyn std::any::Any>
            }
            other => panic!("unknown server {other}"),
        }
    });
    // Blocks until the parent closes the pipe.
    let mut sink = Vec::new();
    let _ = std::io::stdin().take(1 << 20).read_to_end(&mut sink);
}
