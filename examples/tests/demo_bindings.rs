//! The demo's checked-in bindings (`examples/demo/web/bindings.ts` and the
//! `bindings.js` the page loads) are what its commands generate now: this
//! test fails when they are stale. Regenerate them with
//! `cargo run --example demo -- --export-bindings examples/demo/web/bindings.ts`
//! (or run this test with `IPC_UPDATE_BINDINGS=1`).

#[path = "../demo/todos.rs"]
#[allow(dead_code, reason = "the demo's main.rs uses what this test does not")]
mod todos;

use std::path::Path;

#[test]
fn checked_in_bindings_are_fresh() {
    let app = todos::app().unwrap();
    let bindings = app.typescript().render().unwrap();
    assert!(
        bindings.fallbacks().is_empty(),
        "every demo type has a TypeScript declaration: {:?}",
        bindings.fallbacks()
    );
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/web");
    let files = [
        ("bindings.ts", bindings.typescript()),
        ("bindings.js", bindings.javascript()),
    ];
    if std::env::var_os("IPC_UPDATE_BINDINGS").is_some() {
        for (name, text) in files {
            std::fs::write(web.join(name), text).unwrap();
        }
    }
    for (name, fresh) in files {
        let checked_in = std::fs::read_to_string(web.join(name)).unwrap_or_default();
        assert!(
            checked_in == fresh,
            "examples/demo/web/{name} is stale: regenerate it with \
             `cargo run --example demo -- --export-bindings examples/demo/web/bindings.ts` \
             and commit the result"
        );
    }
}

#[test]
fn generation_is_stable_across_runs() {
    let first = todos::app().unwrap().typescript().render().unwrap();
    let second = todos::app().unwrap().typescript().render().unwrap();
    assert_eq!(first.typescript(), second.typescript());
}
