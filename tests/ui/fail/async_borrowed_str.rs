use ipc_runtime::command;

#[command]
async fn greet(name: &str) -> String {
    format!("hello {name}")
}

fn main() {}
