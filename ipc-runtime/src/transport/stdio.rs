//! The stdio transport: one session over a byte stream pair, newline-delimited
//! JSON-RPC, for sidecars driven by a parent process (an Electron main
//! process, a Node or Python script, an editor), the way language servers and
//! MCP servers are driven.
//!
//! ```rust,standalone_crate,no_run
//! use ipc_runtime::{App, command};
//!
//! #[command]
//! fn greet(name: String) -> String { format!("Hello, {name}!") }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let app = App::builder().build()?;
//!     app.serve_stdio().await?; // until the parent closes our stdin
//!     Ok(())
//! }
//! ```
//!
//! **Framing.** Each message is one line of UTF-8 JSON: a request, a
//! notification or a batch, ended by `\n` (a `\r\n` ending is accepted, blank
//! lines are ignored). Each outgoing message is written as one line too;
//! serde_json's compact output escapes every newline inside strings, so a
//! message never spans lines.
//!
//! **No binary frames.** The session is opened with
//! [`ConnectOptions::binary`](crate::session::ConnectOptions::binary) off,
//! so byte results travel as JSON arrays of numbers and channel messages as
//! `ipc.channel` notifications, exactly as on a WebSocket connection without
//! the `ipc.v1` subprotocol. Commands, events both ways, channels,
//! cancellation, capabilities and limits behave as over WebSocket.
//!
//! **Bad input.** A line that is not valid UTF-8, or not valid JSON, is
//! answered with -32700 and the session goes on. A line longer than
//! [`max_message_size`](StdioServer::max_message_size) is answered with
//! -32002 as soon as it is known to be too long, and the rest of it is skipped
//! as it arrives, without buffering it; then the session goes on.
//!
//! **End.** End of input ends the session: nothing more is read, calls still
//! running get the [`shutdown_drain`](StdioServer::shutdown_drain) deadline
//! to finish and have their responses written (the rest are cancelled), the
//! output is flushed, and `serve` returns `Ok`. Writing what is left gets the
//! same deadline again, so a parent that stopped reading cannot keep the
//! process alive (`serve` then returns a [`StdioError::Write`] timeout). A
//! write error (the parent closed our stdout) ends the session at once.
//!
//! **stdout belongs to the protocol.** Anything else written to stdout breaks
//! the parent's parser: an application served over stdio must not print to
//! stdout; log to stderr (`tracing_subscriber::fmt().with_writer(std::io::stderr)`).
//!
//! **Who is the peer.** Whoever spawned the process. It presents no origin
//! and no token; grant it a capability with
//! [`StdioServer::capability`], or it is resolved like any connection that
//! presented nothing (see [`capability`](crate::capability)).

mod lines;
#[cfg(unix)]
mod nonblocking;
mod stdin;

use std::fmt;
use std::io;
use std::time::Duration;

use ipc_core::{ErrorObject, codes};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::oneshot;

use self::lines::{Line, LineReader};
use std::sync::Arc;

use crate::route::Router;
use crate::session::{ConnectOptions, Connection, Outbound, Outbox};

/// Capacity of the output buffer; what is queued is written in one flush.
const WRITE_BUFFER: usize = 64 * 1024;
/// The most messages written between two flushes.
const MAX_WRITE_BATCH: usize = 64;
/// After the drain, how long the writer waits for messages still on their way
/// (a channel's end sent from a destructor) before it stops.
const FINAL_GRACE: Duration = Duration::from_millis(250);

