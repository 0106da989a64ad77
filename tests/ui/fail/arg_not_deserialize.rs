use ipc_runtime::command;

struct Point {
    x: i32,
}

#[command]
fn draw(point: Point) -> i32 {
    point.x
}

fn main() {}
