//! One event emitted to 1, 10 and 100 in-process Rust listeners:
//!
//! * `ours_emit`: `App::emit(name, &Tick)`, listeners added with `App::listen`;
//! * `floor_callbacks`: the payload serialized once with serde_json, then a
//!   loop over a `Vec<Box<dyn Fn(&str)>>`.
//!
//! Every listener does the same thing: counts the call and touches the payload
//! text. Run with `cargo bench -p ipc-benches --bench events`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ipc_benches::Tick;
use ipc_runtime::App;

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

criterion_group!(benches, emit);
criterion_main!(benches);