/// Why a stdio session ended other than at the end of its input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StdioError {
    /// Reading the input failed (or the reading thread could not start).
    #[error("cannot read the session's input")]
    Read(#[source] io::Error),
    /// Writing the output failed: the peer closed it.
    #[error("cannot write the session's output")]
    Write(#[source] io::Error),
}

/// Configures a stdio session for an [`App`](crate::App). Get one from
/// [`App::stdio`](crate::App::stdio).
///
/// ```rust,standalone_crate,no_run
/// use std::time::Duration;
/// use ipc_runtime::{App, Capability};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App::builder()
///     .capability(Capability::new("parent").allow_all())
///     .deny_by_default()
///     .build()?;
/// app.stdio()
///     .capability("parent")
///     .max_message_size(1 << 20)
///     .shutdown_drain(Duration::from_secs(2))
///     .serve()
///     .await?;
/// # Ok(()) }
/// ```
pub struct StdioServer {
    router: Arc<Router>,
    max_message_size: usize,
    connect: ConnectOptions,
    shutdown_drain: Duration,
}

impl StdioServer {
    pub(crate) fn new(router: Arc<Router>) -> Self {
        StdioServer {
            router,
            max_message_size: 32 << 20,
            connect: ConnectOptions::default().binary(false),
            shutdown_drain: Duration::from_secs(5),
        }
    }

    /// The largest message accepted, in bytes, line ending excluded (default
    /// 32 MiB). A longer line is answered with a -32002 error and skipped
    /// without being read into memory; the session goes on.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How many async calls may run at once (default 64); at the limit the
    /// session stops reading until one finishes.
    #[must_use]
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.connect = self.connect.max_in_flight(calls);
        self
    }

    /// Upload limits (see [`Upload`](crate::Upload)): the window of bytes
    /// held per upload ahead of its command (default 1 MiB), the most bytes
    /// one upload may carry (default 4 GiB), and how many may be open at once
    /// (default 8).
    #[must_use]
    pub fn uploads(mut self, window: u64, max_size: u64, max_open: usize) -> Self {
        self.connect = self
            .connect
            .upload_window(window)
            .max_upload_size(max_size)
            .max_uploads(max_open);
        self
    }

    /// How many outgoing messages may wait for the output (default 256).
    /// Beyond it events are dropped (the peer then gets `ipc.lagged`);
    /// responses and channel messages wait.
    #[must_use]
    pub fn outbox_capacity(mut self, messages: usize) -> Self {
        self.connect = self.connect.outbox_capacity(messages);
        self
    }

    /// The most requests in one batch (default 64); a larger batch is refused whole.
    #[must_use]
    pub fn max_batch(mut self, requests: usize) -> Self {
        self.connect = self.connect.max_batch(requests);
        self
    }

    /// The most event subscriptions the peer may hold (default 256).
    #[must_use]
    pub fn max_subscriptions(mut self, subscriptions: usize) -> Self {
        self.connect = self.connect.max_subscriptions(subscriptions);
        self
    }

    /// How long calls still running at the end of input get to finish and
    /// answer before they are cancelled (default 5 s).
    #[must_use]
    pub fn shutdown_drain(mut self, drain: Duration) -> Self {
        self.shutdown_drain = drain;
        self
    }

    /// Grants the peer this capability (by name, as given to
    /// [`AppBuilder::capability`](crate::AppBuilder::capability)): whoever can
    /// write to the process's stdin spawned it, so the transport vouches for
    /// it. Without it the peer is resolved like a connection that presented
    /// no origin and no token.
    #[must_use]
    pub fn capability(mut self, name: impl Into<String>) -> Self {
        self.connect = self.connect.capability(Some(name.into()));
        self
    }

    /// Serves the session on the process's stdin and stdout until stdin ends
    /// (or stdout is closed).
    ///
    /// On Unix, a stdin or stdout that is a pipe or a socket (what a parent
    /// process creates for its child) is served non-blocking on the runtime's
    /// reactor, its `O_NONBLOCK` flag put back as it was when `serve` returns
    /// or is dropped. Otherwise (a terminal, a file, other systems) stdin is
    /// read on a thread of its own, so returning never leaves a read pending
    /// that would hold up the runtime's shutdown (that thread ends at its next
    /// read, or with the process), and stdout is written through
    /// [`tokio::io::stdout`].
    pub async fn serve(self) -> Result<(), StdioError> {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let mut restore = nonblocking::Restore::default();
            let stdin = std::io::stdin();
            let input = nonblocking::input(stdin.as_fd(), &mut restore, stdin::ThreadStdin::spawn)
                .map_err(StdioError::Read)?;
            let stdout = std::io::stdout();
            let output = nonblocking::output(stdout.as_fd(), &mut restore, tokio::io::stdout)
                .map_err(StdioError::Write)?;
            let served = self.serve_io(input, output).await;
            drop(restore);
            served
        }
        #[cfg(not(unix))]
        {
            let input = stdin::ThreadStdin::spawn().map_err(StdioError::Read)?;
            self.serve_io(input, tokio::io::stdout()).await
        }
    }

    /// Serves the session on any reader and writer (a child's pipes, a Unix
    /// socket's halves, in-memory pipes in tests) until the reader ends or
    /// writing fails.
    ///
    /// ```rust,standalone_crate
    /// use ipc_runtime::{App, command};
    /// use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    ///
    /// #[command]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = App::builder().build().unwrap();
    /// let (mut input, server_input) = tokio::io::duplex(4096);
    /// let (server_output, output) = tokio::io::duplex(4096);
    /// let session = tokio::spawn(app.stdio().serve_io(server_input, server_output));
    ///
    /// input.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":[2,2]}\n").await.unwrap();
    /// drop(input); // end of input: the session answers, then ends
    /// let mut lines = BufReader::new(output).lines();
    /// assert_eq!(lines.next_line().await.unwrap().unwrap(), r#"{"jsonrpc":"2.0","id":1,"result":4}"#);
    /// session.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn serve_io<R, W>(self, reader: R, writer: W) -> Result<(), StdioError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let (connection, outbox) = Connection::open(&self.router, self.connect);
        let client = connection.client_id();
        tracing::debug!(client = %client, "stdio session started");
        let (closing, closed) = oneshot::channel();
        let writing = write_loop(writer, outbox, closed);
        tokio::pin!(writing);
        let mut lines = LineReader::new(reader, self.max_message_size);

        let first = {
            let reading = read_loop(&mut lines, &connection, self.max_message_size);
            tokio::select! {
                read = reading => First::Reader(read),
                written = &mut writing => First::Writer(written),
            }
        };
        let read = match first {
            First::Reader(read) => read,
            First::Writer(written) => {
                // The writer stops first only when writing failed: nobody hears us any more.
                connection.close();
                tracing::debug!(client = %client, "stdio session ended: output closed");
                return written.map_err(StdioError::Write);
            }
        };
        // Running calls answer while the writer goes on, within the drain deadline.
        let draining = connection.shutdown(self.shutdown_drain);
        tokio::pin!(draining);
        let drained = tokio::select! {
            cancelled = &mut draining => Drained::Calls(cancelled),
            written = &mut writing => Drained::Writer(written),
        };
        let (cancelled, written) = match drained {
            Drained::Calls(cancelled) => {
                let _ = closing.send(());
                // Then what is queued is written, within the deadline again: a
                // parent that stopped reading does not keep the process alive.
                let written = tokio::time::timeout(self.shutdown_drain, &mut writing)
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the output was not read within the drain deadline",
                        ))
                    });
                (cancelled, written)
            }
            // Writing failed: the calls' sends now fail fast.
            Drained::Writer(written) => (draining.await, written),
        };
        if cancelled > 0 {
            tracing::warn!(client = %client, cancelled, "calls cancelled at the end of input");
        }
        tracing::debug!(client = %client, "stdio session ended");
        read.map_err(StdioError::Read)?;
        written.map_err(StdioError::Write)
    }
}

