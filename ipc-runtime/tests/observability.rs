//! Tracing spans (invoke, emit and delivery, channels) checked with a
//! capturing subscriber, and the app's counters (`App::metrics`, and their
//! export through the `metrics` facade with feature `metrics`).

mod support;
use support::next;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;

use ipc_runtime::session::{ConnectOptions, Outbox};
use ipc_runtime::{App, Channel, codes, command};
use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[command]
fn twice(n: i64) -> i64 {
    n * 2
}

#[command]
async fn later(n: i64) -> i64 {
    tokio::task::yield_now().await;
    n
}

#[command]
async fn count_to(n: u32, out: Channel<u32>) -> u32 {
    for i in 1..=n {
        if out.send(&i).await.is_err() {
            break;
        }
    }
    n
}

/// A span as captured: its fields (recorded at creation or later) and
/// whether it closed; and the events logged inside it.
#[derive(Clone, Debug, Default)]
struct SpanRecord {
    name: &'static str,
    fields: BTreeMap<String, String>,
    events: Vec<BTreeMap<String, String>>,
    closed: bool,
}

/// Every span by id, in creation order, with the thread that opened it.
#[derive(Default)]
struct Captured {
    spans: Vec<(u64, ThreadId, SpanRecord)>,
}

impl Captured {
    /// The spans of this name opened on the calling thread (each test runs
    /// on its own thread, on a current-thread runtime).
    fn named(&self, name: &str) -> Vec<SpanRecord> {
        let here = std::thread::current().id();
        self.spans
            .iter()
            .filter(|(_, thread, s)| *thread == here && s.name == name)
            .map(|(_, _, s)| s.clone())
            .collect()
    }

    /// The live span with this id: the registry reuses the ids of closed
    /// spans, so the latest record holding it.
    fn get(&mut self, id: &Id) -> Option<&mut SpanRecord> {
        self.spans
            .iter_mut()
            .rev()
            .find(|(i, _, _)| *i == id.into_u64())
            .map(|(_, _, s)| s)
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// The capturing layer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Captured>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut record = SpanRecord {
            name: attrs.metadata().name(),
            ..SpanRecord::default()
        };
        attrs.record(&mut Fields(&mut record.fields));
        let thread = std::thread::current().id();
        self.0
            .lock()
            .unwrap()
            .spans
            .push((id.into_u64(), thread, record));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(span) = self.0.lock().unwrap().get(id) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, cx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let parent = event
            .parent()
            .cloned()
            .or_else(|| cx.current_span().id().cloned());
        if let Some(parent) = parent
            && let Some(span) = self.0.lock().unwrap().get(&parent)
        {
            span.events.push(fields);
        }
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(span) = self.0.lock().unwrap().get(&id) {
            span.closed = true;
        }
    }
}

/// The capturing subscriber, installed once as the global default.
///
/// Not one scoped subscriber per test: tracing caches each call site's
/// interest across threads, and a call site first reached on a thread with
/// no subscriber while another test was installing its own could be cached
/// as disabled, losing that test's events (seen in CI, 1 run in 3 here).
fn capture() -> Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            let subscriber = tracing_subscriber::registry().with(capture.clone());
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in this test binary");
            capture
        })
        .clone()
}

/// Reads until the response to `id`.
async fn response(outbox: &mut Outbox, id: u64) -> Value {
    for _ in 0..32 {
        let message = next(outbox).await;
        if message["id"] == id {
            return message;
        }
    }
    panic!("no response to {id}");
}

