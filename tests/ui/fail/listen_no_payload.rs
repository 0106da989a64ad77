use ipc_runtime::listen;

#[listen("ready")]
fn on_ready() {}

fn main() {}
