use ipc_runtime::listen;

#[listen(ready)]
fn on_ready(payload: ()) {
    let () = payload;
}

fn main() {}
