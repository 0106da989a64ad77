//! The error object sent to a caller, and the named error codes.
//!
//! The codes from -32768 to -32000 are reserved by JSON-RPC 2.0; the standard
//! ones keep their standard meaning, and the framework's own codes sit in the
//! "server error" range -32000 to -32099. Applications that build an
//! `InvokeError` with their own code should stay outside that range.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Named error codes. See the module docs and `docs/protocol.md`.
pub mod codes {
    /// The message was not valid JSON (or not valid UTF-8).
    pub const PARSE_ERROR: i32 = -32700;
    /// The JSON was not a valid JSON-RPC 2.0 request object.
    pub const INVALID_REQUEST: i32 = -32600;
    /// No command (or reserved method) has that name.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// An argument was missing, had the wrong type, or the params had the wrong shape.
    pub const INVALID_PARAMS: i32 = -32602;
    /// The server failed while running the request: a panicking command, a result
    /// that could not be serialized, state that was never managed.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// The command ran and returned its own error; `data` holds it serialized.
    pub const COMMAND_ERROR: i32 = -32000;
    /// The caller's capabilities do not allow this command or event.
    pub const FORBIDDEN: i32 = -32001;
    /// A limit was exceeded: message size, batch size, subscriptions, ...
    pub const LIMIT_EXCEEDED: i32 = -32002;
    /// The call was cancelled (by the caller, or because the server is shutting down).
    pub const CANCELLED: i32 = -32003;
    /// The caller gave up waiting (raised by clients, never sent by the server).
    pub const TIMEOUT: i32 = -32004;
    /// The connection closed before the response arrived (raised by clients).
    pub const DISCONNECTED: i32 = -32005;
    /// The connection made more calls (or emits) than its rate limit allows;
    /// `data.retryAfterMs` says when the next one would be accepted.
    pub const RATE_LIMITED: i32 = -32006;

    /// Every named code, with its constant's name: the list `ipc.js`'s
    /// `ErrorCode`, its declarations and `docs/protocol.md` are checked
    /// against.
    pub const ALL: [(&str, i32); 12] = [
        ("PARSE_ERROR", PARSE_ERROR),
        ("INVALID_REQUEST", INVALID_REQUEST),
        ("METHOD_NOT_FOUND", METHOD_NOT_FOUND),
        ("INVALID_PARAMS", INVALID_PARAMS),
        ("INTERNAL_ERROR", INTERNAL_ERROR),
        ("COMMAND_ERROR", COMMAND_ERROR),
        ("FORBIDDEN", FORBIDDEN),
        ("LIMIT_EXCEEDED", LIMIT_EXCEEDED),
        ("CANCELLED", CANCELLED),
        ("TIMEOUT", TIMEOUT),
        ("DISCONNECTED", DISCONNECTED),
        ("RATE_LIMITED", RATE_LIMITED),
    ];

    /// A short, stable name for a code, for logs and messages.
    ///
    /// ```
    /// assert_eq!(ipc_core::codes::name(-32601), "method not found");
    /// assert_eq!(ipc_core::codes::name(42), "application error");
    /// ```
    pub const fn name(code: i32) -> &'static str {
        match code {
            PARSE_ERROR => "parse error",
            INVALID_REQUEST => "invalid request",
            METHOD_NOT_FOUND => "method not found",
            INVALID_PARAMS => "invalid params",
            INTERNAL_ERROR => "internal error",
            COMMAND_ERROR => "command error",
            FORBIDDEN => "forbidden",
            LIMIT_EXCEEDED => "limit exceeded",
            CANCELLED => "cancelled",
            TIMEOUT => "timeout",
            DISCONNECTED => "disconnected",
            RATE_LIMITED => "rate limited",
            _ => "application error",
        }
    }
}

/// The JSON-RPC 2.0 error object: what a caller receives when a call fails.
///
/// ```
/// use ipc_core::{ErrorObject, codes};
///
/// let error = ErrorObject::new(codes::INVALID_PARAMS, "missing argument `name`");
/// assert_eq!(
///     serde_json::to_string(&error).unwrap(),
///     r#"{"code":-32602,"message":"missing argument `name`"}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// One of [`codes`], or an application's own code.
    pub code: i32,
    /// A short human-readable description.
    pub message: String,
    /// Structured detail: the command's own error, or which argument was wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error without `data`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Attaches structured `data`.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            codes::name(self.code),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ErrorObject {}

/// The `data` of a [`codes::METHOD_NOT_FOUND`] error.
///
/// ```
/// # use ipc_core::error::UnknownCommand;
/// let data = UnknownCommand { command: "gret".into(), suggestion: Some("greet".into()) };
/// assert_eq!(
///     serde_json::to_string(&data).unwrap(),
///     r#"{"command":"gret","suggestion":"greet"}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownCommand {
    /// The name the caller asked for.
    pub command: String,
    /// The closest registered name, when one is close enough to be a likely typo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// The `data` of a [`codes::INVALID_PARAMS`] error.
///
/// ```
/// # use ipc_core::error::InvalidParams;
/// let data = InvalidParams {
///     argument: Some("name".into()),
///     expected: Some("String".into()),
///     reason: "invalid type: integer `5`, expected a string".into(),
/// };
/// let json = serde_json::to_value(&data).unwrap();
/// assert_eq!(json["argument"], "name");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParams {
    /// The argument's name on the wire, when one argument is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argument: Option<String>,
    /// The Rust type the command declared for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What went wrong, in serde's words where serde found it.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_omitted_when_absent_and_kept_when_present() {
        let plain = ErrorObject::new(codes::INTERNAL_ERROR, "boom");
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"code":-32603,"message":"boom"}"#
        );
        let rich = plain.with_data(serde_json::json!({"why": 1}));
        let back: ErrorObject =
            serde_json::from_str(&serde_json::to_string(&rich).unwrap()).unwrap();
        assert_eq!(back, rich);
    }

    #[test]
    fn display_names_the_code() {
        let e = ErrorObject::new(codes::FORBIDDEN, "command `x` is not allowed");
        assert_eq!(
            e.to_string(),
            "forbidden (-32001): command `x` is not allowed"
        );
    }

    #[test]
    fn every_code_is_listed_once_with_a_name() {
        let mut seen = std::collections::HashSet::new();
        for (_, code) in codes::ALL {
            assert!(seen.insert(code), "{code} twice");
            assert_ne!(codes::name(code), "application error", "{code} has no name");
        }
    }

    #[test]
    fn framework_codes_are_in_the_server_error_range() {
        for code in [
            codes::COMMAND_ERROR,
            codes::FORBIDDEN,
            codes::LIMIT_EXCEEDED,
            codes::CANCELLED,
            codes::TIMEOUT,
            codes::DISCONNECTED,
            codes::RATE_LIMITED,
        ] {
            assert!((-32099..=-32000).contains(&code), "{code}");
            assert_ne!(codes::name(code), "application error");
        }
    }
}
