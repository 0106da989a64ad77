//! Middleware: tower's own layers and custom ones around calls and events,
//! globally and per command, through the public API only.

use std::future::{Ready, ready};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::{BoxFuture, Either};
use ipc_runtime::middleware::{BoxError, EventRequest, IpcRequest, IpcResponse, Reached};
use ipc_runtime::session::ConnectOptions;
use ipc_runtime::{App, Caller, ClientId, InvokeError, State, codes, command};
use serde_json::{Value, json};
use tower::layer::layer_fn;
use tower::limit::{ConcurrencyLimitLayer, RateLimitLayer};
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;
use tower::{Layer, Service};

#[command]
fn sum(a: i64, b: i64) -> i64 {
    a + b
}

#[command]
async fn nap(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[command]
async fn other_nap(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[command]
fn refuse() -> Result<(), InvokeError> {
    Err(InvokeError::command("no"))
}

/// How many `crowd` calls run at once, and the most seen.
#[derive(Default)]
struct Crowd {
    now: AtomicUsize,
    most: AtomicUsize,
}

#[command]
async fn crowd(crowd: State<Crowd>) -> usize {
    let now = crowd.now.fetch_add(1, Ordering::SeqCst) + 1;
    crowd.most.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(10)).await;
    crowd.now.fetch_sub(1, Ordering::SeqCst);
    now
}

#[derive(Default)]
struct OtherCrowd(Crowd);

#[command]
async fn other_crowd(crowd: State<OtherCrowd>) -> usize {
    let crowd = &crowd.0;
    let now = crowd.now.fetch_add(1, Ordering::SeqCst) + 1;
    crowd.most.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(10)).await;
    crowd.now.fetch_sub(1, Ordering::SeqCst);
    now
}

fn message(id: u64, method: &str, params: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
}

