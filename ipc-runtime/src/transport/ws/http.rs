//! The HTTP server under the routes: accepting TCP connections, with a cap on
//! those that have not become WebSockets yet and a deadline on reading each
//! request's headers, so connections that send nothing are closed instead of
//! holding file descriptors forever.
//!
//! Each accepted connection holds a slot until it ends or is upgraded (an
//! upgraded socket is counted against the WebSocket connection limit
//! instead). At shutdown the listener closes, idle connections are told to
//! close, and requests being answered get a grace period, after which their
//! tasks are dropped.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The HTTP side's limits.
#[derive(Clone, Copy, Debug)]
pub(super) struct HttpLimits {
    /// How long a client may take to send a request's headers (and, between
    /// requests on a kept-alive connection, to start the next one).
    pub(super) header_read_timeout: Duration,
    /// How many connections may be open that are not WebSockets (yet).
    pub(super) max_pending: usize,
}

/// Accepts and serves connections until `stop` is cancelled; then gives the
/// requests being answered up to `grace` to finish.
pub(super) async fn serve(
    listener: TcpListener,
    routes: axum::Router,
    limits: HttpLimits,
    stop: CancellationToken,
    grace: Duration,
) {
    let pending = Arc::new(Semaphore::new(limits.max_pending.max(1)));
    let mut connections = JoinSet::new();
    loop {
        // Reap what has ended, so the set holds only live connections.
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most likely: wait, rather than spin.
                tracing::warn!(error = %e, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&pending).try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_pending, "too many connections that are not WebSockets; closed");
            continue;
        };
        // The writer batches what is queued into one flush; Nagle's delay
        // would only add latency on top.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(routes.clone());
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let stop = stop.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::debug!(
            left = connections.len(),
            "HTTP requests still running at shutdown are dropped"
        );
    }
    // Dropping the set aborts whatever is left.
}
