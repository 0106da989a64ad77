//! The demo's commands, events and types: a shared todo list.
//!
//! The types derive ts-rs's `TS` (re-exported by ipc-runtime, hence
//! `#[ts(crate = "ipc_runtime::ts_rs")]`), so the generated bindings
//! (`web/bindings.ts`) type every command, error and event. This file is also
//! compiled into `examples/tests/demo_bindings.rs`, which checks that the
//! checked-in bindings match what these commands generate.

use std::sync::Mutex;

use ipc_runtime::ts_rs::TS;
use ipc_runtime::{App, BuildError, State, command, event, listen};
use serde::{Deserialize, Serialize};

/// The longest title accepted.
const MAX_TITLE: usize = 80;

/// One item of the list.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[ts(crate = "ipc_runtime::ts_rs")]
#[serde(rename_all = "camelCase")]
pub(crate) struct Todo {
    /// Unique for the life of the server; never reused.
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
#[derive(Debug, Serialize, TS)]
#[ts(crate = "ipc_runtime::ts_rs")]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum TodoError {
    /// The title is empty (or only spaces).
    EmptyTitle,
    /// The title is longer than `max` characters.
    TitleTooLong { max: u32 },
    /// No todo has this id (any more).
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

/// The list changed (in any tab); the payload is the whole list, oldest first.
///
/// The server keeps the last 64: a tab that opens gets the newest at once
/// (`listen(.., { last: true })`), and one whose connection dropped gets the
/// changes it missed when it is back.
#[event("todos:changed", replay = 64)]
#[derive(Debug, Serialize, TS)]
#[ts(crate = "ipc_runtime::ts_rs")]
pub(crate) struct TodosChanged(Vec<Todo>);

/// How many tabs are open, pushed to every tab when one opens or closes.
///
/// State-like: the server keeps the newest, which a tab gets when it listens
/// (its own opening is announced before it can listen).
#[event("presence", last)]
#[derive(Debug, Serialize, TS)]
#[ts(crate = "ipc_runtime::ts_rs")]
pub(crate) struct Presence(u32);

impl Todos {
    fn items(&self) -> std::sync::MutexGuard<'_, Vec<Todo>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Tells every tab the list changed.
fn changed(app: &App, todos: &[Todo]) {
    if let Err(e) = app.emit_event(&TodosChanged(todos.to_vec())) {
        tracing::error!(error = %e, "could not emit todos:changed");
    }
}

/// Every todo, oldest first.
#[command(rename = "todos.list")]
fn list(todos: State<Todos>) -> Vec<Todo> {
    todos.items().clone()
}

/// Adds a todo with this title (trimmed) at the end of the list.
#[command(rename = "todos.add")]
fn add(todos: State<Todos>, app: App, title: String) -> Result<Todo, TodoError> {
    let title = title.trim().to_owned();
    if title.is_empty() {
        return Err(TodoError::EmptyTitle);
    }
    if title.chars().count() > MAX_TITLE {
        return Err(TodoError::TitleTooLong {
            max: MAX_TITLE as u32,
        });
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

/// How many tabs are open.
#[derive(Default)]
struct Tabs(Mutex<u32>);

/// What the runtime's `ipc:connected` and `ipc:disconnected` events carry.
#[derive(Debug, Deserialize, TS)]
#[ts(crate = "ipc_runtime::ts_rs")]
pub(crate) struct Connection {
    /// The connection's client id.
    client: u64,
    /// The page's origin, if the browser sent one.
    origin: Option<String>,
}

#[listen("ipc:connected")]
fn on_connected(info: Connection, tabs: State<Tabs>, app: App) {
    tracing::debug!(client = info.client, origin = ?info.origin, "tab opened");
    let mut count = tabs.0.lock().unwrap_or_else(|p| p.into_inner());
    *count += 1;
    let _ = app.emit_event(&Presence(*count));
}

#[listen("ipc:disconnected")]
fn on_disconnected(info: Connection, tabs: State<Tabs>, app: App) {
    tracing::debug!(client = info.client, "tab closed");
    let mut count = tabs.0.lock().unwrap_or_else(|p| p.into_inner());
    *count = count.saturating_sub(1);
    let _ = app.emit_event(&Presence(*count));
}

/// How many tabs are open now.
#[command(rename = "presence.count")]
fn presence_count(tabs: State<Tabs>) -> u32 {
    *tabs.0.lock().unwrap_or_else(|p| p.into_inner())
}

/// The demo's app: every command above (found by `inventory`) and its state,
/// with the live inspector on in release builds too.
pub(crate) fn app() -> Result<App, BuildError> {
    App::builder()
        .manage(Todos::default())
        .manage(Tabs::default())
        .inspector(ipc_runtime::inspect::Inspector::new())
        .build()
}