#[tokio::test(start_paused = true)]
async fn a_global_timeout_answers_slow_calls_with_the_timeout_code() {
    let app = App::builder()
        .layer(TimeoutLayer::new(Duration::from_millis(50)))
        .build()
        .unwrap();
    assert_eq!(app.invoke("nap", json!({ "ms": 10 })).await.unwrap(), 10);
    let late = app.invoke("nap", json!({ "ms": 500 })).await.unwrap_err();
    assert_eq!(late.code(), codes::TIMEOUT, "{late:?}");
    let late = app
        .invoke("other_nap", json!({ "ms": 500 }))
        .await
        .unwrap_err();
    assert_eq!(late.code(), codes::TIMEOUT, "every command: {late:?}");
    // On the wire too, with the request's id.
    let reply = app
        .handle_message(&message(9, "nap", json!({ "ms": 500 })))
        .await
        .unwrap();
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["id"], 9);
    assert_eq!(reply["error"]["code"], codes::TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_for_one_command_leaves_the_others_alone() {
    let app = App::builder()
        .layer_for("nap", TimeoutLayer::new(Duration::from_millis(50)))
        .build()
        .unwrap();
    let late = app.invoke("nap", json!({ "ms": 500 })).await.unwrap_err();
    assert_eq!(late.code(), codes::TIMEOUT);
    assert_eq!(
        app.invoke("other_nap", json!({ "ms": 500 })).await.unwrap(),
        500
    );
}

/// Runs `count` `command` calls at once, and returns the most that ran together.
async fn most_at_once(app: &App, command: &str, count: usize) -> usize {
    let calls = (0..count).map(|_| app.invoke(command, json!({})));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    match command {
        "crowd" => app.state::<Crowd>().unwrap().most.swap(0, Ordering::SeqCst),
        _ => app
            .state::<OtherCrowd>()
            .unwrap()
            .0
            .most
            .swap(0, Ordering::SeqCst),
    }
}

fn crowds() -> ipc_runtime::AppBuilder {
    App::builder()
        .manage(Crowd::default())
        .manage(OtherCrowd::default())
}

#[tokio::test(start_paused = true)]
async fn a_concurrency_limit_holds_globally_and_per_command() {
    let free = crowds().build().unwrap();
    assert_eq!(
        most_at_once(&free, "crowd", 4).await,
        4,
        "without a limit all run at once"
    );

    let global = crowds()
        .layer(ConcurrencyLimitLayer::new(2))
        .build()
        .unwrap();
    assert_eq!(most_at_once(&global, "crowd", 6).await, 2);
    assert_eq!(most_at_once(&global, "other_crowd", 6).await, 2);

    let one = crowds()
        .layer_for("crowd", ConcurrencyLimitLayer::new(1))
        .build()
        .unwrap();
    assert_eq!(most_at_once(&one, "crowd", 4).await, 1);
    assert_eq!(most_at_once(&one, "other_crowd", 4).await, 4);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_spaces_calls_globally_and_per_command() {
    let app = App::builder()
        .layer_for("sum", RateLimitLayer::new(2, Duration::from_secs(1)))
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    for _ in 0..3 {
        app.invoke("other_nap", json!({ "ms": 0 })).await.unwrap();
    }
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "other commands are not limited"
    );
    for _ in 0..3 {
        assert_eq!(app.invoke("sum", json!([1, 2])).await.unwrap(), 3);
    }
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "the third call waits for the next second: {:?}",
        start.elapsed()
    );

    let global = App::builder()
        .layer(RateLimitLayer::new(1, Duration::from_secs(1)))
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    global.invoke("sum", json!([1, 2])).await.unwrap();
    global
        .invoke("other_nap", json!({ "ms": 0 }))
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn load_shedding_refuses_what_the_limit_cannot_take() {
    let app = crowds()
        .layer(LoadShedLayer::new())
        .layer(ConcurrencyLimitLayer::new(1))
        .build()
        .unwrap();
    let first = tokio::spawn(app.invoke("crowd", json!({})));
    tokio::task::yield_now().await;
    let shed = app.invoke("crowd", json!({})).await.unwrap_err();
    assert_eq!(shed.code(), codes::LIMIT_EXCEEDED, "{shed:?}");
    assert_eq!(first.await.unwrap().unwrap(), 1);
    assert_eq!(app.invoke("crowd", json!({})).await.unwrap(), 1);
}

/// Who may call `sum`: the labels an app keeps in its state.
struct Allowed(Vec<&'static str>);

/// A custom authorization layer: refuses callers whose label the app's
/// `Allowed` state does not list, with code 4030.
#[derive(Clone)]
struct Authorize<S>(S);

impl<S> Service<IpcRequest> for Authorize<S>
where
    S: Service<IpcRequest, Response = IpcResponse, Error = BoxError>,
{
    type Response = IpcResponse;
    type Error = BoxError;
    type Future = Either<S::Future, Ready<Result<IpcResponse, BoxError>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: IpcRequest) -> Self::Future {
        let label = request.caller().label().unwrap_or("");
        let allowed = request
            .state::<Allowed>()
            .is_some_and(|allowed| allowed.0.contains(&label));
        if !allowed {
            let error = InvokeError::new(4030, format!("`{label}` may not call this"))
                .with_data(json!({ "command": request.command() }));
            return Either::Right(ready(Err(error.into())));
        }
        Either::Left(self.0.call(request))
    }
}

#[tokio::test]
async fn a_custom_layer_authorizes_from_app_state_with_its_own_code() {
    let app = App::builder()
        .manage(Allowed(vec!["main"]))
        .layer(layer_fn(Authorize))
        .build()
        .unwrap();
    let main = Caller::with_label(ClientId::new(1), None, Some("main".into()));
    let popup = Caller::with_label(ClientId::new(2), None, Some("popup".into()));
    assert_eq!(app.invoke_as(&main, "sum", json!([1, 1])).await.unwrap(), 2);
    let refused = app
        .invoke_as(&popup, "sum", json!([1, 1]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), 4030);
    assert_eq!(refused.message(), "`popup` may not call this");
    assert_eq!(refused.data(), Some(&json!({ "command": "sum" })));

    // Through a connection: the session's caller carries its label.
    let (connection, mut outbox) =
        app.connect(ConnectOptions::default().label(Some("popup".into())));
    connection
        .handle_text(&message(3, "sum", json!([1, 1])))
        .await;
    let reply = tokio::time::timeout(Duration::from_secs(5), outbox.recv())
        .await
        .unwrap()
        .unwrap();
    let reply: Value = serde_json::from_str(&reply.as_str()).unwrap();
    assert_eq!(reply["id"], 3);
    assert_eq!(reply["error"]["code"], 4030, "{reply}");
}

/// Records `"<name> in"` when a request passes and `"<name> out"` when its
/// reply comes back.
#[derive(Clone)]
struct Trace<S> {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
    inner: S,
}

struct TraceLayer(&'static str, Arc<Mutex<Vec<String>>>);

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Trace<S> {
        Trace {
            name: self.0,
            log: Arc::clone(&self.1),
            inner,
        }
    }
}

fn trace_layer(name: &'static str, log: &Arc<Mutex<Vec<String>>>) -> TraceLayer {
    TraceLayer(name, Arc::clone(log))
}

impl<S> Service<IpcRequest> for Trace<S>
where
    S: Service<IpcRequest, Response = IpcResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = IpcResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<IpcResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: IpcRequest) -> Self::Future {
        let (name, log) = (self.name, Arc::clone(&self.log));
        log.lock().unwrap().push(format!("{name} in"));
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            log.lock().unwrap().push(format!("{name} out"));
            result
        })
    }
}

