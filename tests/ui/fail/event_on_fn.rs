use ipc_runtime::event;

#[event("ready")]
fn ready() {}

fn main() {}
