//! With the `anyhow` feature, `?` converts `anyhow::Error` into `InvokeError`
//! inside commands, next to every `std::error::Error`.

use anyhow::Context;
use ipc_runtime::{App, InvokeError, codes, command};
use serde_json::json;

fn parse_port(text: &str) -> anyhow::Result<u16> {
    let port: u16 = text.parse().context("not a port number")?;
    anyhow::ensure!(port >= 1024, "port {port} is privileged");
    Ok(port)
}

#[command]
fn port(text: String) -> Result<u16, InvokeError> {
    // An anyhow::Error and a std error, both through `?`.
    let port = parse_port(&text)?;
    let _check: u16 = text.trim().parse()?;
    Ok(port)
}

#[command]
fn plain_anyhow(text: String) -> anyhow::Result<u16> {
    parse_port(&text)
}

#[tokio::test]
async fn anyhow_errors_convert_with_their_context() {
    let app = App::builder().build().unwrap();
    assert_eq!(
        app.invoke("port", json!({ "text": "8080" })).await.unwrap(),
        8080
    );

    let err = app
        .invoke("port", json!({ "text": "http" }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::COMMAND_ERROR);
    assert_eq!(
        err.message(),
        "not a port number: invalid digit found in string"
    );

    let err = app
        .invoke("port", json!({ "text": "80" }))
        .await
        .unwrap_err();
    assert_eq!(err.message(), "port 80 is privileged");
}

#[tokio::test]
async fn commands_may_return_anyhow_results_directly() {
    let app = App::builder().build().unwrap();
    let err = app
        .invoke("plain_anyhow", json!({ "text": "22" }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), codes::COMMAND_ERROR);
    assert_eq!(err.message(), "port 22 is privileged");
}

#[tokio::test]
async fn invoke_errors_propagate_into_boxed_errors() {
    async fn caller(
        app: &App,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        Ok(app.invoke("nope", json!({})).await?)
    }
    let app = App::builder().build().unwrap();
    let err = caller(&app).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "method not found (-32601): unknown command `nope`"
    );
}
