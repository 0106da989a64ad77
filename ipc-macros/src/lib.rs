//! The `#[command]`, `#[listen]` and `#[event]` attributes of `ipc-runtime`.
//!
//! Depend on `ipc-runtime`, which re-exports all three; the generated code
//! names runtime items through `::ipc_runtime::__private` (override the path
//! with `crate = "..."` when the dependency is renamed).
//!
//! The user documentation is on the three attributes below, and rustdoc shows
//! it on the re-exports (`ipc_runtime::command`, ...). Its links are relative
//! to `ipc_runtime`'s pages, where it is meant to be read: this crate cannot
//! name `ipc_runtime` (only its doctests depend on it).
//!
//! Each attribute keeps the function as written and adds, next to it:
//! a shim that reads the arguments from JSON and encodes the result, a static
//! registration record submitted to `inventory`, and a hidden type with the
//! function's name for registering it by hand (`App::builder().command::<name>()`).
//! Unsupported signatures are compile errors pointing at the offending token.

mod attr;
mod case;
mod command;
mod ctxt;
mod describe;
mod event;
mod expand;
mod listen;
mod signature;

use proc_macro::TokenStream;

/// Makes a function callable from frontends: by name, with JSON arguments,
/// over JSON-RPC 2.0.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, command};
///
/// /// Greets someone. (Doc comments go into the TypeScript bindings and `rpc.discover`.)
/// #[command]
/// fn greet(name: String) -> String {
///     format!("Hello, {name}!")
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// let reply = app.invoke("greet", serde_json::json!({ "name": "Ada" })).await.unwrap();
/// assert_eq!(reply, "Hello, Ada!");
/// # }
/// ```
///
/// A frontend makes the same call with `ipc.invoke("greet", { name: "Ada" })`
/// (the `ipc.js` client), or any JSON-RPC client with
/// `{"jsonrpc":"2.0","id":1,"method":"greet","params":{"name":"Ada"}}`.
///
/// # What it generates
///
/// The function stays as you wrote it, and you can still call it from Rust.
/// Next to it the attribute adds:
///
/// * a shim that reads the arguments from the call's JSON, calls the function
///   and encodes what it returns;
/// * a registration record submitted to [`inventory`](https://docs.rs/inventory):
///   [`App::builder()`](struct.App.html#method.builder)`.build()` collects every
///   command linked into the binary, so there is **no central list** to keep up
///   to date. Two commands with the same wire name fail `build` with
///   `BuildError::DuplicateCommand`, which names both definitions;
/// * a hidden type with the function's name and visibility, for registering the
///   command by hand: `App::builder().command::<greet>()` (or
///   `command::<api::greet>()` from another module). Use it where `inventory`
///   does not run, or with `.discover(false)` to choose exactly which commands
///   an app exposes. A command found both ways counts once.
///
/// Because of that type, the function's name is taken in the type namespace
/// too: a struct or enum with the same name in the same module is a conflict.
///
/// Commands defined in another crate are found as long as that crate is linked
/// into the binary; if the application uses nothing else from it, refer to it
/// with `use my_commands as _;`.
///
/// ```rust,standalone_crate
/// use ipc_runtime::App;
///
/// mod api {
///     #[ipc_runtime::command]
///     pub fn ping() -> &'static str {
///         "pong"
///     }
/// }
///
/// let app = App::builder().discover(false).command::<api::ping>().build().unwrap();
/// assert!(app.has_command("ping"));
/// ```
///
/// # Options
///
/// | option | effect |
/// |---|---|
/// | `rename = "todos.add"` | the command's wire name; by default the function's name (without `r#`) |
/// | `rename_all = "snake_case"` | argument names on the wire as written in Rust; the default, `"camelCase"`, turns `user_id` into `userId`, as Tauri does |
/// | `blocking` | runs a sync function on tokio's blocking pool (see [How it runs](#how-it-runs)) |
/// | `crate = "my_ipc"` | the path of `ipc-runtime` when the dependency is renamed (default `::ipc_runtime`) |
///
/// A wire name may not be empty, contain whitespace or control characters, or
/// start with `rpc.`, `ipc.` or `plugin:event|`, which belong to the protocol.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, command};
/// use serde_json::json;
///
/// #[command(rename = "todos.add", rename_all = "snake_case")]
/// fn add_todo(todo_title: String) -> usize {
///     todo_title.len()
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// let n = app.invoke("todos.add", json!({ "todo_title": "milk" })).await.unwrap();
/// assert_eq!(n, 4);
/// # }
/// ```
///
/// # Arguments
///
/// Each argument is either **sent by the caller** or **injected** by the
/// runtime. Its type decides which, never its name, so type aliases and
/// re-exports work:
///
/// * **Sent**: any `serde::Deserialize` type. The caller passes the arguments
///   *by name* as an object (names in camelCase unless `rename_all` says
///   otherwise) or *by position* as an array, in the order the function
///   declares them, counting only the sent arguments. An `Option<T>` argument
///   may be omitted or `null`; `params` may be left out when nothing is
///   required. Keys that name no argument are ignored.
/// * **Injected**: types that implement
///   [`CommandArg`](extract/trait.CommandArg.html), built from the call's context and
///   never sent: [`State<T>`](extract/struct.State.html) (the value given to
///   `App::builder().manage(..)`), [`Caller`](struct.Caller.html) (who is
///   calling: client id, origin, label), [`App`](struct.App.html) (to emit
///   events or reach anything else), and your own implementations. A type that
///   is both `Deserialize` and `CommandArg` is injected.
///
/// ```rust,standalone_crate
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use ipc_runtime::{App, Caller, State, codes, command};
/// use serde_json::json;
///
/// #[derive(Default)]
/// struct Visits(AtomicU64);
///
/// #[command]
/// fn visit(visits: State<Visits>, caller: Caller, page_id: u32, from: Option<String>) -> String {
///     let n = visits.0.fetch_add(1, Ordering::Relaxed) + 1;
///     let from = from.as_deref().unwrap_or("nowhere");
///     format!("visit {n}: {} opened page {page_id} from {from}", caller.client_id())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().manage(Visits::default()).build().unwrap();
/// // By name, in camelCase; `from` is optional.
/// let reply = app.invoke("visit", json!({ "pageId": 7 })).await.unwrap();
/// assert_eq!(reply, "visit 1: backend opened page 7 from nowhere");
/// // By position: only the sent arguments, in order.
/// let reply = app.invoke("visit", json!([7, "home"])).await.unwrap();
/// assert_eq!(reply, "visit 2: backend opened page 7 from home");
/// // A mistyped argument is refused before the function runs.
/// let err = app.invoke("visit", json!({ "pageId": "seven" })).await.unwrap_err();
/// assert_eq!(err.code(), codes::INVALID_PARAMS);
/// assert_eq!(err.data().unwrap()["argument"], "pageId");
/// # }
/// ```
///
/// Three kinds of argument get special treatment:
///
/// * **Raw bytes**: `Vec<u8>` and `bytes::Bytes` accept a JSON array of
///   numbers, or a binary attachment: `ipc.js` sends a `Uint8Array` as a
///   binary WebSocket frame, with no JSON encoding.
/// * **Channels**: a [`Channel<T>`](struct.Channel.html) argument is sent by
///   the caller as the id of a channel it opened (`new Channel(onMessage)` in
///   `ipc.js`); the runtime connects it, and the command streams messages back
///   through it while it runs. A channel needs a connection to stream to:
///   `App::invoke` (in-process) refuses it with -32602.
/// * **Borrowed arguments**: a sync command may take `&str`, `&[T]` or `&T`
///   (with `T: Clone`, e.g. `&State<T>`); the owned value (`String`, `Vec<T>`,
///   `T`) is read and lent to the function for the call. Only the outermost
///   type may borrow (`Option<&str>` is refused; take `Option<String>`), and an
///   `async fn` must own its arguments, since its future outlives the request.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, command};
/// use serde_json::json;
///
/// #[command]
/// fn checksum(data: Vec<u8>) -> u32 {
///     data.iter().map(|&byte| u32::from(byte)).sum()
/// }
///
/// #[command]
/// fn shout(text: &str) -> String {
///     text.to_uppercase()
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// assert_eq!(app.invoke("checksum", json!({ "data": [1, 2, 3] })).await.unwrap(), 6);
/// assert_eq!(app.invoke("shout", json!(["hey"])).await.unwrap(), "HEY");
/// # }
/// ```
///
/// A channel streams to a connection, here one opened in-process with
/// `App::connect` (a WebSocket transport does the same for each client):
///
/// ```rust,standalone_crate
/// use ipc_runtime::session::ConnectOptions;
/// use ipc_runtime::{App, Channel, command};
///
/// #[command]
/// async fn count_to(to: u32, on_progress: Channel<u32>) -> u32 {
///     for i in 1..=to {
///         if on_progress.send(&i).await.is_err() {
///             break; // the caller went away
///         }
///     }
///     to
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// let (connection, mut outbox) = app.connect(ConnectOptions::default());
/// let request = r#"{"jsonrpc":"2.0","id":1,"method":"count_to","params":{"to":2,"onProgress":"__CHANNEL__:5"}}"#;
/// connection.handle_text(request).await;
/// let first = outbox.recv().await.unwrap();
/// assert_eq!(
///     first.as_str(),
///     r#"{"jsonrpc":"2.0","method":"ipc.channel","params":{"channel":5,"index":0,"message":1}}"#
/// );
/// # }
/// ```
///
/// A command takes at most 16 arguments; group more in a struct.
///
/// # How it runs
///
/// * A sync `fn` runs to the end as soon as its request is read, before the
///   connection's next message is handled: keep it short.
/// * An `async fn` runs as a future, so calls on one connection run
///   concurrently. The future must be `Send + 'static`. Cancelling the call
///   (`ipc.cancel`, an `AbortSignal` in `ipc.js`) drops the future at its next
///   `.await`; a caller that disconnects does not cancel it (the call
///   finishes, and its result is discarded).
/// * `#[command(blocking)]` on a sync `fn` runs it on tokio's blocking pool,
///   for slow or blocking work (files, CPU-heavy code) that must not hold up
///   the connection. It needs a tokio runtime; without one the call fails
///   with -32603.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, InvokeError, command};
///
/// #[command(blocking)]
/// fn fib(n: u64) -> u64 {
///     (0..n).fold((0_u64, 1_u64), |(a, b), _| (b, a.wrapping_add(b))).0
/// }
///
/// #[command]
/// async fn double_fib(n: u64, app: App) -> Result<u64, InvokeError> {
///     let fib = app.invoke("fib", serde_json::json!([n])).await?;
///     Ok(2 * fib.as_u64().unwrap_or_default())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// assert_eq!(app.invoke("double_fib", serde_json::json!({ "n": 10 })).await.unwrap(), 110);
/// # }
/// ```
///
/// # Return values
///
/// | the function returns | the caller receives |
/// |---|---|
/// | `()` | `null` |
/// | any `T: Serialize` | `T` as JSON |
/// | `Vec<u8>` or `bytes::Bytes` | the bytes, as a binary frame to clients that accept them (`ipc.js` does: a `Uint8Array`), else as a JSON array |
/// | `Result<T, E>` | `Ok(t)` as above; `Err(e)` as an error with code -32000 (below) |
///
/// For `Err(e)`, what the caller gets depends on what `E` implements:
///
/// | `E` | the error's `message` | its `data` |
/// |---|---|---|
/// | [`InvokeError`](struct.InvokeError.html) | its own, with its own code | its own |
/// | `Serialize + Display` (`String`, a `thiserror` enum that derives `Serialize`) | `e.to_string()` | `e` as JSON |
/// | `Serialize` only | "the command returned an error" | `e` as JSON |
/// | `Display` only (`std::io::Error`, `anyhow::Error`) | `e.to_string()` | none |
///
/// An `E` that is neither `Serialize` nor `Display` is a compile error. As for
/// arguments, the type decides, so aliases such as `io::Result<T>` and
/// `anyhow::Result<T>` work. In a command returning
/// `Result<T, InvokeError>`, `?` converts any `std::error::Error` (and, with
/// `ipc-runtime`'s `anyhow` feature, `anyhow::Error`) into a -32000 error
/// whose message is the error's text followed by its sources'.
///
/// ```rust,standalone_crate
/// use std::fmt;
///
/// use ipc_runtime::{App, InvokeError, codes, command};
/// use serde::Serialize;
/// use serde_json::json;
///
/// #[derive(Debug, Serialize)]
/// #[serde(tag = "kind", rename_all = "camelCase")]
/// enum TitleError {
///     Empty,
///     TooLong { max: usize },
/// }
///
/// impl fmt::Display for TitleError {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         match self {
///             TitleError::Empty => f.write_str("a todo needs a title"),
///             TitleError::TooLong { max } => write!(f, "titles have at most {max} characters"),
///         }
///     }
/// }
///
/// #[command]
/// fn check_title(title: String) -> Result<usize, TitleError> {
///     match title.chars().count() {
///         0 => Err(TitleError::Empty),
///         n if n > 20 => Err(TitleError::TooLong { max: 20 }),
///         n => Ok(n),
///     }
/// }
///
/// #[command]
/// fn parse(text: String) -> Result<i64, InvokeError> {
///     Ok(text.trim().parse::<i64>()?)
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// let err = app.invoke("check_title", json!({ "title": "" })).await.unwrap_err();
/// assert_eq!(err.code(), codes::COMMAND_ERROR);
/// assert_eq!(err.message(), "a todo needs a title");
/// assert_eq!(err.data(), Some(&json!({ "kind": "empty" })));
///
/// let err = app.invoke("parse", json!({ "text": "twelve" })).await.unwrap_err();
/// assert_eq!(err.code(), codes::COMMAND_ERROR);
/// assert_eq!(err.message(), "invalid digit found in string");
/// # }
/// ```
///
/// # Errors callers get
///
/// Every failure reaches the caller as a JSON-RPC error object (the codes are
/// in [`codes`](codes/index.html)):
///
/// | code | when |
/// |---|---|
/// | -32601 | no command has that name; the message suggests the closest one (``unknown command `gret`; did you mean `greet`?``) |
/// | -32602 | an argument is missing, has the wrong type or is given twice, there are too many positional ones, or a channel cannot be connected; `data` is `{"argument", "expected", "reason"}`: the wire name, the Rust type and serde's message |
/// | -32000 | the command returned `Err` (see [Return values](#return-values)) |
/// | -32603 | the command panicked (the app keeps serving), its result could not be serialized, or it takes a `State<T>` that was never managed |
/// | -32001 | the connection's capabilities do not allow calling it; it did not run |
/// | -32003 | the call was cancelled |
///
/// An injected argument whose `CommandArg` implementation fails sends the
/// error that implementation returns, and the function does not run.
///
/// # Compile errors
///
/// Unsupported signatures are compile errors pointing at the offending token,
/// and every mistake in one function is reported at once (the function itself
/// is still emitted unchanged, so calls to it do not fail too):
///
/// * the attribute on anything but a free function (a struct, an `impl`
///   block, a trait);
/// * generic parameters or a `where` clause, `unsafe`, `extern "C"`, variadic
///   arguments, a `self` argument;
/// * arguments that are patterns (`(a, b): (u8, u8)`) or `_`: the name is
///   what the caller sends;
/// * `impl Trait` or `&mut` arguments; borrowed arguments in an `async fn`, or
///   a borrow inside another type (`Option<&str>`); a borrowed `&T` whose `T`
///   is not `Clone`;
/// * more than 16 arguments, or two arguments with the same wire name (`user_id`
///   and `userId`);
/// * an argument type that is neither `Deserialize` nor `CommandArg`, a return
///   type that is not `Serialize`, an error type that is neither `Serialize`
///   nor `Display`, an `async fn` whose future is not `Send`;
/// * `blocking` on an `async fn`, unknown or repeated options, an unknown
///   `rename_all` rule, an empty or reserved wire name.
#[proc_macro_attribute]
pub fn command(args: TokenStream, item: TokenStream) -> TokenStream {
    command::expand(args.into(), item.into()).into()
}

