//! How the macros describe types, for the TypeScript bindings and
//! `rpc.discover`.
//!
//! Each `#[command]`, `#[listen]` and `#[event]` registers a `fn` pointer that,
//! given a [`TypeCollector`], describes its types as [`TypeDesc`]s and declares
//! every named type they use. Which description a type gets is decided in the
//! generated code by autoref specialization (`invoke/probes.rs`), never by the
//! type's name: types that implement ts-rs's `TS` get their TypeScript type;
//! all others are still callable and described as [`TypeDesc::Unknown`].

use std::collections::BTreeMap;

#[cfg(feature = "typescript")]
use std::collections::HashSet;

/// The TypeScript type of Rust's large integers (`i64`, `u64`, `i128`, `u128`):
/// the JavaScript client decodes integers beyond `Number.MAX_SAFE_INTEGER` as
/// `BigInt` and smaller ones as `number`, so either may arrive.
pub(crate) const LARGE_INT_TS: &str = "number | bigint";

/// How one type is seen from TypeScript.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[doc(hidden)]
pub enum TypeDesc {
    /// A type implementing ts-rs's `TS`: its TypeScript type expression.
    /// `optional` for `Option<T>` (an argument that may be omitted).
    Ts {
        /// The type expression, e.g. `Array<Todo>`.
        ts: String,
        /// Whether the Rust type is an `Option`.
        optional: bool,
    },
    /// `Vec<u8>`, `bytes::Bytes` or `[u8]` at the top level: raw bytes.
    Bytes,
    /// A `Channel<T>` argument, with its message type.
    Channel(Box<TypeDesc>),
    /// A type without a `TS` implementation: typed `unknown`.
    Unknown {
        /// The Rust type, for the report.
        rust: &'static str,
        /// Whether the Rust type is an `Option`.
        optional: bool,
    },
    /// An error's `data` that may be anything (`InvokeError`): `unknown`, by design.
    Any,
    /// An error that carries no `data` (only `Display`): `undefined`.
    NoData,
    /// No error at all (the command does not return a `Result`).
    Never,
    /// An `impl Trait` return: nothing to name.
    Opaque,
}

impl TypeDesc {
    /// The description of a type with no `TS` implementation.
    pub fn unknown<T: ?Sized>(optional: bool) -> Self {
        TypeDesc::Unknown {
            rust: std::any::type_name::<T>(),
            optional,
        }
    }

    /// The `impl Trait` return description.
    pub fn opaque() -> Self {
        TypeDesc::Opaque
    }

    /// Whether an argument of this type may be omitted.
    pub(crate) fn is_optional(&self) -> bool {
        matches!(
            self,
            TypeDesc::Ts { optional: true, .. } | TypeDesc::Unknown { optional: true, .. }
        )
    }

    /// The Rust type that fell back to `unknown`, if this is such a type (or a
    /// channel of one).
    pub(crate) fn fallback(&self) -> Option<&'static str> {
        match self {
            TypeDesc::Unknown { rust, .. } => Some(rust),
            TypeDesc::Channel(inner) => inner.fallback(),
            _ => None,
        }
    }
}

/// Where a type is used: the same Rust type reads differently in each place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Position {
    /// A command argument (bytes may be sent raw or as numbers).
    Arg,
    /// A command's result (bytes arrive as a `Uint8Array`).
    Result,
    /// An error's `data` or an event payload (plain JSON: bytes are numbers).
    Json,
}

impl TypeDesc {
    /// The TypeScript type expression at `position`. `ipc` is the name the
    /// client module is imported as, for its `Channel` and `BinaryData` types.
    pub(crate) fn ts(&self, position: Position, ipc: &str) -> String {
        match self {
            TypeDesc::Ts { ts, .. } => ts.clone(),
            TypeDesc::Bytes => match position {
                Position::Arg => format!("{ipc}.BinaryData | Array<number>"),
                Position::Result => "Uint8Array".to_owned(),
                Position::Json => "Array<number>".to_owned(),
            },
            TypeDesc::Channel(inner) => {
                format!("{ipc}.Channel<{}>", inner.ts(Position::Json, ipc))
            }
            TypeDesc::Unknown { .. } | TypeDesc::Any | TypeDesc::Opaque => "unknown".to_owned(),
            TypeDesc::NoData => "undefined".to_owned(),
            TypeDesc::Never => "never".to_owned(),
        }
    }
}

