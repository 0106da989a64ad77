use ipc_runtime::command;

#[command(rename = "rpc.x")]
fn ping() {}

fn main() {}
