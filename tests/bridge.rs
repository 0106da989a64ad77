//! The bridge seam without a broker: an in-memory `Bridge` joining apps in
//! one process. Which events cross (declared, patterns, never runtime
//! events), nothing twice, client ids apart. The NATS bridge itself:
//! `tests/nats.rs`.

use std::sync::{Arc, Mutex};

use ipc_runtime::{App, Bridge, BridgeFilter, BridgedEvent, Delivered, Inbox, event};
use serde::Serialize;

/// Every inbox started; publishing delivers to each, recording what each said.
#[derive(Clone, Default)]
struct Loopback {
    inboxes: Arc<Mutex<Vec<Inbox>>>,
    outcomes: Arc<Mutex<Vec<(String, Delivered)>>>,
}

impl Bridge for Loopback {
    fn start(&self, inbox: Inbox) {
        self.inboxes.lock().unwrap().push(inbox);
    }

    fn publish(&self, event: &BridgedEvent) {
        let inboxes = self.inboxes.lock().unwrap().clone();
        for inbox in inboxes {
            let outcome = inbox.deliver(event.clone()).expect("delivered");
            self.outcomes
                .lock()
                .unwrap()
                .push((event.name().to_owned(), outcome));
        }
    }
}

#[event("shared:news", bridge)]
#[derive(Serialize)]
struct News(u32);

#[event("shared:undeclared")]
#[derive(Serialize)]
struct Undeclared(u32);

fn recorder(app: &App, name: &str) -> Arc<Mutex<Vec<serde_json::Value>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    app.listen(name, move |event| {
        sink.lock().unwrap().push(event.payload().unwrap())
    });
    seen
}

#[test]
fn declared_events_cross_others_stay() {
    let bus = Loopback::default();
    let build = || {
        App::builder()
            .bridge(bus.clone())
            .bridge_filter(BridgeFilter::declared())
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    let news = recorder(&b, "shared:news");
    let undeclared = recorder(&b, "shared:undeclared");
    a.emit_event(&News(1)).unwrap();
    a.emit_event(&Undeclared(2)).unwrap();
    assert_eq!(*news.lock().unwrap(), [1]);
    assert!(undeclared.lock().unwrap().is_empty());
}

#[test]
fn each_instance_gets_each_event_once() {
    let bus = Loopback::default();
    let a = App::builder().bridge(bus.clone()).build().unwrap();
    let b = App::builder().bridge(bus.clone()).build().unwrap();
    let on_a = recorder(&a, "tick");
    let on_b = recorder(&b, "tick");
    a.emit("tick", &1).unwrap();
    b.emit("tick", &2).unwrap();
    assert_eq!(*on_a.lock().unwrap(), [1, 2]);
    assert_eq!(*on_b.lock().unwrap(), [1, 2]);
    // Each emit reached both inboxes: its own skipped it, the other delivered
    // it (and did not publish it again: two emits, four outcomes).
    let outcomes = bus.outcomes.lock().unwrap().clone();
    let own = outcomes
        .iter()
        .filter(|(_, o)| *o == Delivered::Own)
        .count();
    assert_eq!((outcomes.len(), own), (4, 2), "{outcomes:?}");
}

#[test]
fn runtime_events_never_cross_and_ids_differ() {
    let bus = Loopback::default();
    let a = App::builder().bridge(bus.clone()).build().unwrap();
    let b = App::builder().bridge(bus.clone()).build().unwrap();
    let seen = recorder(&b, "ipc:custom");
    a.emit("ipc:custom", &1).unwrap();
    assert!(seen.lock().unwrap().is_empty());
    assert!(
        bus.outcomes.lock().unwrap().is_empty(),
        "not even published"
    );
    assert_ne!(a.instance_id(), b.instance_id());
    // A forged runtime event from a broker is refused by the inbox.
    let inbox = bus.inboxes.lock().unwrap()[1].clone();
    let forged = BridgedEvent::new(
        "elsewhere",
        "ipc:connected",
        b"1",
        ipc_runtime::ClientId::new(9),
        ipc_runtime::EventTarget::All,
    )
    .unwrap();
    assert!(inbox.deliver(forged).is_err());
    drop(b);
    let late = BridgedEvent::new(
        "elsewhere",
        "tick",
        b"1",
        ipc_runtime::ClientId::new(9),
        ipc_runtime::EventTarget::All,
    )
    .unwrap();
    assert!(!inbox.is_open());
    assert_eq!(inbox.deliver(late), Err(ipc_runtime::BridgeError::AppGone));
}
