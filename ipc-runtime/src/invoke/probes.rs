//! Describing a command's, listener's or event's types for the bindings.
//!
//! The macros write, for an argument or payload type `T`:
//!
//! ```text
//! (&&&&&&TypeProbe::<T>::NEW).__ipc_type(collector)
//! ```
//!
//! and, for a return type `R`:
//!
//! ```text
//! let split = (&&ReturnProbe::<R>::NEW).__ipc_split();   // Result<T, E> or plain
//! (&&&&&&split.ok()).__ipc_type(collector);
//! (&&&&split.err()).__ipc_err_type(collector);
//! ```
//!
//! Method resolution picks the most specific level whose impl applies
//! (autoref specialization), so a type is described by what it implements,
//! never by its name: raw bytes, then channels (`route/channel.rs`), then ts-rs's `TS`, then
//! `unknown`. Without the `typescript` feature the `TS` levels do not exist and
//! every type falls to `unknown`.

use std::marker::PhantomData;

use bytes::Bytes;
use serde::Serialize;

use super::describe::{TypeCollector, TypeDesc};
use crate::error::InvokeError;

/// The probe over an argument, result or payload type.
#[derive(Debug)]
pub struct TypeProbe<T: ?Sized>(PhantomData<fn(&T)>);

impl<T: ?Sized> TypeProbe<T> {
    /// The probe value.
    pub const NEW: Self = TypeProbe(PhantomData);
}

/// Level 5: byte arrays, which travel raw (`Vec<u8>`, `bytes::Bytes`, `&[u8]`).
pub trait BytesType {
    /// Describes the type.
    fn __ipc_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

impl BytesType for &&&&&TypeProbe<Vec<u8>> {
    fn __ipc_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::Bytes
    }
}

impl BytesType for &&&&&TypeProbe<Bytes> {
    fn __ipc_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::Bytes
    }
}

impl BytesType for &&&&&TypeProbe<[u8]> {
    fn __ipc_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::Bytes
    }
}

// Levels 4 and 3 (`ChannelTsType`, `ChannelType`: a channel, with or
// without a `TS` message type) are with `Channel<T>` in `route/channel.rs`.

/// Level 2: types implementing ts-rs's `TS`.
pub trait TsType {
    /// Describes the type.
    fn __ipc_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

#[cfg(feature = "typescript")]
impl<T: ts_rs::TS + ?Sized + 'static> TsType for &&TypeProbe<T> {
    fn __ipc_type(&self, c: &mut TypeCollector) -> TypeDesc {
        c.ts::<T>()
    }
}

/// Level 1: an `Option` of a type without `TS`: `unknown`, and may be omitted.
pub trait OptionType {
    /// Describes the type.
    fn __ipc_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

impl<T> OptionType for &TypeProbe<Option<T>> {
    fn __ipc_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::unknown::<Option<T>>(true)
    }
}

/// Level 0: everything else is `unknown`.
pub trait UnknownType {
    /// Describes the type.
    fn __ipc_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

impl<T: ?Sized> UnknownType for TypeProbe<T> {
    fn __ipc_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::unknown::<T>(false)
    }
}

/// The probe over a return type, splitting `Result<T, E>` from plain values.
#[derive(Debug)]
pub struct ReturnProbe<R>(PhantomData<fn() -> R>);

impl<R> ReturnProbe<R> {
    /// The probe value.
    pub const NEW: Self = ReturnProbe(PhantomData);
}

/// `Result<T, E>`: success `T`, error `E`.
pub trait ResultReturn {
    /// The success type.
    type Ok;
    /// The error type.
    type Err;
    /// The parts.
    fn __ipc_split(&self) -> Split<Self::Ok, Self::Err>;
}

impl<T, E> ResultReturn for &ReturnProbe<Result<T, E>> {
    type Ok = T;
    type Err = E;
    fn __ipc_split(&self) -> Split<T, E> {
        Split(PhantomData)
    }
}

/// Any other return type: success only.
pub trait PlainReturn {
    /// The success type.
    type Ok;
    /// The parts.
    fn __ipc_split(&self) -> Split<Self::Ok, NoError>;
}

impl<R> PlainReturn for ReturnProbe<R> {
    type Ok = R;
    fn __ipc_split(&self) -> Split<R, NoError> {
        Split(PhantomData)
    }
}

/// The error type of a command that cannot fail.
#[derive(Debug)]
pub enum NoError {}

/// A return type's success and error types.
#[derive(Debug)]
pub struct Split<T, E>(PhantomData<fn() -> (T, E)>);

impl<T, E> Split<T, E> {
    /// The probe over the success type.
    pub fn ok(&self) -> TypeProbe<T> {
        TypeProbe::NEW
    }

