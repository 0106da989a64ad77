//! Compile-time diagnostics of `#[command]` and `#[listen]`: every unsupported
//! signature fails with a message at the offending token (`tests/ui/fail`), and
//! supported edge cases compile (`tests/ui/pass`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
