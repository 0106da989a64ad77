//! The examples live in the subdirectories of this package; run them with
//! `cargo run --example <name>` from the repository root.
