use ipc_runtime::command;

#[command]
struct Ping;

fn main() {}
