//! The page side of a window, on the async runtime: the sockets its page
//! opened (each one [`Connection`]), fed with what the page posts, and the
//! scripts that carry each connection's [`Outbox`] back into the page.
//!
//! What the page posts (`window.ipc.postMessage`), parsed by [`PageMessage::parse`]:
//! `o<id>` opens socket `id`, `c<id>` closes it, `m<id>:<text>` carries
//! messages on it (one or more, separated by `\n`, which JSON text as
//! `JSON.stringify` writes it never holds raw), `s<id>:<text>` exactly one. What goes back is JavaScript calling the shim the window injected
//! ([`opened`], [`deliver`], [`ended`]); the messages themselves are the
//! session's own text, embedded as string literals.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::route::Router;
use crate::session::{ConnectOptions, Connection, Outbound, Outbox};

/// The most messages one script carries into the page.
const MAX_BATCH: usize = 64;
/// The most bytes of messages one script carries (one larger message still goes, alone).
const MAX_BATCH_BYTES: usize = 1 << 20;

/// One thing the page posted, borrowed from its text.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PageMessage<'a> {
    /// The page opened socket `id`.
    Open(u32),
    /// The page closed socket `id`.
    Close(u32),
    /// JSON-RPC messages on socket `id`, separated by `\n`.
    Texts(u32, &'a str),
    /// One JSON-RPC message on socket `id` (it may hold a newline).
    Text(u32, &'a str),
}

impl<'a> PageMessage<'a> {
    /// Reads one posted string; `Err` says what was wrong with it.
    pub(super) fn parse(posted: &'a str) -> Result<Self, &'static str> {
        let id = |digits: &str| {
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err("a socket id is 1 to 9 decimal digits");
            }
            digits
                .parse::<u32>()
                .map_err(|_| "a socket id is 1 to 9 decimal digits")
        };
        match posted.as_bytes().first() {
            Some(b'o') => Ok(PageMessage::Open(id(&posted[1..])?)),
            Some(b'c') => Ok(PageMessage::Close(id(&posted[1..])?)),
            Some(kind @ (b'm' | b's')) => {
                let (digits, text) = posted[1..]
                    .split_once(':')
                    .ok_or("a message is m<id>:<text> or s<id>:<text>")?;
                let id = id(digits)?;
                Ok(if *kind == b'm' {
                    PageMessage::Texts(id, text)
                } else {
                    PageMessage::Text(id, text)
                })
            }
            _ => Err("unknown kind of posted message (expected o, c, m or s)"),
        }
    }
}

/// The script telling the page that socket `id` is open.
pub(super) fn opened(id: u32) -> String {
    format!("__IPC_DESKTOP__.o({id})")
}

/// The script ending socket `id` from the app's side, with a reason.
pub(super) fn ended(id: u32, reason: &str) -> String {
    let reason = serde_json::to_string(reason).unwrap_or_else(|_| "\"\"".to_owned());
    format!("__IPC_DESKTOP__.x({id},{reason})")
}

/// The script delivering `messages`, in order, to socket `id`.
pub(super) fn deliver(id: u32, messages: &[Outbound]) -> String {
    let mut script = String::with_capacity(
        32 + messages
            .iter()
            .map(|m| m.len() + m.len() / 8 + 2)
            .sum::<usize>(),
    );
    script.push_str("__IPC_DESKTOP__.r(");
    script.push_str(&id.to_string());
    script.push_str(",[");
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            script.push(',');
        }
        // A JSON string literal is a JavaScript string literal (U+2028 and
        // U+2029 included, since ES2019).
        match serde_json::to_string(&*message.as_str()) {
            Ok(literal) => script.push_str(&literal),
            Err(_) => script.push_str("\"\""),
        }
    }
    script.push_str("])");
    script
}

/// Where a window's scripts go: the event loop, which evaluates them in the
/// window's webview on the main thread. `false` once the window is gone.
pub(super) trait ScriptSink: Send + Sync + 'static {
    /// Queues `script` for the window; the permit is held until it has been handed to the webview.
    fn eval(&self, script: String, permit: Option<OwnedSemaphorePermit>) -> bool;
}

/// A string the page posted, with the page load it came from (each load of
/// a page in the window counts one up: sockets never outlive their page).
#[derive(Debug)]
pub(super) struct Inbound {
    pub(super) generation: u64,
    pub(super) posted: String,
}

