//! Reading a command's arguments from the params in one pass.
//!
//! The macro builds one *slot* per argument and hands the tuple of slots to
//! [`Invocation::read_args`](super::Invocation::read_args), which runs the
//! visitor below over the raw params: an object is matched by wire name, an
//! array by position. Each slot then turns into the argument's value
//! ([`ArgSlot::finish`]): parsed params are taken as they are, a missing one
//! becomes `None` for `Option<T>` or an "missing argument" error, and injected
//! arguments are built from the context.
//!
//! Which slot an argument gets is chosen by autoref specialization on its type
//! (never on its name): see [`ArgProbe`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};

use bytes::Bytes;
use serde::de::Deserialize as _;

use super::InvokeContext;
use super::registry::ArgSpec;
use crate::error::InvokeError;
use crate::invoke::extract::CommandArg;

/// The probe the macro calls `(&&&&ArgProbe::<T>::NEW).__ipc_arg_kind()` on.
/// Method resolution picks the most specific kind whose impl applies:
/// [`SpecialKind`], then [`InjectKind`], [`ParamKind`], [`UnsupportedKind`].
#[derive(Debug)]
pub struct ArgProbe<T>(PhantomData<fn() -> T>);

impl<T> ArgProbe<T> {
    /// The probe value.
    pub const NEW: Self = ArgProbe(PhantomData);
}

/// Arguments the runtime treats specially: byte arrays (`Vec<u8>`,
/// `bytes::Bytes`, which may arrive as binary attachments) and streams to the
/// caller (`Channel<T>`, whose impl is with the channel in routing).
pub trait SpecialKind {
    /// The tag type.
    type Tag;
    /// Picks the special path.
    fn __ipc_arg_kind(&self) -> Self::Tag;
}

impl SpecialKind for &&&ArgProbe<Vec<u8>> {
    type Tag = BytesTag<Vec<u8>>;
    fn __ipc_arg_kind(&self) -> BytesTag<Vec<u8>> {
        BytesTag(PhantomData)
    }
}

impl SpecialKind for &&&ArgProbe<Bytes> {
    type Tag = BytesTag<Bytes>;
    fn __ipc_arg_kind(&self) -> BytesTag<Bytes> {
        BytesTag(PhantomData)
    }
}

/// Chosen for byte arrays.
#[derive(Debug)]
pub struct BytesTag<T>(PhantomData<fn() -> T>);

impl<T> BytesTag<T> {
    /// An empty slot.
    pub fn slot(self) -> BytesSlot<T> {
        BytesSlot(None, PhantomData)
    }
}

/// A byte-array argument as sent: an attachment index, or inline numbers.
#[derive(Debug)]
enum BytesParam {
    Attachment(usize),
    Inline(Vec<u8>),
}

