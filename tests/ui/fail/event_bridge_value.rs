use ipc_runtime::event;

// `bridge` is a flag: the event crosses between instances under
// `BridgeFilter::declared()`.
#[event("chat:message", bridge = true)]
#[derive(serde::Serialize)]
struct Message;

fn main() {}
