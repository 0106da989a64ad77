//! WebSocket throughput, latency and event fan-out on loopback: our server and
//! jsonrpsee 0.26's, driven by the same client (`ipc_benches::ws_client`), in
//! the same run. Prints a table and saves it to `target/ipc-benches/ws_load.json`.
//!
//! * load: one connection keeps 1 or 64 requests in flight (`add`, the 1 KiB
//!   `echo`); each response is matched by id and replaced by a new request.
//!   Round trips per second, p50/p99 request-to-response time. The servers
//!   take turns (4 runs of 0.5 s each, after 150 ms of warm-up), so drift in
//!   the machine's load hits all alike. For `add` a third server takes its
//!   turn too: the floor (`ipc_benches::ws_floor`), a bare fastwebsockets echo
//!   server that answers every text frame with the fixed response of `add`.
//! * fan-out: 100 connections subscribe to each server (ours: `ipc.listen`;
//!   jsonrpsee: a subscription fed by a `tokio::sync::broadcast` channel), then
//!   the backend emits one event at a time, the servers taking turns, and waits
//!   until all 100 subscribers have it. Delivery latency is emit-to-receipt per
//!   client; "last of 100" is emit to the last receipt.
//!
//! The servers run on a 2-worker multi-thread runtime, the client on a
//! current-thread runtime of its own, all in this process.
//!
//! With `IPC_BENCH_ONE_CORE=1`, under `taskset -c 0` (`benches/run.sh` does
//! this after the normal run), only the `add` load runs, with everything on
//! one CPU, and the table goes to `target/ipc-benches/ws_load.one_core.json`.
//!
//! `cargo bench -p ipc-benches --bench ws_load` measures; without `--bench`
//! (as `cargo test --benches` runs it) it is a short smoke run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ipc_benches::ws_client::{self, LoadSample, READ_TIMEOUT, Socket};
use ipc_benches::ws_floor;
use ipc_benches::{
    Tick, TickSender, Workload, bench_mode, jsonrpsee_module, one_core, quantile, results_file,
};
use ipc_runtime::App;
use jsonrpsee::server::{Server, ServerConfig};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// In-flight depths of the load runs.
const DEPTHS: [usize; 2] = [1, 64];
/// Subscribed connections in the fan-out run.
const CLIENTS: usize = 100;
/// The event of the fan-out run.
const EVENT: &str = "bench:tick";

/// The servers of the fan-out run, in table order.
const PEERS: [Peer; 2] = [Peer::Ours, Peer::Jsonrpsee];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Ours,
    Jsonrpsee,
    /// The bare fastwebsockets echo server; it only knows `add`.
    Floor,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Ours => "ours",
            Peer::Jsonrpsee => "jsonrpsee",
            Peer::Floor => "floor",
        }
    }

    /// The servers of a load run, in table order.
    fn for_load(workload: Workload) -> &'static [Peer] {
        match workload {
            Workload::Add => &[Peer::Ours, Peer::Floor, Peer::Jsonrpsee],
            _ => &PEERS,
        }
    }
}

struct Settings {
    /// Alternating runs per server and configuration.
    slices: usize,
    warmup: Duration,
    measure: Duration,
    rounds: u64,
}

struct Servers {
    app: App,
    ours: ipc_runtime::transport::ws::ServerHandle,
    ours_url: String,
    peer: jsonrpsee::server::ServerHandle,
    peer_url: String,
    ticks: TickSender,
    floor: ws_floor::FloorServer,
}

impl Servers {
    fn url(&self, peer: Peer) -> &str {
        match peer {
            Peer::Ours => &self.ours_url,
            Peer::Jsonrpsee => &self.peer_url,
            Peer::Floor => self.floor.ws_url(),
        }
    }
}

async fn start_servers() -> Servers {
    let app = App::builder().build().expect("app");
    let ours = app.serve("127.0.0.1:0").await.expect("serve ours");
    let ours_url = ours.ws_url();
    let (ticks, _) = tokio::sync::broadcast::channel(1024);
    let config = ServerConfig::builder().max_connections(10_000).build();
    let server = Server::builder()
        .set_config(config)
        .build("127.0.0.1:0")
        .await
        .expect("bind jsonrpsee");
    let peer_url = format!("ws://{}", server.local_addr().expect("addr"));
    let peer = server.start(jsonrpsee_module(ticks.clone()));
    let floor = ws_floor::serve().await.expect("bind the floor");
    Servers {
        app,
        ours,
        ours_url,
        peer,
        peer_url,
        ticks,
        floor,
    }
}

