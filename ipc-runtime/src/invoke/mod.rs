//! Invocation: calling one command (or `#[listen]` function) through its
//! shim, given a context and params.
//!
//! This layer knows commands, not connections: it reads arguments from the
//! params in one pass ([`args`]), builds injected ones from the
//! [`InvokeContext`], runs the function, encodes the result ([`reply`]), and
//! catches panics ([`guard`]). The registry of commands ([`registry`]) and the
//! type descriptions the bindings are made from ([`describe`], [`probes`]) live
//! here too. What a call can reach of the connection it came on is the
//! [`Peer`] trait, which the session layer implements.

pub(crate) mod args;
pub(crate) mod context;
pub(crate) mod describe;
pub mod extract;
pub(crate) mod guard;
pub(crate) mod model;
pub(crate) mod peer;
pub(crate) mod probes;
pub(crate) mod registry;
pub(crate) mod reply;
pub(crate) mod upload;

use std::future::Future;
use std::pin::Pin;

use serde::de::DeserializeSeed;
use serde_json::Value;
use serde_json::value::RawValue;

pub(crate) use context::InvokeContext;
pub(crate) use peer::Peer;
pub(crate) use reply::{Encoded, Out};

use crate::error::InvokeError;
use args::{ArgSlot, ArgsSeed, EventPayload, ReadFailure, SlotError, Slots};
use extract::CommandArg;
use registry::ArgSpec;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What every command shim looks like.
pub type CommandShim = fn(Invocation<'_>) -> Pending;

/// What every listener shim looks like (the payload is in the invocation's params).
pub type ListenerShim = fn(Invocation<'_>) -> Pending;

/// The outcome of starting a command: finished, or still to run.
pub enum Pending {
    /// A sync command ran (or arguments were refused).
    Ready(Result<Encoded, InvokeError>),
    /// An async command is running.
    Future(BoxFuture<Result<Encoded, InvokeError>>),
    /// A blocking command (`#[command(blocking)]`), not started yet: it starts
    /// on tokio's blocking pool once its call holds a [`Slot`].
    Blocking(Box<dyn FnOnce() -> Result<Encoded, InvokeError> + Send>),
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pending::Ready(r) => f.debug_tuple("Ready").field(r).finish(),
            Pending::Future(_) => f.write_str("Future(..)"),
            Pending::Blocking(_) => f.write_str("Blocking(..)"),
        }
    }
}

impl Pending {
    /// Wraps an async command's future.
    pub fn future<F>(future: F) -> Self
    where
        F: Future<Output = Result<Encoded, InvokeError>> + Send + 'static,
    {
        Pending::Future(Box::pin(future))
    }

    /// A job for tokio's blocking pool (`#[command(blocking)]`), started later.
    pub fn blocking<F>(job: F) -> Self
    where
        F: FnOnce() -> Result<Encoded, InvokeError> + Send + 'static,
    {
        Pending::Blocking(Box::new(job))
    }

    /// The result now, or the rest of the call to run.
    pub(crate) fn split(self) -> Result<Result<Encoded, InvokeError>, Running> {
        match self {
            Pending::Ready(result) => Ok(result),
            Pending::Future(future) => Err(Running::Future(future)),
            Pending::Blocking(job) => Err(Running::Blocking(job)),
        }
    }
}

/// A call that did not finish when it started.
pub(crate) enum Running {
    Future(BoxFuture<Result<Encoded, InvokeError>>),
    Blocking(Box<dyn FnOnce() -> Result<Encoded, InvokeError> + Send>),
}

/// What a running call holds so that it counts against its connection's
/// in-flight limit (a session's permit; nothing for in-process calls). The
/// call's future holds it; a blocking job holds a clone of its own until the
/// job has really finished, even if its call was cancelled meanwhile.
pub(crate) type Slot = std::sync::Arc<dyn Send + Sync>;

