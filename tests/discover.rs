//! `rpc.discover`'s document (`App::openrpc_document`): it has the shape the
//! OpenRPC specification requires, and lists only the commands allowed.

use std::collections::HashSet;

use ipc_runtime::ts_rs::TS;
use ipc_runtime::{App, State, command};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A todo item.
#[derive(Serialize, Deserialize, TS)]
#[ts(crate = "ipc_runtime::ts_rs")]
struct Todo {
    id: u64,
    title: String,
}

/// Refused.
#[derive(Debug, Serialize, TS)]
#[ts(crate = "ipc_runtime::ts_rs")]
struct Refused {
    reason: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Adds a todo.
///
/// The title must not be empty.
#[command(rename = "todos.add")]
fn add(state: State<u32>, title: String, tags: Option<Vec<String>>) -> Result<Todo, Refused> {
    let _ = (state, tags);
    Err(Refused { reason: title })
}

#[command]
fn ping() -> bool {
    true
}

#[command]
fn upload(data: Vec<u8>) -> usize {
    data.len()
}

#[command(rename = "admin.wipe")]
fn wipe() {}

fn app() -> App {
    App::builder()
        .discover(false)
        .command::<add>()
        .command::<ping>()
        .command::<upload>()
        .command::<wipe>()
        .manage(0_u32)
        .build()
        .unwrap()
}

/// Checks the parts of the OpenRPC 1.x document shape that are required,
/// and the types of the optional members used here. Returns the method names.
fn validate(doc: &Value) -> Vec<String> {
    let root = doc.as_object().expect("the document is an object");
    let version = root["openrpc"].as_str().expect("`openrpc` is a string");
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "`openrpc` is a semantic version: {version}"
    );
    for key in root.keys() {
        assert!(
            [
                "openrpc",
                "info",
                "servers",
                "methods",
                "components",
                "externalDocs"
            ]
            .contains(&key.as_str())
                || key.starts_with("x-"),
            "unexpected member `{key}` (extensions start with `x-`)"
        );
    }
    let info = root["info"].as_object().expect("`info` is an object");
    assert!(info["title"].is_string(), "`info.title` is a string");
    assert!(info["version"].is_string(), "`info.version` is a string");
    let methods = root["methods"].as_array().expect("`methods` is an array");
    let mut names = Vec::new();
    for method in methods {
        let method = method.as_object().expect("a method is an object");
        let name = method["name"].as_str().expect("`name` is a string");
        assert!(!name.is_empty());
        assert!(
            !name.starts_with("rpc."),
            "`rpc.` methods are reserved: {name}"
        );
        let params = method["params"].as_array().expect("`params` is an array");
        let mut param_names = HashSet::new();
        for param in params {
            content_descriptor(param);
            assert!(param_names.insert(param["name"].as_str().unwrap()));
        }
        if let Some(result) = method.get("result") {
            content_descriptor(result);
        }
        if let Some(structure) = method.get("paramStructure") {
            assert!(["by-name", "by-position", "either"].contains(&structure.as_str().unwrap()));
        }
        for key in ["summary", "description"] {
            if let Some(text) = method.get(key) {
                assert!(text.is_string(), "`{key}` is a string");
            }
        }
        for error in method
            .get("errors")
            .map_or(&[][..], |e| e.as_array().unwrap())
        {
            assert!(error["code"].is_i64(), "an error's `code` is an integer");
            assert!(
                error["message"].is_string(),
                "an error's `message` is a string"
            );
        }
        names.push(name.to_owned());
    }
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "method names are unique");
    names
}

fn content_descriptor(value: &Value) {
    let descriptor: &Map<String, Value> = value.as_object().expect("a content descriptor");
    assert!(
        descriptor["name"].is_string(),
        "a content descriptor has a name"
    );
    assert!(
        descriptor["schema"].is_object() || descriptor["schema"].is_boolean(),
        "a content descriptor has a schema"
    );
    if let Some(required) = descriptor.get("required") {
        assert!(required.is_boolean());
    }
}

#[test]
fn document_has_the_openrpc_shape() {
    let doc = app().openrpc_document(|_| true);
    let names = validate(&doc);
    assert_eq!(names, ["admin.wipe", "ping", "todos.add", "upload"]);
}

#[test]
fn lists_only_allowed_commands() {
    let app = app();
    let doc = app.openrpc_document(|name| !name.starts_with("admin."));
    assert_eq!(validate(&doc), ["ping", "todos.add", "upload"]);
    let none = app.openrpc_document(|_| false);
    assert_eq!(validate(&none), Vec::<String>::new());
    // Declarations of types only denied commands use are left out too.
    let only_ping = app.openrpc_document(|name| name == "ping");
    assert_eq!(only_ping["x-typescript"], json!({}));
}

#[test]
fn methods_describe_params_result_and_errors() {
    let doc = app().openrpc_document(|_| true);
    let add = doc["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "todos.add")
        .unwrap();
    assert_eq!(
        add,
        &json!({
            "name": "todos.add",
            "summary": "Adds a todo.",
            "description": "Adds a todo.\n\nThe title must not be empty.",
            "paramStructure": "either",
            "params": [
                {
                    "name": "title",
                    "required": true,
                    "schema": { "type": "string", "x-typescript": "string", "x-rust-type": "String" },
                },
                {
                    "name": "tags",
                    "required": false,
                    "schema": { "x-typescript": "Array<string> | null", "x-rust-type": "Option<Vec<String>>" },
                },
            ],
            "result": { "name": "result", "schema": { "x-typescript": "Todo" } },
            "errors": [{
                "code": -32000,
                "message": "the command's own error",
                "data": { "x-typescript": "Refused" },
            }],
            "x-rust-function": "add",
        })
    );
    assert_eq!(
        doc["x-typescript"]["Todo"],
        "/**\n * A todo item.\n */\nexport type Todo = { id: number | bigint, title: string, };"
    );
    let upload = &doc["methods"][3];
    assert_eq!(upload["name"], "upload");
    assert_eq!(upload["params"][0]["schema"]["type"], "array");
    assert_eq!(upload["result"]["schema"]["type"], "number");
    assert!(
        upload.get("errors").is_none(),
        "a command that cannot fail lists no error"
    );
}

#[tokio::test]
async fn rpc_discover_over_the_socket_lists_what_the_connection_may_invoke() {
    use ipc_runtime::Capability;
    let app = App::builder()
        .discover(false)
        .command::<add>()
        .command::<ping>()
        .command::<wipe>()
        .manage(0_u32)
        .capability(Capability::new("user").allow_invoke(["todos.*", "ping"]))
        .capability(Capability::new("admin").allow_all())
        .default_capability("user")
        .grant_token("admin-token-0123456789abcdef", "admin")
        .build()
        .unwrap();
    let server = app.serve("127.0.0.1:0").await.unwrap();
    let mut user = ipc_tests::WsClient::connect(&server.ws_url()).await;
    let doc = user.call("rpc.discover", json!([])).await["result"].clone();
    assert_eq!(
        validate(&doc),
        ["ping", "todos.add"],
        "admin.wipe is not revealed"
    );
    let url = server
        .ws_url()
        .replace(server.token().unwrap(), "admin-token-0123456789abcdef");
    let mut admin = ipc_tests::WsClient::connect(&url).await;
    let doc = admin.call("rpc.discover", json!([])).await["result"].clone();
    assert_eq!(validate(&doc), ["admin.wipe", "ping", "todos.add"]);
    // In-process, the backend sees everything.
    let reply = app
        .handle_message(r#"{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}"#)
        .await
        .unwrap();
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(validate(&reply["result"]).len(), 3);
    server.shutdown().await;
}
