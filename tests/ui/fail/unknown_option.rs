use ipc_runtime::command;

#[command(foo)]
fn ping() {}

fn main() {}
