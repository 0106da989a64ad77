use ipc_runtime::command;

// Every mistake in one attribute is reported, each at its token: a name
// where `rename` is meant, a value that is not a string, a value on a flag,
// an unknown `rename_all` rule, a missing comma.
#[command("greet", rename = greet, blocking = true, rename_all = "kebab-case", crate = "ipc_runtime" foo)]
fn greet(user_name: String) -> String {
    user_name
}

// The options are read even when the item is not a function.
#[command(foo)]
struct NotAFunction;

fn main() {}
