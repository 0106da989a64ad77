//! Items the macros' generated code uses. Not public API: anything here may
//! change in any release.
//!
//! Generated code names runtime items through this one path
//! (`::ipc_runtime::__private`), so a user needs only `ipc-runtime`. Each item
//! lives in the layer that owns it; this module only gathers them.

pub use inventory;

pub use crate::invoke::args::{
    ArgProbe, ArgSlot, BytesSlot, BytesTag, CommandParam, EventPayload, InjectKind, InjectSlot,
    InjectTag, MAX_ARGS, ParamKind, ParamSlot, ParamTag, SlotError, Slots, SpecialKind,
    UnsupportedKind, UnsupportedSlot, UnsupportedTag,
};
pub use crate::invoke::describe::{CommandTypes, TypeCollector, TypeDesc};
pub use crate::invoke::probes::{
    BytesType, DisplayErrType, ErrTypeProbe, FixedErrType, NoError, OptionType, PlainReturn,
    ResultReturn, ReturnProbe, SerializeErrType, Split, TsErrType, TsType, TypeProbe, UnknownType,
};
pub use crate::invoke::registry::{
    ArgSpec, CommandDef, CommandKind, CommandRegistration, DeclaredEvent, EventRegistration,
    ListenerDef, ListenerRegistration, Registered,
};
pub use crate::invoke::reply::{
    BytesOkKind, BytesOkTag, CommandError, DataErrKind, DataErrTag, DescribedErrKind,
    DescribedErrTag, DisplayErrKind, DisplayErrTag, Encoded, ErrProbe, InvokeErrKind, InvokeErrTag,
    OkProbe, Out, PlainKind, PlainTag, ResultKind, ResultTag, ReturnValue, SerializeOkKind,
    SerializeOkTag, encode_bytes, encode_json,
};
pub use crate::invoke::upload::{UploadSlot, UploadTag};
pub use crate::invoke::{BoxFuture, CommandShim, Invocation, ListenerShim, Pending};
pub use crate::route::channel::{
    ChannelSlot, ChannelTag, ChannelTsType, ChannelType, OptionalChannelSlot, OptionalChannelTag,
};
pub use crate::site::Site;
pub use crate::typed_event::TypedEvent;
