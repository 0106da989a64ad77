use ipc_runtime::listen;

#[listen]
fn on_event(payload: u32) {
    let _ = payload;
}

fn main() {}