/// What finished first while draining.
enum Drained {
    /// Every call finished or was cancelled; this many were cancelled.
    Calls(usize),
    /// The writer stopped (writing failed).
    Writer(io::Result<()>),
}

/// Which half of the session stopped first.
enum First {
    Reader(io::Result<()>),
    Writer(io::Result<()>),
}

impl fmt::Debug for StdioServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdioServer")
            .field("max_message_size", &self.max_message_size)
            .field("connect", &self.connect)
            .field("shutdown_drain", &self.shutdown_drain)
            .finish_non_exhaustive()
    }
}

/// Feeds every line to the connection until the end of input.
async fn read_loop<R: AsyncRead + Unpin>(
    lines: &mut LineReader<R>,
    connection: &Connection,
    max_message_size: usize,
) -> io::Result<()> {
    while let Some(line) = lines.next().await? {
        match line {
            Line::TooLong => connection.send_error(&too_large(max_message_size)).await,
            Line::Message(bytes) if is_blank(bytes) => {}
            Line::Message(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => connection.handle_text(text).await,
                Err(_) => {
                    let error = ErrorObject::new(
                        codes::PARSE_ERROR,
                        "parse error: the line is not valid UTF-8",
                    );
                    connection.send_error(&error).await;
                }
            },
        }
    }
    Ok(())
}

