use ipc_runtime::command;

#[command]
fn show(value: impl std::fmt::Display) -> String {
    value.to_string()
}

fn main() {}
