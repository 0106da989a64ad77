//! A connection's outgoing queue, bounded in messages and in bytes.
//!
//! Responses and channel messages wait for room ([`OutboxSender::send`]);
//! events never wait ([`OutboxSender::try_send`] fails and the session counts
//! the drop). One message larger than the byte bound is still accepted when
//! the queue is empty, so a large response can always go out, alone. The
//! queue ends ([`Outbox::recv`] returns `None`) once every sender is gone and
//! nothing is left; sends fail once the [`Outbox`] is dropped.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::codec::Outbound;

/// Why [`OutboxSender::try_send`] did not queue a message.
#[derive(Debug)]
pub(crate) enum TrySendError {
    /// No room now.
    Full(Outbound),
    /// Nobody reads any more.
    Closed,
}

struct Queue {
    messages: VecDeque<Outbound>,
    bytes: usize,
    senders: usize,
    receiver_gone: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a message is queued or the last sender leaves.
    readable: Notify,
    /// Signalled when room is made or the receiver leaves.
    writable: Notify,
    max_messages: usize,
    max_bytes: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn has_room(&self, queue: &Queue, len: usize) -> bool {
        queue.messages.is_empty()
            || (queue.messages.len() < self.max_messages
                && queue.bytes.saturating_add(len) <= self.max_bytes)
    }

    /// Queues `message` if there is room.
    fn try_push(&self, message: Outbound) -> Result<(), TrySendError> {
        let mut queue = self.lock();
        if queue.receiver_gone {
            return Err(TrySendError::Closed);
        }
        if !self.has_room(&queue, message.len()) {
            return Err(TrySendError::Full(message));
        }
        queue.bytes += message.len();
        queue.messages.push_back(message);
        drop(queue);
        self.readable.notify_one();
        Ok(())
    }
}

/// The sending side: held by the session, the calls it runs and the event bus
/// (through the session).
pub(crate) struct OutboxSender {
    shared: Arc<Shared>,
}

/// What a connection has to send, in order. Ends when the connection is closed
/// and every call it started has finished.
pub struct Outbox {
    shared: Arc<Shared>,
}

/// A queue holding at most `max_messages` messages and, but for a lone
/// message, `max_bytes` bytes.
pub(crate) fn outbox(max_messages: usize, max_bytes: usize) -> (OutboxSender, Outbox) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            messages: VecDeque::new(),
            bytes: 0,
            senders: 1,
            receiver_gone: false,
        }),
        readable: Notify::new(),
        writable: Notify::new(),
        max_messages: max_messages.max(1),
        max_bytes,
    });
    (
        OutboxSender {
            shared: Arc::clone(&shared),
        },
        Outbox { shared },
    )
}

impl OutboxSender {
    /// Queues a message, waiting for room; `false` once nobody reads.
    pub(crate) async fn send(&self, message: Outbound) -> bool {
        let mut message = message;
        loop {
            let room = self.shared.writable.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.shared.try_push(message) {
                Ok(()) => return true,
                Err(TrySendError::Closed) => return false,
                Err(TrySendError::Full(back)) => message = back,
            }
            room.await;
        }
    }

    /// Queues a message if there is room now.
    pub(crate) fn try_send(&self, message: Outbound) -> Result<(), TrySendError> {
        self.shared.try_push(message)
    }

    /// Whether nobody reads any more.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.lock().receiver_gone
    }

    /// How many messages and bytes are waiting to be sent.
    pub(crate) fn queued(&self) -> (usize, usize) {
        let queue = self.shared.lock();
        (queue.messages.len(), queue.bytes)
    }
}

impl Clone for OutboxSender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        OutboxSender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for OutboxSender {
    fn drop(&mut self) {
        let last = {
            let mut queue = self.shared.lock();
            queue.senders -= 1;
            queue.senders == 0
        };
        if last {
            self.shared.readable.notify_one();
        }
    }
}

impl Outbox {
    /// The next message, waiting for one; `None` once the connection is closed
    /// and everything it queued has been taken.
    pub async fn recv(&mut self) -> Option<Outbound> {
        loop {
            let queued = self.shared.readable.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            {
                let mut queue = self.shared.lock();
                if let Some(message) = self.take(&mut queue) {
                    return Some(message);
                }
                if queue.senders == 0 {
                    return None;
                }
            }
            queued.await;
        }
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let mut queue = self.shared.lock();
        self.take(&mut queue)
    }

    /// How many bytes are waiting.
    pub fn queued_bytes(&self) -> usize {
        self.shared.lock().bytes
    }

    fn take(&self, queue: &mut Queue) -> Option<Outbound> {
        let message = queue.messages.pop_front()?;
        queue.bytes -= message.len();
        self.shared.writable.notify_waiters();
        Some(message)
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let mut queue = self.shared.lock();
        queue.receiver_gone = true;
        // What is queued will never be read: free it now.
        queue.messages.clear();
        queue.bytes = 0;
        drop(queue);
        self.shared.writable.notify_waiters();
    }
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queue = self.shared.lock();
        f.debug_struct("Outbox")
            .field("messages", &queue.messages.len())
            .field("bytes", &queue.bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;

    fn text(len: usize) -> Outbound {
        Outbound::Text(Bytes::from(vec![b'x'; len]))
    }

    #[tokio::test]
    async fn bounded_by_messages_and_by_bytes() {
        let (sender, mut outbox) = outbox(3, 100);
        assert!(sender.try_send(text(40)).is_ok());
        assert!(sender.try_send(text(40)).is_ok());
        assert!(
            matches!(sender.try_send(text(40)), Err(TrySendError::Full(_))),
            "120 bytes > 100"
        );
        assert!(sender.try_send(text(20)).is_ok());
        assert!(
            matches!(sender.try_send(text(1)), Err(TrySendError::Full(_))),
            "3 messages"
        );
        assert_eq!(outbox.queued_bytes(), 100);
        assert_eq!(outbox.try_recv().map(|m| m.len()), Some(40));
        assert!(sender.try_send(text(1)).is_ok());
    }

    #[tokio::test]
    async fn a_lone_large_message_goes_through() {
        let (sender, mut outbox) = outbox(8, 100);
        assert!(
            sender.try_send(text(1000)).is_ok(),
            "alone, it may exceed the byte bound"
        );
        assert!(matches!(
            sender.try_send(text(1)),
            Err(TrySendError::Full(_))
        ));
        assert_eq!(outbox.recv().await.map(|m| m.len()), Some(1000));
    }

    #[tokio::test]
    async fn send_waits_for_room_and_fails_once_nobody_reads() {
        let (sender, mut outbox) = outbox(1, 1000);
        assert!(sender.send(text(1)).await);
        let waiting = tokio::spawn({
            let sender = sender.clone();
            async move { sender.send(text(2)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the queue is full");
        assert_eq!(outbox.recv().await.map(|m| m.len()), Some(1));
        assert!(waiting.await.unwrap(), "room was made");
        drop(outbox);
        assert!(sender.is_closed());
        assert!(!sender.send(text(1)).await, "nobody reads");
    }

    #[tokio::test]
    async fn the_outbox_ends_when_every_sender_is_gone_and_it_is_empty() {
        let (sender, mut outbox) = outbox(4, 1000);
        let other = sender.clone();
        sender.try_send(text(3)).unwrap();
        drop(sender);
        drop(other);
        assert_eq!(
            outbox.recv().await.map(|m| m.len()),
            Some(3),
            "what is queued comes first"
        );
        assert!(outbox.recv().await.is_none());
    }
}
