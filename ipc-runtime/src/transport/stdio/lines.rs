//! Splitting a byte stream into newline-delimited messages, with a size limit
//! that never buffers more than the limit.
//!
//! A message is the bytes before a `\n`, without a `\r` just before it. A line
//! longer than the limit is reported as soon as it is known to be too long
//! ([`Line::TooLong`]), and the rest of it is then skipped as it arrives, up to
//! its newline: the reader holds at most `max + 1` bytes of any line.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Capacity of the read buffer: a line that fits is handed out without a copy.
const READ_BUFFER: usize = 64 * 1024;
/// A line buffer that grew past this is released after use, so one large
/// message does not pin its memory for the rest of the session.
const KEEP_LINE_BUFFER: usize = 1024 * 1024;

/// What [`LineReader::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line<'a> {
    /// One message, without its line ending (it may be empty or blank).
    Message(&'a [u8]),
    /// A line longer than the limit: it is not read into memory and its
    /// remaining bytes are skipped by the following calls.
    TooLong,
}

/// Reads newline-delimited messages of at most `max` bytes from `R`.
pub(super) struct LineReader<R> {
    reader: BufReader<R>,
    /// The start of a line that did not fit in the read buffer at once.
    line: Vec<u8>,
    max: usize,
    /// Bytes of the read buffer handed out by the last call, consumed by the next.
    lent: usize,
    /// Inside a line already reported as too long.
    skipping: bool,
}

/// What one look at the read buffer found.
enum Step {
    /// End of input.
    Eof,
    /// A newline at this offset.
    Newline(usize),
    /// No newline in these many bytes.
    Partial(usize),
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(super) fn new(reader: R, max: usize) -> Self {
        LineReader {
            reader: BufReader::with_capacity(READ_BUFFER, reader),
            line: Vec::new(),
            max,
            lent: 0,
            skipping: false,
        }
    }

