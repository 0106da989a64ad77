use ipc_runtime::listen;

struct Progress {
    done: u32,
}

#[listen("progress")]
fn on_progress(payload: Progress) {
    let _ = payload.done;
}

fn main() {}
