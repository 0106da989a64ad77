//! Shared helpers for the integration tests in this directory.
//!
//! Every test here uses `ipc-runtime`'s public API only, as an application
//! would. [`WsClient`] is a deliberately independent client (tokio-tungstenite,
//! not our JavaScript stub) that speaks raw JSON-RPC over WebSocket.

pub mod fuzz;

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A raw JSON-RPC-over-WebSocket client for tests.
#[derive(Debug)]
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Messages received while waiting for something else.
    backlog: VecDeque<Value>,
    /// Attachments of binary frames received, by the message they came with.
    attachments: Vec<(Value, Vec<Bytes>)>,
    next_id: u64,
}

/// The subprotocol that asks the server for binary frames.
pub const SUBPROTOCOL: &str = "ipc.v1";

impl WsClient {
    /// Connects to `url` (`ws://127.0.0.1:PORT/ipc`) as a text-only JSON-RPC client.
    pub async fn connect(url: &str) -> Self {
        Self::connect_with(url, false).await
    }

    /// Connects, offering the `ipc.v1` subprotocol when `binary` (so the server
    /// may answer with binary frames).
    pub async fn connect_with(url: &str, binary: bool) -> Self {
        let mut request = url.into_client_request().expect("a WebSocket URL");
        if binary {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                SUBPROTOCOL.parse().expect("header"),
            );
        }
        // Large payloads are the point of some tests: lift the client's own limits.
        let config = WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
        let (socket, response) = tokio::time::timeout(WAIT, connecting)
            .await
            .expect("connect in time")
            .expect("connect");
        if binary {
            assert_eq!(
                response
                    .headers()
                    .get("Sec-WebSocket-Protocol")
                    .map(|v| v.as_bytes()),
                Some(SUBPROTOCOL.as_bytes()),
                "the server accepts the subprotocol"
            );
        }
        WsClient {
            socket,
            backlog: VecDeque::new(),
            attachments: Vec::new(),
            next_id: 1,
        }
    }

    /// Sends one binary frame: `message` (a JSON-RPC message whose placeholders
    /// `{"$bytes": i}` refer to `attachments`), laid out as `docs/protocol.md` says.
    pub async fn send_binary(&mut self, mut message: Value, attachments: &[&[u8]]) {
        message["attachments"] = json!(attachments.iter().map(|a| a.len()).collect::<Vec<_>>());
        let header = message.to_string();
        let mut frame = Vec::with_capacity(
            4 + header.len() + attachments.iter().map(|a| a.len()).sum::<usize>(),
        );
        frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
        frame.extend_from_slice(header.as_bytes());
        for attachment in attachments {
            frame.extend_from_slice(attachment);
        }
        self.send_message(Message::binary(frame)).await;
    }

    /// The attachments that came with `message` (a response or push received in
    /// a binary frame).
    pub fn attachments_of(&self, message: &Value) -> Vec<Bytes> {
        self.attachments
            .iter()
            .find(|(m, _)| m == message)
            .map(|(_, a)| a.clone())
            .unwrap_or_default()
    }

    /// Sends a text frame as it is.
    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.expect("send");
    }

    /// Sends a raw frame (binary, invalid text, ...).
    pub async fn send_message(&mut self, message: Message) {
        self.socket.send(message).await.expect("send");
    }

    /// Sends a request and returns its id.
    pub async fn request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let text = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_text(&text.to_string()).await;
        id
    }

    /// Sends a request and waits for its response (other messages are kept).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.request(method, params).await;
        self.response(id).await
    }

    /// Waits for the response with this id.
    pub async fn response(&mut self, id: u64) -> Value {
        self.wait_for(|m| m["id"] == json!(id)).await
    }

    /// Waits for an `ipc.event` push of this event.
    pub async fn event(&mut self, name: &str) -> Value {
        self.wait_for(|m| m["method"] == "ipc.event" && m["params"]["event"] == name)
            .await["params"]
            .clone()
    }

    /// The next message of any kind.
    pub async fn next(&mut self) -> Value {
        if let Some(m) = self.backlog.pop_front() {
            return m;
        }
        self.read()
            .await
            .expect("a message before the connection closed")
    }

    /// Waits for a message matching `pred`, keeping the others for later.
    pub async fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(pos).expect("present");
        }
        loop {
            let m = self
                .read()
                .await
                .expect("a message before the connection closed");
            if pred(&m) {
                return m;
            }
            self.backlog.push_back(m);
        }
    }

    /// Whether a message matching `pred` arrives within `within`.
    pub async fn receives_within(
        &mut self,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> bool {
        if self.backlog.iter().any(&pred) {
            return true;
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.read_raw()).await {
                Err(_) => return false,
                Ok(None) => return false,
                Ok(Some(Message::Text(text))) => {
                    let m: Value = serde_json::from_str(&text).expect("JSON");
                    if pred(&m) {
                        return true;
                    }
                    self.backlog.push_back(m);
                }
                Ok(Some(Message::Binary(frame))) => {
                    let m = self.decode_binary(&frame);
                    if pred(&m) {
                        return true;
                    }
                    self.backlog.push_back(m);
                }
                Ok(Some(_)) => {}
            }
        }
    }

    /// Reads the next message as JSON (a binary frame's header, its
    /// attachments kept aside); `None` when the connection closed.
    async fn read(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.read_raw())
                .await
                .expect("a message in time")?;
            match message {
                Message::Text(text) => {
                    return Some(serde_json::from_str(&text).expect("the server sends JSON"));
                }
                Message::Binary(frame) => return Some(self.decode_binary(&frame)),
                _ => {}
            }
        }
    }

    fn decode_binary(&mut self, frame: &[u8]) -> Value {
        let header_len = u32::from_be_bytes(frame[..4].try_into().expect("4 bytes")) as usize;
        let header: Value =
            serde_json::from_slice(&frame[4..4 + header_len]).expect("a JSON header");
        let mut offset = 4 + header_len;
        let mut attachments = Vec::new();
        for len in header["attachments"]
            .as_array()
            .expect("attachment lengths")
        {
            let len = len.as_u64().expect("a length") as usize;
            attachments.push(Bytes::copy_from_slice(&frame[offset..offset + len]));
            offset += len;
        }
        assert_eq!(offset, frame.len(), "the lengths add up to the frame");
        self.attachments.push((header.clone(), attachments));
        header
    }

    /// The next frame, `None` after a close.
    pub async fn read_raw(&mut self) -> Option<Message> {
        match self.socket.next().await {
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => None,
            Some(Ok(message)) => Some(message),
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn closed_with(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("close in time")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    }

    /// Closes the socket politely.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
