//! Shared helpers for the integration tests in this directory.
//!
//! Every test here uses `ipc-runtime`'s public API only, as an application
//! would. [`WsClient`] is a deliberately independent client (tokio-tungstenite,
//! not our JavaScript stub) that speaks raw JSON-RPC over WebSocket.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A raw JSON-RPC-over-WebSocket client for tests.
#[derive(Debug)]
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Messages received while waiting for something else.
    backlog: VecDeque<Value>,
    next_id: u64,
}

impl WsClient {
    /// Connects to `url` (`ws://127.0.0.1:PORT/ipc`).
    pub async fn connect(url: &str) -> Self {
        let (socket, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        WsClient {
            socket,
            backlog: VecDeque::new(),
            next_id: 1,
        }
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
                Ok(Some(_)) => {}
            }
        }
    }

    /// Reads the next text message as JSON; `None` when the connection closed.
    async fn read(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.read_raw())
                .await
                .expect("a message in time")?;
            if let Message::Text(text) = message {
                return Some(serde_json::from_str(&text).expect("the server sends JSON"));
            }
        }
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
