//! Turning what a command returned into a reply or an error.
//!
//! The macro writes, for a returned value `r`:
//!
//! ```text
//! match (&r).__ipc_result_kind().into_result(r) {
//!     Ok(v) => { let kind = (&&OkProbe(&v)).__ipc_ok_kind(); kind.encode(v, out) }
//!     Err(e) => Err((&&&&ErrProbe(&e)).__ipc_err_kind().convert(e)),
//! }
//! ```
//!
//! Each `__ipc_*_kind` call is resolved by autoref specialization on the concrete
//! type at the call site, so `Result<T, E>` and plain `T`, and the several kinds
//! of error `E`, each take their own path without the macro reading type names.

use std::convert::Infallible;
use std::fmt::Display;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::codec::BYTES_PLACEHOLDER;
use crate::error::InvokeError;

/// How the reply should be encoded, chosen by the transport.
#[derive(Debug)]
pub enum Out {
    /// Append the JSON text of the result to this buffer (which already holds
    /// the response's opening `{"jsonrpc":"2.0","id":..,"result":`).
    Text(Vec<u8>),
    /// Like `Text`, for a client that accepts binary frames: byte results
    /// become an attachment instead of a JSON array.
    Binary(Vec<u8>),
    /// Produce a `serde_json::Value` (in-process `invoke`).
    Value,
    /// Nobody is waiting: notifications and listeners.
    Discard,
}

/// An encoded reply.
#[derive(Debug)]
pub enum Encoded {
    /// The buffer from [`Out::Text`] with the result appended.
    Text(Vec<u8>),
    /// The buffer with the placeholder `{"$bytes":0}` appended, and the bytes
    /// (boxed: rare, and it would double the size of every reply).
    Binary(Box<(Vec<u8>, Bytes)>),
    /// The result as a value.
    Value(Value),
    /// Nothing (for [`Out::Discard`]).
    Discarded,
}

impl Encoded {
    /// The result as a value (only [`Out::Value`] produces one).
    pub(crate) fn into_value(self) -> Value {
        match self {
            Encoded::Value(value) => value,
            Encoded::Text(_) | Encoded::Binary(_) | Encoded::Discarded => Value::Null,
        }
    }
}

/// Encodes a serializable result as asked.
pub fn encode_json<T: Serialize + ?Sized>(value: &T, out: Out) -> Result<Encoded, InvokeError> {
    let failed = |e: serde_json::Error| {
        InvokeError::internal(format!("the command's result could not be serialized: {e}"))
    };
    match out {
        Out::Text(mut buf) | Out::Binary(mut buf) => {
            serde_json::to_writer(&mut buf, value).map_err(failed)?;
            Ok(Encoded::Text(buf))
        }
        Out::Value => serde_json::to_value(value)
            .map(Encoded::Value)
            .map_err(failed),
        Out::Discard => Ok(Encoded::Discarded),
    }
}

/// Encodes a byte result: raw for binary-capable clients, else a JSON array.
pub fn encode_bytes(bytes: Bytes, out: Out) -> Result<Encoded, InvokeError> {
    match out {
        Out::Binary(mut buf) => {
            buf.extend_from_slice(BYTES_PLACEHOLDER);
            Ok(Encoded::Binary(Box::new((buf, bytes))))
        }
        // `Bytes` serializes as bytes, which JSON writes as an array of numbers.
        other => encode_json(&bytes, other),
    }
}

/// `Result<T, E>` returns go their own way.
pub trait ResultKind {
    /// Picks the `Result` path.
    fn __ipc_result_kind(&self) -> ResultTag;
}

impl<T, E> ResultKind for Result<T, E> {
    fn __ipc_result_kind(&self) -> ResultTag {
        ResultTag
    }
}

/// Any other return type is a success.
pub trait PlainKind {
    /// Picks the plain-value path.
    fn __ipc_result_kind(&self) -> PlainTag;
}

impl<T> PlainKind for &T {
    fn __ipc_result_kind(&self) -> PlainTag {
        PlainTag
    }
}

/// Chosen for `Result<T, E>`.
#[derive(Debug)]
pub struct ResultTag;

impl ResultTag {
    /// The result as it is.
    pub fn into_result<T, E>(self, result: Result<T, E>) -> Result<T, E> {
        result
    }
}

/// Chosen for any other type.
#[derive(Debug)]
pub struct PlainTag;

impl PlainTag {
    /// The value as a success.
    pub fn into_result<T>(self, value: T) -> Result<T, Infallible> {
        Ok(value)
    }
}

/// Probe over a successful value.
#[derive(Debug)]
pub struct OkProbe<'a, T>(pub &'a T);

/// Serializable success values.
pub trait SerializeOkKind {
    /// Picks JSON encoding.
    fn __ipc_ok_kind(&self) -> SerializeOkTag;
}

impl<T> SerializeOkKind for OkProbe<'_, T> {
    fn __ipc_ok_kind(&self) -> SerializeOkTag {
        SerializeOkTag
    }
}