/// What the window says about its page, beside what the page posts.
#[derive(Debug)]
pub(super) enum Control {
    /// A new page is loading (reload, navigation): the old page's sockets are gone.
    PageReset { generation: u64 },
    /// A message of this socket was too large, or found the inbox full: end the socket.
    Overflowed { generation: u64, socket: u32 },
}

/// How a window's sessions are opened and bounded.
#[derive(Clone, Debug)]
pub(super) struct PumpOptions {
    pub(super) connect: ConnectOptions,
    /// The most sockets one page may hold open.
    pub(super) max_sockets: usize,
    /// How long calls still running get when the window closes.
    pub(super) drain: Duration,
    /// The most scripts queued for the webview at once (per window).
    pub(super) max_scripts: usize,
}

/// Runs one window's sessions until `stop` fires (the window closed), then
/// shuts them down within the drain deadline.
pub(super) async fn pump<S: ScriptSink>(
    router: Arc<Router>,
    options: PumpOptions,
    sink: Arc<S>,
    mut inbox: mpsc::Receiver<Inbound>,
    mut control: mpsc::Receiver<Control>,
    mut stop: oneshot::Receiver<()>,
) {
    let scripts = Arc::new(Semaphore::new(options.max_scripts.max(1)));
    let mut page = Page {
        generation: 0,
        sockets: HashMap::new(),
    };
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            Some(control) = control.recv() => match control {
                Control::PageReset { generation } => page.reset(generation),
                Control::Overflowed { generation, socket } => {
                    if generation == page.generation
                        && let Some(connection) = page.sockets.remove(&socket)
                    {
                        connection.close();
                        sink.eval(ended(socket, "message too large, or too many waiting"), None);
                    }
                }
            },
            inbound = inbox.recv() => {
                let Some(Inbound { generation, posted }) = inbound else { break };
                if generation < page.generation {
                    continue; // from a page that is gone
                }
                page.reset(generation);
                match PageMessage::parse(&posted) {
                    Ok(PageMessage::Open(id)) => {
                        if page.sockets.contains_key(&id) {
                            continue;
                        }
                        if page.sockets.len() >= options.max_sockets {
                            sink.eval(ended(id, "too many sockets open in this page"), None);
                            continue;
                        }
                        let (connection, outbox) = Connection::open(&router, options.connect.clone());
                        sink.eval(opened(id), None);
                        tokio::spawn(write(id, outbox, Arc::clone(&sink), Arc::clone(&scripts)));
                        page.sockets.insert(id, connection);
                    }
                    Ok(PageMessage::Close(id)) => {
                        if let Some(connection) = page.sockets.remove(&id) {
                            connection.close();
                        }
                    }
                    Ok(PageMessage::Texts(id, texts)) => match page.sockets.get(&id) {
                        Some(connection) => {
                            for message in texts.split('\n') {
                                connection.handle_text(message).await;
                            }
                        }
                        None => tracing::debug!(socket = id, "messages on a socket that is not open"),
                    },
                    Ok(PageMessage::Text(id, message)) => match page.sockets.get(&id) {
                        Some(connection) => connection.handle_text(message).await,
                        None => tracing::debug!(socket = id, "a message on a socket that is not open"),
                    },
                    Err(why) => tracing::warn!(why, "ignored a malformed message from a window's page"),
                }
            }
        }
    }
    let closing = page
        .sockets
        .into_values()
        .map(|connection| connection.shutdown(options.drain));
    let cancelled: usize = futures_util::future::join_all(closing)
        .await
        .into_iter()
        .sum();
    if cancelled > 0 {
        tracing::info!(cancelled, "calls cancelled when their window closed");
    }
}

/// The sockets of the page now in the window.
struct Page {
    generation: u64,
    sockets: HashMap<u32, Connection>,
}

impl Page {
    /// A newer page replaced this one: its sockets end.
    fn reset(&mut self, generation: u64) {
        if generation > self.generation {
            self.generation = generation;
            for (_, connection) in self.sockets.drain() {
                connection.close();
            }
        }
    }
}