impl<'de> de::Deserialize<'de> for BytesParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = BytesParam;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"an array of bytes or a binary attachment {"$bytes": index}"#)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BytesParam, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(byte) = seq.next_element::<u8>()? {
                    bytes.push(byte);
                }
                Ok(BytesParam::Inline(bytes))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<BytesParam, E> {
                Ok(BytesParam::Inline(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<BytesParam, E> {
                Ok(BytesParam::Inline(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BytesParam, A::Error> {
                let mut index = None;
                while let Some(key) = map.next_key::<ArgKey<'de>>()? {
                    if key.as_str() == "$bytes" && index.is_none() {
                        index = Some(map.next_value::<usize>()?);
                    } else {
                        return Err(de::Error::custom(format_args!(
                            "unexpected key `{}` in a binary placeholder",
                            key.as_str()
                        )));
                    }
                }
                index.map(BytesParam::Attachment).ok_or_else(|| {
                    de::Error::custom(r#"a binary placeholder is {"$bytes": index}"#)
                })
            }
        }
        deserializer.deserialize_any(BytesVisitor)
    }
}

/// Slot of a `Vec<u8>` or `bytes::Bytes` argument.
#[derive(Debug)]
pub struct BytesSlot<T>(Option<BytesParam>, PhantomData<fn() -> T>);

impl<T: From<Bytes> + From<Vec<u8>>> ArgSlot for BytesSlot<T> {
    type Value = T;
    const READS_PARAMS: bool = true;

    fn is_filled(&self) -> bool {
        self.0.is_some()
    }

    fn read<'de, D: Deserializer<'de>>(&mut self, deserializer: D) -> Result<(), D::Error> {
        self.0 = Some(BytesParam::deserialize(deserializer)?);
        Ok(())
    }

    fn finish(self, cx: &InvokeContext<'_>) -> Result<T, SlotError> {
        match self.0 {
            None => Err(SlotError::Missing),
            Some(BytesParam::Inline(bytes)) => Ok(T::from(bytes)),
            Some(BytesParam::Attachment(i)) => match cx.attachments.get(i) {
                Some(bytes) => Ok(T::from(bytes.clone())),
                None => Err(SlotError::Invalid(format!(
                    "refers to binary attachment {i}, but the message has {}",
                    cx.attachments.len()
                ))),
            },
        }
    }
}

/// Injected arguments: `T: CommandArg`. Preferred over [`ParamKind`].
pub trait InjectKind {
    /// The tag type.
    type Tag;
    /// Picks the injection path.
    fn __ipc_arg_kind(&self) -> Self::Tag;
}

impl<T: CommandArg> InjectKind for &&ArgProbe<T> {
    type Tag = InjectTag<T>;
    fn __ipc_arg_kind(&self) -> InjectTag<T> {
        InjectTag(PhantomData)
    }
}

/// Arguments read from the params: `T: CommandParam`.
pub trait ParamKind {
    /// The tag type.
    type Tag;
    /// Picks the params path.
    fn __ipc_arg_kind(&self) -> Self::Tag;
}

impl<T: CommandParam> ParamKind for &ArgProbe<T> {
    type Tag = ParamTag<T>;
    fn __ipc_arg_kind(&self) -> ParamTag<T> {
        ParamTag(PhantomData)
    }
}

/// Every other type: a compile error, reported once.
///
/// Its tag's `slot` requires `T: CommandParam`, which fails with that trait's
/// message at the argument's type; the slot it returns is still a valid
/// [`ArgSlot`], so the rest of the generated code raises no second error.
pub trait UnsupportedKind {
    /// The tag type.
    type Tag;
    /// Picks the error path.
    fn __ipc_arg_kind(&self) -> Self::Tag;
}

impl<T> UnsupportedKind for ArgProbe<T> {
    type Tag = UnsupportedTag<T>;
    fn __ipc_arg_kind(&self) -> UnsupportedTag<T> {
        UnsupportedTag(PhantomData)
    }
}

/// Chosen for injected arguments.
#[derive(Debug)]
pub struct InjectTag<T>(PhantomData<fn() -> T>);

impl<T: CommandArg> InjectTag<T> {
    /// An empty slot.
    pub fn slot(self) -> InjectSlot<T> {
        InjectSlot(PhantomData)
    }
}

/// Chosen for arguments read from the params.
#[derive(Debug)]
pub struct ParamTag<T>(PhantomData<fn() -> T>);

impl<T> ParamTag<T> {
    /// An empty slot.
    pub fn slot(self) -> ParamSlot<T>
    where
        T: CommandParam,
    {
        ParamSlot(None)
    }
}

/// Chosen for types that are neither injected nor read from the params.
#[derive(Debug)]
pub struct UnsupportedTag<T>(PhantomData<fn() -> T>);

impl<T> UnsupportedTag<T> {
    /// Fails to compile: `T` is not `CommandParam` (or it would not be here).
    pub fn slot(self) -> UnsupportedSlot<T>
    where
        T: CommandParam,
    {
        UnsupportedSlot(PhantomData)
    }
}

/// Slot of an argument that cannot be produced; exists only in programs that
/// do not compile.
#[derive(Debug)]
pub struct UnsupportedSlot<T>(PhantomData<fn() -> T>);

impl<T> ArgSlot for UnsupportedSlot<T> {
    type Value = T;
    const READS_PARAMS: bool = false;

    fn is_filled(&self) -> bool {
        false
    }

    fn read<'de, D: Deserializer<'de>>(&mut self, _deserializer: D) -> Result<(), D::Error> {
        Err(de::Error::custom("unsupported argument type"))
    }

    fn finish(self, _cx: &InvokeContext<'_>) -> Result<T, SlotError> {
        Err(SlotError::Failed(InvokeError::internal(
            "unsupported argument type",
        )))
    }
}

/// Types a listener's payload can be: everything `Deserialize`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a #[listen] payload",
    label = "not `Deserialize`",
    note = "the payload is read from the event's JSON: derive `serde::Deserialize` for `{Self}`"
)]
pub trait EventPayload: DeserializeOwned {}

impl<T: DeserializeOwned> EventPayload for T {}

/// Types that can be read from the params: everything `Deserialize`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a #[command] argument",
    label = "not `Deserialize`, and not an injected type",
    note = "arguments are read from the caller's JSON: derive `serde::Deserialize` for `{Self}`",
    note = "or, to build it on the Rust side, implement `ipc_runtime::CommandArg` for it"
)]
pub trait CommandParam: DeserializeOwned {}

