use ipc_runtime::command;

#[command(rename_all = "kebab-case")]
fn ping(user_id: u32) -> u32 {
    user_id
}

fn main() {}