/// The push a subscribed client receives: ours carries the payload in
/// `params.payload`, jsonrpsee's in `params.result`.
#[derive(Deserialize)]
struct Push {
    params: PushParams,
}

#[derive(Deserialize)]
struct PushParams {
    payload: Option<Tick>,
    result: Option<Tick>,
}

struct FanOutResult {
    expected: u64,
    delivered: u64,
    p50: Duration,
    p99: Duration,
    /// Emit to the last of the 100 deliveries of a round.
    round_p50: Duration,
    round_p99: Duration,
}

async fn subscribe(peer: Peer, url: &str) -> Socket {
    let mut socket = ws_client::connect(url).await;
    let request = match peer {
        Peer::Ours => format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ipc.listen","params":{{"event":"{EVENT}"}}}}"#
        ),
        Peer::Jsonrpsee => {
            r#"{"jsonrpc":"2.0","id":1,"method":"subscribe_tick","params":[]}"#.into()
        }
        Peer::Floor => unreachable!("the floor has no subscriptions"),
    };
    let reply = ws_client::call(&mut socket, &request).await;
    assert_eq!(ws_client::response_id(&reply), 1);
    socket
}

/// Reads up to `rounds` pushes, reporting `(seq, received at)` for each.
async fn read_pushes(
    mut socket: Socket,
    rounds: u64,
    receipts: mpsc::UnboundedSender<(u64, Instant)>,
) -> Socket {
    let mut got = 0;
    // Bounded: at most `rounds` pushes plus a few control frames, each read with a deadline.
    for _ in 0..rounds + 16 {
        if got == rounds {
            break;
        }
        let message = match tokio::time::timeout(READ_TIMEOUT, socket.next()).await {
            Ok(Some(Ok(message))) => message,
            _ => break,
        };
        let now = Instant::now();
        if let Message::Text(text) = message {
            let push: Push = serde_json::from_str(&text).expect("push");
            let tick = push.params.payload.or(push.params.result).expect("a tick");
            got += 1;
            if receipts.send((tick.seq, now)).is_err() {
                break;
            }
        }
    }
    socket
}