impl<T: DeserializeOwned> CommandParam for T {}

/// One argument being read.
pub trait ArgSlot {
    /// The argument's type.
    type Value;
    /// Whether the argument is read from the params (not injected).
    const READS_PARAMS: bool;
    /// Whether a value was read already.
    fn is_filled(&self) -> bool;
    /// Reads the value from the params.
    fn read<'de, D: Deserializer<'de>>(&mut self, deserializer: D) -> Result<(), D::Error>;
    /// Produces the argument.
    fn finish(self, cx: &InvokeContext<'_>) -> Result<Self::Value, SlotError>;
}

/// Why a slot produced no value.
#[derive(Debug)]
pub enum SlotError {
    /// The argument was present but unusable; the text says why.
    Invalid(String),
    /// A required argument was not in the params.
    Missing,
    /// Building the argument failed.
    Failed(InvokeError),
}

/// Slot of an argument read from the params.
#[derive(Debug)]
pub struct ParamSlot<T>(Option<T>);

impl<T: DeserializeOwned> ArgSlot for ParamSlot<T> {
    type Value = T;
    const READS_PARAMS: bool = true;

    fn is_filled(&self) -> bool {
        self.0.is_some()
    }

    fn read<'de, D: Deserializer<'de>>(&mut self, deserializer: D) -> Result<(), D::Error> {
        self.0 = Some(T::deserialize(deserializer)?);
        Ok(())
    }

    fn finish(self, _cx: &InvokeContext<'_>) -> Result<T, SlotError> {
        match self.0 {
            Some(value) => Ok(value),
            // `Option<T>` accepts a missing value as `None`; everything else refuses.
            None => T::deserialize(Missing).map_err(|_| SlotError::Missing),
        }
    }
}

/// Slot of an injected argument.
#[derive(Debug)]
pub struct InjectSlot<T>(PhantomData<fn() -> T>);

impl<T: CommandArg> ArgSlot for InjectSlot<T> {
    type Value = T;
    const READS_PARAMS: bool = false;

    fn is_filled(&self) -> bool {
        false
    }

    fn read<'de, D: Deserializer<'de>>(&mut self, _deserializer: D) -> Result<(), D::Error> {
        Err(de::Error::custom(
            "injected arguments are not read from the params",
        ))
    }

