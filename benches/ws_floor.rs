//! The WebSocket floor: a bare fastwebsockets echo server, no framework. What
//! any server built on the same WebSocket crate (the one our runtime uses) must
//! pay per call, so our server's numbers can be read against it.
//!
//! It accepts TCP on `127.0.0.1:0` (Nagle off, as ours), upgrades with
//! hyper 1 and `fastwebsockets::upgrade`, splits the socket as our runtime
//! does (`tokio::io::split`, a `BufWriter` on the write half), and answers each
//! text frame with [`floor_response`](crate::floor_response): the fixed
//! response of `add`, with the request's id. It flushes when the next read
//! would wait, so pipelined answers share a write, as ours do.
//!
//! What it does not do: parse JSON, look up a method, read arguments, queue
//! replies for another task, check an origin or a token, ping, answer pings or
//! close frames (a close frame just ends the connection), reassemble
//! fragmented messages, or limit anything. It is only right for the
//! benchmark client's unfragmented, numeric-id requests.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use fastwebsockets::{Frame, OpCode, Payload, WebSocket, WebSocketError, upgrade};
use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::BufWriter;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::floor_response;

/// A running floor server. Stop it with [`FloorServer::stop`].
#[derive(Debug)]
pub struct FloorServer {
    url: String,
    accept: JoinHandle<()>,
}

impl FloorServer {
    /// Where to connect: `ws://127.0.0.1:PORT/` (any path is accepted).
    pub fn ws_url(&self) -> &str {
        &self.url
    }

    /// Stops accepting connections. Open connections end when their client
    /// closes them.
    pub fn stop(self) {
        self.accept.abort();
    }
}

/// Starts the floor server on the current tokio runtime.
pub async fn serve() -> std::io::Result<FloorServer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // Runs until `stop` aborts it (or accepting fails).
    let accept = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|mut request: Request<Incoming>| async move {
                    let (response, upgrading) = upgrade::upgrade(&mut request)?;
                    tokio::spawn(async move {
                        if let Ok(socket) = upgrading.await {
                            let _ = answer(socket).await;
                        }
                    });
                    Ok::<_, WebSocketError>(response)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Ok(FloorServer {
        url: format!("ws://{addr}/"),
        accept,
    })
}

/// Answers every text frame of one connection until it closes.
async fn answer(socket: WebSocket<TokioIo<Upgraded>>) -> Result<(), WebSocketError> {
    let (mut reader, mut writer) = socket.split(|stream| {
        let (read, write) = tokio::io::split(stream);
        (read, BufWriter::new(write))
    });
    // Frames the protocol obliges us to send (pongs, close replies) are not sent.
    let mut obligations = |_: Frame<'_>| async { Ok::<(), std::io::Error>(()) };
    let mut out = Vec::with_capacity(64);
    let mut unflushed = false;
    // Ends when the client closes the connection or it fails.
    loop {
        let frame = {
            let mut reading = pin!(reader.read_frame(&mut obligations));
            // Flush only when the next frame is not already there.
            let ready = std::future::poll_fn(|cx| match reading.as_mut().poll(cx) {
                Poll::Ready(frame) => Poll::Ready(Some(frame)),
                Poll::Pending => Poll::Ready(None),
            })
            .await;
            match ready {
                Some(frame) => frame,
                None => {
                    if unflushed {
                        writer.flush().await?;
                        unflushed = false;
                    }
                    reading.await
                }
            }
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(_) => break,
        };
        match frame.opcode {
            OpCode::Text => {
                out.clear();
                floor_response(&frame.payload, &mut out);
                writer
                    .write_frame(Frame::text(Payload::Borrowed(&out)))
                    .await?;
                unflushed = true;
            }
            OpCode::Close => break,
            _ => {}
        }
    }
    if unflushed {
        writer.flush().await?;
    }
    Ok(())
}