/// Runs a function every time a named event is emitted, from Rust or from a
/// frontend.
///
/// ```rust,standalone_crate
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// use ipc_runtime::{App, listen};
/// use serde::Deserialize;
///
/// static SAVED: AtomicU32 = AtomicU32::new(0);
///
/// #[derive(Deserialize)]
/// struct Saved {
///     count: u32,
/// }
///
/// #[listen("doc:saved")]
/// fn on_saved(payload: Saved) {
///     SAVED.fetch_add(payload.count, Ordering::SeqCst);
/// }
///
/// let app = App::builder().build().unwrap();
/// app.emit("doc:saved", &serde_json::json!({ "count": 2 })).unwrap();
/// assert_eq!(SAVED.load(Ordering::SeqCst), 2);
/// ```
///
/// A frontend reaches the same listener with `ipc.emit("doc:saved", { count: 2 })`.
///
/// # What it generates
///
/// As with [`#[command]`](attr.command.html), the function stays as written,
/// and is registered through `inventory` when the binary starts: no central
/// list. `App::builder().listener::<on_saved>()` registers it by hand (for
/// targets where `inventory` does not run, or with `.discover(false)`); a
/// listener found both ways runs once. `App::listener_count` counts these
/// listeners too. The payload's type is recorded for the TypeScript bindings,
/// as [`#[event]`](attr.event.html) does.
///
/// # The event's name
///
/// The first thing in the attribute, as a string literal (the macro cannot
/// read the value of a constant). It is checked at compile time: 1 to 128
/// bytes of ASCII letters, digits and `-` `/` `:` `_` `.`. One listener
/// listens to one event; names starting with `ipc:` are emitted by the runtime
/// itself (`ipc:connected`, ...).
///
/// # Arguments
///
/// * The **first argument is the payload**, deserialized from the event's JSON:
///   any `serde::Deserialize` type (`serde_json::Value` takes anything). Write
///   `payload: ()` for an event without one.
/// * **Further arguments are injected**: [`State<T>`](extract/struct.State.html),
///   [`Caller`](struct.Caller.html) (who emitted the event: the backend for
///   `App::emit`, else the frontend's connection), [`App`](struct.App.html),
///   and your own [`CommandArg`](extract/trait.CommandArg.html) implementations.
///   Nothing else can follow the payload: an event carries one value.
///
/// Arguments follow the rules of commands otherwise: plain names, no
/// `impl Trait` or `&mut`, and borrowing (`payload: &str`) in sync listeners
/// only.
///
/// # How it runs
///
/// * A sync `fn` runs on the emitting thread, before `App::emit` returns.
/// * An `async fn` is spawned on tokio: on the runtime `emit` is called from,
///   else on the one the app was built in (or the one given to
///   `AppBuilder::runtime`); with neither, it does not run and an error is
///   logged.
/// * `#[listen("name", blocking)]` runs a sync `fn` on tokio's blocking pool,
///   for slow work that must not hold up the emitter.
///
/// A listener's failures are logged (with `tracing`) and reach no one else: a
/// payload that does not deserialize as the first argument's type, an
/// injected argument that cannot be built, an `Err` the function returns (it
/// may return anything a command may), a panic. The other listeners still run.
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, Caller, State, listen};
/// use tokio::sync::mpsc::UnboundedSender;
///
/// struct Log(UnboundedSender<String>);
///
/// #[listen("user:login")]
/// async fn on_login(user: String, log: State<Log>, caller: Caller) {
///     let line = format!("{user} logged in (emitted by {})", caller.client_id());
///     let _ = log.0.send(line);
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel();
/// let app = App::builder().manage(Log(sender)).build().unwrap();
/// app.emit("user:login", "ada").unwrap();
/// assert_eq!(lines.recv().await.unwrap(), "ada logged in (emitted by backend)");
/// # }
/// ```
///
/// # Options
///
/// After the name: `blocking` (above), and `crate = "my_ipc"`, the path of
/// `ipc-runtime` when the dependency is renamed.
///
/// # Compile errors
///
/// At the offending token, all at once, with the function still emitted
/// unchanged: a missing, non-literal or invalid event name; unknown, repeated
/// or malformed options; no payload argument; a payload type that is not
/// `Deserialize`; a later argument that is not injectable; `blocking` on an
/// `async fn`; and the signatures `#[command]` refuses (generics, `self`,
/// patterns, `impl Trait`, `&mut`, borrowing in an `async fn`, ...).
#[proc_macro_attribute]
pub fn listen(args: TokenStream, item: TokenStream) -> TokenStream {
    listen::expand(args.into(), item.into()).into()
}