    fn finish(self, cx: &InvokeContext<'_>) -> Result<T, SlotError> {
        T::from_invoke(cx).map_err(SlotError::Failed)
    }
}

/// A deserializer for an absent value: `None` for options, an error otherwise.
struct Missing;

impl<'de> Deserializer<'de> for Missing {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("missing"))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// A tuple of slots, one per argument (arities 0 to 16).
pub trait Slots {
    /// Number of arguments.
    const LEN: usize;
    /// Whether argument `i` is read from the params.
    fn reads_params(&self, i: usize) -> bool;
    /// Whether argument `i` was read already.
    fn is_filled(&self, i: usize) -> bool;
    /// Reads argument `i`.
    fn read_at<'de, D: Deserializer<'de>>(
        &mut self,
        i: usize,
        deserializer: D,
    ) -> Result<(), D::Error>;
    /// Bit `i` set when argument `i` is read from the params.
    fn params_mask(&self) -> u64 {
        (0..Self::LEN)
            .filter(|&i| self.reads_params(i))
            .fold(0, |mask, i| mask | (1 << i))
    }
}

macro_rules! impl_slots {
    ($len:expr; $($s:ident $i:tt),*) => {
        impl<$($s: ArgSlot),*> Slots for ($($s,)*) {
            const LEN: usize = $len;

            #[allow(unused_variables)]
            fn reads_params(&self, i: usize) -> bool {
                match i {
                    $($i => $s::READS_PARAMS,)*
                    _ => false,
                }
            }

            #[allow(unused_variables)]
            fn is_filled(&self, i: usize) -> bool {
                match i {
                    $($i => self.$i.is_filled(),)*
                    _ => false,
                }
            }

            #[allow(unused_variables)]
            fn read_at<'de, D: Deserializer<'de>>(&mut self, i: usize, deserializer: D) -> Result<(), D::Error> {
                match i {
                    $($i => self.$i.read(deserializer),)*
                    _ => Err(de::Error::custom("no such argument")),
                }
            }
        }
    };
}

impl_slots!(0;);
impl_slots!(1; S0 0);
impl_slots!(2; S0 0, S1 1);
impl_slots!(3; S0 0, S1 1, S2 2);
impl_slots!(4; S0 0, S1 1, S2 2, S3 3);
impl_slots!(5; S0 0, S1 1, S2 2, S3 3, S4 4);
impl_slots!(6; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5);
impl_slots!(7; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6);
impl_slots!(8; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6, S7 7);
impl_slots!(9; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6, S7 7, S8 8);
impl_slots!(10; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6, S7 7, S8 8, S9 9);
impl_slots!(11; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6, S7 7, S8 8, S9 9, S10 10);
impl_slots!(12; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6, S7 7, S8 8, S9 9, S10 10, S11 11);
impl_slots!(13; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6, S7 7, S8 8, S9 9, S10 10, S11 11, S12 12);
impl_slots!(14; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6, S7 7, S8 8, S9 9, S10 10, S11 11, S12 12, S13 13);
impl_slots!(15; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6, S7 7, S8 8, S9 9, S10 10, S11 11, S12 12, S13 13, S14 14);
impl_slots!(16; S0 0, S1 1, S2 2, S3 3, S4 4, S5 5, S6 6, S7 7, S8 8, S9 9, S10 10, S11 11, S12 12, S13 13, S14 14, S15 15);

/// The most arguments a command may declare.
pub const MAX_ARGS: usize = 16;

/// What went wrong while reading, beyond serde's own error.
#[derive(Default)]
pub(crate) struct ReadFailure {
    /// The argument whose value failed to parse.
    pub(crate) argument: Cell<Option<usize>>,
    /// The first key that matched no argument (a hint for "missing argument").
    pub(crate) unknown_key: RefCell<Option<String>>,
}

/// The visitor over the params.
pub(crate) struct ArgsSeed<'s, S> {
    pub(crate) specs: &'static [ArgSpec],
    pub(crate) slots: &'s mut S,
    pub(crate) failure: &'s ReadFailure,
}

