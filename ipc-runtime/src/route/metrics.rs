//! The app's counters: calls, errors by code, calls in flight, bytes in and
//! out, events emitted and events dropped for slow readers.
//!
//! Kept as relaxed atomics (errors, rarer, in a small locked map), written by
//! the dispatcher and the sessions, read with `App::metrics`, and published
//! to the `metrics` crate's recorder with `App::export_metrics` (feature
//! `metrics`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the app's counters, from [`App::metrics`](crate::App::metrics).
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, command};
///
/// #[command]
/// fn half(n: i64) -> Result<i64, ipc_runtime::InvokeError> {
///     if n % 2 != 0 {
///         return Err(ipc_runtime::InvokeError::new(4000, "odd"));
///     }
///     Ok(n / 2)
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().build().unwrap();
/// app.invoke("half", serde_json::json!([4])).await.unwrap();
/// app.invoke("half", serde_json::json!([3])).await.unwrap_err();
/// let metrics = app.metrics();
/// assert_eq!(metrics.calls, 2);
/// assert_eq!(metrics.errors.get(&4000), Some(&1));
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Calls that reached a command (in-process ones included).
    pub calls: u64,
    /// Error responses to calls, by JSON-RPC code (refusals by the ACL, unknown
    /// commands and layers' errors included).
    pub errors: BTreeMap<i32, u64>,
    /// Calls running now that did not finish when they started (async and
    /// blocking commands, and every call through layers).
    pub in_flight: u64,
    /// Bytes received from frontends (text and binary messages).
    pub bytes_in: u64,
    /// Bytes queued for frontends (responses, events, channel messages).
    pub bytes_out: u64,
    /// Events emitted (from Rust and from frontends), before any layer.
    pub events: u64,
    /// Events dropped because a frontend did not read fast enough.
    pub lagged: u64,
}

#[cfg(feature = "metrics")]
impl Metrics {
    /// Publishes this snapshot to the `metrics` crate's recorder: counters
    /// `ipc_calls_total`, `ipc_errors_total` (label `code`),
    /// `ipc_bytes_in_total`, `ipc_bytes_out_total`, `ipc_events_total`,
    /// `ipc_lagged_events_total` (set to their absolute values) and the gauge
    /// `ipc_calls_in_flight`.
    pub(crate) fn export(&self) {
        metrics::counter!("ipc_calls_total").absolute(self.calls);
        for (code, count) in &self.errors {
            metrics::counter!("ipc_errors_total", "code" => code.to_string()).absolute(*count);
        }
        metrics::counter!("ipc_bytes_in_total").absolute(self.bytes_in);
        metrics::counter!("ipc_bytes_out_total").absolute(self.bytes_out);
        metrics::counter!("ipc_events_total").absolute(self.events);
        metrics::counter!("ipc_lagged_events_total").absolute(self.lagged);
        #[expect(clippy::cast_precision_loss, reason = "a gauge is an f64")]
        metrics::gauge!("ipc_calls_in_flight").set(self.in_flight as f64);
    }
}

/// The live counters.
#[derive(Default)]
pub(crate) struct Counters {
    calls: AtomicU64,
    errors: Mutex<BTreeMap<i32, u64>>,
    in_flight: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    events: AtomicU64,
    lagged: AtomicU64,
}

impl Counters {
    #[inline]
    pub(crate) fn call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn error(&self, code: i32) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        *errors.entry(code).or_default() += 1;
    }

    #[inline]
    pub(crate) fn event(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bytes_in(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn bytes_out(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn lagged(&self) {
        self.lagged.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a call in flight until the guard drops (finished or cancelled).
    pub(crate) fn in_flight(counters: &std::sync::Arc<Counters>) -> InFlight {
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(std::sync::Arc::clone(counters))
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        Metrics {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            lagged: self.lagged.load(Ordering::Relaxed),
        }
    }
}

/// One call in flight; counted out when dropped.
pub(crate) struct InFlight(std::sync::Arc<Counters>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