    /// The probe over the error type.
    pub fn err(&self) -> ErrTypeProbe<E> {
        ErrTypeProbe(PhantomData)
    }
}

/// The probe over an error type: what the caller finds in the error's `data`.
#[derive(Debug)]
pub struct ErrTypeProbe<E>(PhantomData<fn() -> E>);

/// Level 3: `InvokeError` (any `data`), and no error at all.
pub trait FixedErrType {
    /// Describes the error's `data`.
    fn __ipc_err_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

impl FixedErrType for &&&ErrTypeProbe<InvokeError> {
    fn __ipc_err_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::Any
    }
}

impl FixedErrType for &&&ErrTypeProbe<NoError> {
    fn __ipc_err_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::Never
    }
}

/// Level 2: a `Serialize` error with a `TS` type: the caller gets it as `data`.
pub trait TsErrType {
    /// Describes the error's `data`.
    fn __ipc_err_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

#[cfg(feature = "typescript")]
impl<E: Serialize + ts_rs::TS + 'static> TsErrType for &&ErrTypeProbe<E> {
    fn __ipc_err_type(&self, c: &mut TypeCollector) -> TypeDesc {
        c.ts::<E>()
    }
}

/// Level 1: a `Serialize` error without `TS`: `unknown` data.
pub trait SerializeErrType {
    /// Describes the error's `data`.
    fn __ipc_err_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

impl<E: Serialize> SerializeErrType for &ErrTypeProbe<E> {
    fn __ipc_err_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::unknown::<E>(false)
    }
}

/// Level 0: an error that is only `Display`: no `data` at all. (No bound: a
/// type that is neither is refused by the command's own code, once.)
pub trait DisplayErrType {
    /// Describes the error's `data`.
    fn __ipc_err_type(&self, c: &mut TypeCollector) -> TypeDesc;
}

impl<E> DisplayErrType for ErrTypeProbe<E> {
    fn __ipc_err_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::NoData
    }
}

#[cfg(test)]
#[expect(
    clippy::needless_borrow,
    reason = "the probes are written as the macros write them: the borrows pick the level"
)]
mod tests {
    use super::*;

    struct Opaque;

    #[derive(Serialize)]
    struct Data;

    #[test]
    fn levels_follow_what_a_type_implements() {
        let c = &mut TypeCollector::new();
        assert_eq!(
            (&&&&&&TypeProbe::<Vec<u8>>::NEW).__ipc_type(c),
            TypeDesc::Bytes
        );
        assert_eq!(
            (&&&&&&TypeProbe::<[u8]>::NEW).__ipc_type(c),
            TypeDesc::Bytes
        );
        assert!(matches!(
            (&&&&&&TypeProbe::<Option<Opaque>>::NEW).__ipc_type(c),
            TypeDesc::Unknown { optional: true, .. }
        ));
        assert!(matches!(
            (&&&&&&TypeProbe::<Opaque>::NEW).__ipc_type(c),
            TypeDesc::Unknown {
                optional: false,
                ..
            }
        ));

        let split = (&&ReturnProbe::<Result<u8, InvokeError>>::NEW).__ipc_split();
        assert_eq!((&&&&split.err()).__ipc_err_type(c), TypeDesc::Any);
        let split = (&&ReturnProbe::<Result<u8, std::io::Error>>::NEW).__ipc_split();
        assert_eq!((&&&&split.err()).__ipc_err_type(c), TypeDesc::NoData);
        let split = (&&ReturnProbe::<Result<u8, Data>>::NEW).__ipc_split();
        assert!(matches!(
            (&&&&split.err()).__ipc_err_type(c),
            TypeDesc::Unknown { .. }
        ));
        let split = (&&ReturnProbe::<Opaque>::NEW).__ipc_split();
        assert_eq!((&&&&split.err()).__ipc_err_type(c), TypeDesc::Never);
        assert!(matches!(
            (&&&&&&split.ok()).__ipc_type(c),
            TypeDesc::Unknown { .. }
        ));
    }

    #[cfg(feature = "typescript")]
    #[test]
    fn ts_types_are_named() {
        let c = &mut TypeCollector::new();
        let ts = |ts: &str| TypeDesc::Ts {
            ts: ts.into(),
            optional: false,
        };
        assert_eq!((&&&&&&TypeProbe::<String>::NEW).__ipc_type(c), ts("string"));
        let split = (&&ReturnProbe::<Result<Vec<bool>, String>>::NEW).__ipc_split();
        assert_eq!((&&&&&&split.ok()).__ipc_type(c), ts("Array<boolean>"));
        assert_eq!((&&&&split.err()).__ipc_err_type(c), ts("string"));
    }
}
