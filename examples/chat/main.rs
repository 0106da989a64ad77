//! A chat room shared by every instance of the app: run two (or more) on
//! different ports, joined by one nats-server, and a message sent from a page
//! of one appears live on the pages of all.
//!
//! ```text
//! nats-server -a 127.0.0.1 -p 4222 &
//! cargo run --example chat -- --port 0 --nats nats://127.0.0.1:4222
//! cargo run --example chat -- --port 0 --nats nats://127.0.0.1:4222 --name second
//! cargo run --example chat -- --port 0      # alone, without NATS
//! ```
//!
//! The page calls the command `chat.send { text }`, which emits
//! `chat:message { from, text }` to everyone: the pages of this instance
//! directly, those of the others through the NATS bridge (only `chat:*`
//! events cross). Each instance keeps its last 50 messages for pages that
//! reconnect (per instance: see docs/scale-out.md).

use ipc_runtime::transport::nats::NatsBridge;
use ipc_runtime::{App, BridgeFilter, Caller, Capability, State, command, event};
use serde::{Deserialize, Serialize};

/// The longest message accepted, in characters.
const MAX_TEXT: usize = 2000;

/// What a message says about where it came from: `--name`, else the start of
/// the instance's random id (known once the app is built).
#[derive(Default)]
struct Instance {
    name: std::sync::OnceLock<String>,
}

/// One chat message, to everyone on every instance.
#[event("chat:message", replay = 50, bridge)]
#[derive(Debug, Serialize, Deserialize)]
struct ChatMessage {
    /// Who sent it: `<instance>/<client id>`.
    from: String,
    text: String,
}

/// Sends `text` to everyone in the room.
#[command(rename = "chat.send")]
fn send(app: App, instance: State<Instance>, caller: Caller, text: String) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("a message needs some text".into());
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("a message is at most {MAX_TEXT} characters"));
    }
    let message = ChatMessage {
        from: format!(
            "{}/{}",
            instance.name.get().map_or("?", String::as_str),
            caller.client_id().get()
        ),
        text: text.to_owned(),
    };
    app.emit_event(&message).map_err(|e| e.to_string())
}

struct Options {
    port: u16,
    nats: Option<String>,
    name: Option<String>,
}

const USAGE: &str = "usage: chat [--port N] [--nats nats://HOST:PORT] [--name NAME]   (0 picks a free port; default 8080)";

fn options() -> Result<Options, String> {
    let mut options = Options {
        port: 8080,
        nats: None,
        name: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--port" => {
                options.port = value
                    .parse()
                    .map_err(|_| format!("--port {value}: not a port number"))?;
            }
            "--nats" => options.nats = Some(value),
            "--name" => options.name = Some(value),
            _ => return Err(USAGE.into()),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ipc_examples::log_to_stderr();
    let options = options()?;
    let mut builder = App::builder()
        .capability(
            Capability::new("page")
                .allow_invoke(["chat.send"])
                .allow_listen(["chat:*"]),
        )
        .default_capability("page");
    if let Some(url) = &options.nats {
        let bridge = NatsBridge::builder(url.as_str())
            .prefix("ipc.chat")
            .connect()
            .await
            .map_err(|e| format!("{e} (is nats-server running at {url}?)"))?;
        builder = builder
            .bridge(bridge)
            .bridge_filter(BridgeFilter::declared());
    }
    let app = builder.manage(Instance::default()).build()?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| app.instance_id().chars().take(6).collect());
    if let Some(instance) = app.state::<Instance>() {
        let _ = instance.name.set(name);
    }
    let port = options.port;
    let server = app
        .server()
        .asset(
            "/",
            "text/html; charset=utf-8",
            include_str!("web/index.html"),
        )
        .asset(
            "/app.js",
            "text/javascript; charset=utf-8",
            include_str!("web/app.js"),
        )
        .asset(
            "/style.css",
            "text/css; charset=utf-8",
            include_str!("web/style.css"),
        )
        .serve(("127.0.0.1", port))
        .await
        .map_err(|e| ipc_examples::listen_error(port, &e))?;
    println!("Open the chat in your browser (and another instance's, to see messages cross):");
    println!("{}", server.http_url());
    println!("WebSocket endpoint for other clients:");
    println!("{}", server.ws_url());
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
