//! Replay buffers: the recent events of the names configured for it, so a
//! frontend that reconnects gets what it missed, and one that listens late
//! gets the last value.
//!
//! Every event the bus delivers gets a sequence number from one counter per
//! app ([`Sequence`]): increasing in delivery order for each name (numbers
//! skip between events of one name, because other names take some). A
//! frontend remembers the number of the last event it saw of each name it
//! listens to and, after a reconnect, listens again `since` that number: the
//! buffer sends what it holds after it, in order, before any new event. When
//! the buffer no longer holds all of them (it is bounded in count and bytes),
//! the frontend is told how many were lost first. Numbers belong to one run of
//! the app (its epoch): a frontend that comes back to a restarted backend is
//! told its position is unknown.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ipc_core::{ClientId, EventTarget};
use serde_json::value::RawValue;

/// How many evicted sequence numbers a buffer remembers per entry it may
/// hold, to count exactly what a late resume lost.
const EVICTED_PER_ENTRY: usize = 8;

/// The app's sequence numbers and its epoch.
#[derive(Debug)]
pub(crate) struct Sequence {
    next: AtomicU64,
    epoch: String,
}

impl Sequence {
    pub(crate) fn new() -> Self {
        Sequence {
            next: AtomicU64::new(1),
            epoch: epoch(),
        }
    }

