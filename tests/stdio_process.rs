//! The stdio transport in a real process: `ipc-e2e-server --stdio` spawned
//! with piped stdin and stdout, as a parent process drives a sidecar. The
//! unit tests in `ipc-runtime` cover the session on in-memory pipes; these
//! cover the real stdin thread, stdout and the process's exit.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

/// A running `ipc-e2e-server --stdio`, its stdout read line by line on a thread.
struct Sidecar {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Sidecar {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ipc-e2e-server"))
            .arg("--stdio")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the e2e server starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Sidecar {
            child,
            stdin,
            lines,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(bytes).expect("the sidecar reads its stdin");
        stdin.flush().expect("the sidecar reads its stdin");
    }

    fn send(&mut self, message: &Value) {
        self.write(format!("{message}\n").as_bytes());
    }

    /// The next stdout line; `None` once stdout has ended.
    fn line(&self) -> Option<String> {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no line on stdout within {WAIT:?}"),
        }
    }

    fn json(&self) -> Value {
        let line = self.line().expect("a line, not the end of stdout");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line}"))
    }

    /// Closes stdin and waits (bounded) for the exit.
    fn close_stdin(&mut self) -> ExitStatus {
        self.stdin = None;
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {WAIT:?} of closing stdin"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn call(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

#[test]
fn a_call_is_answered_on_stdout_and_closing_stdin_exits_0() {
    let mut sidecar = Sidecar::start();
    sidecar.send(&call(1, "add", json!({ "a": 40, "b": 2 })));
    assert_eq!(
        sidecar.line().as_deref(),
        Some(r#"{"jsonrpc":"2.0","id":1,"result":42}"#)
    );
    assert!(sidecar.close_stdin().success());
    assert_eq!(sidecar.line(), None, "nothing else on stdout");
}

#[test]
fn pipelined_calls_are_all_answered() {
    let mut sidecar = Sidecar::start();
    let mut lines = String::new();
    for id in 0..500 {
        lines.push_str(&format!("{}\n", call(id, "add", json!([id, 1]))));
    }
    // Written on a thread: 500 answers may fill stdout before stdin is read.
    let mut stdin = sidecar.stdin.take().expect("stdin open");
    let writer = std::thread::spawn(move || {
        stdin
            .write_all(lines.as_bytes())
            .expect("the sidecar reads");
        stdin
    });
    let mut seen = vec![false; 500];
    for _ in 0..500 {
        let reply = sidecar.json();
        let id = reply["id"].as_u64().expect("a numeric id") as usize;
        assert_eq!(reply["result"], json!(id + 1));
        seen[id] = true;
    }
    assert!(seen.iter().all(|&s| s));
    sidecar.stdin = Some(writer.join().expect("the writer finished"));
    assert!(sidecar.close_stdin().success());
}

#[test]
fn end_of_input_waits_for_a_running_call_to_answer_before_exiting() {
    let mut sidecar = Sidecar::start();
    sidecar.send(&call(1, "sleep", json!({ "ms": 400 })));
    let closed = Instant::now();
    let status = sidecar.close_stdin();
    assert!(status.success(), "{status:?}");
    assert!(
        closed.elapsed() >= Duration::from_millis(300),
        "exited before the call finished"
    );
    assert_eq!(
        sidecar.line().as_deref(),
        Some(r#"{"jsonrpc":"2.0","id":1,"result":400}"#)
    );
    assert_eq!(sidecar.line(), None);
}

#[test]
fn a_line_over_the_default_limit_is_refused_and_the_session_goes_on() {
    let mut sidecar = Sidecar::start();
    let max = 32 << 20;
    // A valid request padded past 32 MiB, then a normal one.
    let mut long = br#"{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2],"pad":""#.to_vec();
    long.resize(max + 1024, b'x');
    long.extend_from_slice(b"\"}\n");
    let mut stdin = sidecar.stdin.take().expect("stdin open");
    let writer = std::thread::spawn(move || {
        stdin.write_all(&long).expect("the sidecar reads");
        stdin
            .write_all(format!("{}\n", call(2, "add", json!([2, 2]))).as_bytes())
            .expect("the sidecar reads");
        stdin
    });
    let refused = sidecar.json();
    assert_eq!(refused["id"], Value::Null);
    assert_eq!(refused["error"]["code"], -32002);
    assert_eq!(
        refused["error"]["data"],
        json!({ "limit": "message size", "max": max })
    );
    assert_eq!(
        sidecar.json(),
        json!({ "jsonrpc": "2.0", "id": 2, "result": 4 })
    );
    sidecar.stdin = Some(writer.join().expect("the writer finished"));
    assert!(sidecar.close_stdin().success());
}

#[test]
fn channels_and_events_arrive_as_notification_lines() {
    let mut sidecar = Sidecar::start();
    sidecar.send(&call(1, "ipc.listen", json!({ "event": "news" })));
    assert!(sidecar.json()["result"].is_u64());
    sidecar.send(&call(
        2,
        "emit_event",
        json!({ "event": "news", "payload": [1] }),
    ));
    let event = sidecar.json();
    assert_eq!(event["method"], "ipc.event");
    assert_eq!(event["params"]["payload"], json!([1]));
    assert_eq!(sidecar.json()["id"], 2);
    sidecar.send(&call(
        3,
        "stream_bytes",
        json!({ "chunks": 2, "size": 3, "sink": "__CHANNEL__:5" }),
    ));
    let mut messages = Vec::new();
    for _ in 0..4 {
        let line = sidecar.json();
        if line["method"] == "ipc.channel" && line["params"].get("message").is_some() {
            messages.push(line["params"]["message"].clone());
        }
    }
    // Bytes as JSON arrays of numbers: no binary frames on stdio.
    assert_eq!(messages, [json!([0, 1, 2]), json!([7, 8, 9])]);
    assert!(sidecar.close_stdin().success());
}
