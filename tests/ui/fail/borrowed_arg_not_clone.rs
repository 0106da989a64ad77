use ipc_runtime::command;

#[derive(serde::Deserialize)]
struct Point {
    x: i32,
}

#[command]
fn norm(point: &Point) -> i32 {
    point.x.abs()
}

fn main() {}
