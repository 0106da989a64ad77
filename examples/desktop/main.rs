//! A native window with no server: a shared counter in two windows, and the
//! window lifecycle as events.
//!
//! ```text
//! cargo run --example desktop --features desktop
//! ```
//!
//! Both windows show `page.html` from the app's assets (`app://localhost/`);
//! their pages call `connect()` from `/ipc.js` with no URL and get the
//! window's own channel (no port, no token). A click in one window updates
//! both; the "tools" window's label grants it a narrower capability, so its
//! "reset" is refused. Closing the last window ends the program.

use std::sync::atomic::{AtomicI64, Ordering};

use ipc_runtime::transport::desktop::Window;
use ipc_runtime::{App, Capability, State, command};

#[derive(Default)]
struct Counter(AtomicI64);

/// Adds `by` to the counter and tells every window.
#[command]
fn increment(counter: State<Counter>, app: App, by: i64) -> i64 {
    let value = counter.0.fetch_add(by, Ordering::SeqCst) + by;
    let _ = app.emit("count:changed", &value);
    value
}

/// Sets the counter back to zero (the "main" window only).
#[command]
fn reset(counter: State<Counter>, app: App) -> i64 {
    counter.0.store(0, Ordering::SeqCst);
    let _ = app.emit("count:changed", &0);
    0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    let _inside = runtime.enter(); // commands run on it; the windows on this thread
    let app = App::builder()
        .manage(Counter::default())
        .capability(Capability::new("full").allow_all())
        .capability(
            Capability::new("tools")
                .allow_invoke(["increment"])
                .allow_listen(["count:changed", "window:*"]),
        )
        .grant_with(|info| match info.label {
            Some("tools") => vec!["tools".to_owned()],
            _ => vec!["full".to_owned()],
        })
        .deny_by_default()
        .build()?;
    for event in ["window:created", "window:closed", "window:focused"] {
        app.listen(event, move |e| {
            println!(
                "{event} {}",
                e.payload::<serde_json::Value>().unwrap_or_default()
            );
        });
    }
    app.desktop()
        .asset("/", "text/html; charset=utf-8", include_str!("page.html"))
        .window(Window::new("main").title("Counter").size(420, 300))
        .window(Window::new("tools").title("Counter tools").size(420, 300))
        .run()?;
    println!("all windows closed");
    Ok(())
}
