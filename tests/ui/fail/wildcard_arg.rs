use ipc_runtime::command;

#[command]
fn ignore(_: String) {}

fn main() {}
