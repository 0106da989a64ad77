//! A memory budget for incoming messages, shared by every connection of a
//! server: the worst case is the budget, not `connections × message size`.
//!
//! The WebSocket library reserves a frame's whole announced size as soon as it
//! reads the frame's header. [`Budgeted`] sits under it, on the socket, and
//! follows the frame headers going by. When a large frame's header has gone
//! by, the bytes after it wait until that frame has taken its size from the
//! [`IncomingBudget`]; when the budget is spent, the connection simply stops
//! being read (the client is slowed; the idle timeout still applies) until
//! other messages are done. So no large frame is ever read without its share.
//!
//! The taken shares are kept per data frame, in order ([`Frames`]); the read
//! loop takes one for each data frame the library hands it (or consumes with
//! an error) and drops it once the message it belongs to has been handled.
//!
//! Frames below [`LARGE_FRAME`] take nothing: each connection's own read
//! buffer holds them, so their worst case is already small.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;

/// Frames with at least this many payload bytes take from the budget.
pub(super) const LARGE_FRAME: u64 = 64 * 1024;

/// The bytes incoming messages may hold at once, across connections.
#[derive(Debug)]
pub(super) struct IncomingBudget {
    semaphore: Arc<Semaphore>,
    total: u64,
}

impl IncomingBudget {
    pub(super) fn new(bytes: u64) -> Arc<Self> {
        let permits = usize::try_from(bytes)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Arc::new(IncomingBudget {
            semaphore: Arc::new(Semaphore::new(permits)),
            total: permits as u64,
        })
    }

    /// How many bytes are free now.
    #[cfg(test)]
    pub(super) fn available(&self) -> usize {
        self.semaphore.available_permits()
    }
}

/// A data frame's share of the budget (`None` for a small frame).
pub(super) type Share = Option<OwnedSemaphorePermit>;

/// The shares of the data frames that went by and were not yet handed to the
/// read loop, in order.
#[derive(Debug, Default)]
pub(super) struct Frames {
    shares: Mutex<VecDeque<Share>>,
}

impl Frames {
    /// The share of the oldest data frame not yet taken.
    pub(super) fn take(&self) -> Share {
        self.lock().pop_front().flatten()
    }

