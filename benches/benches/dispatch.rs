//! In-process dispatch, one call at a time, every contender on the same
//! workloads (`add`, the 1 KiB `echo`, `async_add` with a `yield_now`):
//!
//! * `floor_args_value`: hand-written `match` + serde_json, args as a `Value`;
//! * `floor_args_str`: the same from the args' JSON text to the result's;
//! * `floor_envelope`: the floor plus a minimal borrowed JSON-RPC envelope,
//!   request text in, response text out;
//! * `ours_invoke_value`: `App::invoke(name, Value)`;
//! * `ours_handle_message`: `App::handle_message(&str)`, request text in,
//!   response text out;
//! * `jsonrpsee_raw_json_request`: jsonrpsee 0.26 `RpcModule::raw_json_request`;
//! * `ours_*_one_layer`: the two above on an app with one layer that does
//!   nothing (tower's `Identity`): the cost of the middleware path per call;
//! * `ours_handle_message_inspected`: with the live inspector on (its two
//!   layers record every call, with nobody watching).
//!
//! Every app but the last is built with `no_inspector()`, so the figures do
//! not depend on the build profile (the inspector is on by default in debug
//! builds).
//!
//! Every call is awaited on a current-thread tokio runtime (one `block_on` per
//! sample), so all contenders pay the same executor cost. Inputs that a call
//! consumes (`Value`s) are cloned outside the timed region.
//!
//! Run with `cargo bench -p ipc-benches --bench dispatch`.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use ipc_benches::{
    Workload, floor_handle_message, floor_invoke, floor_invoke_str, jsonrpsee_module,
};
use ipc_runtime::App;
use serde_json::Value;
use tokio::runtime::Runtime;

/// How many consumed inputs are prepared ahead of one timed stretch.
const BATCH: u64 = 512;

/// Times `call()` awaited `iterations` times in one `block_on`.
fn bench_async<F, Fut>(b: &mut Bencher<'_>, runtime: &Runtime, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: Future,
{
    b.iter_custom(|iterations| {
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..iterations {
                black_box(call().await);
            }
            start.elapsed()
        })
    })
}

/// Times `call(input)` with a fresh clone of `input` each time, the clones made
/// outside the timed region.
fn bench_async_owned<F, Fut>(b: &mut Bencher<'_>, runtime: &Runtime, input: &Value, mut call: F)
where
    F: FnMut(Value) -> Fut,
    Fut: Future,
{
    b.iter_custom(|iterations| {
        runtime.block_on(async {
            let mut total = Duration::ZERO;
            let mut left = iterations;
            while left > 0 {
                let n = left.min(BATCH);
                let inputs: Vec<Value> = (0..n).map(|_| input.clone()).collect();
                let start = Instant::now();
                for input in inputs {
                    black_box(call(black_box(input)).await);
                }
                total += start.elapsed();
                left -= n;
            }
            total
        })
    })
}

fn dispatch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = runtime.block_on(async { App::builder().no_inspector().build().expect("app") });
    let layered = runtime.block_on(async {
        App::builder()
            .no_inspector()
            .layer(tower::layer::util::Identity::new())
            .build()
            .expect("app")
    });
    let inspected = runtime.block_on(async {
        App::builder()
            .inspector(ipc_runtime::inspect::Inspector::new())
            .build()
            .expect("app")
    });
    let (ticks, _) = tokio::sync::broadcast::channel(16);
    let module = jsonrpsee_module(ticks);

    for workload in Workload::ALL {
        let method = workload.method();
        let params = workload.params();
        let params_text = params.to_string();
        let request = workload.request(1);
        let request = request.as_str();

        // Every contender computes the same result before anything is timed.
        runtime.block_on(async {
            let expected = floor_invoke(method, params.clone()).await.expect("floor");
            let ours = app.invoke(method, params.clone()).await.expect("ours");
            assert_eq!(ours, expected);
            let floor_text = floor_handle_message(request).await.expect("floor envelope");
            let ours_text = app.handle_message(request).await.expect("a response");
            assert_eq!(
                layered
                    .invoke(method, params.clone())
                    .await
                    .expect("layered"),
                expected
            );
            let layered_text = layered.handle_message(request).await.expect("a response");
            assert_eq!(layered_text, ours_text, "layers change no byte");
            let inspected_text = inspected.handle_message(request).await.expect("a response");
            assert_eq!(inspected_text, ours_text, "nor does the inspector");
            let (peer_text, _) = module
                .raw_json_request(request, 1)
                .await
                .expect("jsonrpsee");
            for text in [floor_text.as_str(), ours_text.as_str(), peer_text.get()] {
                let reply: Value = serde_json::from_str(text).expect("response JSON");
                assert_eq!(reply["result"], expected, "{text}");
                assert_eq!(reply["id"], 1, "{text}");
            }
        });

        let mut group = c.benchmark_group(format!("dispatch_{}", workload.label()));
        group.sample_size(40);
        group.warm_up_time(Duration::from_millis(700));
        group.measurement_time(Duration::from_millis(1500));
        group.bench_function("floor_args_value", |b| {
            bench_async_owned(b, &runtime, &params, |args| floor_invoke(method, args))
        });
        group.bench_function("floor_args_str", |b| {
            bench_async(b, &runtime, || floor_invoke_str(method, &params_text))
        });
        group.bench_function("floor_envelope", |b| {
            bench_async(b, &runtime, || floor_handle_message(request))
        });
        group.bench_function("ours_invoke_value", |b| {
            bench_async_owned(b, &runtime, &params, |args| app.invoke(method, args))
        });
        group.bench_function("ours_handle_message", |b| {
            bench_async(b, &runtime, || app.handle_message(request))
        });
        group.bench_function("ours_invoke_value_one_layer", |b| {
            bench_async_owned(b, &runtime, &params, |args| layered.invoke(method, args))
        });
        group.bench_function("ours_handle_message_one_layer", |b| {
            bench_async(b, &runtime, || layered.handle_message(request))
        });
        group.bench_function("ours_handle_message_inspected", |b| {
            bench_async(b, &runtime, || inspected.handle_message(request))
        });
        group.bench_function("jsonrpsee_raw_json_request", |b| {
            bench_async(b, &runtime, || module.raw_json_request(request, 1))
        });
        group.finish();
    }
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