/// A command's types: every argument (injected ones too, in declaration
/// order), the success value and the error.
#[derive(Clone, Debug)]
#[doc(hidden)]
pub struct CommandTypes {
    /// One per argument of the Rust function.
    pub args: Vec<TypeDesc>,
    /// The result (`T` of `Result<T, E>`, or the whole return type).
    pub ok: TypeDesc,
    /// The error (`E` of `Result<T, E>`, or [`TypeDesc::Never`]).
    pub err: TypeDesc,
}

/// One named TypeScript declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Declaration {
    /// `export type Todo = { ... };`, with its doc comment.
    pub(crate) text: String,
    /// The Rust type it came from.
    pub(crate) rust: &'static str,
}

/// Collects the declarations of every named type the described items use.
/// Not public API: the generated describe functions take one.
#[doc(hidden)]
pub struct TypeCollector {
    #[cfg(feature = "typescript")]
    config: ts_rs::Config,
    #[cfg(feature = "typescript")]
    seen: HashSet<std::any::TypeId>,
    pub(crate) declarations: BTreeMap<String, Declaration>,
    /// Two Rust types with one TypeScript name: `(name, first, second)`.
    pub(crate) conflicts: Vec<(String, &'static str, &'static str)>,
}

impl std::fmt::Debug for TypeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypeCollector")
            .field("declarations", &self.declarations.len())
            .finish_non_exhaustive()
    }
}

impl TypeCollector {
    pub(crate) fn new() -> Self {
        TypeCollector {
            #[cfg(feature = "typescript")]
            config: ts_rs::Config::new().with_large_int(LARGE_INT_TS),
            #[cfg(feature = "typescript")]
            seen: HashSet::new(),
            declarations: BTreeMap::new(),
            conflicts: Vec::new(),
        }
    }

    /// Describes `T` and declares it and every named type it uses.
    #[cfg(feature = "typescript")]
    pub fn ts<T: ts_rs::TS + ?Sized + 'static>(&mut self) -> TypeDesc {
        self.declare::<T>();
        TypeDesc::Ts {
            ts: T::name(&self.config),
            optional: T::IS_OPTION,
        }
    }

    #[cfg(feature = "typescript")]
    fn declare<T: ts_rs::TS + ?Sized + 'static>(&mut self) {
        struct Visit<'a>(&'a mut TypeCollector);
        impl ts_rs::TypeVisitor for Visit<'_> {
            fn visit<U: ts_rs::TS + 'static + ?Sized>(&mut self) {
                self.0.declare::<U>();
            }
        }
        if !self.seen.insert(std::any::TypeId::of::<T>()) {
            return;
        }
        // Types with an output path are the ones ts-rs declares (derived ones);
        // primitives and containers are written inline.
        if T::output_path().is_some() {
            let name = T::ident(&self.config);
            let text = format!(
                "{}export {}",
                T::docs().unwrap_or_default(),
                T::decl(&self.config)
            );
            // ts-rs leaves spaces at the ends of lines before field docs.
            let text: Vec<&str> = text.lines().map(str::trim_end).collect();
            let text = text.join("\n");
            let rust = std::any::type_name::<T>();
            match self.declarations.get(&name) {
                Some(existing) if existing.text != text => {
                    self.conflicts.push((name, existing.rust, rust));
                }
                Some(_) => {}
                None => {
                    self.declarations.insert(name, Declaration { text, rust });
                }
            }
        }
        T::visit_dependencies(&mut Visit(self));
        T::visit_generics(&mut Visit(self));
    }
}
