use ipc_runtime::command;

struct Counter;

impl Counter {
    #[command]
    fn get(&self) -> u32 {
        0
    }
}

fn main() {}
