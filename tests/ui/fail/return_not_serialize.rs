use ipc_runtime::command;

struct Point {
    x: i32,
}

#[command]
fn origin() -> Point {
    Point { x: 0 }
}

fn main() {}