impl<'de, S: Slots> DeserializeSeed<'de> for ArgsSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: Slots> Visitor<'de> for ArgsSeed<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of named arguments or an array of positional arguments")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<ArgKey<'de>>()? {
            let key = key.as_str();
            let found = (0..S::LEN).find(|&i| {
                self.slots.reads_params(i) && self.specs.get(i).is_some_and(|s| s.name == key)
            });
            match found {
                Some(i) => {
                    if self.slots.is_filled(i) {
                        self.failure.argument.set(Some(i));
                        return Err(de::Error::custom("the argument is given twice"));
                    }
                    map.next_value_seed(SlotSeed {
                        slots: &mut *self.slots,
                        index: i,
                    })
                    .inspect_err(|_| self.failure.argument.set(Some(i)))?;
                }
                None => {
                    let mut unknown = self.failure.unknown_key.borrow_mut();
                    if unknown.is_none() {
                        *unknown = Some(key.to_owned());
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut expected = 0;
        let mut ended = false;
        for i in 0..S::LEN {
            if !self.slots.reads_params(i) {
                continue;
            }
            expected += 1;
            if ended {
                continue;
            }
            let got = seq
                .next_element_seed(SlotSeed {
                    slots: &mut *self.slots,
                    index: i,
                })
                .inspect_err(|_| self.failure.argument.set(Some(i)))?;
            ended = got.is_none();
        }
        if !ended && seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format_args!(
                "too many positional arguments: the command takes {expected}"
            )));
        }
        Ok(())
    }
}

struct SlotSeed<'s, S> {
    slots: &'s mut S,
    index: usize,
}

impl<'de, S: Slots> DeserializeSeed<'de> for SlotSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.slots.read_at(self.index, deserializer)
    }
}