#[tokio::test(flavor = "current_thread")]
async fn invoke_spans_carry_command_id_client_outcome_and_duration() {
    let capture = capture();
    let app = App::builder().build().unwrap();
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    let client = connection.client_id().to_string();
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":1,"method":"twice","params":[21]}"#)
        .await;
    assert_eq!(response(&mut outbox, 1).await["result"], 42);
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":2,"method":"twice","params":["x"]}"#)
        .await;
    response(&mut outbox, 2).await;
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":3,"method":"later","params":[7]}"#)
        .await;
    assert_eq!(response(&mut outbox, 3).await["result"], 7);

    let spans = capture.0.lock().unwrap().named("invoke");
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let by_id = |id: &str| spans.iter().find(|s| s.fields["id"] == id).unwrap();
    let ok = by_id("1");
    assert_eq!(ok.fields["command"], "twice");
    assert_eq!(ok.fields["client"], client);
    assert_eq!(ok.fields["outcome"], "ok");
    assert!(ok.fields["duration_us"].parse::<u64>().is_ok(), "{ok:?}");
    assert!(ok.closed);
    let failed = by_id("2");
    assert_eq!(failed.fields["outcome"], "invalid params");
    let code = &failed.events.last().unwrap()["code"];
    assert_eq!(code, &codes::INVALID_PARAMS.to_string());
    let running = by_id("3");
    assert_eq!(running.fields["command"], "later");
    assert_eq!(
        running.fields["outcome"], "ok",
        "async calls finish their span"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn emit_spans_count_receivers_and_trace_each_delivery() {
    let capture = capture();
    let app = App::builder().build().unwrap();
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    let client = connection.client_id().to_string();
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":1,"method":"ipc.listen","params":{"event":"tick"}}"#)
        .await;
    response(&mut outbox, 1).await;
    app.listen("tick", |_| {});
    app.emit("tick", &1).unwrap();
    assert_eq!(next(&mut outbox).await["params"]["payload"], 1);

    let spans = capture.0.lock().unwrap().named("emit");
    let tick = spans
        .iter()
        .find(|s| s.fields["event"] == "tick")
        .expect("an emit span for tick");
    assert_eq!(tick.fields["source"], "backend");
    assert_eq!(tick.fields["frontends"], "1");
    assert_eq!(tick.fields["listeners"], "1");
    assert!(
        tick.events
            .iter()
            .any(|e| e.get("client") == Some(&client) && e["message"] == "event delivered"),
        "{tick:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn channel_spans_open_and_close_with_their_message_count() {
    let capture = capture();
    let app = App::builder().build().unwrap();
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    connection
        .handle_text(
            r#"{"jsonrpc":"2.0","id":1,"method":"count_to","params":{"n":3,"out":"__CHANNEL__:9"}}"#,
        )
        .await;
    // Three messages, the response and the end, in whichever order.
    let (mut answered, mut ended) = (false, false);
    for _ in 0..5 {
        let message = next(&mut outbox).await;
        answered |= message["result"] == 3;
        ended |= message["params"]["end"] == true;
        if answered && ended {
            break;
        }
    }
    assert!(answered && ended);

    let spans = capture.0.lock().unwrap().named("channel");
    assert_eq!(spans.len(), 1, "{spans:#?}");
    let channel = &spans[0];
    assert_eq!(channel.fields["channel"], "9");
    assert_eq!(channel.fields["client"], connection.client_id().to_string());
    assert_eq!(channel.fields["messages"], "3");
    let said: Vec<&str> = channel
        .events
        .iter()
        .map(|e| e["message"].as_str())
        .collect();
    assert_eq!(said, ["channel opened", "channel closed"]);
    assert!(channel.closed);
}

#[tokio::test(flavor = "current_thread")]
async fn the_counters_follow_calls_errors_bytes_events_and_lag() {
    // The subscriber is installed before any call site is reached.
    capture();
    let app = App::builder().build().unwrap();
    assert_eq!(app.metrics(), ipc_runtime::Metrics::default());
    let (connection, mut outbox) = app.connect(ConnectOptions::default().outbox_capacity(2));
    let ok = r#"{"jsonrpc":"2.0","id":1,"method":"twice","params":[1]}"#;
    let bad = r#"{"jsonrpc":"2.0","id":2,"method":"twice","params":["x"]}"#;
    let unknown = r#"{"jsonrpc":"2.0","id":3,"method":"thrice","params":[1]}"#;
    let mut sent_bytes = 0;
    let mut received_bytes = 0;
    for (id, text) in [(1, ok), (2, bad), (3, unknown)] {
        connection.handle_text(text).await;
        sent_bytes += text.len();
        let reply = outbox.recv().await.unwrap();
        received_bytes += reply.len();
        assert_eq!(
            serde_json::from_str::<Value>(&reply.as_str()).unwrap()["id"],
            id
        );
    }
    let metrics = app.metrics();
    assert_eq!(metrics.calls, 2, "the unknown command reached no command");
    assert_eq!(
        metrics.errors,
        BTreeMap::from([(codes::METHOD_NOT_FOUND, 1), (codes::INVALID_PARAMS, 1)])
    );
    assert_eq!(metrics.bytes_in, sent_bytes as u64);
    assert_eq!(metrics.bytes_out, received_bytes as u64);
    assert_eq!(metrics.in_flight, 0);

    // In flight while an async call runs, and not after.
    let running = app.invoke("later", json!([1]));
    let mut running = Box::pin(running);
    assert!(futures_util::poll!(running.as_mut()).is_pending());
    assert_eq!(app.metrics().in_flight, 1);
    running.await.unwrap();
    assert_eq!(app.metrics().in_flight, 0);

    // Events past a full outbox are lagged.
    connection
        .handle_text(r#"{"jsonrpc":"2.0","method":"ipc.listen","params":{"event":"tick"}}"#)
        .await;
    let before = app.metrics();
    for i in 0..5 {
        app.emit("tick", &i).unwrap();
    }
    let after = app.metrics();
    assert_eq!(after.events - before.events, 5);
    assert_eq!(after.lagged, 3, "an outbox of 2 takes 2 of 5");
    assert_eq!(connection.dropped_events(), 3);
}

#[cfg(feature = "metrics")]
mod export {
    //! `App::export_metrics` through the `metrics` facade, to a recorder
    //! written here.

    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use ipc_runtime::{App, codes};
    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use super::*;

    /// Keeps the last value of each counter and gauge, by name and labels.
    #[derive(Default)]
    struct Recorded(Mutex<BTreeMap<String, Arc<Value>>>);

    #[derive(Default)]
    struct Value(AtomicU64);

    impl metrics::CounterFn for Value {
        fn increment(&self, value: u64) {
            self.0.fetch_add(value, Ordering::SeqCst);
        }
        fn absolute(&self, value: u64) {
            self.0.store(value, Ordering::SeqCst);
        }
    }

    impl metrics::GaugeFn for Value {
        fn increment(&self, _: f64) {}
        fn decrement(&self, _: f64) {}
        fn set(&self, value: f64) {
            self.0.store(value as u64, Ordering::SeqCst);
        }
    }

    impl Recorded {
        fn slot(&self, key: &Key) -> Arc<Value> {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            Arc::clone(self.0.lock().unwrap().entry(name).or_default())
        }

        fn values(&self) -> BTreeMap<String, u64> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.0.load(Ordering::SeqCst)))
                .collect()
        }
    }

    impl Recorder for Recorded {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(self.slot(key))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(self.slot(key))
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn export_publishes_the_counters_to_the_recorder() {
        capture();
        let app = App::builder().build().unwrap();
        app.invoke("twice", json!([2])).await.unwrap();
        app.invoke("twice", json!(["x"])).await.unwrap_err();
        app.emit("anything", &()).unwrap();
        let recorder = Recorded::default();
        metrics::with_local_recorder(&recorder, || app.export_metrics());
        let values = recorder.values();
        assert_eq!(values["ipc_calls_total{}"], 2);
        let errors = format!("ipc_errors_total{{code={}}}", codes::INVALID_PARAMS);
        assert_eq!(values[&errors], 1, "{values:?}");
        assert_eq!(values["ipc_events_total{}"], 1);
        assert_eq!(values["ipc_calls_in_flight{}"], 0);
        assert_eq!(values["ipc_lagged_events_total{}"], 0);
    }
}