/// Subscribes `CLIENTS` connections to each server, then emits `rounds`
/// events on each, the servers taking turns; each emit waits until all its
/// subscribers have the event (or a reader gives up).
async fn fan_out(servers: &Servers, rounds: u64) -> [FanOutResult; 2] {
    let mut receivers = Vec::new();
    let mut readers = Vec::new();
    for peer in PEERS {
        let (tx, rx) = mpsc::unbounded_channel();
        for _ in 0..CLIENTS {
            let socket = subscribe(peer, servers.url(peer)).await;
            readers.push(tokio::spawn(read_pushes(socket, rounds, tx.clone())));
        }
        receivers.push(rx);
    }
    let mut latencies = [Vec::new(), Vec::new()];
    let mut round_times = [Vec::new(), Vec::new()];
    let mut delivered = [0u64; 2];
    let mut failed = [false; 2];
    for seq in 0..rounds {
        for (i, peer) in PEERS.into_iter().enumerate() {
            if failed[i] {
                continue;
            }
            let tick = Tick { seq };
            let emitted = Instant::now();
            match peer {
                Peer::Ours => servers.app.emit(EVENT, &tick).expect("emit"),
                Peer::Jsonrpsee => {
                    let text: Arc<str> = serde_json::to_string(&tick).expect("json").into();
                    servers.ticks.send(text).expect("subscribers");
                }
                Peer::Floor => unreachable!("the floor has no subscriptions"),
            }
            let deadline = emitted + READ_TIMEOUT;
            let mut this_round = 0;
            while this_round < CLIENTS {
                match tokio::time::timeout_at(deadline.into(), receivers[i].recv()).await {
                    Ok(Some((got, at))) => {
                        assert_eq!(got, seq, "pushes arrive in order");
                        latencies[i].push(at - emitted);
                        this_round += 1;
                        delivered[i] += 1;
                        if this_round == CLIENTS {
                            round_times[i].push(at - emitted);
                        }
                    }
                    // A reader gave up or the deadline passed: report what arrived.
                    _ => {
                        failed[i] = true;
                        break;
                    }
                }
            }
        }
    }
    for reader in readers {
        let mut socket = reader.await.expect("reader");
        let _ = socket.close(None).await;
    }
    [0, 1].map(|i| {
        latencies[i].sort_unstable();
        round_times[i].sort_unstable();
        FanOutResult {
            expected: CLIENTS as u64 * rounds,
            delivered: delivered[i],
            p50: quantile(&latencies[i], 0.5),
            p99: quantile(&latencies[i], 0.99),
            round_p50: quantile(&round_times[i], 0.5),
            round_p99: quantile(&round_times[i], 0.99),
        }
    })
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
            rounds: 200,
        }
    } else {
        Settings {
            slices: 1,
            warmup: Duration::from_millis(10),
            measure: Duration::from_millis(50),
            rounds: 3,
        }
    };
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let servers = server_runtime.block_on(start_servers());

    let cores = if one_core() { "one CPU" } else { "all CPUs" };
    println!(
        "\nWebSocket round trips on loopback, one connection, same client for every server (floor: `add` only), {cores}"
    );
    println!(
        "| workload | in flight | server | calls/s | p50 µs | p99 µs |\n|---|---|---|---|---|---|"
    );
    let mut load_rows = Vec::new();
    // The one-core run is for the transport comparison (`add`) only.
    let workloads: &[Workload] = if one_core() {
        &[Workload::Add]
    } else {
        &[Workload::Add, Workload::Echo]
    };
    for &workload in workloads {
        for depth in DEPTHS {
            // The servers take turns, so drift in the machine's load hits all.
            let peers = Peer::for_load(workload);
            let mut samples = vec![LoadSample::default(); peers.len()];
            for _ in 0..settings.slices {
                for (i, &peer) in peers.iter().enumerate() {
                    let sample = client_runtime.block_on(async {
                        let mut socket = ws_client::connect(servers.url(peer)).await;
                        let sample = ws_client::run_load(
                            &mut socket,
                            workload,
                            depth,
                            settings.warmup,
                            settings.measure,
                        )
                        .await;
                        let _ = socket.close(None).await;
                        sample
                    });
                    samples[i].merge(sample);
                }
            }
            for (&peer, mut sample) in peers.iter().zip(samples) {
                let (p50, p99) = (sample.latency(0.5), sample.latency(0.99));
                println!(
                    "| {} | {depth} | {} | {:.0} | {:.1} | {:.1} |",
                    workload.label(),
                    peer.name(),
                    sample.calls_per_sec(),
                    micros(p50),
                    micros(p99)
                );
                load_rows.push(json!({
                    "workload": workload.label(),
                    "depth": depth,
                    "server": peer.name(),
                    "calls": sample.calls,
                    "calls_per_sec": sample.calls_per_sec(),
                    "p50_us": micros(p50),
                    "p99_us": micros(p99),
                }));
            }
        }
    }

    let rounds = if one_core() { 0 } else { settings.rounds };
    if rounds > 0 {
        println!(
            "\nOne event to {CLIENTS} subscribed WebSocket clients, {rounds} emits per server, one at a time, servers taking turns"
        );
        println!(
            "| server | delivered | p50 µs | p99 µs | last of 100, p50 µs | last of 100, p99 µs |\n|---|---|---|---|---|---|"
        );
    }
    let mut fanout_rows = Vec::new();
    let results = if rounds > 0 {
        Vec::from(client_runtime.block_on(fan_out(&servers, rounds)))
    } else {
        Vec::new()
    };
    for (peer, result) in PEERS.into_iter().zip(results) {
        println!(
            "| {} | {}/{} | {:.1} | {:.1} | {:.1} | {:.1} |",
            peer.name(),
            result.delivered,
            result.expected,
            micros(result.p50),
            micros(result.p99),
            micros(result.round_p50),
            micros(result.round_p99)
        );
        fanout_rows.push(json!({
            "server": peer.name(),
            "clients": CLIENTS,
            "rounds": rounds,
            "expected": result.expected,
            "delivered": result.delivered,
            "p50_us": micros(result.p50),
            "p99_us": micros(result.p99),
            "round_p50_us": micros(result.round_p50),
            "round_p99_us": micros(result.round_p99),
        }));
    }

    if bench_mode() {
        let path = results_file("ws_load");
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("results dir");
        let results = json!({ "load": load_rows, "fanout": fanout_rows });
        std::fs::write(&path, serde_json::to_string_pretty(&results).expect("json"))
            .expect("write results");
        println!("\nsaved {}", path.display());
    }

    server_runtime.block_on(async {
        let Servers {
            ours, peer, floor, ..
        } = servers;
        floor.stop();
        ours.shutdown().await;
        let _ = peer.stop();
        peer.stopped().await;
    });
}
