//! The demo: a shared todo list. Open the printed address in two browser tabs;
//! a change in one appears live in the other.
//!
//! ```text
//! cargo run --example demo                 # port from $IPC_DEMO_PORT, else 8080
//! cargo run --example demo -- --port 0     # any free port
//! cargo run --example demo -- --export-bindings examples/demo/web/bindings.ts
//! cargo run --example demo -- --stdio      # a sidecar: JSON-RPC lines on stdin/stdout
//! cargo run --example demo --features desktop -- --window   # also a native window
//! ```
//!
//! With `--window` (feature `desktop`), the same list also opens in a native
//! window titled "Shared todos" while the server keeps serving browser tabs:
//! both edit one list live. Closing the window stops the demo.
//!
//! The page (`web/`) is embedded in the binary and talks to the commands in
//! `todos.rs` through the generated bindings (`web/bindings.ts`, and its
//! JavaScript twin `web/bindings.js`, which the page loads), which call `/ipc.js`.
//!
//! With `--stdio` the same todo list is served to the parent process on
//! stdin/stdout, one JSON-RPC message per line, and nothing else is printed on
//! stdout (logs go to stderr). The demo exits with code 0 when stdin closes:
//!
//! ```text
//! $ echo '{"jsonrpc":"2.0","id":1,"method":"todos.list","params":{}}' | cargo run -q --example demo -- --stdio
//! {"jsonrpc":"2.0","id":1,"result":[]}
//! ```

mod todos;

use std::path::{Path, PathBuf};

/// What the command line asks for.
enum Mode {
    /// Serve on this port.
    Serve(u16),
    /// Serve one session on stdin/stdout until stdin closes.
    Stdio,
    /// Write the TypeScript bindings to this `.ts` path (and the JavaScript
    /// twin next to it), then exit.
    ExportBindings(PathBuf),
}

const USAGE: &str = "usage: demo [--port N] [--window]   (or IPC_DEMO_PORT=N; 0 picks a free port; --window: also a native window, feature `desktop`)\n       demo --stdio             (JSON-RPC lines on stdin/stdout; exits when stdin closes)\n       demo --export-bindings PATH.ts";

/// `--port N`, else `$IPC_DEMO_PORT`, else 8080; or `--stdio`; or `--export-bindings PATH`.
fn mode() -> Result<Mode, String> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--window")
        .collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => match std::env::var("IPC_DEMO_PORT") {
            Ok(value) => value
                .parse()
                .map(Mode::Serve)
                .map_err(|_| format!("IPC_DEMO_PORT={value}: not a port number")),
            Err(_) => Ok(Mode::Serve(8080)),
        },
        ["--port", value] => value
            .parse()
            .map(Mode::Serve)
            .map_err(|_| format!("--port {value}: not a port number")),
        ["--stdio"] => Ok(Mode::Stdio),
        ["--export-bindings", path] if path.ends_with(".ts") => {
            Ok(Mode::ExportBindings(path.into()))
        }
        _ => Err(USAGE.into()),
    }
}

/// Writes `path` (TypeScript) and the same name with `.js` (the page loads
/// that one), and lists what fell back to `unknown`.
fn export_bindings(app: &ipc_runtime::App, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let bindings = app.typescript().render()?;
    std::fs::write(path, bindings.typescript())?;
    let js = path.with_extension("js");
    std::fs::write(&js, bindings.javascript())?;
    println!("wrote {} and {}", path.display(), js.display());
    for fallback in bindings.fallbacks() {
        eprintln!("typed `unknown`: {fallback}");
    }
    Ok(())
}

/// The page, embedded: served to browser tabs and to the native window alike.
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("web/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("web/app.js"),
    ),
    (
        "/bindings.js",
        "text/javascript; charset=utf-8",
        include_str!("web/bindings.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("web/style.css"),
    ),
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ipc_examples::log_to_stderr();
    let app = todos::app()?;
    let port = match mode()? {
        Mode::Serve(port) => port,
        // stdout carries the protocol only: nothing else may be printed.
        Mode::Stdio => return Ok(app.serve_stdio().await?),
        Mode::ExportBindings(path) => return export_bindings(&app, &path),
    };
    let window = std::env::args().any(|a| a == "--window");
    if window && !cfg!(feature = "desktop") {
        return Err("--window needs the native window: cargo run --example demo --features desktop -- --window".into());
    }
    let server = ASSETS
        .iter()
        .fold(app.server(), |server, (path, content_type, body)| {
            server.asset(path, content_type, *body)
        })
        .serve(("127.0.0.1", port))
        .await
        .map_err(|e| ipc_examples::listen_error(port, &e))?;
    println!("Open the todo list in your browser (open it twice to see live updates):");
    println!("{}", server.http_url());
    println!("WebSocket endpoint for other clients:");
    println!("{}", server.ws_url());
    if let Some(inspector) = server.inspector_url() {
        println!("IPC inspector (live calls, events, connections):");
        println!("{inspector}");
    }
    #[cfg(feature = "desktop")]
    if window {
        println!("The native window \"Shared todos\" edits the same list; close it to stop.");
        let desktop = ASSETS
            .iter()
            .fold(app.desktop(), |desktop, (path, content_type, body)| {
                desktop.asset(path, *content_type, *body)
            })
            .window(
                ipc_runtime::transport::desktop::Window::new("main")
                    .title("Shared todos")
                    .size(560, 640),
            );
        desktop.run()?; // on this thread, until the window closes
        server.shutdown().await;
        return Ok(());
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
