use ipc_runtime::listen;

#[listen("ready", foo)]
fn on_ready(payload: ()) {
    let () = payload;
}

fn main() {}
