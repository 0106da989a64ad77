//! [`RateLimit`]: how many calls and emits a connection may make per second.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `per_second` calls (and emits) per second on average, with
/// bursts of up to `burst`. Set it on a server with
/// [`ServerBuilder::rate_limit`](crate::transport::ws::ServerBuilder::rate_limit)
/// or on [`ConnectOptions::rate_limit`](super::ConnectOptions::rate_limit).
///
/// ```rust,standalone_crate
/// use ipc_runtime::session::RateLimit;
///
/// let limit = RateLimit::new(50, 100); // 50 per second, bursts of 100
/// assert_eq!((limit.per_second(), limit.burst()), (50, 100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    per_second: u32,
    burst: u32,
}

impl RateLimit {
    /// `per_second` on average (at least 1), bursts of `burst` (at least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimit {
            per_second: per_second.max(1),
            burst: burst.max(1),
        }
    }

    /// The average rate.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// The largest burst.
    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// One connection's bucket.
#[derive(Debug)]
pub(super) struct Bucket {
    limit: RateLimit,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub(super) fn new(limit: RateLimit) -> Self {
        Bucket {
            limit,
            state: Mutex::new((f64::from(limit.burst), Instant::now())),
        }
    }

    /// Takes one token; `Err(wait)` when there is none, with how long until
    /// there is.
    pub(super) fn take(&self) -> Result<(), Duration> {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = &mut *state;
        let rate = f64::from(self.limit.per_second);
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * rate).min(f64::from(self.limit.burst));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let bucket = Bucket::new(RateLimit::new(10, 3));
        let start = Instant::now();
        for _ in 0..3 {
            assert!(bucket.take_at(start).is_ok());
        }
        let wait = bucket.take_at(start).unwrap_err();
        assert!(
            wait > Duration::from_millis(90) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        assert!(
            bucket.take_at(start + Duration::from_millis(100)).is_ok(),
            "one token per 100 ms"
        );
        assert!(bucket.take_at(start + Duration::from_millis(100)).is_err());
        let later = start + Duration::from_secs(10);
        for _ in 0..3 {
            assert!(
                bucket.take_at(later).is_ok(),
                "refilled to the burst, no more"
            );
        }
        assert!(bucket.take_at(later).is_err());
    }
}
