use ipc_runtime::command;

#[derive(Debug)]
struct Oops;

#[command]
fn fallible() -> Result<u32, Oops> {
    Err(Oops)
}

fn main() {}
