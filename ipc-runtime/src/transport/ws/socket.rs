//! One WebSocket connection: reading frames into the [`Connection`], writing
//! its [`Outbox`] out, pinging, and closing cleanly.
//!
//! Every wait is bounded: reads by the idle timeout, each write by the write
//! deadline (a client that stops taking bytes is disconnected and its slot
//! freed), the close by a short wait on the writer, and the whole connection
//! by the server's hard stop after the drain deadline.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{
    Frame, OpCode, Payload, Role, WebSocket, WebSocketError, WebSocketRead, WebSocketWrite,
};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use ipc_core::{ErrorObject, codes};
use tokio::io::{BufWriter, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use super::Limits;
use super::budget::{Budgeted, Frames, IncomingBudget, Share};
use super::frames::{Assembler, Fatal, Message};
use crate::route::Router;
use crate::session::{ConnectOptions, Connection, Outbound, Outbox};

type Socket = Budgeted<TokioIo<Upgraded>>;

/// How long the writer gets to send what is left and a close frame, once the
/// connection is ending.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Frames the reader must have written (pongs, close replies), and how the
/// connection ends.
enum Control {
    Frame(OpCode, Vec<u8>),
    Close(u16, &'static str),
}

/// What serving one connection needs from its server.
pub(super) struct Serving<'a> {
    pub(super) router: &'a Arc<Router>,
    pub(super) limits: &'a Limits,
    pub(super) budget: &'a IncomingBudget,
    /// How long running calls get at shutdown.
    pub(super) drain: Duration,
    /// Cancelled when the server starts shutting down.
    pub(super) shutdown: &'a CancellationToken,
    /// Cancelled when the drain deadline has passed: drop everything.
    pub(super) hard_stop: &'a CancellationToken,
}

pub(super) async fn serve_connection(
    shared: Serving<'_>,
    io: TokioIo<Upgraded>,
    options: ConnectOptions,
) {
    let hard_stop = shared.hard_stop.clone();
    tokio::select! {
        () = serve(shared, io, options) => {}
        () = hard_stop.cancelled() => {
            tracing::debug!("connection dropped at the end of the shutdown deadline");
        }
    }
}

async fn serve(shared: Serving<'_>, io: TokioIo<Upgraded>, options: ConnectOptions) {
    let limits = shared.limits;
    let frames = Arc::new(Frames::default());
    let socket = Budgeted::new(
        io,
        shared.budget,
        limits.max_message_size,
        Arc::clone(&frames),
    );
    let (connection, outbox) = Connection::open(shared.router, options);
    let client = connection.client_id();
    tracing::debug!(client = %client, "connection opened");
    let (mut reader, writer) = WebSocket::after_handshake(socket, Role::Server).split(|s| {
        let (read, write) = tokio::io::split(s);
        (read, BufWriter::new(write))
    });
    // fastwebsockets refuses frames of `max` bytes and more; ours is inclusive.
    reader.set_max_message_size(limits.max_message_size.saturating_add(1));
    let (control_tx, control_rx) = mpsc::channel::<Control>(8);
    let closing = Arc::new(CloseCode::default());
    let mut writer = tokio::spawn(write_loop(
        writer,
        outbox,
        control_rx,
        Arc::clone(&closing),
        limits.write_timeout,
    ));
    let pinger = tokio::spawn(ping_loop(control_tx.clone(), limits.ping_interval));

    let reading = read_loop(&mut reader, &connection, &control_tx, &frames, limits);
    let ended_by = tokio::select! {
        ended = reading => ended,
        () = shared.shutdown.cancelled() => Ending::Shutdown,
        _ = &mut writer => Ending::WriterGone,
    };
    pinger.abort();
    let close = match ended_by {
        Ending::Peer => {
            connection.close();
            None
        }
        Ending::WriterGone => {
            tracing::info!(client = %client, "client stopped taking data within the write deadline; disconnected");
            connection.close();
            return;
        }
        Ending::Shutdown => {
            // Set before the outbox can end: the writer closes with it once
            // the drained calls' responses are out.
            closing.set(1001, "server shutting down");
            let cancelled = connection.shutdown(shared.drain).await;
            if cancelled > 0 {
                tracing::warn!(client = %client, cancelled, "calls cancelled at shutdown");
            }
            None
        }
        Ending::Fatal(code, reason) => {
            closing.set(code, reason);
            connection.close();
            Some((code, reason))
        }
    };
    if let Some((code, reason)) = close {
        // At once, without waiting for the outbox to end; never wait here
        // for a writer that is stuck on a client.
        let _ = control_tx.try_send(Control::Close(code, reason));
    }
    drop(control_tx);
    if tokio::time::timeout(CLOSE_WAIT, &mut writer).await.is_err() {
        writer.abort();
    }
    tracing::debug!(client = %client, "connection closed");
}

enum Ending {
    /// The client closed or vanished.
    Peer,
    /// The server is shutting down.
    Shutdown,
    /// The client did not take data within the write deadline.
    WriterGone,
    /// The client broke the protocol; close with this code.
    Fatal(u16, &'static str),
}

/// The close code the connection ends with, set by the reading side before
/// it closes the session, so that the writer, seeing the session's outbox end,
/// never mistakes an error or a shutdown for a normal close (1000).
#[derive(Debug, Default)]
struct CloseCode(OnceLock<(u16, &'static str)>);

impl CloseCode {
    /// Sets the code; the first one set wins.
    fn set(&self, code: u16, reason: &'static str) {
        let _ = self.0.set((code, reason));
    }

    /// The code set, or 1000 (normal closure).
    fn get(&self) -> (u16, &'static str) {
        self.0.get().copied().unwrap_or((1000, ""))
    }
}

/// Pings the client every `interval`, so a live client's pongs keep the
/// connection from idling out.
async fn ping_loop(control: mpsc::Sender<Control>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if control
            .send(Control::Frame(OpCode::Ping, Vec::new()))
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn read_loop(
    reader: &mut WebSocketRead<ReadHalf<Socket>>,
    connection: &Connection,
    control: &mpsc::Sender<Control>,
    frames: &Frames,
    limits: &Limits,
) -> Ending {
    let (max_message_size, idle_timeout) = (limits.max_message_size, limits.idle_timeout);
    let mut assembler = Assembler::new(max_message_size);
    // The budget shares of the frames of the message being assembled, given
    // back once it has been handled.
    let mut shares: Vec<Share> = Vec::new();
    // One timer for the whole connection, moved only when it fires: arming a
    // timer per frame costs more than the rest of a small call's reading.
    let mut idle = IdleTimer::new(idle_timeout);
    loop {
        let mut obligations = |frame: Frame<'_>| {
            let control = control.clone();
            let owned = Control::Frame(frame.opcode, frame.payload.to_vec());
            async move {
                control
                    .send(owned)
                    .await
                    .map_err(|_| WebSocketError::ConnectionClosed)
            }
        };
        let reading = reader.read_frame(&mut obligations);
        let Some(frame) = idle.bound(reading).await else {
            tracing::debug!(client = %connection.client_id(), "idle timeout");
            return Ending::Fatal(1001, "idle timeout");
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(WebSocketError::InvalidUTF8) => {
                // The frame was consumed whole; the connection can go on.
                drop(frames.take());
                reply_error(
                    connection,
                    codes::PARSE_ERROR,
                    "parse error: the text frame is not valid UTF-8",
                )
                .await;
                continue;
            }
            Err(WebSocketError::FrameTooLarge) => {
                return too_large(connection, max_message_size).await;
            }
            Err(
                WebSocketError::UnexpectedEOF
                | WebSocketError::ConnectionClosed
                | WebSocketError::IoError(_),
            ) => {
                return Ending::Peer;
            }
            Err(e) => {
                tracing::debug!(client = %connection.client_id(), error = %e, "WebSocket protocol error");
                return Ending::Fatal(1002, "protocol error");
            }
        };
        if matches!(
            frame.opcode,
            OpCode::Text | OpCode::Binary | OpCode::Continuation
        ) {
            shares.push(frames.take());
        }
        let message = assembler.push(frame);
        if !matches!(message, Ok(None)) {
            // Whatever it was, the message is handled below: its frames' shares go back after.
            let handled = std::mem::take(&mut shares);
            let ending = handle(message, connection, max_message_size).await;
            drop(handled);
            if let Some(ending) = ending {
                return ending;
            }
        }
    }
}

/// The idle deadline of a connection's reads: `idle_timeout` after a read
/// began, so time spent handling the last frame does not count, and any
/// frame, pongs included, counts as life.
///
/// Each read only records when it began; the one timer fires at the
/// deadline it was given, and when a read has begun since, it moves on to
/// that read's deadline instead of ending the connection.
struct IdleTimer {
    timeout: Duration,
    read_began: Instant,
    timer: Pin<Box<Sleep>>,
}

impl IdleTimer {
    fn new(timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            timeout,
            read_began: now,
            timer: Box::pin(tokio::time::sleep_until(now + timeout)),
        }
    }

    /// Awaits `reading`, or `None` once `timeout` has passed without it
    /// finishing.
    async fn bound<T>(&mut self, reading: impl Future<Output = T>) -> Option<T> {
        self.read_began = Instant::now();
        let mut reading = pin!(reading);
        loop {
            tokio::select! {
                biased;
                read = &mut reading => return Some(read),
                () = &mut self.timer => {
                    let due = self.read_began + self.timeout;
                    if Instant::now() >= due {
                        return None;
                    }
                    self.timer.as_mut().reset(due);
                }
            }
        }
    }
}

/// Handles a complete message (or the error assembling it); `Some` when the
/// connection must end.
async fn handle(
    message: Result<Option<Message>, Fatal>,
    connection: &Connection,
    max_message_size: usize,
) -> Option<Ending> {
    match message {
        Ok(None) => {}
        Ok(Some(Message::Text(bytes))) => match Message::text(&bytes) {
            Some(text) => connection.handle_text(text).await,
            None => {
                reply_error(
                    connection,
                    codes::PARSE_ERROR,
                    "parse error: the text message is not valid UTF-8",
                )
                .await;
            }
        },
        Ok(Some(Message::Binary(frame))) => connection.handle_binary(Bytes::clone(&frame)).await,
        Ok(Some(Message::Close)) => return Some(Ending::Peer),
        Err(Fatal::TooLarge) => return Some(too_large(connection, max_message_size).await),
        Err(Fatal::Protocol) => return Some(Ending::Fatal(1002, "frames out of order")),
    }
    None
}

async fn too_large(connection: &Connection, max: usize) -> Ending {
    let error = ErrorObject::new(
        codes::LIMIT_EXCEEDED,
        format!("message too large: the limit is {max} bytes"),
    )
    .with_data(serde_json::json!({ "limit": "message size", "max": max }));
    connection.send_error(&error).await;
    Ending::Fatal(1009, "message too large")
}

async fn reply_error(connection: &Connection, code: i32, message: &str) {
    connection
        .send_error(&ErrorObject::new(code, message))
        .await;
}

/// Writes responses, events and control frames, batching whatever is queued
/// into one flush. Ends when the outbox ends (every call of the connection is
/// done) or a close is requested, finishing with a close frame; or at once
/// when a write fails or the client does not take it within `deadline`.
async fn write_loop(
    mut writer: WebSocketWrite<BufWriter<WriteHalf<Socket>>>,
    mut outbox: Outbox,
    mut control: mpsc::Receiver<Control>,
    closing: Arc<CloseCode>,
    deadline: Duration,
) {
    let mut control_open = true;
    let (code, reason) = loop {
        let next = tokio::select! {
            biased;
            frame = control.recv(), if control_open => match frame {
                Some(Control::Frame(opcode, payload)) => Next::Control(opcode, payload),
                Some(Control::Close(code, reason)) => break (code, reason),
                None => {
                    control_open = false;
                    continue;
                }
            },
            message = outbox.recv() => match message {
                Some(message) => Next::Messages(message),
                None => break closing.get(),
            },
        };
        let written = tokio::time::timeout(deadline, async {
            match next {
                Next::Control(opcode, payload) => {
                    writer
                        .write_frame(Frame::new(true, opcode, None, Payload::Owned(payload)))
                        .await?
                }
                Next::Messages(first) => write_batch(&mut writer, &mut outbox, first).await?,
            }
            writer.flush().await
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            // The client is gone or not reading; dropping the outbox makes
            // pending sends fail fast, and the connection ends.
            return;
        }
    };
    // Whatever is already queued (the last responses, an error) goes out
    // first; the caller bounds how long this may take.
    while let Some(message) = outbox.try_recv() {
        if write_one(&mut writer, message).await.is_err() {
            return;
        }
    }
    let _ = writer
        .write_frame(Frame::close(code, reason.as_bytes()))
        .await;
    let _ = writer.flush().await;
}

/// What the writer writes next.
enum Next {
    Control(OpCode, Vec<u8>),
    Messages(Outbound),
}

/// Writes `first` and up to 63 more queued messages before the caller flushes.
async fn write_batch(
    writer: &mut WebSocketWrite<BufWriter<WriteHalf<Socket>>>,
    outbox: &mut Outbox,
    first: Outbound,
) -> Result<(), WebSocketError> {
    write_one(writer, first).await?;
    for _ in 0..63 {
        match outbox.try_recv() {
            Some(message) => write_one(writer, message).await?,
            None => break,
        }
    }
    Ok(())
}

async fn write_one(
    writer: &mut WebSocketWrite<BufWriter<WriteHalf<Socket>>>,
    message: Outbound,
) -> Result<(), WebSocketError> {
    match message {
        Outbound::Text(text) => {
            writer
                .write_frame(Frame::text(Payload::Borrowed(&text)))
                .await
        }
        // A large shared body goes in a continuation frame, from where it lies.
        Outbound::SharedText { head, body } if body.len() >= SPLIT_BINARY_AT => {
            writer
                .write_frame(Frame::new(
                    false,
                    OpCode::Text,
                    None,
                    Payload::Borrowed(&head),
                ))
                .await?;
            writer
                .write_frame(Frame::new(
                    true,
                    OpCode::Continuation,
                    None,
                    Payload::Borrowed(&body),
                ))
                .await
        }
        Outbound::SharedText { head, body } => {
            let mut whole = Vec::with_capacity(head.len() + body.len());
            whole.extend_from_slice(&head);
            whole.extend_from_slice(&body);
            writer.write_frame(Frame::text(Payload::Owned(whole))).await
        }
        // A large attachment goes in a continuation frame of its own, so it is
        // written from where it lies instead of being copied behind the header.
        Outbound::Binary { head, body } if body.len() >= SPLIT_BINARY_AT => {
            writer
                .write_frame(Frame::new(
                    false,
                    OpCode::Binary,
                    None,
                    Payload::Borrowed(&head),
                ))
                .await?;
            writer
                .write_frame(Frame::new(
                    true,
                    OpCode::Continuation,
                    None,
                    Payload::Borrowed(&body),
                ))
                .await
        }
        Outbound::Binary { head, body } => {
            let mut whole = Vec::with_capacity(head.len() + body.len());
            whole.extend_from_slice(&head);
            whole.extend_from_slice(&body);
            writer
                .write_frame(Frame::binary(Payload::Owned(whole)))
                .await
        }
    }
}

/// Attachments and shared bodies at least this large are sent without copying
/// (as a second frame).
const SPLIT_BINARY_AT: usize = 64 * 1024;
