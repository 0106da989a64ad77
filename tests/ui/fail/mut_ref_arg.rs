use ipc_runtime::command;

#[command]
fn push(items: &mut Vec<u32>) {
    items.push(1);
}

fn main() {}
