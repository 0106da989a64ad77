use ipc_runtime::command;

#[command]
#[allow(non_snake_case)]
fn find(user_id: u32, userId: u32) -> u32 {
    user_id + userId
}

fn main() {}
