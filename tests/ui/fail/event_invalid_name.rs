use ipc_runtime::event;

#[event("has space")]
#[derive(serde::Serialize)]
struct Payload;

fn main() {}