/// Whether a line holds only JSON whitespace.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

fn too_large(max: usize) -> ErrorObject {
    ErrorObject::new(
        codes::LIMIT_EXCEEDED,
        format!("message too large: the limit is {max} bytes"),
    )
    .with_data(serde_json::json!({ "limit": "message size", "max": max }))
}

/// Writes each message as a line, flushing whenever the outbox is momentarily
/// empty. Once `closing` fires (the session has drained), writes what is still
/// queued, waits briefly for stragglers, flushes and ends. The caller bounds
/// how long that may take.
async fn write_loop<W: AsyncWrite + Unpin>(
    writer: W,
    mut outbox: Outbox,
    mut closing: oneshot::Receiver<()>,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, writer);
    loop {
        let next = tokio::select! {
            biased;
            message = outbox.recv() => message,
            _ = &mut closing => break,
        };
        // The outbox ends only once the connection is gone.
        let Some(first) = next else { break };
        write_line(&mut out, first).await?;
        for _ in 1..MAX_WRITE_BATCH {
            match outbox.try_recv() {
                Some(message) => write_line(&mut out, message).await?,
                None => break,
            }
        }
        out.flush().await?;
    }
    // Only the waiting is bounded here, never a write: a line is written whole.
    let grace = tokio::time::Instant::now() + FINAL_GRACE;
    while let Ok(Some(message)) = tokio::time::timeout_at(grace, outbox.recv()).await {
        write_line(&mut out, message).await?;
    }
    out.flush().await
}

