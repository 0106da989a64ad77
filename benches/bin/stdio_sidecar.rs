//! The sidecar of `--bench stdio_load`: the benchmark commands (`add`, `echo`,
//! `async_add`, `echo_bytes`, from `ipc_benches`) served to the parent over
//! stdin/stdout with `App::serve_stdio()`, on tokio's default multi-thread
//! runtime (what `#[tokio::main]` builds), until stdin closes. Prints nothing
//! on stdout but the protocol; errors go to stderr.
//!
//! With `--current-thread`, the same on a current-thread runtime (the
//! benchmark's diagnostic row).

use std::process::ExitCode;

use ipc_runtime::App;

// Link the workloads (the commands) into this binary.
use ipc_benches as _;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let mut builder = if flag("--current-thread") {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ipc-bench-stdio-sidecar: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipc-bench-stdio-sidecar: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let app = App::builder().build()?;
    app.serve_stdio().await?;
    Ok(())
}
