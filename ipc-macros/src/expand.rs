//! Code generation shared by `#[command]` and `#[listen]`: calling the function
//! in the right way (inline, as a future, on the blocking pool) and encoding
//! what it returns.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericArgument, Ident, PathArguments, ReturnType, Type};

use crate::signature::{Arg, Signature};

/// How the function runs.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Sync,
    Async,
    Blocking,
}

impl Kind {
    pub(crate) fn of(sig: &Signature<'_>, blocking: Option<Span>) -> Self {
        match (sig.is_async, blocking) {
            (true, _) => Kind::Async,
            (false, Some(_)) => Kind::Blocking,
            (false, None) => Kind::Sync,
        }
    }

    pub(crate) fn variant(self) -> Ident {
        let name = match self {
            Kind::Sync => "Sync",
            Kind::Async => "Async",
            Kind::Blocking => "Blocking",
        };
        Ident::new(name, Span::call_site())
    }
}

/// The local variable holding argument `i`.
pub(crate) fn arg_var(i: usize) -> Ident {
    Ident::new(&format!("__ipc_arg{i}"), Span::call_site())
}

/// `Site { module_path, file, line }` pointing at the function's name.
pub(crate) fn site(ident: &Ident) -> TokenStream {
    quote_spanned! {ident.span()=>
        __ipc::Site {
            module_path: ::core::module_path!(),
            file: ::core::file!(),
            line: ::core::line!(),
        }
    }
}

/// Calls the function with the argument variables, encodes the result, and
/// wraps it into a `Pending` according to `kind`. Expects `__ipc_out` in scope.
pub(crate) fn call_and_encode(sig: &Signature<'_>, kind: Kind) -> TokenStream {
    let ident = sig.ident;
    let values = sig.args.iter().enumerate().map(|(i, arg)| pass(i, arg));
    let call = quote!(#ident(#(#values),*));
    let encode = encode(sig.output);
    match kind {
        Kind::Sync => quote! {
            let __ipc_r = #call;
            __ipc::Pending::Ready(#encode)
        },
        Kind::Async => quote_spanned! {ident.span()=>
            __ipc::Pending::future(async move {
                let __ipc_r = #call.await;
                #encode
            })
        },
        Kind::Blocking => quote_spanned! {ident.span()=>
            __ipc::Pending::blocking(move || {
                let __ipc_r = #call;
                #encode
            })
        },
    }
}

/// Argument `i` as the function receives it: moved, or lent for `&T`.
fn pass(i: usize, arg: &Arg<'_>) -> TokenStream {
    let var = arg_var(i);
    match arg.borrowed {
        Some(_) => quote_spanned!(arg.ty.span()=> ::core::borrow::Borrow::borrow(&#var)),
        None => quote!(#var),
    }
}

/// Encodes `__ipc_r` into `Result<Encoded, InvokeError>`. Spanned at the return
/// type, so "cannot be returned" errors point there (at `T` or `E` when it is
/// written `Result<T, E>`).
fn encode(output: &ReturnType) -> TokenStream {
    let (span, ok_span, err_span) = match output {
        ReturnType::Default => (Span::call_site(), Span::call_site(), Span::call_site()),
        ReturnType::Type(_, ty) => {
            let span = ty.span();
            match result_args(ty) {
                Some((ok, err)) => (span, ok.span(), err.span()),
                None => (span, span, span),
            }
        }
    };
    let encode_ok = quote_spanned! {ok_span=>
        {
            let __ipc_kind = (&&__ipc::OkProbe(&__ipc_v)).__ipc_ok_kind();
            __ipc_kind.encode(__ipc_v, __ipc_out)
        }
    };
    let convert_err = quote_spanned! {err_span=>
        (&&&&__ipc::ErrProbe(&__ipc_e)).__ipc_err_kind().convert(__ipc_e)
    };
    quote_spanned! {span=>
        {
            #[allow(unused_imports)]
            use __ipc::{
                BytesOkKind as _, DataErrKind as _, DescribedErrKind as _, DisplayErrKind as _,
                InvokeErrKind as _, PlainKind as _, ResultKind as _, SerializeOkKind as _,
            };
            match (&__ipc_r).__ipc_result_kind().into_result(__ipc_r) {
                ::core::result::Result::Ok(__ipc_v) => #encode_ok,
                ::core::result::Result::Err(__ipc_e) => ::core::result::Result::Err(#convert_err),
            }
        }
    }
}

/// `T` and `E` of a return type written `Result<T, E>` (any path ending in
/// `Result`). Used for error spans only: which code runs is decided by the
/// type system, so an alias such as `io::Result<T>` just gets the whole type's span.
fn result_args(ty: &Type) -> Option<(&Type, &Type)> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    match (types.next(), types.next(), types.next()) {
        (Some(ok), Some(err), None) => Some((ok, err)),
        _ => None,
    }
}

/// `return Pending::Ready(Err(e))` on error.
pub(crate) fn try_or_return(expr: TokenStream) -> TokenStream {
    quote! {
        match #expr {
            ::core::result::Result::Ok(__ipc_value) => __ipc_value,
            ::core::result::Result::Err(__ipc_error) => {
                return __ipc::Pending::Ready(::core::result::Result::Err(__ipc_error));
            }
        }
    }
}