    fn push(&self, share: Share) {
        self.lock().push_back(share);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Share>> {
        self.shares.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where the scanner is in the stream of frames.
#[derive(Debug)]
enum Scan {
    /// Reading a header: the bytes so far.
    Header { bytes: [u8; 14], have: usize },
    /// Inside a payload: how many bytes are left.
    Payload { left: u64 },
}

impl Scan {
    fn start() -> Self {
        Scan::Header {
            bytes: [0; 14],
            have: 0,
        }
    }
}

/// The size of a header given its first bytes, and the payload length once it
/// is complete.
fn header(bytes: &[u8]) -> (usize, Option<u64>) {
    if bytes.len() < 2 {
        return (2, None);
    }
    let masked = bytes[1] & 0x80 != 0;
    let (extra, short) = match bytes[1] & 0x7f {
        126 => (2, None),
        127 => (8, None),
        len => (0, Some(u64::from(len))),
    };
    let size = 2 + extra + if masked { 4 } else { 0 };
    if bytes.len() < size {
        return (size, None);
    }
    let len = short.unwrap_or_else(|| {
        bytes[2..2 + extra]
            .iter()
            .fold(0u64, |len, b| (len << 8) | u64::from(*b))
    });
    (size, Some(len))
}

/// Data frames (text, binary, continuation) carry messages; control frames
/// (close, ping, pong) do not and are never large.
fn is_data(first_byte: u8) -> bool {
    first_byte & 0x0f < 8
}

/// A socket whose incoming large frames take from an [`IncomingBudget`].
pub(super) struct Budgeted<S> {
    inner: S,
    semaphore: PollSemaphore,
    total: u64,
    /// Frames larger than this are refused by the WebSocket library before
    /// their payload is read: they take nothing.
    max_message_size: u64,
    scan: Scan,
    /// Bytes the frame whose header just went by must take before anything
    /// after its header goes on.
    owed: Option<u32>,
    /// Bytes read from the socket and held back until the share is taken.
    stash: Vec<u8>,
    frames: Arc<Frames>,
}

impl<S> Budgeted<S> {
    pub(super) fn new(
        inner: S,
        budget: &IncomingBudget,
        max_message_size: usize,
        frames: Arc<Frames>,
    ) -> Self {
        Budgeted {
            inner,
            semaphore: PollSemaphore::new(Arc::clone(&budget.semaphore)),
            total: budget.total,
            max_message_size: max_message_size as u64,
            scan: Scan::start(),
            owed: None,
            stash: Vec::new(),
            frames,
        }
    }

    /// Follows the frames in `bytes`, about to be handed on; returns how many
    /// of them may go now: all, or up to the end of a large frame's header.
    fn follow(&mut self, bytes: &[u8]) -> usize {
        let mut at = 0;
        while at < bytes.len() {
            match &mut self.scan {
                Scan::Header { bytes: head, have } => {
                    head[*have] = bytes[at];
                    *have += 1;
                    at += 1;
                    let (size, len) = header(&head[..*have]);
                    let Some(len) = len.filter(|_| *have == size) else {
                        continue;
                    };
                    let data = is_data(head[0]);
                    self.scan = if len == 0 {
                        Scan::start()
                    } else {
                        Scan::Payload { left: len }
                    };
                    if !data {
                        continue;
                    }
                    if (LARGE_FRAME..=self.max_message_size).contains(&len) {
                        // Never more than the whole budget, or it could never be had.
                        let share = len.min(self.total).min(u64::from(u32::MAX));
                        self.owed = Some(share as u32);
                        return at;
                    }
                    self.frames.push(None);
                }
                Scan::Payload { left } => {
                    let taken = (*left).min((bytes.len() - at) as u64);
                    *left -= taken;
                    at += taken as usize;
                    if *left == 0 {
                        self.scan = Scan::start();
                    }
                }
            }
        }
        at
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Budgeted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(bytes) = this.owed {
            match this.semaphore.poll_acquire_many(cx, bytes) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(share) => this.frames.push(share),
            }
            this.owed = None;
        }
        if !this.stash.is_empty() {
            let room = buf.remaining().min(this.stash.len());
            let go = this.follow_stash(room);
            buf.put_slice(&this.stash[..go]);
            this.stash.drain(..go);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            let new = &buf.filled()[before..];
            let go = this.follow(new);
            if go < new.len() {
                this.stash.extend_from_slice(&buf.filled()[before + go..]);
                buf.set_filled(before + go);
            }
        }
        read
    }
}

impl<S> Budgeted<S> {
    /// [`follow`](Self::follow) over the first `len` stashed bytes.
    fn follow_stash(&mut self, len: usize) -> usize {
        let stash = std::mem::take(&mut self.stash);
        let go = self.follow(&stash[..len]);
        self.stash = stash;
        go
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Budgeted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A masked client frame: `opcode`, `len` payload bytes of `fill`.
    fn frame(opcode: u8, len: u64, fill: u8) -> Vec<u8> {
        let mut h = vec![0x80 | opcode];
        match len {
            0..=125 => h.push(0x80 | len as u8),
            126..=0xffff => {
                h.push(0x80 | 126);
                h.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                h.push(0x80 | 127);
                h.extend_from_slice(&len.to_be_bytes());
            }
        }
        h.extend_from_slice(&[1, 2, 3, 4]);
        h.extend(std::iter::repeat_n(fill, len as usize));
        h
    }

    fn budgeted(
        budget: &IncomingBudget,
    ) -> (
        tokio::io::DuplexStream,
        Budgeted<tokio::io::DuplexStream>,
        Arc<Frames>,
    ) {
        let (client, server) = tokio::io::duplex(1 << 21);
        let frames = Arc::new(Frames::default());
        let reader = Budgeted::new(server, budget, 1 << 20, Arc::clone(&frames));
        (client, reader, frames)
    }

    #[test]
    fn headers_of_every_length_form() {
        assert_eq!(header(&frame(2, 5, 0)[..6]), (6, Some(5)));
        assert_eq!(header(&frame(2, 300, 0)[..8]), (8, Some(300)));
        assert_eq!(header(&frame(2, 70_000, 0)[..14]), (14, Some(70_000)));
        assert_eq!(header(&frame(2, 70_000, 0)[..3]), (14, None));
    }

    #[tokio::test]
    async fn every_data_frame_has_a_share_and_large_ones_hold_bytes() {
        let budget = IncomingBudget::new(200_000);
        let (mut client, mut reader, frames) = budgeted(&budget);
        let mut stream = frame(1, 3, b'a');
        stream.extend(frame(9, 4, 0)); // a ping: not a data frame
        stream.extend(frame(2, 100_000, 7));
        stream.extend(frame(2, 3, 1));
        client.write_all(&stream).await.unwrap();
        let mut got = vec![0u8; stream.len()];
        reader.read_exact(&mut got).await.unwrap();
        assert_eq!(got, stream, "every byte goes through, in order");
        assert_eq!(
            budget.available(),
            100_000,
            "the large frame holds its bytes"
        );
        assert!(frames.take().is_none(), "the small text frame");
        let large = frames.take();
        assert!(large.is_some(), "the large binary frame");
        assert!(frames.take().is_none(), "the small binary frame");
        drop(large);
        assert_eq!(budget.available(), 200_000, "handed back once handled");
    }

    #[tokio::test]
    async fn a_large_frame_is_not_read_until_it_has_its_share() {
        let budget = IncomingBudget::new(150_000);
        let (mut a_client, mut a, a_frames) = budgeted(&budget);
        let large = frame(2, 100_000, 0);
        a_client.write_all(&large).await.unwrap();
        let mut sink = vec![0u8; large.len()];
        a.read_exact(&mut sink).await.unwrap();
        let a_share = a_frames.take();

        let (mut b_client, mut b, b_frames) = budgeted(&budget);
        b_client.write_all(&large).await.unwrap();
        let mut head = vec![0u8; 14];
        b.read_exact(&mut head).await.unwrap();
        let mut rest = vec![0u8; large.len() - 14];
        let blocked =
            tokio::time::timeout(Duration::from_millis(50), b.read_exact(&mut rest)).await;
        assert!(
            blocked.is_err(),
            "only 50,000 bytes are free: b's payload waits"
        );
        drop(a_share);
        b.read_exact(&mut rest).await.unwrap();
        assert_eq!(rest, large[14..]);
        assert!(b_frames.take().is_some());
    }

    #[tokio::test]
    async fn a_header_split_across_reads_is_followed() {
        let budget = IncomingBudget::new(1 << 20);
        let (mut client, mut reader, frames) = budgeted(&budget);
        let large = frame(2, 70_000, 9);
        for piece in large.chunks(5) {
            client.write_all(piece).await.unwrap();
        }
        let mut got = vec![0u8; large.len()];
        reader.read_exact(&mut got).await.unwrap();
        assert_eq!(got, large);
        assert!(frames.take().is_some());
    }
}