/// Declares a struct or enum as the payload of a named event, so Rust emits and
/// listens to it by type, and the frontend gets typed helpers.
///
/// ```rust,standalone_crate
/// use std::sync::{Arc, Mutex};
///
/// use ipc_runtime::{App, TypedEvent, event};
/// use serde::{Deserialize, Serialize};
///
/// /// A todo was added. (Doc comments go into the TypeScript bindings.)
/// #[event("todos:added")]
/// #[derive(Serialize, Deserialize)]
/// struct TodoAdded {
///     title: String,
/// }
///
/// let app = App::builder().build().unwrap();
/// assert_eq!(TodoAdded::NAME, "todos:added");
///
/// let titles = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&titles);
/// app.listen_event(move |TodoAdded { title }| sink.lock().unwrap().push(title));
/// app.emit_event(&TodoAdded { title: "milk".into() }).unwrap(); // the name comes from the type
/// assert_eq!(*titles.lock().unwrap(), ["milk"]);
///
/// let bindings = app.typescript().render().unwrap();
/// assert!(bindings.typescript().contains("todosAdded"));
/// ```
///
/// # What it generates
///
/// The type stays as written; its derives are yours (`Serialize` to emit it,
/// `Deserialize` to listen to it). The attribute adds:
///
/// * an implementation of [`TypedEvent`](trait.TypedEvent.html), whose `NAME`
///   is the event's name, so `App::emit_event`, `App::emit_event_to` and
///   `App::listen_event` take the payload's type and never a misspelled name;
/// * a declaration submitted to `inventory` (no central list): the TypeScript
///   bindings (`App::export_typescript`) get `events.todosAdded.listen(cb)`,
///   `.once(cb)` and `.emit(payload)`, typed with the payload's TypeScript
///   type when it derives ts-rs's `TS` (`unknown` otherwise), and documented
///   with the type's doc comment.
///
/// Declaring an event is optional: `App::emit` and
/// [`#[listen]`](attr.listen.html) work with any name and payload. A
/// `#[listen]` function's payload type is recorded for the bindings too.
///
/// # The event's name, and options
///
/// The name comes first, as a string literal, and is checked at compile time
/// like a listener's: 1 to 128 bytes of ASCII letters, digits and `-` `/` `:`
/// `_` `.`. The only option is `crate = "my_ipc"`, the path of `ipc-runtime`
/// when the dependency is renamed: `#[event("todos:added", crate = "my_ipc")]`.
///
/// # Compile errors
///
/// At the offending token, all at once, with the type still emitted unchanged:
/// the attribute on anything but a struct or an enum; a generic type (one
/// event name has one payload type; declare a non-generic wrapper); a missing,
/// non-literal or invalid event name; unknown, repeated or malformed options.
#[proc_macro_attribute]
pub fn event(args: TokenStream, item: TokenStream) -> TokenStream {
    event::expand(args.into(), item.into()).into()
}
