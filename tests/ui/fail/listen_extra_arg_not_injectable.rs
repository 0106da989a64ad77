use ipc_runtime::listen;

#[listen("ready")]
fn on_ready(payload: u32, label: String) {
    let _ = (payload, label);
}

fn main() {}
