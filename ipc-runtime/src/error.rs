//! [`InvokeError`]: what a failed call returns, and the errors of building and emitting.

use std::fmt;

use ipc_core::error::{InvalidParams, UnknownCommand};
use ipc_core::{ErrorObject, InvalidEventName, codes};
use serde_json::Value;

use crate::site::Site;

/// A failed call: a JSON-RPC error code, a message and optional structured `data`.
///
/// Commands return it for full control over what the caller sees:
///
/// ```
/// use ipc_runtime::{InvokeError, codes};
///
/// fn check(age: u32) -> Result<u32, InvokeError> {
///     if age > 150 {
///         return Err(InvokeError::new(4001, "that is not an age")
///             .with_data(serde_json::json!({ "age": age })));
///     }
///     Ok(age)
/// }
/// assert_eq!(check(200).unwrap_err().code(), 4001);
/// ```
///
/// Any `std::error::Error` converts into it (code [`codes::COMMAND_ERROR`], the
/// error's message and its sources as the message), so `?` works in commands. With
/// the `anyhow` feature, `anyhow::Error` converts too.
///
/// ```
/// use ipc_runtime::{InvokeError, codes};
///
/// fn parse(text: &str) -> Result<i64, InvokeError> {
///     Ok(text.parse::<i64>()?)
/// }
/// let err = parse("x").unwrap_err();
/// assert_eq!(err.code(), codes::COMMAND_ERROR);
/// assert_eq!(err.message(), "invalid digit found in string");
/// ```
///
/// `InvokeError` deliberately does not implement `std::error::Error` itself: that
/// is what lets the blanket conversion above exist (the same trade `anyhow` makes).
/// Where a caller needs a `std::error::Error`, `?` converts it into
/// `Box<dyn Error>` carrying its [`ErrorObject`], which is one (or call
/// [`into_object`](Self::into_object)). A command that only propagates errors can
/// also return `anyhow::Result<T>` or `Result<T, io::Error>` directly: the error's
/// text becomes the message.
pub struct InvokeError(Box<ErrorObject>);

impl InvokeError {
    /// An error with a code and a message.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        InvokeError(Box::new(ErrorObject::new(code, message)))
    }

    /// A [`codes::COMMAND_ERROR`] with this message: "the command refused".
    pub fn command(message: impl Into<String>) -> Self {
        Self::new(codes::COMMAND_ERROR, message)
    }

    /// Attaches structured data for the caller.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.0.data = Some(data);
        self
    }

    /// The error code.
    pub fn code(&self) -> i32 {
        self.0.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The structured data, if any.
    pub fn data(&self) -> Option<&Value> {
        self.0.data.as_ref()
    }

    /// The error object as sent on the wire.
    pub fn as_object(&self) -> &ErrorObject {
        &self.0
    }

    /// Converts into the wire error object.
    pub fn into_object(self) -> ErrorObject {
        *self.0
    }

    /// Wraps an error object received from elsewhere, keeping its code.
    pub fn from_object(object: ErrorObject) -> Self {
        InvokeError(Box::new(object))
    }

    pub(crate) fn unknown_command(name: &str, suggestion: Option<&str>) -> Self {
        let message = match suggestion {
            Some(s) => format!("unknown command `{name}`; did you mean `{s}`?"),
            None => format!("unknown command `{name}`"),
        };
        let data = UnknownCommand {
            command: name.to_owned(),
            suggestion: suggestion.map(str::to_owned),
        };
        Self::new(codes::METHOD_NOT_FOUND, message).with_serialized_data(&data)
    }

    pub(crate) fn invalid_params(
        argument: Option<&str>,
        expected: Option<&str>,
        reason: String,
    ) -> Self {
        let message = match argument {
            Some(arg) => format!("invalid argument `{arg}`: {reason}"),
            None => format!("invalid params: {reason}"),
        };
        let data = InvalidParams {
            argument: argument.map(str::to_owned),
            expected: expected.map(str::to_owned),
            reason,
        };
        Self::new(codes::INVALID_PARAMS, message).with_serialized_data(&data)
    }

    /// The caller's rate limit is spent; it may try again after `wait`.
    pub(crate) fn rate_limited(wait: std::time::Duration) -> Self {
        let retry_after_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        Self::new(
            codes::RATE_LIMITED,
            format!("too many calls: try again in {retry_after_ms} ms"),
        )
        .with_data(serde_json::json!({ "limit": "rate", "retryAfterMs": retry_after_ms }))
    }

    /// A name the client sent is longer than names may be.
    pub(crate) fn name_too_long(what: &str, len: usize, max: usize) -> Self {
        Self::new(
            codes::LIMIT_EXCEEDED,
            format!("{what} too long: {len} bytes; the limit is {max}"),
        )
        .with_data(serde_json::json!({ "limit": what, "max": max }))
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(codes::INTERNAL_ERROR, message)
    }

    fn with_serialized_data<T: serde::Serialize>(self, data: &T) -> Self {
        match serde_json::to_value(data) {
            Ok(value) => self.with_data(value),
            Err(_) => self,
        }
    }
}

