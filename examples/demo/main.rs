//! The demo: a shared todo list. Open the printed address in two browser tabs;
//! a change in one appears live in the other.
//!
//! ```text
//! cargo run --example demo                 # port from $IPC_DEMO_PORT, else 8080
//! cargo run --example demo -- --port 0     # any free port
//! ```
//!
//! The page (`web/`) is embedded in the binary and talks to the commands below
//! through `/ipc.js`.

use std::sync::Mutex;

use ipc_runtime::{App, State, command, listen};
use serde::{Deserialize, Serialize};

/// The longest title accepted.
const MAX_TITLE: usize = 80;

/// One item of the list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Todo {
    id: u64,
    title: String,
    done: bool,
}

/// The list, shared by every tab.
#[derive(Default)]
struct Todos {
    items: Mutex<Vec<Todo>>,
    next_id: Mutex<u64>,
}

/// Why a change was refused; the page shows the message.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum TodoError {
    EmptyTitle,
    TitleTooLong { max: usize },
    NotFound { id: u64 },
}

impl std::fmt::Display for TodoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TodoError::EmptyTitle => write!(f, "a todo needs a title"),
            TodoError::TitleTooLong { max } => write!(f, "titles are at most {max} characters"),
            TodoError::NotFound { id } => {
                write!(f, "there is no todo #{id} (was it deleted in another tab?)")
            }
        }
    }
}

impl Todos {
    fn items(&self) -> std::sync::MutexGuard<'_, Vec<Todo>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Tells every tab the list changed.
fn changed(app: &App, todos: &[Todo]) {
    if let Err(e) = app.emit("todos:changed", todos) {
        tracing::error!(error = %e, "could not emit todos:changed");
    }
}

/// Every todo, oldest first.
#[command(rename = "todos.list")]
fn list(todos: State<Todos>) -> Vec<Todo> {
    todos.items().clone()
}

/// Adds a todo.
#[command(rename = "todos.add")]
fn add(todos: State<Todos>, app: App, title: String) -> Result<Todo, TodoError> {
    let title = title.trim().to_owned();
    if title.is_empty() {
        return Err(TodoError::EmptyTitle);
    }
    if title.chars().count() > MAX_TITLE {
        return Err(TodoError::TitleTooLong { max: MAX_TITLE });
    }
    let id = {
        let mut next = todos.next_id.lock().unwrap_or_else(|p| p.into_inner());
        *next += 1;
        *next
    };
    let todo = Todo {
        id,
        title,
        done: false,
    };
    let mut items = todos.items();
    items.push(todo.clone());
    changed(&app, &items);
    Ok(todo)
}

/// Flips a todo between done and not done.
#[command(rename = "todos.toggle")]
fn toggle(todos: State<Todos>, app: App, id: u64) -> Result<Todo, TodoError> {
    let mut items = todos.items();
    let todo = items
        .iter_mut()
        .find(|t| t.id == id)
        .ok_or(TodoError::NotFound { id })?;
    todo.done = !todo.done;
    let todo = todo.clone();
    changed(&app, &items);
    Ok(todo)
}

/// Deletes a todo.
#[command(rename = "todos.delete")]
fn delete(todos: State<Todos>, app: App, id: u64) -> Result<(), TodoError> {
    let mut items = todos.items();
    let before = items.len();
    items.retain(|t| t.id != id);
    if items.len() == before {
        return Err(TodoError::NotFound { id });
    }
    changed(&app, &items);
    Ok(())
}

/// How many tabs are open, pushed to every tab as `presence`.
#[derive(Default)]
struct Presence(Mutex<i64>);

#[listen("ipc:connected")]
fn on_connected(_info: serde_json::Value, presence: State<Presence>, app: App) {
    let mut count = presence.0.lock().unwrap_or_else(|p| p.into_inner());
    *count += 1;
    let _ = app.emit("presence", &*count);
}

#[listen("ipc:disconnected")]
fn on_disconnected(_info: serde_json::Value, presence: State<Presence>, app: App) {
    let mut count = presence.0.lock().unwrap_or_else(|p| p.into_inner());
    *count -= 1;
    let _ = app.emit("presence", &*count);
}

/// How many tabs are open now.
#[command(rename = "presence.count")]
fn presence_count(presence: State<Presence>) -> i64 {
    *presence.0.lock().unwrap_or_else(|p| p.into_inner())
}

/// `--port N`, else `$IPC_DEMO_PORT`, else 8080.
fn port() -> Result<u16, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => match std::env::var("IPC_DEMO_PORT") {
            Ok(value) => value
                .parse()
                .map_err(|_| format!("IPC_DEMO_PORT={value}: not a port number")),
            Err(_) => Ok(8080),
        },
        ["--port", value] => value
            .parse()
            .map_err(|_| format!("--port {value}: not a port number")),
        _ => Err("usage: demo [--port N]   (or IPC_DEMO_PORT=N; 0 picks a free port)".into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let port = port()?;
    let app = App::builder()
        .manage(Todos::default())
        .manage(Presence::default())
        .build()?;
    let server = app
        .server()
        .asset(
            "/",
            "text/html; charset=utf-8",
            include_str!("web/index.html"),
        )
        .asset(
            "/app.js",
            "text/javascript; charset=utf-8",
            include_str!("web/app.js"),
        )
        .asset(
            "/style.css",
            "text/css; charset=utf-8",
            include_str!("web/style.css"),
        )
        .serve(("127.0.0.1", port))
        .await?;
    println!("Open the todo list in your browser (open it twice to see live updates):");
    println!("{}", server.http_url());
    println!("WebSocket endpoint for other clients:");
    println!("{}", server.ws_url());
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
