use ipc_runtime::event;

#[event]
#[derive(serde::Serialize)]
struct Payload;

#[event(crate = "ipc_runtime")]
#[derive(serde::Serialize)]
struct Other;

fn main() {}