#[tokio::test]
async fn layers_run_in_the_order_given_global_ones_outside() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let app = App::builder()
        .layer_for("sum", trace_layer("sum-only", &log))
        .layer(trace_layer("outer", &log))
        .layer(trace_layer("inner", &log))
        .build()
        .unwrap();
    assert_eq!(app.invoke("sum", json!([2, 2])).await.unwrap(), 4);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "outer in",
            "inner in",
            "sum-only in",
            "sum-only out",
            "inner out",
            "outer out"
        ]
    );
    log.lock().unwrap().clear();
    app.invoke("other_nap", json!({ "ms": 0 })).await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["outer in", "inner in", "inner out", "outer out"]
    );
}

/// Maps the command's own errors (-32000) to 4000 and reads results.
#[derive(Clone)]
struct Remap<S>(S, Arc<Mutex<Vec<String>>>);

impl<S> Service<IpcRequest> for Remap<S>
where
    S: Service<IpcRequest, Response = IpcResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = IpcResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<IpcResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: IpcRequest) -> Self::Future {
        let seen = Arc::clone(&self.1);
        let future = self.0.call(request);
        Box::pin(async move {
            match future.await {
                Ok(response) => {
                    let json = response.result_json().unwrap_or_default().into_owned();
                    seen.lock().unwrap().push(json);
                    Ok(response)
                }
                Err(error) => match error.downcast::<ipc_runtime::ErrorObject>() {
                    Ok(object) if object.code == codes::COMMAND_ERROR => {
                        Err(InvokeError::new(4000, format!("mapped: {}", object.message)).into())
                    }
                    Ok(object) => Err(object as BoxError),
                    Err(other) => Err(other),
                },
            }
        })
    }
}

#[tokio::test]
async fn a_layer_sees_the_result_before_encoding_and_maps_errors() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let app = App::builder()
        .layer(layer_fn(move |inner| Remap(inner, Arc::clone(&log))))
        .build()
        .unwrap();
    // The wire response is byte for byte the one without layers.
    let reply = app.handle_message(&message(7, "sum", json!([2, 3]))).await;
    assert_eq!(
        reply.as_deref(),
        Some(r#"{"jsonrpc":"2.0","id":7,"result":5}"#)
    );
    assert_eq!(app.invoke("sum", json!([1, 1])).await.unwrap(), 2);
    assert_eq!(
        *seen.lock().unwrap(),
        ["5", "2"],
        "text and in-process results"
    );
    let error = app.invoke("refuse", json!({})).await.unwrap_err();
    assert_eq!((error.code(), error.message()), (4000, "mapped: no"));
    let error = app.invoke("refuse", Value::Null).await.unwrap_err();
    assert_eq!(error.code(), 4000, "`null` is no params, as without layers");
    let reply = app.handle_message(&message(8, "refuse", json!({}))).await;
    let reply: Value = serde_json::from_str(&reply.unwrap()).unwrap();
    assert_eq!(reply["error"]["code"], 4000);
    // Arguments are still checked by the command.
    let bad = app.invoke("sum", json!({ "a": 1 })).await.unwrap_err();
    assert_eq!(bad.code(), codes::INVALID_PARAMS);
}

/// Panics when the params mention "panic" (in `call`) or "late" (in its future).
#[derive(Clone)]
struct Panicky<S>(S);

impl<S> Service<IpcRequest> for Panicky<S>
where
    S: Service<IpcRequest, Response = IpcResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = IpcResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<IpcResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: IpcRequest) -> Self::Future {
        let params = request
            .params()
            .map(|p| p.get().to_owned())
            .unwrap_or_default();
        assert!(!params.contains("panic"), "a layer panicked in call");
        let future = self.0.call(request);
        Box::pin(async move {
            let result = future.await;
            assert!(!params.contains("late"), "a layer panicked in its future");
            result
        })
    }
}

