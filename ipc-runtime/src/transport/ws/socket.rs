//! One WebSocket connection: reading frames into the [`Connection`], writing
//! its [`Outbox`] out, pinging, and closing cleanly.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError, WebSocketRead, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use ipc_core::{ErrorObject, codes};
use tokio::io::{BufWriter, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Limits;
use super::frames::{Assembler, Fatal, Message};
use crate::route::Router;
use crate::session::{ConnectOptions, Connection, Outbound, Outbox};

type Socket = TokioIo<Upgraded>;

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
    /// How long running calls get at shutdown.
    pub(super) drain: Duration,
    /// Cancelled when the server shuts down.
    pub(super) shutdown: &'a CancellationToken,
}

pub(super) async fn serve_connection(
    shared: Serving<'_>,
    socket: fastwebsockets::WebSocket<Socket>,
    options: ConnectOptions,
) {
    let (connection, outbox) = Connection::open(shared.router, options);
    let client = connection.client_id();
    tracing::debug!(client = %client, "connection opened");
    let (mut reader, writer) = socket.split(|s| {
        let (read, write) = tokio::io::split(s);
        (read, BufWriter::new(write))
    });
    let limits = shared.limits;
    // fastwebsockets refuses frames of `max` bytes and more; ours is inclusive.
    reader.set_max_message_size(limits.max_message_size.saturating_add(1));
    let (control_tx, control_rx) = mpsc::channel::<Control>(8);
    let writer = tokio::spawn(write_loop(writer, outbox, control_rx));
    let pinger = tokio::spawn(ping_loop(control_tx.clone(), limits.ping_interval));

    let reading = read_loop(
        &mut reader,
        &connection,
        &control_tx,
        limits.max_message_size,
        limits.idle_timeout,
    );
    let ended_by = tokio::select! {
        ended = reading => ended,
        () = shared.shutdown.cancelled() => Ending::Shutdown,
    };
    pinger.abort();
    match ended_by {
        Ending::Peer => connection.close(),
        Ending::Shutdown => {
            let cancelled = connection.shutdown(shared.drain).await;
            if cancelled > 0 {
                tracing::warn!(client = %client, cancelled, "calls cancelled at shutdown");
            }
            let _ = control_tx
                .send(Control::Close(1001, "server shutting down"))
                .await;
        }
        Ending::Fatal(code, reason) => {
            connection.close();
            let _ = control_tx.send(Control::Close(code, reason)).await;
        }
    }
    drop(control_tx);
    let _ = writer.await;
    tracing::debug!(client = %client, "connection closed");
}

enum Ending {
    /// The client closed or vanished.
    Peer,
    /// The server is shutting down.
    Shutdown,
    /// The client broke the protocol; close with this code.
    Fatal(u16, &'static str),
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
    max_message_size: usize,
    idle_timeout: Duration,
) -> Ending {
    let mut assembler = Assembler::new(max_message_size);
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
        // Any frame, pongs included, counts as life.
        let Ok(frame) = tokio::time::timeout(idle_timeout, reading).await else {
            tracing::debug!(client = %connection.client_id(), "idle timeout");
            return Ending::Fatal(1001, "idle timeout");
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(WebSocketError::InvalidUTF8) => {
                // The frame was consumed whole; the connection can go on.
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
        match assembler.push(frame) {
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
            Ok(Some(Message::Binary(frame))) => {
                connection.handle_binary(Bytes::clone(&frame)).await
            }
            Ok(Some(Message::Close)) => return Ending::Peer,
            Err(Fatal::TooLarge) => return too_large(connection, max_message_size).await,
            Err(Fatal::Protocol) => return Ending::Fatal(1002, "frames out of order"),
        }
    }
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
/// done) or a close is requested; either way it finishes with a close frame.
async fn write_loop(
    mut writer: WebSocketWrite<BufWriter<WriteHalf<Socket>>>,
    mut outbox: Outbox,
    mut control: mpsc::Receiver<Control>,
) {
    let mut control_open = true;
    let (code, reason) = loop {
        let written = tokio::select! {
            biased;
            frame = control.recv(), if control_open => match frame {
                Some(Control::Frame(opcode, payload)) => {
                    writer.write_frame(Frame::new(true, opcode, None, Payload::Owned(payload))).await
                }
                Some(Control::Close(code, reason)) => break (code, reason),
                None => {
                    control_open = false;
                    continue;
                }
            },
            message = outbox.recv() => match message {
                Some(message) => write_batch(&mut writer, &mut outbox, message).await,
                None => break (1000, ""),
            },
        };
        if written.is_err() || writer.flush().await.is_err() {
            // The client is gone; dropping the outbox makes pending sends fail fast.
            return;
        }
    };
    // Whatever is already queued (the last responses, an error) goes out first.
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