    /// The next line; `None` at the end of input. A last line without a
    /// newline still counts, unless it was too long.
    pub(super) async fn next(&mut self) -> io::Result<Option<Line<'_>>> {
        self.reader.consume(std::mem::take(&mut self.lent));
        self.line.clear();
        if self.line.capacity() > KEEP_LINE_BUFFER {
            self.line = Vec::new();
        }
        // Each pass consumes what it looked at, or returns.
        loop {
            let step = {
                let buffered = self.reader.fill_buf().await?;
                if buffered.is_empty() {
                    Step::Eof
                } else {
                    match buffered.iter().position(|&b| b == b'\n') {
                        Some(at) => Step::Newline(at),
                        None => Step::Partial(buffered.len()),
                    }
                }
            };
            match step {
                Step::Eof if self.skipping => {
                    self.skipping = false;
                    return Ok(None);
                }
                Step::Eof if self.line.is_empty() => return Ok(None),
                Step::Eof => {
                    let end = message_end(&self.line);
                    if end > self.max {
                        return Ok(Some(Line::TooLong));
                    }
                    return Ok(Some(Line::Message(&self.line[..end])));
                }
                Step::Newline(at) if self.skipping => {
                    self.consume(at + 1);
                    self.skipping = false;
                }
                Step::Newline(at) if self.line.is_empty() => {
                    // The whole line is in the read buffer: lend it, consume it next time.
                    let end = message_end(&self.reader.buffer()[..at]);
                    if end > self.max {
                        self.consume(at + 1);
                        return Ok(Some(Line::TooLong));
                    }
                    self.lent = at + 1;
                    return Ok(Some(Line::Message(&self.reader.buffer()[..end])));
                }
                Step::Newline(at) => {
                    let length = self.line.len() + at;
                    let ends_in_cr = match at {
                        0 => self.line.last() == Some(&b'\r'),
                        _ => self.reader.buffer()[at - 1] == b'\r',
                    };
                    if length - usize::from(ends_in_cr) > self.max {
                        self.line.clear();
                        self.consume(at + 1);
                        return Ok(Some(Line::TooLong));
                    }
                    self.line.extend_from_slice(&self.reader.buffer()[..at]);
                    self.consume(at + 1);
                    let end = message_end(&self.line);
                    return Ok(Some(Line::Message(&self.line[..end])));
                }
                Step::Partial(n) if self.skipping => self.consume(n),
                Step::Partial(n) => {
                    // Even a final `\r` would leave more than `max` bytes.
                    if self.line.len() + n > self.max.saturating_add(1) {
                        self.line.clear();
                        self.consume(n);
                        self.skipping = true;
                        return Ok(Some(Line::TooLong));
                    }
                    self.line.extend_from_slice(&self.reader.buffer()[..n]);
                    self.consume(n);
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.reader.consume(n);
    }
}

/// The length of a line without a trailing `\r`.
fn message_end(line: &[u8]) -> usize {
    match line.last() {
        Some(b'\r') => line.len() - 1,
        _ => line.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Every line of `input`, read with limit `max`, as strings (`"<too long>"`).
    async fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut reader = LineReader::new(input, max);
        let mut out = Vec::new();
        for _ in 0..1000 {
            match reader.next().await.expect("reading a slice cannot fail") {
                None => return out,
                Some(Line::Message(m)) => out.push(String::from_utf8_lossy(m).into_owned()),
                Some(Line::TooLong) => out.push("<too long>".to_owned()),
            }
        }
        panic!("more than 1000 lines");
    }

    #[tokio::test]
    async fn splits_lines_and_strips_endings() {
        assert_eq!(
            lines(b"a\nbc\r\n\n\r\nlast", 10).await,
            ["a", "bc", "", "", "last"]
        );
        assert_eq!(lines(b"", 10).await, Vec::<String>::new());
        assert_eq!(lines(b"one\n", 10).await, ["one"]);
    }

    #[tokio::test]
    async fn the_limit_is_inclusive_and_excludes_the_line_ending() {
        assert_eq!(
            lines(b"12345\n12345\r\n123456\n1234\n", 5).await,
            ["12345", "12345", "<too long>", "1234"]
        );
        // `\r` inside a line counts.
        assert_eq!(lines(b"12\r345\n", 5).await, ["<too long>"]);
        // A too-long last line without a newline.
        assert_eq!(lines(b"ok\n123456", 5).await, ["ok", "<too long>"]);
        assert_eq!(lines(b"ok\n12345\r", 5).await, ["ok", "12345"]);
    }

    #[tokio::test]
    async fn lines_split_across_reads_are_joined_and_limited() {
        let (mut writer, reader) = tokio::io::duplex(4);
        let feed = tokio::spawn(async move {
            for chunk in [
                &b"ab"[..],
                b"cd",
                b"e\r",
                b"\nxyz1",
                b"23456789",
                b"0\nend\r",
                b"\n",
            ] {
                writer.write_all(chunk).await.expect("the reader is alive");
                tokio::task::yield_now().await;
            }
        });
        let mut reader = LineReader::new(reader, 6);
        let mut out = Vec::new();
        for _ in 0..10 {
            match reader.next().await.expect("in-memory pipe") {
                None => break,
                Some(Line::Message(m)) => out.push(String::from_utf8_lossy(m).into_owned()),
                Some(Line::TooLong) => out.push("<too long>".to_owned()),
            }
        }
        feed.await.expect("the feeder finished");
        assert_eq!(out, ["abcde", "<too long>", "end"]);
    }

    #[tokio::test]
    async fn a_too_long_line_is_reported_before_its_end_arrives_and_never_buffered() {
        let wait = std::time::Duration::from_secs(10);
        let (mut writer, reader) = tokio::io::duplex(64);
        let (go_on, reported) = tokio::sync::oneshot::channel::<()>();
        let feed = tokio::spawn(async move {
            writer.write_all(&[b'x'; 200]).await.expect("reader alive");
            // The rest only once the reader has reported the line.
            reported.await.expect("the reader reports it");
            // 10 MB more of the same line: skipped as it comes.
            for _ in 0..10_000 {
                writer.write_all(&[b'y'; 1000]).await.expect("reader alive");
            }
            writer.write_all(b"\nnext\n").await.expect("reader alive");
        });
        let mut lines = LineReader::new(reader, 100);
        let first = tokio::time::timeout(wait, lines.next())
            .await
            .expect("reported with no newline in sight")
            .expect("in-memory pipe");
        assert_eq!(first, Some(Line::TooLong));
        go_on.send(()).expect("the feeder waits");
        let second = tokio::time::timeout(wait, lines.next())
            .await
            .expect("the next line within the deadline")
            .expect("in-memory pipe");
        assert_eq!(second, Some(Line::Message(&b"next"[..])));
        // At most the limit and a read's worth, not the 10 MB line.
        assert!(
            lines.line.capacity() < 1024,
            "line buffer grew to {}",
            lines.line.capacity()
        );
        tokio::time::timeout(wait, feed)
            .await
            .expect("the feeder ends")
            .expect("the feeder did not panic");
    }
}