/// The params of a call.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Params<'a> {
    /// No params member.
    None,
    /// Raw JSON text (an object or an array).
    Json(&'a RawValue),
    /// An in-process value.
    Value(&'a Value),
}

/// One call of a shim: context, params and where to put the reply.
#[derive(Debug)]
pub struct Invocation<'a> {
    cx: InvokeContext<'a>,
    params: Params<'a>,
    out: Option<Out>,
    /// The first params key that matched no argument, kept as a hint.
    unknown_key: Option<String>,
}

impl<'a> Invocation<'a> {
    pub(crate) fn new(cx: InvokeContext<'a>, params: Params<'a>, out: Out) -> Self {
        Invocation {
            cx,
            params,
            out: Some(out),
            unknown_key: None,
        }
    }

    /// The context injected arguments are built from.
    pub fn context(&self) -> &InvokeContext<'a> {
        &self.cx
    }

    /// Reads every argument that comes from the params into its slot.
    pub fn read_args<S: Slots>(
        &mut self,
        specs: &'static [ArgSpec],
        slots: &mut S,
    ) -> Result<(), InvokeError> {
        let failure = ReadFailure::default();
        let seed = ArgsSeed {
            specs,
            slots,
            failure: &failure,
        };
        let result = match self.params {
            Params::None => return Ok(()),
            Params::Json(raw) => {
                let mut de = serde_json::Deserializer::from_str(raw.get());
                seed.deserialize(&mut de)
            }
            Params::Value(Value::Null) => return Ok(()),
            Params::Value(value @ (Value::Object(_) | Value::Array(_))) => seed.deserialize(value),
            Params::Value(_) => {
                return Err(InvokeError::invalid_params(
                    None,
                    None,
                    "params must be an object or an array".to_owned(),
                ));
            }
        };
        result.map_err(|e| {
            let reason = serde_message(&e);
            match failure.argument.get().and_then(|i| specs.get(i)) {
                Some(spec) => InvokeError::invalid_params(Some(spec.name), Some(spec.ty), reason),
                None => InvokeError::invalid_params(None, None, reason),
            }
        })?;
        // Unknown keys are ignored; the first is kept to explain a missing argument.
        self.unknown_key = failure.unknown_key.into_inner();
        Ok(())
    }

    /// Produces an argument from its slot.
    pub fn finish<S: ArgSlot>(&self, slot: S, spec: &ArgSpec) -> Result<S::Value, InvokeError> {
        slot.finish(&self.cx).map_err(|e| match e {
            SlotError::Failed(error) => error,
            SlotError::Invalid(reason) => InvokeError::invalid_params(Some(spec.name), Some(spec.ty), reason),
            SlotError::Missing => {
                let reason = match &self.unknown_key {
                    Some(key) => format!(
                        "missing argument (the params have `{key}`, which is not an argument of this command)"
                    ),
                    None => "missing argument".to_owned(),
                };
                InvokeError::invalid_params(Some(spec.name), Some(spec.ty), reason)
            }
        })
    }

    /// Builds an injected argument (listeners' extra arguments).
    pub fn inject<T: CommandArg>(&self) -> Result<T, InvokeError> {
        T::from_invoke(&self.cx)
    }

    /// Deserializes the whole params as one value (a listener's payload).
    pub fn payload<T: EventPayload>(&self, ty: &'static str) -> Result<T, InvokeError> {
        let result = match self.params {
            Params::None => serde_json::from_str("null"),
            Params::Json(raw) => serde_json::from_str(raw.get()),
            Params::Value(value) => T::deserialize(value),
        };
        result
            .map_err(|e| InvokeError::invalid_params(Some("payload"), Some(ty), serde_message(&e)))
    }

    /// Takes the reply destination (once).
    pub fn take_out(&mut self) -> Out {
        self.out.take().unwrap_or(Out::Discard)
    }
}

/// serde_json's message without its " at line 1 column 9" suffix.
fn serde_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if error.line() == 0 {
        return text;
    }
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix)
        .map(str::to_owned)
        .unwrap_or(text)
}
