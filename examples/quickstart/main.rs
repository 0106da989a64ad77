//! Quickstart: commands in two modules, a listener and managed state, called
//! in-process. Run with `cargo run --example quickstart`.
//!
//! Every printed line is also checked, so this doubles as a smoke test.

use std::sync::Mutex;

use std::error::Error;

use ipc_runtime::{App, State, listen};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Text utilities.
mod text {
    use ipc_runtime::command;

    /// Greets someone; `excited` is optional.
    #[command]
    pub(crate) fn greet(name: String, excited: Option<bool>) -> String {
        let end = if excited.unwrap_or(false) { "!" } else { "." };
        format!("Hello, {name}{end}")
    }

    /// Counts the words of a text.
    #[command(rename = "text.words")]
    pub(crate) fn word_count(text: &str) -> usize {
        text.split_whitespace().count()
    }
}

/// A notes board kept in managed state.
mod notes {
    use ipc_runtime::{App, State, command};
    use serde::Serialize;

    use super::{Board, Note};

    /// Why a note was refused; the caller receives it as the error's `data`.
    #[derive(Debug, Serialize)]
    #[serde(tag = "kind", rename_all = "camelCase")]
    pub(crate) enum NoteError {
        Empty,
    }

    impl std::fmt::Display for NoteError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a note needs some text")
        }
    }

    /// Adds a note and tells every listener.
    #[command(rename = "notes.add")]
    pub(crate) async fn add(
        board: State<Board>,
        app: App,
        text: String,
    ) -> Result<Note, NoteError> {
        if text.trim().is_empty() {
            return Err(NoteError::Empty);
        }
        let note = {
            let mut notes = board.0.lock().unwrap_or_else(|p| p.into_inner());
            let note = Note {
                id: notes.len() as u32 + 1,
                text,
            };
            notes.push(note.clone());
            note
        };
        // An event; `on_note_added` below hears it.
        let _ = app.emit("notes:added", &note);
        Ok(note)
    }

    /// Every note so far.
    #[command(rename = "notes.list")]
    pub(crate) fn list(board: State<Board>) -> Vec<Note> {
        board.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Managed state: the notes.
#[derive(Default)]
struct Board(Mutex<Vec<Note>>);

/// Audit log filled by the listener.
#[derive(Default)]
struct Audit(Mutex<Vec<String>>);

/// A note.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Note {
    id: u32,
    text: String,
}

/// Runs for every `notes:added` event, wherever it was emitted from.
#[listen("notes:added")]
fn on_note_added(note: Note, audit: State<Audit>) {
    audit
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(format!("note {} added", note.id));
}

/// Fails `main` with `what` unless `ok`.
fn check(ok: bool, what: &str) -> Result<(), Box<dyn Error>> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let app = App::builder()
        .manage(Board::default())
        .manage(Audit::default())
        .build()?;

    println!("registered commands:");
    for command in app.commands() {
        println!(
            "  {:<12} args {:?}  at {}",
            command.name(),
            command.args().collect::<Vec<_>>(),
            command.site()
        );
    }

    let hello = app
        .invoke("greet", json!({ "name": "Ada", "excited": true }))
        .await?;
    println!("greet            -> {hello}");
    check(hello == "Hello, Ada!", "greet")?;

    let words = app
        .invoke("text.words", json!(["the quick brown fox"]))
        .await?;
    println!("text.words       -> {words}");
    check(words == 4, "text.words")?;

    let note = app
        .invoke("notes.add", json!({ "text": "buy milk" }))
        .await?;
    println!("notes.add        -> {note}");
    let refused = app
        .invoke("notes.add", json!({ "text": "  " }))
        .await
        .err()
        .ok_or("an empty note must be refused")?;
    let data = refused.data().map(ToString::to_string).unwrap_or_default();
    println!(
        "notes.add \"  \"   -> error {}: {} {data}",
        refused.code(),
        refused.message()
    );
    check(
        refused.data() == Some(&json!({ "kind": "empty" })),
        "notes.add refusal",
    )?;

    let list = app.invoke("notes.list", json!({})).await?;
    println!("notes.list       -> {list}");
    check(
        list == json!([{ "id": 1, "text": "buy milk" }]),
        "notes.list",
    )?;

    let typo = app
        .invoke("greeet", json!({}))
        .await
        .err()
        .ok_or("unknown command")?;
    println!(
        "greeet           -> error {}: {}",
        typo.code(),
        typo.message()
    );

    let reply = app
        .handle_message(r#"{"jsonrpc":"2.0","id":7,"method":"greet","params":{"name":"JSON-RPC"}}"#)
        .await
        .ok_or("a response")?;
    println!("raw JSON-RPC     -> {reply}");

    let audit = app.state::<Audit>().ok_or("managed")?;
    let audit = audit.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    println!("listener saw     -> {audit:?}");
    check(audit == ["note 1 added"], "listener")?;
    Ok(())
}
