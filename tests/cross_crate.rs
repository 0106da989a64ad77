//! Commands and listeners defined in another crate (`ipc-test-commands`) are
//! collected by `inventory` without being named anywhere.

// Linking the crate is the one thing the application must do.
use ipc_test_commands as _;

use ipc_runtime::App;
use ipc_test_commands::Log;
use serde_json::json;

#[tokio::test]
async fn commands_from_another_crate_are_discovered() {
    let app = App::builder().manage(Log::default()).build().unwrap();
    let mirrored = app
        .invoke(
            "geometry.mirror",
            json!({ "point": { "x": 1.5, "y": -2.0 } }),
        )
        .await
        .unwrap();
    assert_eq!(mirrored, json!({ "x": -1.5, "y": 2.0 }));
    assert_eq!(
        app.invoke("log.write", json!({ "line": "one" }))
            .await
            .unwrap(),
        1
    );

    let info = app
        .commands()
        .into_iter()
        .find(|c| c.name() == "log.write")
        .unwrap();
    assert_eq!(info.module_path(), "ipc_test_commands");
    assert!(
        info.site().contains("commands/src/lib.rs"),
        "{}",
        info.site()
    );
    assert!(info.is_async());
}

#[tokio::test]
async fn listeners_from_another_crate_are_wired() {
    let app = App::builder().manage(Log::default()).build().unwrap();
    app.emit("audit", &"login").unwrap();
    let log = app.state::<Log>().unwrap();
    assert_eq!(*log.0.lock().unwrap(), ["audit: login"]);
}