#[tokio::test]
async fn a_panicking_layer_is_contained_like_a_panicking_command() {
    let app = App::builder().layer(layer_fn(Panicky)).build().unwrap();
    for word in ["panic", "late"] {
        let error = app
            .invoke("nap", json!({ "ms": 0, "note": word }))
            .await
            .unwrap_err();
        assert_eq!(error.code(), codes::INTERNAL_ERROR, "{word}: {error:?}");
        assert!(
            !error.message().contains("a layer panicked"),
            "the text stays in the log"
        );
    }
    assert_eq!(
        app.invoke("nap", json!({ "ms": 0 })).await.unwrap(),
        0,
        "the stack keeps serving"
    );
}

/// Records each event's name and stops those named `blocked`.
#[derive(Clone)]
struct EventGate<S>(S, Arc<Mutex<Vec<String>>>);

impl<S> Service<EventRequest> for EventGate<S>
where
    S: Service<EventRequest, Response = Reached, Error = BoxError>,
{
    type Response = Reached;
    type Error = BoxError;
    type Future = Either<S::Future, Ready<Result<Reached, BoxError>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, event: EventRequest) -> Self::Future {
        let source = event.source().client_id().to_string();
        self.1.lock().unwrap().push(format!(
            "{} from {source}: {}",
            event.event(),
            event.payload().get()
        ));
        if event.event() == "blocked" {
            return Either::Right(ready(Err("blocked by the gate".into())));
        }
        Either::Left(self.0.call(event))
    }
}

#[tokio::test]
async fn events_pass_their_layer_from_rust_and_from_frontends() {
    let passed = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&passed);
    let app = App::builder()
        .event_layer(layer_fn(move |inner| EventGate(inner, Arc::clone(&log))))
        .build()
        .unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    for name in ["open", "blocked"] {
        let heard = Arc::clone(&heard);
        app.listen(name, move |event| {
            heard.lock().unwrap().push(event.name().to_owned());
        });
    }
    app.emit("open", &1).unwrap();
    app.emit("blocked", &2).unwrap();
    let (connection, _outbox) = app.connect(ConnectOptions::default());
    let client = connection.client_id().to_string();
    connection
        .handle_text(
            r#"{"jsonrpc":"2.0","method":"ipc.emit","params":{"event":"open","payload":3}}"#,
        )
        .await;
    assert_eq!(
        *passed.lock().unwrap(),
        [
            "open from backend: 1".to_owned(),
            "blocked from backend: 2".to_owned(),
            // The runtime's own events pass too.
            format!(
                r#"ipc:connected from backend: {{"client":{},"origin":null}}"#,
                connection.client_id().get()
            ),
            format!("open from {client}: 3")
        ]
    );
    assert_eq!(
        *heard.lock().unwrap(),
        ["open", "open"],
        "`blocked` stopped"
    );
}

