"""The demo as a stdio sidecar, driven from Python with the standard library
only, as a Python tool would drive it: one JSON-RPC message per line on the
child's stdin and stdout.

Build the demo first (``cargo build -p ipc-examples --example demo``), then run
``python3 -m unittest discover -s tests/python -v`` from the repository root.
``IPC_DEMO_BINARY`` overrides the binary's path.
"""

import json
import os
import queue
import subprocess
import threading
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.environ.get(
    "IPC_DEMO_BINARY", os.path.join(ROOT, "target", "debug", "examples", "demo")
)
WAIT = 5.0  # seconds: every wait is bounded


class Sidecar:
    """``demo --stdio`` with its stdout read line by line on a thread."""

    def __init__(self):
        if not os.path.exists(DEMO):
            raise RuntimeError(
                f"{DEMO} does not exist: build it with "
                "`cargo build -p ipc-examples --example demo`"
            )
        self.process = subprocess.Popen(
            [DEMO, "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of stdout

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def send_raw(self, data):
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message):
        """Writes one message (a dict, or a raw str) as one line."""
        text = message if isinstance(message, str) else json.dumps(message)
        self.send_raw(text.encode("utf-8") + b"\n")

    def line(self):
        """The next stdout line (bytes, newline included), or None at its end."""
        try:
            return self.lines.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(
                f"no line on stdout within {WAIT} s; stderr:\n{''.join(self.stderr)}"
            ) from None

    def receive(self):
        line = self.line()
        if line is None:
            raise AssertionError("stdout ended")
        return json.loads(line)

    def close_stdin(self):
        """Closes stdin and returns the exit code."""
        self.process.stdin.close()
        return self.process.wait(timeout=WAIT)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if not stream.closed:
                stream.close()


class DemoOverStdio(unittest.TestCase):
    def setUp(self):
        self.demo = Sidecar()
        self.addCleanup(self.demo.kill)

    def test_todos_list_is_answered_on_one_line(self):
        self.demo.send({"jsonrpc": "2.0", "id": 1, "method": "todos.list", "params": {}})
        self.assertEqual(self.demo.line(), b'{"jsonrpc":"2.0","id":1,"result":[]}\n')

    def test_errors_are_structured(self):
        self.demo.send(
            {"jsonrpc": "2.0", "id": 1, "method": "todos.add", "params": {"title": ""}}
        )
        refused = self.demo.receive()
        self.assertEqual(refused["id"], 1)
        self.assertEqual(refused["error"]["code"], -32000)
        self.assertEqual(refused["error"]["message"], "a todo needs a title")
        self.assertEqual(refused["error"]["data"], {"kind": "emptyTitle"})
        self.demo.send({"jsonrpc": "2.0", "id": 2, "method": "todos.lst"})
        unknown = self.demo.receive()
        self.assertEqual(unknown["error"]["code"], -32601)
        self.assertEqual(unknown["error"]["data"]["suggestion"], "todos.list")

    def test_listen_then_add_pushes_an_ipc_event_line(self):
        self.demo.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "ipc.listen",
                "params": {"event": "todos:changed"},
            }
        )
        self.assertIsInstance(self.demo.receive()["result"], int)
        self.demo.send(
            {"jsonrpc": "2.0", "id": 2, "method": "todos.add", "params": {"title": "py"}}
        )
        todo = {"id": 1, "title": "py", "done": False}
        messages = [self.demo.receive(), self.demo.receive()]
        events = [m for m in messages if m.get("method") == "ipc.event"]
        answers = [m for m in messages if m.get("id") == 2]
        self.assertEqual(len(events), 1, messages)
        self.assertEqual(events[0]["params"]["event"], "todos:changed")
        self.assertEqual(events[0]["params"]["payload"], [todo])
        self.assertEqual(answers, [{"jsonrpc": "2.0", "id": 2, "result": todo}])

    def test_a_malformed_line_gets_a_parse_error_and_the_session_goes_on(self):
        self.demo.send("{oops")
        error = self.demo.receive()
        self.assertIsNone(error["id"])
        self.assertEqual(error["error"]["code"], -32700)
        self.demo.send_raw(b"\xff\xfe\n")  # not UTF-8
        self.assertEqual(self.demo.receive()["error"]["code"], -32700)
        self.demo.send({"jsonrpc": "2.0", "id": 3, "method": "todos.list"})
        self.assertEqual(self.demo.receive(), {"jsonrpc": "2.0", "id": 3, "result": []})

    def test_closing_stdin_exits_with_code_0(self):
        self.demo.send({"jsonrpc": "2.0", "id": 1, "method": "presence.count"})
        self.assertEqual(self.demo.receive()["id"], 1)
        self.assertEqual(self.demo.close_stdin(), 0)
        self.assertIsNone(self.demo.line(), "nothing on stdout after the last answer")


if __name__ == "__main__":
    unittest.main()
