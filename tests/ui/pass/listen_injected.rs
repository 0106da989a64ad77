//! An async `#[listen]` with injected `State<T>` and `App` after the payload.

use ipc_runtime::{App, State, command, listen};
use tokio::sync::mpsc::UnboundedSender;

struct Seen(UnboundedSender<(u32, bool)>);

#[command]
fn ping() {}

#[listen("job:done")]
async fn on_done(payload: u32, seen: State<Seen>, app: App) {
    tokio::task::yield_now().await;
    seen.0.send((payload, app.has_command("ping"))).unwrap();
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let app = App::builder().manage(Seen(tx)).build().unwrap();
    assert_eq!(app.listener_count("job:done"), 1);
    app.emit("job:done", &42).unwrap();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await;
    assert_eq!(seen.unwrap(), Some((42, true)));
}
