use ipc_runtime::command;
use std::borrow::Cow;

#[command]
async fn greet(name: Cow<'_, str>) -> String {
    format!("hello {name}")
}

fn main() {}