/// An object key, borrowed from the message when it has no escapes.
enum ArgKey<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl ArgKey<'_> {
    fn as_str(&self) -> &str {
        match self {
            ArgKey::Borrowed(s) => s,
            ArgKey::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for ArgKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = ArgKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an argument name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<ArgKey<'de>, E> {
                Ok(ArgKey::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ArgKey<'de>, E> {
                Ok(ArgKey::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ArgKey<'de>, E> {
                Ok(ArgKey::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    //! Reading arguments from params, straight through a command's shim.

    use ipc_core::codes;
    use serde_json::value::RawValue;
    use serde_json::{Value, json};

    use crate::caller::Caller;
    use crate::codec;
    use crate::error::InvokeError;
    use crate::invoke::registry::{CommandDef, CommandRegistration};
    use crate::invoke::{Encoded, Invocation, InvokeContext, Out, Params, Pending};
    use crate::state::StateMap;
    use crate::testing::{add, greet, mirror, shout};

    /// Runs a sync command's shim on raw JSON params: its result or error.
    fn run(registration: &CommandRegistration, params: Option<&str>) -> Result<Value, InvokeError> {
        let state = StateMap::default();
        let caller = Caller::backend();
        let cx = InvokeContext::new(&(), &state, &caller, registration.name);
        let raw = params.map(|p| RawValue::from_string(p.to_owned()).unwrap());
        let params = raw.as_deref().map_or(Params::None, Params::Json);
        let out = Out::Text(codec::result_prefix("1"));
        match (registration.shim)(Invocation::new(cx, params, out)) {
            Pending::Ready(Ok(Encoded::Text(buf))) => {
                let response: Value = serde_json::from_slice(&codec::close_result(buf)).unwrap();
                Ok(response["result"].clone())
            }
            Pending::Ready(Err(error)) => Err(error),
            other => panic!("a sync command is ready: {other:?}"),
        }
    }

    fn error(registration: &CommandRegistration, params: &str) -> (String, Value) {
        let e = run(registration, Some(params)).unwrap_err();
        assert_eq!(e.code(), codes::INVALID_PARAMS, "{}", e.message());
        (
            e.message().to_owned(),
            e.data().cloned().unwrap_or_default(),
        )
    }

    const ADD: &CommandRegistration = <add as CommandDef>::REGISTRATION;
    const GREET: &CommandRegistration = <greet as CommandDef>::REGISTRATION;
    const SHOUT: &CommandRegistration = <shout as CommandDef>::REGISTRATION;
    const MIRROR: &CommandRegistration = <mirror as CommandDef>::REGISTRATION;

    #[test]
    fn by_name_and_by_position() {
        assert_eq!(run(ADD, Some(r#"{"a":2,"b":3}"#)).unwrap(), 5);
        assert_eq!(run(ADD, Some(r#"{"b":3,"a":2}"#)).unwrap(), 5, "any order");
        assert_eq!(run(ADD, Some("[2,3]")).unwrap(), 5);
        assert_eq!(
            run(MIRROR, Some(r#"{"point":{"x":1,"y":2}}"#)).unwrap(),
            json!({ "x": -1, "y": -2 })
        );
    }

    #[test]
    fn a_missing_argument_is_named_with_its_type() {
        let (message, data) = error(ADD, r#"{"a":2}"#);
        assert_eq!(message, "invalid argument `b`: missing argument");
        assert_eq!(
            data,
            json!({ "argument": "b", "expected": "i64", "reason": "missing argument" })
        );
        let (_, data) = error(ADD, "[2]");
        assert_eq!(data["argument"], "b");
        let none = run(ADD, None).unwrap_err();
        assert_eq!(none.data().unwrap()["argument"], "a", "no params at all");
    }

    #[test]
    fn extra_keys_are_ignored_but_named_when_something_is_missing() {
        assert_eq!(run(ADD, Some(r#"{"a":2,"b":3,"c":4}"#)).unwrap(), 5);
        let (message, _) = error(ADD, r#"{"a":2,"B":3}"#);
        assert!(message.contains("`B`"), "{message}");
        let (message, _) = error(ADD, "[1,2,3]");
        assert_eq!(
            message,
            "invalid params: too many positional arguments: the command takes 2"
        );
    }

    #[test]
    fn a_mistyped_argument_says_what_was_expected() {
        let (message, data) = error(ADD, r#"{"a":"two","b":3}"#);
        assert!(
            message.starts_with("invalid argument `a`: invalid type: string"),
            "{message}"
        );
        assert_eq!(data["expected"], "i64");
        let (_, data) = error(MIRROR, r#"{"point":{"x":1}}"#);
        assert_eq!(data["argument"], "point");
        assert!(
            data["reason"]
                .as_str()
                .unwrap()
                .contains("missing field `y`")
        );
        let (message, _) = error(ADD, r#""not params""#);
        assert!(message.starts_with("invalid params"), "{message}");
    }

    #[test]
    fn options_may_be_omitted_or_null() {
        assert_eq!(
            run(GREET, Some(r#"{"name":"Ada"}"#)).unwrap(),
            "Hello, Ada."
        );
        assert_eq!(
            run(GREET, Some(r#"{"name":"Ada","excited":null}"#)).unwrap(),
            "Hello, Ada."
        );
        assert_eq!(run(GREET, Some(r#"["Ada",true]"#)).unwrap(), "Hello, Ada!");
        assert_eq!(error(GREET, r#"{"excited":true}"#).1["argument"], "name");
    }

    #[test]
    fn borrowed_arguments_borrow_from_the_params() {
        assert_eq!(run(SHOUT, Some(r#"{"text":"hi"}"#)).unwrap(), "HI");
        assert_eq!(run(SHOUT, Some(r#"["hi"]"#)).unwrap(), "HI");
        assert_eq!(
            run(SHOUT, Some(r#"{"text":"caf\u00e9 \"x\""}"#)).unwrap(),
            "CAFÉ \"X\"",
            "a string with escapes is unescaped first"
        );
    }
}
