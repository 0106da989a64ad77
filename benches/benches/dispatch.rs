//! In-process dispatch of `add(a, b)`: `App::invoke` against the hand-written
//! floor, measured in the same run. Run with `cargo bench -p ipc-benches --bench dispatch`.

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use ipc_benches::floor_invoke;
use ipc_runtime::App;
use serde_json::json;
use std::hint::black_box;

fn add(c: &mut Criterion) {
    let app = App::builder().build().expect("app");
    let args = json!({ "a": 1, "b": 2 });
    let mut group = c.benchmark_group("invoke_add");
    group.bench_function("floor_match_serde", |b| {
        b.iter(|| floor_invoke(black_box("add"), black_box(args.clone())))
    });
    group.bench_function("app_invoke_value", |b| {
        b.iter(|| {
            // `add` is sync: its future is ready on the first poll.
            app.invoke(black_box("add"), black_box(args.clone()))
                .now_or_never()
                .expect("sync command completes at once")
        })
    });
    group.finish();
}

criterion_group!(benches, add);
criterion_main!(benches);
