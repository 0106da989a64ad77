use ipc_runtime::command;

#[command]
fn echo<T: serde::Serialize>(value: T) -> T {
    value
}

fn main() {}
