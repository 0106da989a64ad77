use ipc_runtime::command;
use std::rc::Rc;

#[command]
async fn count() -> usize {
    let shared = Rc::new(5);
    tokio::task::yield_now().await;
    *shared
}

fn main() {}
