//! Table: events across instances through one local nats-server, against
//! NATS's own publish→receive and local delivery, measured in the same run.
//!
//! `cargo bench -p ipc-benches --features nats --bench nats` (needs
//! `nats-server` on the PATH; it is started on a free loopback port).
//!
//! * latency: one event at a time, from `emit` on instance A to a Rust
//!   listener on instance B (`ours`); the same payload and headers published
//!   by one async-nats client and received by another (`nats`); `emit` to a
//!   listener on the same instance (`local`). p50/p99 over the samples.
//! * throughput: a burst of events, from the first emit to the last received
//!   on B; the same burst through the bare clients.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ipc_runtime::App;
use ipc_runtime::transport::nats::NatsBridge;
use serde_json::json;
use tokio::sync::mpsc;

const WARMUP: usize = 300;
const SAMPLES: usize = 3000;
const BURST: u64 = 20_000;
/// Each phase ends within this, or the bench fails.
const DEADLINE: Duration = Duration::from_secs(60);

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn broker() -> (Broker, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server on the PATH (Debian: apt-get install nats-server)");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nats-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (Broker(child), format!("nats://127.0.0.1:{port}"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

struct Latency {
    p50: Duration,
    p99: Duration,
}

/// Times `SAMPLES` runs of the block (after `WARMUP`), which returns a `Duration`.
macro_rules! latency {
    ($one:expr) => {{
        for _ in 0..WARMUP {
            let _ = $one;
        }
        let mut samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            samples.push($one);
        }
        samples.sort();
        Latency {
            p50: percentile(&samples, 0.5),
            p99: percentile(&samples, 0.99),
        }
    }};
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (_broker, url) = broker();
    let payload = json!({ "from": "bench/1", "text": "hello, every instance" });
    let body = serde_json::to_vec(&payload).unwrap();

    // Two instances joined by the broker; B's listener reports each arrival.
    let a = App::builder()
        .bridge(NatsBridge::connect(&url).await.unwrap())
        .build()
        .unwrap();
    let b = App::builder()
        .bridge(NatsBridge::connect(&url).await.unwrap())
        .build()
        .unwrap();
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel::<()>();
    let count = Arc::new(AtomicU64::new(0));
    {
        let count = Arc::clone(&count);
        b.listen("bench", move |_| {
            count.fetch_add(1, Ordering::Relaxed);
            let _ = arrived_tx.send(());
        });
    }
    let (local_tx, mut local_rx) = mpsc::unbounded_channel::<()>();
    a.listen("local", move |_| {
        let _ = local_tx.send(());
    });

    // The bare clients: the same subject shape, headers and body.
    let publisher = async_nats::connect(&url).await.unwrap();
    let receiver = async_nats::connect(&url).await.unwrap();
    let mut subscription = receiver.subscribe("raw.>").await.unwrap();
    receiver.flush().await.unwrap();
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<()>();
    let raw_count = Arc::new(AtomicU64::new(0));
    {
        let raw_count = Arc::clone(&raw_count);
        tokio::spawn(async move {
            while subscription.next().await.is_some() {
                raw_count.fetch_add(1, Ordering::Relaxed);
                let _ = raw_tx.send(());
            }
        });
    }
    let headers = || {
        let mut h = async_nats::HeaderMap::new();
        h.insert("Ipc-Instance", "0123456789abcdef");
        h.insert("Ipc-Event", "bench");
        h.insert("Ipc-Source", "0");
        h.insert("Ipc-Target", "\"all\"");
        h
    };

    // Both paths up before measuring.
    let ready = Instant::now();
    loop {
        a.emit("bench", &payload).unwrap();
        if tokio::time::timeout(Duration::from_millis(200), arrived.recv())
            .await
            .is_ok()
        {
            break;
        }
        assert!(ready.elapsed() < DEADLINE, "the instances never joined");
    }

    let wait = Duration::from_secs(5);
    let nats = latency!({
        let start = Instant::now();
        publisher
            .publish_with_headers("raw.bench", headers(), body.clone().into())
            .await
            .unwrap();
        tokio::time::timeout(wait, raw_rx.recv())
            .await
            .expect("raw arrival");
        start.elapsed()
    });
    let ours = latency!({
        let start = Instant::now();
        a.emit("bench", &payload).unwrap();
        tokio::time::timeout(wait, arrived.recv())
            .await
            .expect("bridged arrival");
        start.elapsed()
    });
    let local = latency!({
        let start = Instant::now();
        a.emit("local", &payload).unwrap();
        local_rx.recv().await.expect("local arrival");
        start.elapsed()
    });

    // Throughput: bare clients (publish waits when the client's buffer is full).
    let before = raw_count.load(Ordering::Relaxed);
    let start = Instant::now();
    for _ in 0..BURST {
        publisher
            .publish_with_headers("raw.bench", headers(), body.clone().into())
            .await
            .unwrap();
    }
    while raw_count.load(Ordering::Relaxed) < before + BURST {
        assert!(start.elapsed() < DEADLINE, "raw burst incomplete");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let nats_rate = BURST as f64 / start.elapsed().as_secs_f64();
    while raw_rx.try_recv().is_ok() {}

    // Ours: emit never waits, so the burst is paced to stay within the queue.
    let before = count.load(Ordering::Relaxed);
    let lost_before = a.bridge_stats().unwrap().lost();
    let start = Instant::now();
    for _ in 0..BURST {
        while a.bridge_stats().unwrap().queued >= 2048 {
            tokio::task::yield_now().await;
        }
        a.emit("bench", &payload).unwrap();
    }
    while count.load(Ordering::Relaxed) < before + BURST {
        assert!(
            start.elapsed() < DEADLINE,
            "bridged burst incomplete: {:?}",
            a.bridge_stats()
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let ours_rate = BURST as f64 / start.elapsed().as_secs_f64();
    assert_eq!(
        a.bridge_stats().unwrap().lost(),
        lost_before,
        "nothing lost"
    );

    println!("\n### Events across instances through one local nats-server (`--bench nats`)\n");
    println!("| path | p50 | p99 | events/s (burst of {BURST}) |");
    println!("|---|---|---|---|");
    println!(
        "| NATS alone: publish → receive (two async-nats clients) | {} | {} | {:.0} |",
        us(nats.p50),
        us(nats.p99),
        nats_rate
    );
    println!(
        "| ours: `emit` on A → `listen` on B | {} | {} | {:.0} |",
        us(ours.p50),
        us(ours.p99),
        ours_rate
    );
    println!(
        "| local: `emit` → `listen`, same instance | {} | {} | |",
        us(local.p50),
        us(local.p99)
    );
    println!(
        "\nOverhead on top of NATS's own (target ≤ 1.5×): p50 {:.2}×, p99 {:.2}×, throughput {:.2}× fewer events/s.",
        ours.p50.as_secs_f64() / nats.p50.as_secs_f64(),
        ours.p99.as_secs_f64() / nats.p99.as_secs_f64(),
        nats_rate / ours_rate
    );
}
