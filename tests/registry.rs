//! Building the registry: introspection, hand registration without
//! `inventory`, and the build errors.

use ipc_runtime::{App, BuildError, command, listen};
use serde_json::json;

mod math {
    /// Doubles.
    #[ipc_runtime::command(rename = "math.double")]
    pub(crate) fn double(x: i64) -> i64 {
        2 * x
    }

    #[ipc_runtime::command]
    pub(crate) async fn halve(value_in: f64, _state: ipc_runtime::State<u8>) -> f64 {
        value_in / 2.0
    }
}

#[command]
fn ping() -> &'static str {
    "pong"
}

#[listen("count")]
fn on_count(n: u32, seen: ipc_runtime::State<std::sync::atomic::AtomicU32>) {
    seen.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
}

#[tokio::test]
async fn commands_lists_wire_names_arguments_and_sites() {
    let app = App::builder().manage(0_u8).build().unwrap();
    let names: Vec<_> = app.commands().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["halve", "math.double", "ping"], "sorted by name");

    let halve = app
        .commands()
        .into_iter()
        .find(|c| c.name() == "halve")
        .unwrap();
    assert_eq!(
        halve.args().collect::<Vec<_>>(),
        ["valueIn"],
        "injected State is not listed"
    );
    assert_eq!(halve.params().collect::<Vec<_>>(), [("valueIn", "f64")]);
    assert_eq!(halve.function(), "halve");
    assert_eq!(halve.module_path(), "registry::math");
    let debug = format!("{halve:?}");
    assert!(
        debug.contains("\"halve\"") && debug.contains("valueIn") && debug.contains("registry.rs:"),
        "{debug}"
    );
}

#[tokio::test]
async fn explicit_registration_works_without_discovery() {
    let app = App::builder()
        .discover(false)
        .command::<math::double>()
        .command::<ping>()
        .listener::<on_count>()
        .manage(std::sync::atomic::AtomicU32::new(0))
        .build()
        .unwrap();
    let names: Vec<_> = app.commands().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["math.double", "ping"]);
    assert_eq!(
        app.invoke("math.double", json!({ "x": 21 })).await.unwrap(),
        42
    );
    assert!(!app.has_command("halve"));
    app.emit("count", &5).unwrap();
    assert_eq!(
        app.state::<std::sync::atomic::AtomicU32>()
            .unwrap()
            .load(std::sync::atomic::Ordering::SeqCst),
        5
    );
}

#[tokio::test]
async fn nothing_is_registered_without_discovery_or_registration() {
    let app = App::builder().discover(false).build().unwrap();
    assert!(app.commands().is_empty());
    assert_eq!(app.listener_count("count"), 0);
}

#[tokio::test]
async fn a_command_found_both_ways_counts_once() {
    let app = App::builder()
        .command::<ping>()
        .listener::<on_count>()
        .manage(0_u8)
        .manage(std::sync::atomic::AtomicU32::new(0))
        .build()
        .unwrap();
    assert_eq!(
        app.commands().iter().filter(|c| c.name() == "ping").count(),
        1
    );
    assert_eq!(app.listener_count("count"), 1);
}

#[test]
fn managing_a_type_twice_is_a_build_error() {
    let err = App::builder()
        .manage(1_u8)
        .manage(2_u8)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, BuildError::DuplicateState { type_name: "u8" }),
        "{err:?}"
    );
}