    /// The next number (called under the name's lock, so numbers of one name
    /// are in delivery order).
    pub(crate) fn take(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The number the next event will get, less one: everything delivered so
    /// far is at or below it.
    pub(crate) fn current(&self) -> u64 {
        self.next.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// This run of the app, as frontends echo it back when they resume.
    pub(crate) fn epoch(&self) -> &str {
        &self.epoch
    }
}

/// A name for this run of the app: random, so a restarted backend never takes
/// a frontend's old position for one of its own.
fn epoch() -> String {
    let mut bytes = [0u8; 8];
    // Without randomness, the time still tells runs apart.
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes = now.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How much of one event name to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Keep {
    /// The most events kept (at least 1).
    pub(crate) count: usize,
    /// The most payload bytes kept (the newest event is kept whatever its size).
    pub(crate) bytes: usize,
}

/// One kept event.
#[derive(Clone, Debug)]
pub(crate) struct Kept {
    pub(crate) seq: u64,
    pub(crate) payload: Arc<RawValue>,
    pub(crate) source: ClientId,
    pub(crate) target: EventTarget,
}

/// What a frontend that listens again `since` a number gets.
#[derive(Debug, PartialEq)]
pub(crate) enum Resume {
    /// Nothing was lost.
    Complete,
    /// This many events after `since` are no longer kept (`None`: unknown, as
    /// when the frontend's position is from another run of the app).
    Lost(Option<u64>),
}

/// The kept events of one name, oldest first.
#[derive(Debug)]
pub(crate) struct History {
    keep: Keep,
    events: VecDeque<Kept>,
    bytes: usize,
    /// Numbers of events no longer kept, newest last (bounded).
    evicted: VecDeque<u64>,
    /// Whether numbers older than `evicted`'s oldest were evicted too.
    forgot_evictions: bool,
}

impl History {
    pub(crate) fn new(keep: Keep) -> Self {
        History {
            keep: Keep {
                count: keep.count.max(1),
                bytes: keep.bytes,
            },
            events: VecDeque::new(),
            bytes: 0,
            evicted: VecDeque::new(),
            forgot_evictions: false,
        }
    }

    /// Keeps an event, evicting the oldest past the bounds (and past what
    /// `total` allows across every name).
    pub(crate) fn push(&mut self, event: Kept, total: &TotalBytes) {
        let len = event.payload.get().len();
        self.bytes += len;
        total.add(len);
        self.events.push_back(event);
        while self.events.len() > 1
            && (self.events.len() > self.keep.count || self.bytes > self.keep.bytes || total.over())
        {
            self.evict_oldest(total);
        }
    }

    fn evict_oldest(&mut self, total: &TotalBytes) {
        let Some(old) = self.events.pop_front() else {
            return;
        };
        let len = old.payload.get().len();
        self.bytes -= len;
        total.remove(len);
        if self.evicted.len() >= self.keep.count * EVICTED_PER_ENTRY {
            self.evicted.pop_front();
            self.forgot_evictions = true;
        }
        self.evicted.push_back(old.seq);
    }

    /// The newest kept event.
    pub(crate) fn last(&self) -> Option<&Kept> {
        self.events.back()
    }

    /// The kept events after `since`, and whether any after it were lost.
    pub(crate) fn since(&self, since: u64) -> (Resume, impl Iterator<Item = &Kept>) {
        let lost = self.evicted.iter().filter(|seq| **seq > since).count() as u64;
        let older_unknown =
            self.forgot_evictions && self.evicted.front().is_some_and(|oldest| *oldest > since);
        let resume = match (lost, older_unknown) {
            (_, true) => Resume::Lost(None),
            (0, false) => Resume::Complete,
            (n, false) => Resume::Lost(Some(n)),
        };
        (resume, self.events.iter().filter(move |e| e.seq > since))
    }
}

/// The payload bytes kept across every name, against one bound.
#[derive(Debug)]
pub(crate) struct TotalBytes {
    now: AtomicUsize,
    max: usize,
}

impl TotalBytes {
    pub(crate) fn new(max: usize) -> Self {
        TotalBytes {
            now: AtomicUsize::new(0),
            max,
        }
    }

    fn add(&self, len: usize) {
        self.now.fetch_add(len, Ordering::Relaxed);
    }

    fn remove(&self, len: usize) {
        self.now.fetch_sub(len, Ordering::Relaxed);
    }

    fn over(&self) -> bool {
        self.now.load(Ordering::Relaxed) > self.max
    }

    /// The bytes kept now.
    #[cfg(test)]
    pub(crate) fn now(&self) -> usize {
        self.now.load(Ordering::Relaxed)
    }
}

/// A history shared between the bus's emits and its subscribes.
pub(crate) type SharedHistory = Arc<Mutex<History>>;

pub(crate) fn lock(history: &SharedHistory) -> MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(seq: u64, payload: &str) -> Kept {
        Kept {
            seq,
            payload: RawValue::from_string(payload.to_owned()).unwrap().into(),
            source: ClientId::BACKEND,
            target: EventTarget::All,
        }
    }

    fn seqs<'a>(events: impl Iterator<Item = &'a Kept>) -> Vec<u64> {
        events.map(|e| e.seq).collect()
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let total = TotalBytes::new(usize::MAX);
        let mut history = History::new(Keep {
            count: 3,
            bytes: 1000,
        });
        for seq in 1..=5 {
            history.push(kept(seq, "1"), &total);
        }
        assert_eq!(seqs(history.since(0).1), [3, 4, 5]);
        let mut small = History::new(Keep {
            count: 10,
            bytes: 10,
        });
        small.push(kept(1, r#""aaaa""#), &total); // 6 bytes
        small.push(kept(2, r#""bbbb""#), &total); // 12 > 10: the first goes
        assert_eq!(seqs(small.since(0).1), [2]);
        small.push(kept(3, &format!("\"{}\"", "c".repeat(50))), &total);
        assert_eq!(
            seqs(small.since(0).1),
            [3],
            "the newest stays whatever its size"
        );
    }

    #[test]
    fn resuming_counts_exactly_what_was_lost() {
        let total = TotalBytes::new(usize::MAX);
        let mut history = History::new(Keep {
            count: 2,
            bytes: 1000,
        });
        for seq in [10, 12, 15, 20] {
            history.push(kept(seq, "0"), &total);
        }
        let (resume, events) = history.since(15);
        assert_eq!((resume, seqs(events)), (Resume::Complete, vec![20]));
        let (resume, events) = history.since(12);
        assert_eq!((resume, seqs(events)), (Resume::Complete, vec![15, 20]));
        let (resume, events) = history.since(9);
        assert_eq!(
            (resume, seqs(events)),
            (Resume::Lost(Some(2)), vec![15, 20]),
            "10 and 12 are gone"
        );
        let (resume, _) = history.since(11);
        assert_eq!(resume, Resume::Lost(Some(1)));
        let (resume, events) = history.since(20);
        assert_eq!((resume, seqs(events)), (Resume::Complete, vec![]));
    }

    #[test]
    fn a_position_older_than_what_is_remembered_is_unknown() {
        let total = TotalBytes::new(usize::MAX);
        let mut history = History::new(Keep {
            count: 1,
            bytes: 1000,
        });
        for seq in 1..=100 {
            history.push(kept(seq, "0"), &total);
        }
        assert_eq!(
            history.since(0).0,
            Resume::Lost(None),
            "more evicted than remembered"
        );
        assert_eq!(history.since(95).0, Resume::Lost(Some(4)));
    }

    #[test]
    fn every_name_shares_one_byte_bound() {
        let total = TotalBytes::new(10);
        let mut a = History::new(Keep {
            count: 10,
            bytes: 1000,
        });
        let mut b = History::new(Keep {
            count: 10,
            bytes: 1000,
        });
        a.push(kept(1, "1234"), &total);
        a.push(kept(2, "1234"), &total);
        b.push(kept(3, "1234"), &total); // 12 > 10: b cannot evict a's, keeps only its newest
        assert_eq!(total.now(), 12);
        a.push(kept(4, "1234"), &total);
        assert_eq!(seqs(a.since(0).1), [4], "a gives back room");
        assert_eq!(total.now(), 8);
    }
}
