//! The event bus from Rust: emit, listen, once, unlisten, `#[listen]`
//! functions, and isolation of panicking listeners.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipc_runtime::{App, Caller, ClientId, EventTarget, State, listen};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Default)]
struct Seen(Mutex<Vec<String>>);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Progress {
    done: u32,
    total: u32,
}

#[listen("job:progress")]
fn on_progress(progress: Progress, seen: State<Seen>, caller: Caller) {
    seen.0.lock().unwrap().push(format!(
        "sync {}/{} from {}",
        progress.done,
        progress.total,
        caller.client_id()
    ));
}

#[listen("job:progress")]
async fn on_progress_async(progress: Progress, seen: State<Seen>) {
    tokio::task::yield_now().await;
    seen.0
        .lock()
        .unwrap()
        .push(format!("async {}", progress.done));
}

#[listen("job:explode")]
fn explodes(_payload: ()) {
    panic!("listener failure");
}

#[listen("job:explode")]
fn survives(_payload: (), seen: State<Seen>) {
    seen.0.lock().unwrap().push("survived".into());
}

fn app() -> App {
    App::builder().manage(Seen::default()).build().unwrap()
}

fn seen(app: &App) -> Vec<String> {
    app.state::<Seen>().unwrap().0.lock().unwrap().clone()
}

async fn wait_for(app: &App, what: &str) {
    for _ in 0..200 {
        if seen(app).iter().any(|s| s == what) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{what:?} never arrived; saw {:?}", seen(app));
}

#[tokio::test]
async fn listen_functions_are_wired_at_build_with_injected_arguments() {
    let app = app();
    assert_eq!(app.listener_count("job:progress"), 2);
    app.emit("job:progress", &Progress { done: 1, total: 3 })
        .unwrap();
    // The sync listener ran before emit returned.
    assert!(seen(&app).contains(&"sync 1/3 from backend".to_string()));
    wait_for(&app, "async 1").await;
}

#[tokio::test]
async fn a_panicking_listener_does_not_stop_the_others_or_the_app() {
    let app = app();
    app.emit("job:explode", &()).unwrap();
    app.emit("job:explode", &()).unwrap();
    assert_eq!(seen(&app).iter().filter(|s| *s == "survived").count(), 2);

    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    app.listen("closure", |_| panic!("closure failure"));
    app.listen("closure", move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    app.emit("closure", &()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_payload_of_the_wrong_shape_is_logged_not_fatal() {
    let app = app();
    app.emit("job:progress", &json!({ "done": "one" })).unwrap();
    app.emit("job:progress", &Progress { done: 2, total: 2 })
        .unwrap();
    assert!(seen(&app).contains(&"sync 2/2 from backend".to_string()));
}

#[tokio::test]
async fn listen_and_unlisten_take_effect_immediately() {
    let app = App::builder().build().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let id = app.listen("tick", move |event| {
        sink.lock().unwrap().push(event.payload::<u32>().unwrap());
    });
    app.emit("tick", &1).unwrap();
    assert!(app.unlisten(id));
    assert!(!app.unlisten(id), "unlisten twice is harmless");
    app.emit("tick", &2).unwrap();
    assert_eq!(*log.lock().unwrap(), [1]);
    assert_eq!(app.listener_count("tick"), 0);
}

#[tokio::test]
async fn once_fires_once_even_under_concurrent_emits() {
    let app = App::builder().build().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    app.once("go", move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    app.emit("go", &()).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(app.listener_count("go"), 0);
}

#[tokio::test]
async fn listeners_may_listen_unlisten_and_emit_from_inside_a_listener() {
    let app = App::builder().build().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (inner_app, sink) = (app.clone(), Arc::clone(&log));
    app.listen("outer", move |event| {
        let sink2 = Arc::clone(&sink);
        inner_app.listen("inner", move |e| {
            sink2.lock().unwrap().push(e.payload::<String>().unwrap())
        });
        inner_app
            .emit("inner", &format!("from {}", event.name()))
            .unwrap();
    });
    app.emit("outer", &()).unwrap();
    assert_eq!(*log.lock().unwrap(), ["from outer"]);
}

#[tokio::test]
async fn targets_other_than_backend_skip_rust_listeners() {
    let app = App::builder().build().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    app.listen("t", move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    app.emit_to(EventTarget::Backend, "t", &()).unwrap();
    app.emit_to(EventTarget::Client(ClientId::new(3)), "t", &())
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invalid_names_are_refused() {
    let app = App::builder().build().unwrap();
    assert!(app.emit("", &()).is_err());
    assert!(app.emit("white space", &()).is_err());
    assert!(app.try_listen("semi;colon", |_| {}).is_err());
    let err = app.emit("x".repeat(200).as_str(), &()).unwrap_err();
    assert!(err.to_string().contains("limit is 128"), "{err}");
}

#[tokio::test]
async fn frontend_style_emits_reach_rust_listeners_with_their_source() {
    let app = App::builder().build().unwrap();
    let got = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&got);
    app.listen("from-js", move |event| {
        *sink.lock().unwrap() = Some((
            event.source(),
            event.payload::<serde_json::Value>().unwrap(),
        ));
    });
    // `ipc.emit` as a request: answered once delivered.
    let reply = app
        .handle_message(r#"{"jsonrpc":"2.0","id":1,"method":"ipc.emit","params":{"event":"from-js","payload":{"n":1}}}"#)
        .await
        .unwrap();
    assert_eq!(reply, r#"{"jsonrpc":"2.0","id":1,"result":null}"#);
    assert_eq!(
        *got.lock().unwrap(),
        Some((ClientId::BACKEND, json!({ "n": 1 })))
    );
    // A plain notification is an event too.
    let none = app
        .handle_message(r#"{"jsonrpc":"2.0","method":"from-js","params":{"n":2}}"#)
        .await;
    assert_eq!(none, None);
    assert_eq!(got.lock().unwrap().as_ref().unwrap().1, json!({ "n": 2 }));
    // A bad event name in ipc.emit is an invalid-params error.
    let reply = app
        .handle_message(
            r#"{"jsonrpc":"2.0","id":2,"method":"ipc.emit","params":{"event":"bad name"}}"#,
        )
        .await
        .unwrap();
    assert!(reply.contains("-32602"), "{reply}");
}