#[tokio::test]
async fn a_layer_for_an_unknown_command_fails_the_build() {
    let error = App::builder()
        .layer_for("no_such_command", ConcurrencyLimitLayer::new(1))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("no_such_command"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_layered_call_on_a_connection_can_be_cancelled_and_counts_in_flight() {
    let app = App::builder()
        .layer(TimeoutLayer::new(Duration::from_secs(60)))
        .build()
        .unwrap();
    let (connection, mut outbox) = app.connect(ConnectOptions::default());
    connection
        .handle_text(&message(7, "nap", json!({ "ms": 30_000 })))
        .await;
    tokio::task::yield_now().await;
    assert_eq!(connection.in_flight(), 1);
    assert_eq!(app.metrics().in_flight, 1);
    connection
        .handle_text(r#"{"jsonrpc":"2.0","id":8,"method":"ipc.cancel","params":{"id":7}}"#)
        .await;
    let reply = tokio::time::timeout(Duration::from_secs(5), outbox.recv())
        .await
        .unwrap()
        .unwrap();
    let reply: Value = serde_json::from_str(&reply.as_str()).unwrap();
    assert_eq!(
        (reply["id"].clone(), reply["result"].clone()),
        (json!(8), json!(true))
    );
    tokio::task::yield_now().await;
    assert_eq!(connection.in_flight(), 0);
    assert_eq!(
        app.metrics().in_flight,
        0,
        "the cancelled call is counted out"
    );
    // A sync command through the layers answers on the connection too.
    connection
        .handle_text(&message(9, "sum", json!([4, 5])))
        .await;
    let reply = tokio::time::timeout(Duration::from_secs(5), outbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.as_str(), r#"{"jsonrpc":"2.0","id":9,"result":9}"#);
}

/// A bridge that hands every published event to the instances it joins.
#[derive(Clone, Default)]
struct Loopback(Arc<Mutex<Vec<ipc_runtime::Inbox>>>);

impl ipc_runtime::Bridge for Loopback {
    fn start(&self, inbox: ipc_runtime::Inbox) {
        self.0.lock().unwrap().push(inbox);
    }

    fn publish(&self, event: &ipc_runtime::BridgedEvent) {
        for inbox in self.0.lock().unwrap().iter() {
            let _ = inbox.deliver(event.clone());
        }
    }
}

/// Passes events on, keeping whom each reached.
#[derive(Clone)]
struct Reach<S>(S, Arc<Mutex<Vec<(String, usize, usize)>>>);

impl<S> Service<EventRequest> for Reach<S>
where
    S: Service<EventRequest, Response = Reached, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Reached;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Reached, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, event: EventRequest) -> Self::Future {
        let name = event.event().to_owned();
        let (future, log) = (self.0.call(event), Arc::clone(&self.1));
        Box::pin(async move {
            let reached = future.await?;
            log.lock()
                .unwrap()
                .push((name, reached.frontends(), reached.listeners()));
            Ok(reached)
        })
    }
}

#[tokio::test]
async fn event_layers_see_whom_an_event_reached_and_events_still_cross_the_bridge() {
    let reach = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&reach);
    let bus = Loopback::default();
    let here = App::builder()
        .no_inspector()
        .bridge(bus.clone())
        .event_layer(layer_fn(move |inner| Reach(inner, Arc::clone(&log))))
        .build()
        .unwrap();
    let there = App::builder().bridge(bus).build().unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    there.listen("news", move |event| {
        sink.lock().unwrap().push(event.payload::<u32>().unwrap())
    });
    here.listen("news", |_| {});
    let (subscriber, mut subscriber_out) = here.connect(ConnectOptions::default());
    subscriber
        .handle_text(r#"{"jsonrpc":"2.0","id":1,"method":"ipc.listen","params":{"event":"news"}}"#)
        .await;
    subscriber_out.recv().await.unwrap();
    here.emit("news", &7).unwrap();
    assert_eq!(*heard.lock().unwrap(), [7], "the event crossed the bridge");
    let news: Vec<_> = reach
        .lock()
        .unwrap()
        .iter()
        .filter(|(name, ..)| name == "news")
        .cloned()
        .collect();
    assert_eq!(
        news,
        [("news".to_owned(), 1, 1)],
        "one frontend, one listener"
    );
}

#[command]
fn slow_sync(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_command_does_not_hold_the_stack_while_it_runs() {
    let app = App::builder()
        .layer(tower::layer::util::Identity::new())
        .build()
        .unwrap();
    let slow_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (slow_app, done) = (app.clone(), Arc::clone(&slow_done));
    let slow = tokio::spawn(async move {
        slow_app
            .invoke("slow_sync", json!({ "ms": 1500 }))
            .await
            .unwrap();
        done.store(true, Ordering::SeqCst);
    });
    // Let the slow one start, then call through the same stack.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.invoke("sum", json!([1, 2])).await.unwrap(), 3);
    assert!(
        !slow_done.load(Ordering::SeqCst),
        "the quick call waited for the slow sync command"
    );
    slow.await.unwrap();
}

#[tokio::test]
async fn a_listener_that_emits_is_delivered_at_once_through_event_layers() {
    let app = App::builder()
        .event_layer(tower::layer::util::Identity::new())
        .build()
        .unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    app.listen("inner", move |event| {
        sink.lock().unwrap().push(event.payload::<u32>().unwrap())
    });
    let inner = app.clone();
    app.listen("outer", move |_| inner.emit("inner", &2).unwrap());
    app.emit("outer", &()).unwrap();
    assert_eq!(
        *heard.lock().unwrap(),
        [2],
        "delivered before emit returned"
    );
}

#[tokio::test]
async fn many_emits_in_one_task_are_each_delivered_before_emit_returns() {
    let app = App::builder()
        .event_layer(tower::layer::util::Identity::new())
        .build()
        .unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    app.listen("tick", move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    // Past tokio's cooperative budget (128 operations per poll of a task).
    for i in 0..1000 {
        app.emit("tick", &i).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), i + 1, "emit {i}");
    }
}
