//! One event emitted to 1, 10 and 100 in-process Rust listeners:
//!
//! * `ours_emit`: `App::emit(name, &Tick)`, listeners added with `App::listen`;
//! * `floor_callbacks`: the payload serialized once with serde_json, then a
//!   loop over a `Vec<Box<dyn Fn(&str)>>`.
//!
//! Every listener does the same thing: counts the call and touches the payload
//! text.
//!
//! Then one event emitted to 100 frontends (in-process connections, each
//! subscribed with `ipc.listen`), and every frontend's queue emptied:
//!
//! * `replay_off`: an event name with no replay buffer;
//! * `replay_on`: a name configured with `AppBuilder::replay(name, 64)`, so
//!   every emit is also numbered into the buffer and the oldest one evicted.
//!
//! Run with `cargo bench -p ipc-benches --bench events`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ipc_benches::Tick;
use ipc_runtime::App;
use ipc_runtime::session::{ConnectOptions, Connection, Outbox};

/// Listener counts.
const FAN_OUT: [usize; 3] = [1, 10, 100];

type Callback = Box<dyn Fn(&str) + Send + Sync>;

fn emit(c: &mut Criterion) {
    let app = App::builder().build().expect("app");
    let calls = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group("emit_in_process");
    group.sample_size(40);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_millis(1500));
    for listeners in FAN_OUT {
        let event = format!("bench:fanout.{listeners}");
        let mut floor: Vec<Callback> = Vec::with_capacity(listeners);
        for _ in 0..listeners {
            let seen = Arc::clone(&calls);
            app.listen(&event, move |event| {
                black_box(event.raw_payload());
                seen.fetch_add(1, Ordering::Relaxed);
            });
            let seen = Arc::clone(&calls);
            floor.push(Box::new(move |payload: &str| {
                black_box(payload);
                seen.fetch_add(1, Ordering::Relaxed);
            }));
        }
        assert_eq!(app.listener_count(&event), listeners);

        // Both reach every listener.
        let before = calls.load(Ordering::Relaxed);
        app.emit(&event, &Tick { seq: 0 }).expect("emit");
        assert_eq!(calls.load(Ordering::Relaxed) - before, listeners as u64);

        let mut seq = 0u64;
        group.bench_with_input(
            BenchmarkId::new("ours_emit", listeners),
            &event,
            |b, event| {
                b.iter(|| {
                    seq += 1;
                    app.emit(black_box(event), &Tick { seq }).expect("emit")
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("floor_callbacks", listeners),
            &floor,
            |b, floor| {
                b.iter(|| {
                    seq += 1;
                    let payload = serde_json::to_string(&Tick { seq }).expect("json");
                    for callback in floor {
                        callback(black_box(&payload));
                    }
                })
            },
        );
    }
    group.finish();
}

/// Frontends subscribed in the replay comparison.
const FRONTENDS: usize = 100;

fn emit_to_frontends(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = App::builder()
        .replay("bench:replay_on", 64)
        .build()
        .expect("app");
    let mut group = c.benchmark_group("emit_to_100_frontends");
    group.sample_size(40);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_millis(2000));
    for (id, event) in [
        ("replay_off", "bench:replay_off"),
        ("replay_on", "bench:replay_on"),
    ] {
        let mut frontends: Vec<(Connection, Outbox)> = runtime.block_on(async {
            let mut frontends = Vec::with_capacity(FRONTENDS);
            for _ in 0..FRONTENDS {
                let _entered = tokio::runtime::Handle::current().enter();
                let (connection, mut outbox) = app.connect(ConnectOptions::default());
                let listen = format!(
                    r#"{{"jsonrpc":"2.0","id":1,"method":"ipc.listen","params":{{"event":"{event}"}}}}"#
                );
                connection.handle_text(&listen).await;
                let reply = outbox.recv().await.expect("listen reply");
                assert!(reply.as_str().contains(r#""result""#), "{}", reply.as_str());
                frontends.push((connection, outbox));
            }
            frontends
        });
        let drain = |frontends: &mut Vec<(Connection, Outbox)>| {
            let mut delivered = 0;
            for (_, outbox) in frontends.iter_mut() {
                while let Some(message) = outbox.try_recv() {
                    black_box(message.as_str().len());
                    delivered += 1;
                }
            }
            delivered
        };
        // Every frontend gets the event, replay or not.
        app.emit(event, &Tick { seq: 0 }).expect("emit");
        assert_eq!(drain(&mut frontends), FRONTENDS);

        let mut seq = 0u64;
        group.bench_function(BenchmarkId::new(id, FRONTENDS), |b| {
            b.iter(|| {
                seq += 1;
                app.emit(black_box(event), &Tick { seq }).expect("emit");
                drain(&mut frontends)
            })
        });
        for (connection, _) in frontends {
            connection.close();
        }
    }
    group.finish();
}

criterion_group!(benches, emit, emit_to_frontends);
criterion_main!(benches);
