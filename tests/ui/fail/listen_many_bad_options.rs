use ipc_runtime::listen;

// Every mistake in one attribute is reported, each at its token: an invalid
// name, a value on a flag, an unknown option, a `crate` that is not a string.
#[listen("has space", blocking = true, foo, crate = ipc_runtime)]
fn on_ready(payload: ()) {
    let () = payload;
}

// The name after an option, a repeated option, a `crate` that is not a path.
#[listen(blocking, "ready", blocking, crate = "ipc runtime")]
fn on_other(payload: u32) {
    let _ = payload;
}

// The options are read even when the item is not a function.
#[listen("ready", foo)]
struct NotAFunction;

fn main() {}