/// Carries one socket's outbox into the page, several messages per script,
/// at most `scripts` scripts waiting for the webview.
async fn write<S: ScriptSink>(id: u32, mut outbox: Outbox, sink: Arc<S>, scripts: Arc<Semaphore>) {
    let mut batch = Vec::new();
    while let Some(first) = outbox.recv().await {
        let mut bytes = first.len();
        batch.push(first);
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match outbox.try_recv() {
                Some(next) => {
                    bytes += next.len();
                    batch.push(next);
                }
                None => break,
            }
        }
        let script = deliver(id, &batch);
        batch.clear();
        let Ok(permit) = Arc::clone(&scripts).acquire_owned().await else {
            break;
        };
        if !sink.eval(script, Some(permit)) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The pump and its wire, without a window: the sink records scripts.

    use std::sync::Mutex;

    use serde_json::{Value, json};

    use super::*;
    use crate::testing;

    #[test]
    fn posted_messages_parse_and_bad_ones_are_refused() {
        assert_eq!(PageMessage::parse("o1"), Ok(PageMessage::Open(1)));
        assert_eq!(PageMessage::parse("c42"), Ok(PageMessage::Close(42)));
        assert_eq!(
            PageMessage::parse("m7:{\"a\":\"b:c\"}\n[]"),
            Ok(PageMessage::Texts(7, "{\"a\":\"b:c\"}\n[]"))
        );
        assert_eq!(
            PageMessage::parse("s7:{\n}"),
            Ok(PageMessage::Text(7, "{\n}"))
        );
        for bad in [
            "",
            "o",
            "ox",
            "o-1",
            "o1234567890",
            "m1",
            "mx:{}",
            "z1",
            "c 1",
        ] {
            assert!(
                PageMessage::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn delivered_messages_are_string_literals_in_order() {
        let messages = [
            Outbound::text(
                "{\"a\":\"line\\nbreak \u{2028} \\\"q\\\"\"}"
                    .as_bytes()
                    .to_vec(),
            ),
            Outbound::text(b"2".to_vec()),
        ];
        let script = deliver(3, &messages);
        let args = script
            .strip_prefix("__IPC_DESKTOP__.r(3,")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap();
        let texts: Vec<String> = serde_json::from_str(args).unwrap();
        assert_eq!(texts, [messages[0].as_str(), messages[1].as_str()]);
        assert_eq!(
            ended(2, "bye \"now\""),
            r#"__IPC_DESKTOP__.x(2,"bye \"now\"")"#
        );
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>, tokio::sync::Notify);

    impl ScriptSink for Recorder {
        fn eval(&self, script: String, _permit: Option<OwnedSemaphorePermit>) -> bool {
            self.0.lock().unwrap().push(script);
            self.1.notify_one();
            true
        }
    }

    impl Recorder {
        async fn wait_for(&self, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
            tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    let notified = self.1.notified();
                    {
                        let seen = self.0.lock().unwrap();
                        if pred(&seen) {
                            return seen.clone();
                        }
                    }
                    notified.await;
                }
            })
            .await
            .expect("the scripts expected within 5 s")
        }
    }

    fn delivered(scripts: &[String], id: u32) -> Vec<Value> {
        let prefix = format!("__IPC_DESKTOP__.r({id},");
        scripts
            .iter()
            .filter_map(|s| s.strip_prefix(&prefix)?.strip_suffix(')'))
            .flat_map(|args| serde_json::from_str::<Vec<String>>(args).unwrap())
            .map(|text| testing::json(&text))
            .collect()
    }

    fn options(max_sockets: usize) -> PumpOptions {
        PumpOptions {
            connect: ConnectOptions::default()
                .binary(false)
                .label(Some("main".into())),
            max_sockets,
            drain: Duration::from_millis(200),
            max_scripts: 4,
        }
    }

    #[tokio::test]
    async fn a_page_socket_opens_calls_and_gets_its_answers_and_the_limit_holds() {
        let router = testing::router();
        let sink = Arc::new(Recorder::default());
        let (tx, rx) = mpsc::channel(16);
        let (_control, control_rx) = mpsc::channel(4);
        let (_stop, stopped) = oneshot::channel();
        let pump = tokio::spawn(pump(
            Arc::clone(&router),
            options(1),
            Arc::clone(&sink),
            rx,
            control_rx,
            stopped,
        ));
        tx.send(posted(1, "o1")).await.unwrap();
        let add = json!({ "jsonrpc": "2.0", "id": 5, "method": "add", "params": [2, 3] });
        let add2 = json!({ "jsonrpc": "2.0", "id": 6, "method": "add", "params": [1, 1] });
        tx.send(posted(1, &format!("m1:{add}\n{add2}")))
            .await
            .unwrap();
        tx.send(posted(1, "o2")).await.unwrap();
        let seen = sink
            .wait_for(|s| delivered(s, 1).len() == 2 && s.iter().any(|x| x.contains(".x(2,")))
            .await;
        assert_eq!(
            seen[0], "__IPC_DESKTOP__.o(1)",
            "the open is acknowledged first"
        );
        assert_eq!(
            delivered(&seen, 1),
            [
                json!({ "jsonrpc": "2.0", "id": 5, "result": 5 }),
                json!({ "jsonrpc": "2.0", "id": 6, "result": 2 })
            ],
            "both messages of one post are answered, in order"
        );
        assert!(
            seen.iter().any(|s| s.contains("too many sockets")),
            "a second socket is past the limit of 1: {seen:?}"
        );
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), pump)
            .await
            .unwrap()
            .unwrap();
    }

    fn posted(generation: u64, text: &str) -> Inbound {
        Inbound {
            generation,
            posted: text.to_owned(),
        }
    }

    #[tokio::test]
    async fn a_new_page_ends_the_old_pages_sockets_and_its_late_messages_are_dropped() {
        let router = testing::router();
        let sink = Arc::new(Recorder::default());
        let (tx, rx) = mpsc::channel(16);
        let (control, control_rx) = mpsc::channel(4);
        let (_stop, stopped) = oneshot::channel();
        let pump = tokio::spawn(pump(
            Arc::clone(&router),
            options(4),
            Arc::clone(&sink),
            rx,
            control_rx,
            stopped,
        ));
        let listen = json!({ "jsonrpc": "2.0", "id": 1, "method": "ipc.listen", "params": { "event": "tick" } });
        tx.send(posted(1, "o1")).await.unwrap();
        tx.send(posted(1, &format!("m1:{listen}"))).await.unwrap();
        sink.wait_for(|s| !delivered(s, 1).is_empty()).await;
        control
            .send(Control::PageReset { generation: 2 })
            .await
            .unwrap();
        // A message of the old page, still queued: dropped, not answered.
        let add = json!({ "jsonrpc": "2.0", "id": 2, "method": "add", "params": [1, 1] });
        tx.send(posted(1, &format!("m1:{add}"))).await.unwrap();
        tx.send(posted(2, "o1")).await.unwrap();
        sink.wait_for(|s| s.iter().filter(|x| *x == "__IPC_DESKTOP__.o(1)").count() == 2)
            .await;
        router.emit(ipc_core::EventTarget::All, "tick", &1).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seen = sink.0.lock().unwrap().clone();
        let to_socket_1 = delivered(&seen, 1);
        assert_eq!(
            to_socket_1
                .iter()
                .map(|m| m["id"].clone())
                .collect::<Vec<_>>(),
            [json!(1)],
            "only the listen's answer: the old page's subscription ended with it and its late call was dropped: {seen:?}"
        );
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), pump)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn closing_the_window_drains_running_calls_within_the_deadline() {
        let router = testing::router();
        let sink = Arc::new(Recorder::default());
        let (tx, rx) = mpsc::channel(16);
        let (_control, control_rx) = mpsc::channel(4);
        let (stop, stopped) = oneshot::channel();
        let pump = tokio::spawn(pump(
            Arc::clone(&router),
            options(4),
            Arc::clone(&sink),
            rx,
            control_rx,
            stopped,
        ));
        tx.send(posted(1, "o1")).await.unwrap();
        let slow =
            json!({ "jsonrpc": "2.0", "id": 1, "method": "slow", "params": { "ms": 60_000 } });
        tx.send(posted(1, &format!("m1:{slow}"))).await.unwrap();
        sink.wait_for(|s| !s.is_empty()).await;
        let started = std::time::Instant::now();
        stop.send(()).unwrap(); // the window closed
        tokio::time::timeout(Duration::from_secs(5), pump)
            .await
            .unwrap()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a call that outlives the drain is cancelled, not awaited"
        );
    }
}