async fn write_line<W: AsyncWrite + Unpin>(
    out: &mut BufWriter<W>,
    message: Outbound,
) -> io::Result<()> {
    match message {
        Outbound::Text(text) => {
            out.write_all(&text).await?;
            out.write_all(b"\n").await
        }
        Outbound::SharedText { head, body } => {
            out.write_all(&head).await?;
            out.write_all(&body).await?;
            out.write_all(b"\n").await
        }
        // The session is opened with `binary: false`, so the connection never
        // produces one; a line cannot carry raw bytes anyway.
        Outbound::Binary { .. } => {
            tracing::error!("a binary frame was queued on a stdio session; dropped");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::{Value, json};
    use tokio::io::{AsyncBufReadExt, BufReader, DuplexStream, Lines, duplex};
    use tokio::task::JoinHandle;

    use super::*;
    use crate::{App, Capability, Channel};

    const WAIT: Duration = Duration::from_secs(5);

    #[crate::command(crate = "crate", rename = "stdio_test.add")]
    fn add(a: i64, b: i64) -> i64 {
        a + b
    }

    #[crate::command(crate = "crate", rename = "stdio_test.sleep")]
    async fn sleep(ms: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }

    #[crate::command(crate = "crate", rename = "stdio_test.bytes")]
    fn bytes() -> Vec<u8> {
        vec![1, 2, 255]
    }

    #[crate::command(crate = "crate", rename = "stdio_test.count")]
    async fn count(to: u32, sink: Channel<u32>) -> u32 {
        for i in 1..=to {
            if sink.send(&i).await.is_err() {
                break;
            }
        }
        to
    }

    fn app() -> App {
        App::builder()
            .discover(false)
            .command::<add>()
            .command::<sleep>()
            .command::<bytes>()
            .command::<count>()
            .build()
            .expect("the test commands are valid")
    }

    /// The far side of a session: its stdin to write, its stdout to read.
    struct Peer {
        input: Option<DuplexStream>,
        output: Lines<BufReader<DuplexStream>>,
        session: JoinHandle<Result<(), StdioError>>,
    }

    impl Peer {
        fn start(server: StdioServer) -> Self {
            let (input, server_input) = duplex(64 * 1024);
            let (server_output, output) = duplex(64 * 1024);
            Peer {
                input: Some(input),
                output: BufReader::new(output).lines(),
                session: tokio::spawn(server.serve_io(server_input, server_output)),
            }
        }

        async fn write(&mut self, bytes: &[u8]) {
            let input = self.input.as_mut().expect("input still open");
            tokio::time::timeout(WAIT, input.write_all(bytes))
                .await
                .expect("the session reads its input")
                .expect("the session is alive");
        }

        async fn send(&mut self, line: &str) {
            self.write(format!("{line}\n").as_bytes()).await;
        }

        /// The next line of output; `None` at its end.
        async fn line(&mut self) -> Option<String> {
            tokio::time::timeout(WAIT, self.output.next_line())
                .await
                .expect("a line within 5 s")
                .expect("in-memory pipe")
        }

        async fn json(&mut self) -> Value {
            let line = self.line().await.expect("a line, not the end of output");
            serde_json::from_str(&line).expect("every output line is JSON")
        }

        /// Ends the input and waits for the session to return.
        async fn finish(&mut self) -> Result<(), StdioError> {
            self.input = None;
            tokio::time::timeout(WAIT * 2, &mut self.session)
                .await
                .expect("the session ends after its input")
                .expect("the session did not panic")
        }
    }

    #[tokio::test]
    async fn a_call_is_answered_byte_for_byte() {
        let mut peer = Peer::start(app().stdio());
        peer.send(r#"{"jsonrpc":"2.0","id":1,"method":"stdio_test.add","params":[2,3]}"#)
            .await;
        assert_eq!(
            peer.line().await.as_deref(),
            Some(r#"{"jsonrpc":"2.0","id":1,"result":5}"#)
        );
        // A CRLF ending, then blank lines, which get no answer.
        peer.write(b"{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"stdio_test.add\",\"params\":{\"a\":1,\"b\":1}}\r\n\n  \r\n\t\n")
            .await;
        assert_eq!(
            peer.line().await.as_deref(),
            Some(r#"{"jsonrpc":"2.0","id":"b","result":2}"#)
        );
        peer.finish().await.expect("a clean end");
        assert_eq!(peer.line().await, None, "nothing else was written");
    }

    #[tokio::test]
    async fn output_lines_are_exactly_the_messages() {
        let (mut input, server_input) = duplex(4096);
        let (server_output, mut output) = duplex(4096);
        let session = tokio::spawn(app().stdio().serve_io(server_input, server_output));
        input
            .write_all(
                b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"stdio_test.add\",\"params\":[40,2]}\n",
            )
            .await
            .expect("session alive");
        drop(input);
        let mut all = Vec::new();
        tokio::time::timeout(
            WAIT,
            tokio::io::AsyncReadExt::read_to_end(&mut output, &mut all),
        )
        .await
        .expect("the output ends")
        .expect("in-memory pipe");
        assert_eq!(all, b"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":42}\n");
        session.await.expect("no panic").expect("a clean end");
    }

    #[tokio::test]
    async fn pipelined_calls_are_all_answered() {
        let mut peer = Peer::start(app().stdio());
        let mut batch = String::new();
        for id in 0..500 {
            batch.push_str(&format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"stdio_test.add\",\"params\":[{id},1]}}\n"
            ));
        }
        // Write and read at once: 500 answers do not fit the pipe.
        let input = peer.input.take().expect("input open");
        let writer = tokio::spawn(async move {
            let mut input = input;
            input
                .write_all(batch.as_bytes())
                .await
                .expect("session alive");
            input
        });
        let mut seen = vec![false; 500];
        for _ in 0..500 {
            let reply = peer.json().await;
            let id = reply["id"].as_u64().expect("numeric id") as usize;
            assert_eq!(reply["result"], json!(id + 1));
            assert!(!seen[id], "id {id} answered twice");
            seen[id] = true;
        }
        assert!(seen.iter().all(|&s| s));
        drop(writer.await.expect("the writer finished"));
        peer.finish().await.expect("a clean end");
    }

    #[tokio::test]
    async fn bad_lines_get_parse_errors_and_the_session_goes_on() {
        let mut peer = Peer::start(app().stdio());
        peer.send("{oops").await;
        let error = peer.json().await;
        assert_eq!(error["id"], Value::Null);
        assert_eq!(error["error"]["code"], codes::PARSE_ERROR);
        peer.write(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}\n")
            .await;
        let error = peer.json().await;
        assert_eq!(error["error"]["code"], codes::PARSE_ERROR);
        assert_eq!(
            error["error"]["message"],
            "parse error: the line is not valid UTF-8"
        );
        peer.send(r#"{"jsonrpc":"2.0","id":2,"method":"stdio_test.add","params":[1,2]}"#)
            .await;
        assert_eq!(peer.json().await["result"], 3);
        peer.finish().await.expect("a clean end");
    }

    #[tokio::test]
    async fn an_over_long_line_is_refused_and_the_next_one_works() {
        let mut peer = Peer::start(app().stdio().max_message_size(100));
        let long = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"stdio_test.add","params":[1,2],"pad":"{}"}}"#,
            "x".repeat(200_000)
        );
        peer.send(&long).await;
        let error = peer.json().await;
        assert_eq!(error["id"], Value::Null);
        assert_eq!(error["error"]["code"], codes::LIMIT_EXCEEDED);
        assert_eq!(
            error["error"]["data"],
            json!({ "limit": "message size", "max": 100 })
        );
        peer.send(r#"{"jsonrpc":"2.0","id":2,"method":"stdio_test.add","params":[1,2]}"#)
            .await;
        let reply = peer.json().await;
        assert_eq!(
            (reply["id"].clone(), reply["result"].clone()),
            (json!(2), json!(3))
        );
        peer.finish().await.expect("a clean end");
    }

    #[tokio::test]
    async fn end_of_input_lets_a_slow_call_answer_then_returns() {
        let mut peer = Peer::start(app().stdio());
        peer.send(
            r#"{"jsonrpc":"2.0","id":"slow","method":"stdio_test.sleep","params":{"ms":300}}"#,
        )
        .await;
        let started = Instant::now();
        peer.finish().await.expect("a clean end");
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "returned before the call finished"
        );
        assert_eq!(
            peer.line().await.as_deref(),
            Some(r#"{"jsonrpc":"2.0","id":"slow","result":300}"#)
        );
        assert_eq!(peer.line().await, None, "the output ends after it");
    }

    #[tokio::test]
    async fn the_drain_deadline_bounds_the_end() {
        let mut peer = Peer::start(app().stdio().shutdown_drain(Duration::from_millis(100)));
        peer.send(r#"{"jsonrpc":"2.0","id":1,"method":"stdio_test.sleep","params":{"ms":60000}}"#)
            .await;
        // Let the call start before the input ends.
        peer.send(r#"{"jsonrpc":"2.0","id":2,"method":"stdio_test.add","params":[1,1]}"#)
            .await;
        assert_eq!(peer.json().await["id"], 2);
        let started = Instant::now();
        peer.finish().await.expect("a clean end");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(
            peer.line().await,
            None,
            "the cancelled call is not answered"
        );
    }

    #[tokio::test]
    async fn events_arrive_as_ipc_event_lines() {
        let app = app();
        let mut peer = Peer::start(app.stdio());
        peer.send(r#"{"jsonrpc":"2.0","id":1,"method":"ipc.listen","params":{"event":"news"}}"#)
            .await;
        assert!(peer.json().await["result"].is_u64());
        app.emit("news", &json!({ "n": 1 })).expect("a valid event");
        assert_eq!(
            peer.line().await.as_deref(),
            Some(
                r#"{"jsonrpc":"2.0","method":"ipc.event","params":{"event":"news","payload":{"n":1},"source":0,"seq":1}}"#
            )
        );
        // The peer emits too, and hears itself.
        peer.send(r#"{"jsonrpc":"2.0","method":"ipc.emit","params":{"event":"news","payload":2}}"#)
            .await;
        let event = peer.json().await;
        assert_eq!(event["method"], "ipc.event");
        assert_eq!(event["params"]["payload"], 2);
        assert_ne!(event["params"]["source"], 0);
        peer.finish().await.expect("a clean end");
    }

    #[tokio::test]
    async fn bytes_are_json_arrays_and_channels_are_notifications() {
        let mut peer = Peer::start(app().stdio());
        peer.send(r#"{"jsonrpc":"2.0","id":1,"method":"stdio_test.bytes"}"#)
            .await;
        assert_eq!(
            peer.line().await.as_deref(),
            Some(r#"{"jsonrpc":"2.0","id":1,"result":[1,2,255]}"#)
        );
        peer.send(r#"{"jsonrpc":"2.0","id":2,"method":"stdio_test.count","params":{"to":3,"sink":"__CHANNEL__:9"}}"#)
            .await;
        let mut messages = Vec::new();
        let mut answered = false;
        let mut ended = false;
        for _ in 0..5 {
            let line = peer.json().await;
            if line["id"] == 2 {
                answered = true;
            } else {
                assert_eq!(line["method"], "ipc.channel");
                assert_eq!(line["params"]["channel"], 9);
                if line["params"]["end"] == true {
                    ended = true;
                } else {
                    messages.push(line["params"]["message"].clone());
                }
            }
        }
        assert!(answered && ended);
        assert_eq!(messages, [1, 2, 3]);
        peer.finish().await.expect("a clean end");
    }

    #[tokio::test]
    async fn cancel_stops_a_running_call() {
        let mut peer = Peer::start(app().stdio());
        peer.send(
            r#"{"jsonrpc":"2.0","id":"long","method":"stdio_test.sleep","params":{"ms":60000}}"#,
        )
        .await;
        peer.send(r#"{"jsonrpc":"2.0","id":1,"method":"ipc.cancel","params":{"id":"long"}}"#)
            .await;
        assert_eq!(
            peer.line().await.as_deref(),
            Some(r#"{"jsonrpc":"2.0","id":1,"result":true}"#)
        );
        let started = Instant::now();
        peer.finish().await.expect("a clean end");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "nothing left to drain"
        );
        assert_eq!(peer.line().await, None, "a cancelled call is not answered");
    }

    #[tokio::test]
    async fn the_granted_capability_decides() {
        let build = || {
            App::builder()
                .discover(false)
                .command::<add>()
                .command::<sleep>()
                .capability(Capability::new("sidecar").allow_invoke(["stdio_test.add"]))
                .deny_by_default()
                .build()
                .expect("valid app")
        };
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"stdio_test.add","params":[1,1]}"#;
        let mut granted = Peer::start(build().stdio().capability("sidecar"));
        granted.send(call).await;
        assert_eq!(granted.json().await["result"], 2);
        granted
            .send(r#"{"jsonrpc":"2.0","id":2,"method":"stdio_test.sleep","params":{"ms":1}}"#)
            .await;
        assert_eq!(granted.json().await["error"]["code"], codes::FORBIDDEN);
        granted.finish().await.expect("a clean end");

        let mut nobody = Peer::start(build().stdio());
        nobody.send(call).await;
        assert_eq!(nobody.json().await["error"]["code"], codes::FORBIDDEN);
        nobody.finish().await.expect("a clean end");
    }

    #[tokio::test]
    async fn an_output_nobody_reads_does_not_hold_the_end_past_the_deadlines() {
        let app = app();
        let drain = Duration::from_millis(200);
        let (mut input, server_input) = duplex(4096);
        let (server_output, output) = duplex(1024);
        let mut output = BufReader::new(output).lines();
        let server = app.stdio().shutdown_drain(drain);
        let session = tokio::spawn(server.serve_io(server_input, server_output));
        input
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ipc.listen\",\"params\":{\"event\":\"big\"}}\n")
            .await
            .expect("session alive");
        tokio::time::timeout(WAIT, output.next_line())
            .await
            .expect("the subscription is confirmed")
            .expect("in-memory pipe");
        // From here on nobody reads (the pipe stays open): a 1 MiB event blocks the writer.
        app.emit("big", &"x".repeat(1 << 20))
            .expect("a valid event");
        drop(input);
        let started = Instant::now();
        let ended = tokio::time::timeout(WAIT, session)
            .await
            .expect("the session ends although its output is not read")
            .expect("no panic");
        assert!(started.elapsed() < drain * 2 + Duration::from_secs(1));
        match ended {
            Err(StdioError::Write(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
            other => panic!("expected a write timeout, got {other:?}"),
        }
        drop(output);
    }

    #[tokio::test]
    async fn a_closed_output_ends_the_session_with_a_write_error() {
        let (mut input, server_input) = duplex(4096);
        let (server_output, output) = duplex(4096);
        drop(output);
        let session = tokio::spawn(app().stdio().serve_io(server_input, server_output));
        input
            .write_all(
                b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"stdio_test.add\",\"params\":[1,1]}\n",
            )
            .await
            .expect("session alive");
        let ended = tokio::time::timeout(WAIT, session)
            .await
            .expect("the session ends although its input is open")
            .expect("no panic");
        assert!(matches!(ended, Err(StdioError::Write(_))), "{ended:?}");
    }
}
