use ipc_runtime::event;

// Every mistake in one attribute is reported, each at its token: an invalid
// name, a `crate` that is not a string, an option of #[listen], a repeated option.
#[event("bad name!", crate = ipc_runtime, blocking, crate = "ipc_runtime")]
#[derive(serde::Serialize)]
struct Payload;

// A name that is not a string literal, and an option without its value.
#[event(42, crate)]
#[derive(serde::Serialize)]
enum Other {
    A,
}

// The options are read even when the item is not a type.
#[event("ready", blocking)]
fn ready() {}

fn main() {}
