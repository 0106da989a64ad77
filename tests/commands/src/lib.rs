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
