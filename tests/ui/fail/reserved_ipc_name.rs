use ipc_runtime::command;

#[command(rename = "ipc.y")]
fn ping() {}

fn main() {}