impl fmt::Debug for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("InvokeError");
        s.field("code", &self.0.code)
            .field("message", &self.0.message);
        if let Some(data) = &self.0.data {
            s.field("data", data);
        }
        s.finish()
    }
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl From<InvokeError> for ErrorObject {
    fn from(error: InvokeError) -> Self {
        error.into_object()
    }
}

/// The message of an error followed by those of its sources: `a: b: c`.
fn message_with_sources(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    message
}

#[cfg(not(feature = "anyhow"))]
impl<E> From<E> for InvokeError
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        InvokeError::command(message_with_sources(&error))
    }
}

#[cfg(feature = "anyhow")]
impl<E> From<E> for InvokeError
where
    E: Into<anyhow::Error>,
{
    fn from(error: E) -> Self {
        let error: anyhow::Error = error.into();
        let root: &(dyn std::error::Error + 'static) = error.as_ref();
        InvokeError::command(message_with_sources(root))
    }
}

// `InvokeError` is not `std::error::Error` (see above), so callers that collect
// errors get it as its `ErrorObject`, which is.
impl From<InvokeError> for Box<dyn std::error::Error + Send + Sync> {
    fn from(error: InvokeError) -> Self {
        Box::new(error.into_object())
    }
}

impl From<InvokeError> for Box<dyn std::error::Error> {
    fn from(error: InvokeError) -> Self {
        Box::new(error.into_object())
    }
}

/// Why [`AppBuilder::build`](crate::AppBuilder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two commands registered the same wire name.
    #[error(
        "two commands are named `{name}`: one at {first}, one at {second}; rename one with #[command(rename = \"...\")]"
    )]
    DuplicateCommand {
        /// The shared name.
        name: String,
        /// Where the first was defined.
        first: Site,
        /// Where the second was defined.
        second: Site,
    },
    /// `AppBuilder::layer_for` named a command that is not registered.
    #[error("a layer is set for command `{name}`, but no command has that name")]
    LayerForUnknownCommand {
        /// The name given.
        name: String,
    },
    /// A command used a reserved name (`rpc.*`, `ipc.*`).
    #[error(
        "command `{name}` at {site} uses a reserved name (the `rpc.` and `ipc.` prefixes belong to the protocol)"
    )]
    ReservedName {
        /// The name.
        name: String,
        /// Where it was defined.
        site: Site,
    },
    /// A listener's event name is invalid.
    #[error("listener at {site} listens to an invalid event name: {error}")]
    InvalidEventName {
        /// Where it was defined.
        site: Site,
        /// What is wrong with the name.
        error: InvalidEventName,
    },
    /// A replay buffer was asked for an invalid event name.
    #[error("cannot keep events of `{name}`: {error}")]
    InvalidReplayName {
        /// The name.
        name: String,
        /// What is wrong with it.
        error: InvalidEventName,
    },
    /// A grant or default names a capability that was never defined.
    #[error(
        "capability `{name}` is granted but never defined; add it with .capability(Capability::new(\"{name}\"))"
    )]
    UnknownCapability {
        /// The name.
        name: String,
    },
    /// A token given to [`grant_token`](crate::AppBuilder::grant_token) is too
    /// short to be a secret.
    #[error(
        "the token granting `{capability}` is {len} characters long; a token must have at least 128 bits: 22 characters of URL-safe base64 or 32 of hex"
    )]
    WeakToken {
        /// The capability it grants.
        capability: String,
        /// Its length.
        len: usize,
    },
    /// The same state type was managed twice.
    #[error("state of type `{type_name}` is managed twice; wrap one of them in a newtype")]
    DuplicateState {
        /// The type's name.
        type_name: &'static str,
    },
}

/// Why [`App::emit`](crate::App::emit) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The event name is invalid.
    #[error(transparent)]
    InvalidName(#[from] InvalidEventName),
    /// The payload could not be serialized to JSON.
    #[error("event payload could not be serialized: {0}")]
    Payload(#[from] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn std_errors_convert_with_their_sources() {
        let e: InvokeError = Outer(std::io::Error::other("inner")).into();
        assert_eq!(e.code(), codes::COMMAND_ERROR);
        assert_eq!(e.message(), "outer: inner");
        assert!(e.data().is_none());
    }

    #[test]
    fn unknown_command_names_the_suggestion() {
        let e = InvokeError::unknown_command("gret", Some("greet"));
        assert_eq!(e.code(), codes::METHOD_NOT_FOUND);
        assert_eq!(e.message(), "unknown command `gret`; did you mean `greet`?");
        assert_eq!(e.data().unwrap()["suggestion"], "greet");
    }

    #[test]
    fn invalid_params_carries_argument_and_expected_type() {
        let e = InvokeError::invalid_params(Some("name"), Some("String"), "missing".into());
        assert_eq!(e.code(), codes::INVALID_PARAMS);
        let data = e.data().unwrap();
        assert_eq!(data["argument"], "name");
        assert_eq!(data["expected"], "String");
        assert_eq!(data["reason"], "missing");
    }
}
