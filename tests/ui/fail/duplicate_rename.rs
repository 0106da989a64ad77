use ipc_runtime::command;

#[command(rename = "a", rename = "b")]
fn ping() {}

fn main() {}
