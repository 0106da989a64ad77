//! The one WebSocket client that drives every server in the benchmarks
//! (ours and jsonrpsee's): tokio-tungstenite, Nagle off, requests pipelined
//! with a fixed number in flight and responses matched by id.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{Workload, quantile};

/// A client connection.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long the client waits for any one message before it gives up.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection (no subprotocol, so replies are text frames), with Nagle off.
pub async fn connect(url: &str) -> Socket {
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    socket
}

#[derive(Deserialize)]
struct Reply<'a> {
    id: Option<u64>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// The next text message, skipping control frames. Panics on a timeout, a
/// closed socket or a binary frame.
pub async fn next_text(socket: &mut Socket) -> Utf8Bytes {
    // Bounded: every read has a deadline, and control frames are few.
    loop {
        let message = tokio::time::timeout(READ_TIMEOUT, socket.next())
            .await
            .expect("no message within the read timeout");
        match message {
            Some(Ok(Message::Text(text))) => return text,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("unexpected message: {other:?}"),
        }
    }
}

/// The id of a successful response; panics on an error response.
pub fn response_id(text: &str) -> u64 {
    let reply: Reply<'_> =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("bad response {text}: {e}"));
    match (reply.id, reply.result, reply.error) {
        (Some(id), Some(_), None) => id,
        _ => panic!("not a successful response: {text}"),
    }
}

/// One request and its response.
pub async fn call(socket: &mut Socket, request: &str) -> Utf8Bytes {
    socket
        .send(Message::text(request))
        .await
        .expect("send request");
    next_text(socket).await
}

/// What one load run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadSample {
    /// Round trips completed in the measured window.
    pub calls: u64,
    /// The length of the measured window.
    pub window: Duration,
    /// Request-to-response time of each of them.
    pub latencies: Vec<Duration>,
}

impl LoadSample {
    /// Adds another run's measurements to this one.
    pub fn merge(&mut self, other: LoadSample) {
        self.calls += other.calls;
        self.window += other.window;
        self.latencies.extend(other.latencies);
    }

    /// Round trips per second over all measured windows.
    pub fn calls_per_sec(&self) -> f64 {
        self.calls as f64 / self.window.as_secs_f64()
    }

    /// The `q`-quantile of the latencies.
    pub fn latency(&mut self, q: f64) -> Duration {
        self.latencies.sort_unstable();
        quantile(&self.latencies, q)
    }
}

/// Keeps `depth` requests of `workload` in flight on `socket` for `warmup`
/// then `measure`: each response is matched to its request by id and
/// immediately replaced by a new request. Only responses that arrive in the
/// measured window count. Request ids are slot numbers (`0..depth`), reused
/// once their response is in.
pub async fn run_load(
    socket: &mut Socket,
    workload: Workload,
    depth: usize,
    warmup: Duration,
    measure: Duration,
) -> LoadSample {
    let requests: Vec<Utf8Bytes> = (0..depth as u64)
        .map(|slot| Utf8Bytes::from(workload.request(slot)))
        .collect();
    let mut sent_at = vec![Instant::now(); depth];
    let mut latencies = Vec::with_capacity(1 << 16);
    for (slot, request) in requests.iter().enumerate() {
        sent_at[slot] = Instant::now();
        socket
            .feed(Message::Text(request.clone()))
            .await
            .expect("send");
    }
    socket.flush().await.expect("flush");
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
        let text = next_text(socket).await;
        let now = Instant::now();
        let slot = response_id(&text) as usize;
        in_flight -= 1;
        if now >= measure_from && now < measure_until {
            latencies.push(now - sent_at[slot]);
            calls += 1;
        }
        if now < measure_until {
            sent_at[slot] = Instant::now();
            socket
                .send(Message::Text(requests[slot].clone()))
                .await
                .expect("send");
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
