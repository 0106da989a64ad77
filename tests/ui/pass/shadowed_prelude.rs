//! The generated code names everything by absolute path, so user items that
//! shadow the prelude do not break it.
#![allow(dead_code, non_camel_case_types)]

use ipc_runtime::{App, State, command, listen};

type Result<T> = ::core::result::Result<T, ()>;
struct Option;
struct Some;
struct None;
struct Ok;
struct Err;
struct Box;
struct String;
struct Vec;
struct ToOwned;
struct Into;
struct From;
trait Send {}
trait Sync {}
trait Sized {}
trait Fn {}
trait Default {}
fn drop() {}
mod core {}
mod std {}
mod serde {}
mod inventory {}
mod __ipc {}

struct Prefix(&'static str);

#[command]
fn greet(
    prefix: State<Prefix>,
    name: &str,
    times: ::std::option::Option<u32>,
) -> Result<::std::string::String> {
    let times = times.unwrap_or(1) as usize;
    let greeting = ::std::format!("{} {}", prefix.0, name).repeat(times);
    Result::Ok(greeting)
}

#[command(blocking)]
fn lengths(items: &[::std::string::String]) -> ::std::vec::Vec<usize> {
    items.iter().map(|s| s.len()).collect()
}

#[command]
async fn refuse() -> Result<()> {
    Result::Err(())
}

#[listen("shadowed")]
fn on_shadowed(payload: ()) {
    let () = payload;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App::builder().manage(Prefix("hi")).build().unwrap();
    let out = app
        .invoke("greet", serde_json::json!({ "name": "ann", "times": 2 }))
        .await
        .unwrap();
    assert_eq!(out, "hi annhi ann");
    let out = app
        .invoke("lengths", serde_json::json!([["a", "bcd"]]))
        .await
        .unwrap();
    assert_eq!(out, serde_json::json!([1, 3]));
    let err = app
        .invoke("refuse", serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        err.data(),
        ::std::option::Option::Some(&serde_json::Value::Null)
    );
    app.emit("shadowed", &()).unwrap();
}