/// `Vec<u8>` and `bytes::Bytes`: raw bytes where the transport allows.
pub trait BytesOkKind {
    /// Picks byte encoding.
    fn __ipc_ok_kind(&self) -> BytesOkTag;
}

impl BytesOkKind for &OkProbe<'_, Vec<u8>> {
    fn __ipc_ok_kind(&self) -> BytesOkTag {
        BytesOkTag
    }
}

impl BytesOkKind for &OkProbe<'_, Bytes> {
    fn __ipc_ok_kind(&self) -> BytesOkTag {
        BytesOkTag
    }
}

/// Chosen for byte results.
#[derive(Debug)]
pub struct BytesOkTag;

impl BytesOkTag {
    /// Encodes the bytes.
    pub fn encode<T: Into<Bytes>>(self, value: T, out: Out) -> Result<Encoded, InvokeError> {
        encode_bytes(value.into(), out)
    }
}

/// Chosen for values encoded as JSON.
#[derive(Debug)]
pub struct SerializeOkTag;

impl SerializeOkTag {
    /// Encodes the value.
    pub fn encode<T: ReturnValue>(self, value: T, out: Out) -> Result<Encoded, InvokeError> {
        encode_json(&value, out)
    }
}

/// Types a command may return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a #[command]",
    label = "not `Serialize`",
    note = "results are sent to the caller as JSON: derive `serde::Serialize` for `{Self}`"
)]
pub trait ReturnValue: Serialize {}

impl<T: Serialize> ReturnValue for T {}

/// Probe over an error value.
#[derive(Debug)]
pub struct ErrProbe<'a, E>(pub &'a E);

/// `InvokeError`: sent as it is.
pub trait InvokeErrKind {
    /// Picks the pass-through path.
    fn __ipc_err_kind(&self) -> InvokeErrTag;
}

impl InvokeErrKind for &&&ErrProbe<'_, InvokeError> {
    fn __ipc_err_kind(&self) -> InvokeErrTag {
        InvokeErrTag
    }
}

/// `E: Serialize + Display`: the message is `E`'s text, `data` is `E` serialized.
pub trait DescribedErrKind {
    /// Picks the described-data path.
    fn __ipc_err_kind(&self) -> DescribedErrTag;
}

impl<E: Serialize + Display> DescribedErrKind for &&ErrProbe<'_, E> {
    fn __ipc_err_kind(&self) -> DescribedErrTag {
        DescribedErrTag
    }
}

/// `E: Serialize`: `data` is `E` serialized; a generic message.
pub trait DataErrKind {
    /// Picks the data path.
    fn __ipc_err_kind(&self) -> DataErrTag;
}

impl<E: Serialize> DataErrKind for &ErrProbe<'_, E> {
    fn __ipc_err_kind(&self) -> DataErrTag {
        DataErrTag
    }
}

/// Anything else must be `Display`: the message is its text.
pub trait DisplayErrKind {
    /// Picks the message-only path.
    fn __ipc_err_kind(&self) -> DisplayErrTag;
}

impl<E> DisplayErrKind for ErrProbe<'_, E> {
    fn __ipc_err_kind(&self) -> DisplayErrTag {
        DisplayErrTag
    }
}

/// Chosen for `InvokeError`.
#[derive(Debug)]
pub struct InvokeErrTag;

impl InvokeErrTag {
    /// The error itself.
    pub fn convert(self, error: InvokeError) -> InvokeError {
        error
    }
}

/// Chosen for `Serialize + Display` errors.
#[derive(Debug)]
pub struct DescribedErrTag;

impl DescribedErrTag {
    /// Message from `Display`, data from `Serialize`.
    pub fn convert<E: Serialize + Display>(self, error: E) -> InvokeError {
        with_data(InvokeError::command(error.to_string()), &error)
    }
}

/// Chosen for `Serialize` errors without `Display`.
#[derive(Debug)]
pub struct DataErrTag;

impl DataErrTag {
    /// A generic message, data from `Serialize`.
    pub fn convert<E: Serialize>(self, error: E) -> InvokeError {
        with_data(
            InvokeError::command("the command returned an error"),
            &error,
        )
    }
}

/// Chosen for errors that are only `Display` (e.g. `std::io::Error`).
#[derive(Debug)]
pub struct DisplayErrTag;

impl DisplayErrTag {
    /// Message from `Display`, no data.
    pub fn convert<E: CommandError>(self, error: E) -> InvokeError {
        InvokeError::command(error.to_string())
    }
}

/// Error types a command may return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a #[command] error type",
    label = "neither `Serialize` nor `Display`",
    note = "derive `serde::Serialize` for `{Self}` (the caller receives it as the error's `data`), \
            implement `Display` (the caller receives it as the message), or return `ipc_runtime::InvokeError`"
)]
pub trait CommandError: Display {}

impl<E: Display> CommandError for E {}

fn with_data<E: Serialize>(error: InvokeError, data: &E) -> InvokeError {
    match serde_json::to_value(data) {
        Ok(value) => error.with_data(value),
        Err(e) => {
            InvokeError::internal(format!("the command's error could not be serialized: {e}"))
        }
    }
}
