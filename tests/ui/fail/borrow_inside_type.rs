use ipc_runtime::command;

#[command]
fn greet(name: Option<&str>) -> String {
    name.unwrap_or("world").to_owned()
}

fn main() {}
