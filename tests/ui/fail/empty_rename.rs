use ipc_runtime::command;

#[command(rename = "")]
fn ping() {}

fn main() {}
