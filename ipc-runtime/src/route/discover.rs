//! `rpc.discover`: the machine-readable description of the commands, as an
//! OpenRPC document (<https://spec.open-rpc.org/>).
//!
//! Each command is a method with its parameters (wire names, whether they may
//! be omitted), result and error. Schemas are JSON Schema where the type is a
//! plain JSON type and `{}` (anything) otherwise; every schema also carries
//! the TypeScript type as `x-typescript`, and the document's `x-typescript`
//! member holds the declarations of the named types, so a client generator can
//! rebuild the bindings `App::export_typescript` writes.

use serde_json::{Map, Value, json};

use crate::invoke::describe::{LARGE_INT_TS, Position, TypeDesc};
use crate::invoke::model::{AppModel, CommandModel};
use crate::invoke::registry::Registry;

/// The version of the OpenRPC specification the document follows.
pub(crate) const OPENRPC_VERSION: &str = "1.3.2";

/// The OpenRPC document describing every registered command for which
/// `allowed(name)` is true (what `rpc.discover` answers, filtered by the
/// caller's capabilities; `App::openrpc_document` in-process).
pub(crate) fn document(registry: &Registry, allowed: impl Fn(&str) -> bool) -> Value {
    let commands = registry
        .infos()
        .into_iter()
        .filter(|c| allowed(c.name()))
        .collect();
    // Events are not filtered by command capabilities, so they stay out.
    let model = AppModel::build(commands, &[], &[]);
    let methods: Vec<Value> = model.commands.iter().map(method).collect();
    let mut declarations = Map::new();
    for (name, declaration) in &model.collector.declarations {
        declarations.insert(name.clone(), Value::from(declaration.text.trim_end()));
    }
    json!({
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": "ipc-runtime commands",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The commands this application exposes over JSON-RPC 2.0 (docs/protocol.md). Parameters are accepted by name or by position; the TypeScript type of each schema is in `x-typescript`.",
        },
        "methods": methods,
        "x-typescript": declarations,
    })
}

fn method(command: &CommandModel) -> Value {
    let params: Vec<Value> = command
        .params
        .iter()
        .map(|(name, rust, ty)| {
            json!({
                "name": name,
                "required": !ty.is_optional(),
                "schema": schema(ty, Position::Arg, rust),
            })
        })
        .collect();
    let mut method = Map::new();
    method.insert("name".into(), command.info.name().into());
    let docs = command.info.docs().trim();
    if !docs.is_empty() {
        let summary = docs.lines().next().unwrap_or_default();
        method.insert("summary".into(), summary.into());
        method.insert("description".into(), docs.into());
    }
    method.insert("params".into(), params.into());
    method.insert("paramStructure".into(), "either".into());
    method.insert(
        "result".into(),
        json!({
            "name": "result",
            "schema": schema(&command.ok, Position::Result, ""),
        }),
    );
    if command.err != TypeDesc::Never {
        let mut error = json!({
            "code": ipc_core::codes::COMMAND_ERROR,
            "message": "the command's own error",
        });
        if command.err != TypeDesc::NoData {
            error["data"] = schema(&command.err, Position::Json, "");
        }
        method.insert("errors".into(), json!([error]));
    }
    method.insert("x-rust-function".into(), command.info.function().into());
    Value::Object(method)
}

/// A JSON Schema for plain JSON types, `{}` otherwise; always with the
/// TypeScript type (and, for arguments, the Rust type as written).
fn schema(ty: &TypeDesc, position: Position, rust: &str) -> Value {
    let ts = ty.ts(position, "ipc");
    let mut schema = match ts.as_str() {
        "string" => json!({ "type": "string" }),
        "boolean" => json!({ "type": "boolean" }),
        "number" => json!({ "type": "number" }),
        "null" => json!({ "type": "null" }),
        LARGE_INT_TS => json!({ "type": "integer" }),
        "string | null" => json!({ "type": ["string", "null"] }),
        "boolean | null" => json!({ "type": ["boolean", "null"] }),
        "number | null" => json!({ "type": ["number", "null"] }),
        _ => json!({}),
    };
    if matches!(ty, TypeDesc::Bytes) {
        schema = json!({ "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 } });
    }
    schema["x-typescript"] = ts.into();
    if !rust.is_empty() {
        schema["x-rust-type"] = rust.into();
    }
    schema
}
