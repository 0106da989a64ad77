use ipc_runtime::event;

#[event("page")]
#[derive(serde::Serialize)]
struct Page<T> {
    items: Vec<T>,
}

fn main() {}
