//! The panic guard and task helpers: a panicking command or listener becomes
//! an error for its caller and a log line, never a crashed task or server.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use super::{BoxFuture, Encoded, Pending, Running, Slot};
use crate::error::InvokeError;

/// Runs a shim, turning a panic while it starts (reading arguments, a sync
/// command's body) into -32603.
pub(crate) fn start(run: impl FnOnce() -> Pending) -> Pending {
    match std::panic::catch_unwind(AssertUnwindSafe(run)) {
        Ok(pending) => pending,
        Err(panic) => Pending::Ready(Err(panicked(panic_message(panic.as_ref())))),
    }
}

/// Awaits a command's future, turning a panic into -32603.
pub(crate) async fn guard(
    future: BoxFuture<Result<Encoded, InvokeError>>,
) -> Result<Encoded, InvokeError> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(panicked(panic_message(panic.as_ref()))),
    }
}

/// Runs the rest of a call to its result, holding `slot` until it has really
/// finished: an async command's future with the panic guard, or a blocking
/// job on tokio's blocking pool (which keeps running, and keeps its slot, if
/// this future is dropped first).
pub(crate) async fn finish(running: Running, slot: Slot) -> Result<Encoded, InvokeError> {
    match running {
        Running::Future(future) => {
            let result = guard(future).await;
            drop(slot);
            result
        }
        Running::Blocking(job) => {
            let Ok(handle) = tokio::runtime::Handle::try_current() else {
                return Err(InvokeError::internal(
                    "blocking commands need a tokio runtime",
                ));
            };
            let task = handle.spawn_blocking(move || {
                let _slot = slot;
                job()
            });
            match task.await {
                Ok(result) => result,
                Err(e) if e.is_panic() => {
                    let panic = e.into_panic();
                    Err(panicked(panic_message(panic.as_ref())))
                }
                Err(_) => Err(InvokeError::new(
                    ipc_core::codes::CANCELLED,
                    "the blocking command was cancelled",
                )),
            }
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(a panic payload that is not a string)"
    }
}

/// The error a caller receives when its command panicked. The panic message is
/// logged, not sent: it may reveal internals.
pub(crate) fn panicked(message: &str) -> InvokeError {
    tracing::error!(panic = message, "command panicked");
    InvokeError::internal("the command panicked (details are in the server log)")
}

/// Spawns a detached task on the current tokio runtime, or on `fallback`.
/// `false` when there is neither.
pub(crate) fn spawn_detached(
    fallback: Option<&tokio::runtime::Handle>,
    future: impl Future<Output = ()> + Send + 'static,
) -> bool {
    match tokio::runtime::Handle::try_current()
        .ok()
        .or_else(|| fallback.cloned())
    {
        Some(handle) => {
            handle.spawn(future);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_starting_is_an_internal_error() {
        let pending = start(|| panic!("boom"));
        match pending {
            Pending::Ready(Err(error)) => {
                assert_eq!(error.code(), ipc_core::codes::INTERNAL_ERROR);
                assert!(
                    !error.message().contains("boom"),
                    "panic text stays in the log"
                );
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_panic_while_running_is_an_internal_error() {
        let result = guard(Box::pin(async { panic!("later") })).await;
        assert_eq!(
            result.map(|_| ()).unwrap_err().code(),
            ipc_core::codes::INTERNAL_ERROR
        );
    }

    #[tokio::test]
    async fn a_blocking_job_keeps_its_slot_until_it_has_finished() {
        let slot: Slot = std::sync::Arc::new(());
        let (started_tx, started) = std::sync::mpsc::channel();
        let (release_tx, release) = std::sync::mpsc::channel::<()>();
        let job = Running::Blocking(Box::new(move || {
            let _ = started_tx.send(());
            let _ = release.recv();
            Ok(Encoded::Discarded)
        }));
        let call = tokio::spawn(finish(job, std::sync::Arc::clone(&slot)));
        tokio::task::spawn_blocking(move || started.recv())
            .await
            .unwrap()
            .unwrap();
        call.abort();
        let _ = call.await;
        assert_eq!(
            std::sync::Arc::strong_count(&slot),
            2,
            "the cancelled job still holds it"
        );
        release_tx.send(()).unwrap();
        for _ in 0..200 {
            if std::sync::Arc::strong_count(&slot) == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the job's slot was not given back when it finished");
    }

    #[test]
    fn panic_messages_of_both_string_kinds() {
        let owned: Box<dyn Any + Send> = Box::new(String::from("owned"));
        let fixed: Box<dyn Any + Send> = Box::new("fixed");
        let other: Box<dyn Any + Send> = Box::new(7_u8);
        assert_eq!(panic_message(owned.as_ref()), "owned");
        assert_eq!(panic_message(fixed.as_ref()), "fixed");
        assert!(panic_message(other.as_ref()).contains("not a string"));
    }

    #[test]
    fn spawning_needs_a_runtime() {
        assert!(!spawn_detached(None, async {}));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(spawn_detached(Some(runtime.handle()), async {}));
    }
}
