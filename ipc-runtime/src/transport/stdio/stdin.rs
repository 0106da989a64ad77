//! The process's standard input as an [`AsyncRead`], read on a thread of its own.
//!
//! `tokio::io::stdin` reads on tokio's blocking pool, and a blocking read
//! cannot be cancelled: a runtime shutting down while one is pending waits for
//! the next input (tokio documents this). A sidecar whose session ended for
//! another reason (its stdout closed) would then hang on exit. Here a plain
//! thread, outside the runtime, does the blocking reads and hands chunks over
//! a small bounded channel; nothing waits for it, and it ends at the next read
//! once the reader is dropped (or with the process).

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

/// The most bytes one read from stdin takes.
const CHUNK: usize = 64 * 1024;
/// Chunks read ahead of the session: memory stays bounded by `CHUNK * (QUEUE + 1)`.
const QUEUE: usize = 2;

/// Standard input, fed by a dedicated reading thread.
#[derive(Debug)]
pub(super) struct ThreadStdin {
    chunks: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl ThreadStdin {
    /// Starts the reading thread.
    pub(super) fn spawn() -> io::Result<Self> {
        let (sender, chunks) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("ipc-stdin".to_owned())
            .spawn(move || read_stdin(&sender))?;
        Ok(ThreadStdin {
            chunks,
            current: Bytes::new(),
        })
    }
}

/// Reads stdin until its end, an error, or nobody listening.
fn read_stdin(sender: &mpsc::Sender<io::Result<Bytes>>) {
    let mut stdin = io::stdin().lock();
    let mut buffer = vec![0; CHUNK];
    loop {
        let chunk = match stdin.read(&mut buffer) {
            Ok(0) => return, // end of input: dropping the sender says so
            Ok(n) => Ok(Bytes::copy_from_slice(&buffer[..n])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let failed = chunk.is_err();
        if sender.blocking_send(chunk).is_err() || failed {
            return;
        }
    }
}

impl AsyncRead for ThreadStdin {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.current.is_empty() {
            match ready!(self.chunks.poll_recv(cx)) {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())), // end of input
            }
        }
        let n = self.current.len().min(buf.remaining());
        buf.put_slice(&self.current[..n]);
        self.current.advance(n);
        Poll::Ready(Ok(()))
    }
}
