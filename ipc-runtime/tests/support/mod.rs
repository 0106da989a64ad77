//! What several test files of this crate read sessions with.

use std::time::Duration;

use ipc_runtime::session::Outbox;
use serde_json::Value;

/// The next message of `outbox`, parsed; fails the test after 5 s.
pub(crate) async fn next(outbox: &mut Outbox) -> Value {
    let message = tokio::time::timeout(Duration::from_secs(5), outbox.recv())
        .await
        .expect("a message within 5 s")
        .expect("the connection is open");
    serde_json::from_str(&message.as_str()).expect("the server sends JSON")
}
