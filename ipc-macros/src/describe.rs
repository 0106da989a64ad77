//! Code that describes types for the TypeScript bindings and `rpc.discover`.
//!
//! Every probe is resolved by autoref specialization in the runtime
//! (`ipc_runtime::__private::TypeProbe` and friends), on what the type
//! implements; nothing here looks at a type's name. The only syntactic
//! decision is about `impl Trait` returns, which cannot be named at all.

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit::Visit;
use syn::{Attribute, Expr, Lit, Meta, ReturnType, Type};

use crate::signature::Arg;

/// The probe traits generated code calls methods of.
fn probe_traits() -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use __ipc::{
            BytesType as _, ChannelTsType as _, ChannelType as _, DisplayErrType as _,
            FixedErrType as _, OptionType as _, PlainReturn as _, ResultReturn as _,
            SerializeErrType as _, TsErrType as _, TsType as _, UnknownType as _,
        };
    }
}

/// The type an argument's description is taken from: `T` for `&T` (so `&str`
/// is `str` and `&[u8]` is raw bytes), else the type as written.
fn probe_ty(arg: &Arg<'_>) -> TokenStream {
    match arg.borrowed {
        Some(inner) => quote!(#inner),
        None => {
            let ty = arg.ty;
            quote!(#ty)
        }
    }
}

/// `(&&&&&&TypeProbe::<T>::NEW).__ipc_type(__ipc_c)`: the description of `ty`.
fn describe_ty(ty: &TokenStream) -> TokenStream {
    quote!((&&&&&&__ipc::TypeProbe::<#ty>::NEW).__ipc_type(__ipc_c))
}

/// `fn __ipc_types(&mut TypeCollector) -> CommandTypes` for a command.
pub(crate) fn command_types(args: &[Arg<'_>], output: &ReturnType) -> TokenStream {
    let traits = probe_traits();
    let args = args.iter().map(|arg| describe_ty(&probe_ty(arg)));
    let (ok, err) = match output {
        ReturnType::Type(_, ty) if matches!(**ty, Type::ImplTrait(_)) => (
            quote!(__ipc::TypeDesc::opaque()),
            quote!(__ipc::TypeDesc::Never),
        ),
        ReturnType::Type(_, ty) if contains_impl_trait(ty) => (
            quote!(__ipc::TypeDesc::opaque()),
            quote!(__ipc::TypeDesc::opaque()),
        ),
        _ => {
            let ret = match output {
                ReturnType::Default => quote!(()),
                ReturnType::Type(_, ty) => quote!(#ty),
            };
            let split = quote!((&&__ipc::ReturnProbe::<#ret>::NEW).__ipc_split());
            (
                quote!((&&&&&&#split.ok()).__ipc_type(__ipc_c)),
                quote!((&&&&#split.err()).__ipc_err_type(__ipc_c)),
            )
        }
    };
    quote! {
        fn __ipc_types(__ipc_c: &mut __ipc::TypeCollector) -> __ipc::CommandTypes {
            #traits
            __ipc::CommandTypes {
                args: ::std::vec![#(#args),*],
                ok: #ok,
                err: #err,
            }
        }
    }
}

/// `fn __ipc_payload(&mut TypeCollector) -> TypeDesc` for a listener's payload
/// or an `#[event]` type.
pub(crate) fn payload_type(ty: TokenStream) -> TokenStream {
    let traits = probe_traits();
    let describe = describe_ty(&ty);
    quote! {
        fn __ipc_payload(__ipc_c: &mut __ipc::TypeCollector) -> __ipc::TypeDesc {
            #traits
            #describe
        }
    }
}

/// The payload type of a listener: its first argument.
pub(crate) fn listener_payload(args: &[Arg<'_>]) -> TokenStream {
    match args.first() {
        Some(arg) => payload_type(probe_ty(arg)),
        None => payload_type(quote!(())),
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

/// The doc comment (`///` lines) of an item, as text.
pub(crate) fn docs(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(lit) = &nv.value
            && let Lit::Str(text) = &lit.lit
        {
            let text = text.value();
            if text.trim().is_empty() {
                lines.push(String::new());
            }
            for line in text.lines().filter(|_| !text.trim().is_empty()) {
                lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
            }
        }
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    while lines.first().is_some_and(String::is_empty) {
        lines.remove(0);
    }
    lines.join("\n")
}
