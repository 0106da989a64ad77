use ipc_runtime::command;

#[command]
fn ping() -> u32
where
    u32: Copy,
{
    1
}

fn main() {}
