//! The process's stdin and stdout as non-blocking tokio I/O, when they are
//! pipes or sockets: what a parent creates for its child (Python's
//! `subprocess` and Rust's `Command` make pipes, Node's `child_process` makes
//! Unix sockets).
//!
//! Reading and writing then go through tokio's reactor on the session's own
//! tasks, instead of a thread of their own (stdin) and tokio's blocking pool
//! (stdout), whose hand-offs cost more than the rest of a small call (see
//! BENCHMARKS.md, the stdio transport against its floor).
//!
//! `O_NONBLOCK` belongs to the open file description, which the parent (and
//! whoever else inherited it) shares: it is only set on pipes and sockets,
//! never on a terminal or a file, and [`Restore`] puts each description's
//! flags back as they were when the session ends, whichever way it ends.

use std::fs::File;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::pin::Pin;
use std::task::{Context, Poll};

use rustix::fs::OFlags;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tokio::net::unix::pipe;

/// What a standard stream is, as far as serving it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pipe,
    Socket,
    /// A terminal, a file, `/dev/null`: served the blocking way.
    Other,
}

fn kind(fd: BorrowedFd<'_>) -> io::Result<Kind> {
    let file_type = File::from(fd.try_clone_to_owned()?).metadata()?.file_type();
    Ok(if file_type.is_fifo() {
        Kind::Pipe
    } else if file_type.is_socket() {
        Kind::Socket
    } else {
        Kind::Other
    })
}

/// Puts back the file status flags of the descriptions it was given, when
/// dropped.
#[derive(Debug, Default)]
pub(super) struct Restore {
    flags: Vec<(OwnedFd, OFlags)>,
}

impl Restore {
    /// Remembers `fd`'s flags (through a duplicate of it, so the number stays
    /// valid whatever the caller does with its own).
    fn remember(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let flags = rustix::fs::fcntl_getfl(fd)?;
        self.flags.push((fd.try_clone_to_owned()?, flags));
        Ok(())
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        for (fd, flags) in self.flags.drain(..).rev() {
            if let Err(e) = rustix::fs::fcntl_setfl(&fd, flags) {
                tracing::debug!(error = %e, "cannot restore a standard stream's flags");
            }
        }
    }
}

/// A readable standard stream: non-blocking when it could be made so.
#[derive(Debug)]
pub(super) enum Input<Fallback> {
    Pipe(pipe::Receiver),
    Socket(UnixStream),
    Fallback(Fallback),
}

/// A writable standard stream: non-blocking when it could be made so.
#[derive(Debug)]
pub(super) enum Output<Fallback> {
    Pipe(pipe::Sender),
    Socket(UnixStream),
    Fallback(Fallback),
}

/// `fd` as non-blocking input when it is a pipe or a socket, else the
/// fallback. Must run inside a tokio runtime with I/O enabled.
pub(super) fn input<F>(
    fd: BorrowedFd<'_>,
    restore: &mut Restore,
    fallback: impl FnOnce() -> io::Result<F>,
) -> io::Result<Input<F>> {
    Ok(match kind(fd)? {
        Kind::Pipe => {
            restore.remember(fd)?;
            Input::Pipe(pipe::Receiver::from_owned_fd(fd.try_clone_to_owned()?)?)
        }
        Kind::Socket => {
            restore.remember(fd)?;
            Input::Socket(socket(fd)?)
        }
        Kind::Other => Input::Fallback(fallback()?),
    })
}

/// `fd` as non-blocking output when it is a pipe or a socket, else the
/// fallback. Must run inside a tokio runtime with I/O enabled.
pub(super) fn output<F>(
    fd: BorrowedFd<'_>,
    restore: &mut Restore,
    fallback: impl FnOnce() -> F,
) -> io::Result<Output<F>> {
    Ok(match kind(fd)? {
        Kind::Pipe => {
            restore.remember(fd)?;
            Output::Pipe(pipe::Sender::from_owned_fd(fd.try_clone_to_owned()?)?)
        }
        Kind::Socket => {
            restore.remember(fd)?;
            Output::Socket(socket(fd)?)
        }
        Kind::Other => Output::Fallback(fallback()),
    })
}

fn socket(fd: BorrowedFd<'_>) -> io::Result<UnixStream> {
    let socket = std::os::unix::net::UnixStream::from(fd.try_clone_to_owned()?);
    socket.set_nonblocking(true)?;
    UnixStream::from_std(socket)
}

impl<F: AsyncRead + Unpin> AsyncRead for Input<F> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Input::Pipe(pipe) => Pin::new(pipe).poll_read(cx, buf),
            Input::Socket(socket) => Pin::new(socket).poll_read(cx, buf),
            Input::Fallback(other) => Pin::new(other).poll_read(cx, buf),
        }
    }
}

impl<F: AsyncWrite + Unpin> AsyncWrite for Output<F> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Output::Pipe(pipe) => Pin::new(pipe).poll_write(cx, buf),
            Output::Socket(socket) => Pin::new(socket).poll_write(cx, buf),
            Output::Fallback(other) => Pin::new(other).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Output::Pipe(pipe) => Pin::new(pipe).poll_flush(cx),
            Output::Socket(socket) => Pin::new(socket).poll_flush(cx),
            Output::Fallback(other) => Pin::new(other).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            // The parent's end of our stdout is not ours to half-close.
            Output::Pipe(_) | Output::Socket(_) => Poll::Ready(Ok(())),
            Output::Fallback(other) => Pin::new(other).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn nonblocking(fd: BorrowedFd<'_>) -> bool {
        rustix::fs::fcntl_getfl(fd)
            .unwrap()
            .contains(OFlags::NONBLOCK)
    }

    #[tokio::test]
    async fn pipes_are_served_non_blocking_and_given_back_blocking() {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut restore = Restore::default();
        let mut input = input(reader.as_fd(), &mut restore, || Ok(tokio::io::empty())).unwrap();
        let mut output = output(writer.as_fd(), &mut restore, tokio::io::sink).unwrap();
        assert!(matches!(input, Input::Pipe(_)));
        assert!(matches!(output, Output::Pipe(_)));
        assert!(nonblocking(reader.as_fd()) && nonblocking(writer.as_fd()));

        output.write_all(b"line\n").await.unwrap();
        let mut line = [0; 5];
        input.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"line\n");

        drop((input, output, restore));
        assert!(!nonblocking(reader.as_fd()) && !nonblocking(writer.as_fd()));
    }

    #[tokio::test]
    async fn sockets_are_served_non_blocking_and_given_back_blocking() {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut restore = Restore::default();
        let mut input = input(ours.as_fd(), &mut restore, || Ok(tokio::io::empty())).unwrap();
        assert!(matches!(input, Input::Socket(_)));
        assert!(nonblocking(ours.as_fd()));

        std::io::Write::write_all(&mut &theirs, b"hi").unwrap();
        let mut read = [0; 2];
        input.read_exact(&mut read).await.unwrap();
        assert_eq!(&read, b"hi");

        drop((input, restore));
        assert!(!nonblocking(ours.as_fd()));
    }

    #[tokio::test]
    async fn files_take_the_fallback_and_keep_their_flags() {
        let file = File::open("/dev/null").unwrap();
        let mut restore = Restore::default();
        let input = input(file.as_fd(), &mut restore, || Ok(tokio::io::empty())).unwrap();
        assert!(matches!(input, Input::Fallback(_)));
        assert!(restore.flags.is_empty());
        assert!(!nonblocking(file.as_fd()));
    }
}
