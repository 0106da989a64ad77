//! The stdio floor of `--bench stdio_load`: a bare line-echo child, no
//! framework and no async runtime. It reads a line from stdin, writes
//! [`floor_response`](ipc_benches::floor_response) for it (the fixed response
//! of `add`, with the request's id) as a line, and flushes when no more input
//! is buffered, until stdin ends.
//!
//! What it does not do: parse JSON, look up a method, read arguments, run
//! anything concurrently, or answer anything but numeric-id requests rightly.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::fd::AsFd;

use ipc_benches::floor_response;

fn main() -> io::Result<()> {
    // Plain files on fds 0 and 1: one buffer each, ours, and no stdout lock.
    let input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let output = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut writer = BufWriter::with_capacity(64 * 1024, output);
    let mut line = Vec::with_capacity(256);
    let mut out = Vec::with_capacity(64);
    // Ends at the end of stdin.
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            out.clear();
            floor_response(&line, &mut out);
            out.push(b'\n');
            writer.write_all(&out)?;
        }
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
    writer.flush()
}
