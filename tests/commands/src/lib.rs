//! Commands defined in a crate of their own. The application links this crate
//! (`use ipc_test_commands as _;`) and never names a command: `inventory`
//! finds them.

use ipc_runtime::{State, command, listen};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// Shared with the application as managed state.
#[derive(Debug, Default)]
pub struct Log(pub Mutex<Vec<String>>);

/// A point, to show structs crossing the boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal.
    pub x: f64,
    /// Vertical.
    pub y: f64,
}

/// Mirrors a point through the origin.
#[command(rename = "geometry.mirror")]
pub fn mirror(point: Point) -> Point {
    Point {
        x: -point.x,
        y: -point.y,
    }
}

/// Records a line in the shared log and returns how many there are.
#[command(rename = "log.write")]
pub async fn write_log(log: State<Log>, line: String) -> usize {
    let mut lines = log.0.lock().unwrap_or_else(|p| p.into_inner());
    lines.push(line);
    lines.len()
}

/// Appends every `audit` event's payload to the log.
#[listen("audit")]
pub fn on_audit(entry: String, log: State<Log>) {
    log.0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(format!("audit: {entry}"));
}

/// Fuzzing target: every common argument kind (see `tests/src/fuzz.rs`).
#[command(rename = "fuzz.typed")]
pub fn fuzz_typed(
    count: i64,
    ratio: f64,
    name: String,
    tags: Vec<String>,
    flag: Option<bool>,
    data: Vec<u8>,
) -> usize {
    let count = usize::try_from(count.rem_euclid(7)).unwrap_or(0);
    let ratio = if ratio.is_finite() && ratio > 0.0 {
        1
    } else {
        0
    };
    tags.len() + name.len() + data.len() + usize::from(flag.unwrap_or(false)) + count + ratio
}

/// Fuzzing target: echoes any JSON.
#[command(rename = "fuzz.echo")]
pub fn fuzz_echo(value: serde_json::Value) -> serde_json::Value {
    value
}
