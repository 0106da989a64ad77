use ipc_runtime::command;

struct Point {
    x: i32,
}

#[command]
fn origin() -> Result<Point, String> {
    Ok(Point { x: 0 })
}

fn main() {}
