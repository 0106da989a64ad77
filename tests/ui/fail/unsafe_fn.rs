use ipc_runtime::command;

#[command]
unsafe fn danger() {}

fn main() {}
