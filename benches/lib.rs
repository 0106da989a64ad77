//! Shared workloads for the benchmarks in `benches/`: the commands under test
//! and the hand-written dispatcher they are measured against (the floor).

use ipc_runtime::command;
use serde::Deserialize;
use serde_json::Value;

/// Echoes bytes: raw attachments for binary clients, JSON arrays otherwise.
#[command]
pub fn echo_bytes(data: Vec<u8>) -> Vec<u8> {
    data
}

/// `add(a, b)`, the smallest useful command.
#[command]
pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[derive(Deserialize)]
struct AddArgs {
    a: i64,
    b: i64,
}

/// The floor: a hand-written `match` on the name, `serde_json` into an argument
/// struct, the function, `serde_json` out. No registry, no error detail.
pub fn floor_invoke(name: &str, args: Value) -> Result<Value, String> {
    match name {
        "add" => {
            let args: AddArgs = serde_json::from_value(args).map_err(|e| e.to_string())?;
            serde_json::to_value(add(args.a, args.b)).map_err(|e| e.to_string())
        }
        other => Err(format!("unknown command {other}")),
    }
}
