//! Fuzzing the message decoder and `handle_message`: generators of hostile
//! input and the properties every answer must have. Used by the `fuzz` test
//! (a few thousand cases) and the `ipc-fuzz` binary (a million and more).

use ipc_runtime::App;
use ipc_runtime::session::{ConnectOptions, Outbox};
use proptest::prelude::*;
use serde_json::{Value, json};

// The commands under fuzz (`fuzz.typed`, `fuzz.echo`) live in the commands
// crate, so they are linked only where it is referenced.
use ipc_test_commands as _;

/// Methods worth aiming at: real commands, reserved ones, and nonsense.
pub const METHODS: &[&str] = &[
    "fuzz.typed",
    "fuzz.echo",
    "ipc.listen",
    "ipc.unlisten",
    "ipc.emit",
    "ipc.cancel",
    "rpc.discover",
    "plugin:event|listen",
    "plugin:event|unlisten",
    "plugin:event|emit",
    "plugin:event|emit_to",
    "ipc.nope",
    "",
    "ty ped",
    "a\u{0}b",
];

/// The app under test.
pub fn app() -> App {
    App::builder().build().expect("app builds")
}

/// Any JSON value, up to a moderate depth.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z$]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Requests that look plausible: real envelope, any method, any params shape.
pub fn request() -> impl Strategy<Value = String> {
    (
        prop::option::of(prop_oneof![
            any::<i64>().prop_map(Value::from),
            ".{0,8}".prop_map(Value::from),
            Just(Value::Null)
        ]),
        prop::sample::select(METHODS),
        json_value(),
        any::<bool>(),
    )
        .prop_map(|(id, method, params, with_version)| {
            let mut message = json!({ "method": method, "params": params });
            if with_version {
                message["jsonrpc"] = json!("2.0");
            }
            if let Some(id) = id {
                message["id"] = id;
            }
            message.to_string()
        })
}

/// Typed-argument calls with arguments of the right and the wrong types.
pub fn typed_call() -> impl Strategy<Value = String> {
    (json_value(), json_value(), json_value(), json_value(), json_value(), json_value(), any::<bool>()).prop_map(
        |(count, ratio, name, tags, flag, data, positional)| {
            let params = if positional {
                json!([count, ratio, name, tags, flag, data])
            } else {
                json!({ "count": count, "ratio": ratio, "name": name, "tags": tags, "flag": flag, "data": data })
            };
            json!({ "jsonrpc": "2.0", "id": 1, "method": "fuzz.typed", "params": params }).to_string()
        },
    )
}

/// Text that is mostly not JSON: random characters, truncations, huge numbers,
/// deep nesting.
pub fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,64}",
        "[\\[\\]{}\":,0-9a-z.eE+-]{0,64}",
        request()
            .prop_flat_map(|r| {
                let len = r.len();
                (Just(r), 0..=len)
            })
            .prop_map(|(r, cut)| r.chars().take(cut).collect()),
        (1usize..4_000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..4_000).prop_map(|depth| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"fuzz.echo","params":{{"value":{}1{}}}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        }),
        "[0-9]{20,400}".prop_map(|n| format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"fuzz.typed","params":{{"count":{n}}}}}"#
        )),
        prop::collection::vec(request(), 0..8).prop_map(|items| format!("[{}]", items.join(","))),
    ]
}

/// Checks one answer: absent (notifications), or valid JSON-RPC 2.0 (one
/// response, or an array of them). Returns a description of what is wrong.
pub fn check_answer(answer: Option<&str>) -> Result<(), String> {
    let Some(text) = answer else { return Ok(()) };
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("answer is not JSON ({e}): {text}"))?;
    let responses = match &value {
        Value::Array(items) if !items.is_empty() => items.clone(),
        Value::Object(_) => vec![value.clone()],
        _ => return Err(format!("answer is neither a response nor a batch: {text}")),
    };
    for response in responses {
        if response["jsonrpc"] != "2.0" || response.get("id").is_none() {
            return Err(format!("not a JSON-RPC 2.0 response: {response}"));
        }
        match (response.get("result"), response.get("error")) {
            (Some(_), None) => {}
            (None, Some(error)) if error["code"].is_i64() && error["message"].is_string() => {}
            _ => {
                return Err(format!(
                    "a response needs exactly one of result and error: {response}"
                ));
            }
        }
    }
    Ok(())
}

/// Feeds one message to `handle_message` and checks the answer.
pub async fn text_case(app: &App, text: &str) -> Result<(), String> {
    let answer = app.handle_message(text).await;
    check_answer(answer.as_deref())
}

/// A connection (with push support) to feed binary frames and reserved methods to.
pub fn connection(app: &App) -> (ipc_runtime::session::Connection, Outbox) {
    app.connect(ConnectOptions::default().binary(true).outbox_capacity(4096))
}

/// Feeds one binary frame to a connection and checks what it answered.
pub async fn binary_case(
    connection: &ipc_runtime::session::Connection,
    outbox: &mut Outbox,
    frame: Vec<u8>,
) -> Result<(), String> {
    connection.handle_binary(frame.into()).await;
    while let Some(message) = outbox.try_recv() {
        if message.attachment().is_none() {
            let text = message.as_str();
            let value: Value =
                serde_json::from_str(&text).map_err(|e| format!("not JSON ({e}): {text}"))?;
            if value.get("method").is_none() {
                check_answer(Some(&text))?;
            }
        }
    }
    Ok(())
}

/// Binary frames: random bytes, and well-formed headers with wrong lengths.
pub fn binary_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (
            request(),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..3),
            any::<i8>()
        )
            .prop_map(|(header, attachments, skew)| {
                let lengths: Vec<usize> = attachments.iter().map(Vec::len).collect();
                let header =
                    header.replacen('{', &format!(r#"{{"attachments":{},"#, json!(lengths)), 1);
                let declared = (header.len() as i64 + i64::from(skew % 3)).max(0) as u32;
                let mut frame = declared.to_be_bytes().to_vec();
                frame.extend_from_slice(header.as_bytes());
                for a in attachments {
                    frame.extend_from_slice(&a);
                }
                frame
            }),
    ]
}
