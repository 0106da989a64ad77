use ipc_runtime::command;

#[command(blocking)]
async fn slow() {}

fn main() {}
