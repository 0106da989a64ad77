//! `#[command]`: parse → check → expand.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{ItemFn, LitStr};

use crate::attr::{self, CommandAttr};
use crate::ctxt::{Ctxt, errors_with_item};
use crate::describe;
use crate::expand::{self, Kind};
use crate::signature::{self, Role, Signature};

/// The most arguments a command may take (the runtime's slot tuples go to 16).
const MAX_ARGS: usize = 16;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    // The options first, so their mistakes are reported even when the item
    // is not a function.
    let mut cx = Ctxt::default();
    let attr = attr::parse_command(args, &mut cx);
    let func = match signature::parse_fn(&item, Role::Command) {
        Ok(func) => func,
        Err(error) => return cx.abort(error, item),
    };
    let sig = signature::analyze(&func, Role::Command, &mut cx);
    let name = wire_name(&attr, &sig, &mut cx);
    let wire_names: Vec<String> = sig
        .args
        .iter()
        .map(|a| attr.rename_all.apply(&a.name))
        .collect();
    check(&attr, &sig, &wire_names, &mut cx);
    if let Err(error) = cx.check() {
        return errors_with_item(error, item);
    }
    let generated = generate(&attr, &sig, &func, &name, &wire_names);
    quote! {
        #func
        #generated
    }
}

/// The command's name on the wire: `rename`, or the function's name.
fn wire_name(attr: &CommandAttr, sig: &Signature<'_>, cx: &mut Ctxt) -> String {
    let (name, span) = match &attr.rename {
        Some(lit) => (lit.value(), lit.span()),
        None => (
            syn::ext::IdentExt::unraw(sig.ident).to_string(),
            sig.ident.span(),
        ),
    };
    if name.is_empty() {
        cx.error_at(
            span,
            "a command name cannot be empty; remove `rename` to use the function's name",
        );
    } else if let Some(prefix) = ipc_core::method::RESERVED_PREFIXES
        .iter()
        .find(|p| name.starts_with(*p))
    {
        // `rpc.` belongs to JSON-RPC, `ipc.` to the framework's own protocol.
        cx.error_at(span, format!("command names cannot start with `{prefix}`: that namespace is reserved for the protocol; choose another name"));
    } else if let Some(bad) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        cx.error_at(
            span,
            format!("command names cannot contain {bad:?}; use `.`, `_` or `-` to separate words"),
        );
    }
    name
}

fn check(attr: &CommandAttr, sig: &Signature<'_>, wire_names: &[String], cx: &mut Ctxt) {
    if let (Some(span), true) = (attr.blocking, sig.is_async) {
        // An async fn already yields instead of blocking; the pool is for sync code.
        cx.error_at(span, "`blocking` is for sync functions; an `async fn` command already runs without blocking the dispatcher: remove `blocking`");
    }
    if sig.args.len() > MAX_ARGS {
        cx.error_at(
            sig.args[MAX_ARGS].span,
            format!("a #[command] takes at most {MAX_ARGS} arguments; group them in a struct"),
        );
    }
    for (i, name) in wire_names.iter().enumerate() {
        if let Some(j) = wire_names[..i].iter().position(|earlier| earlier == name) {
            cx.error_at(
                sig.args[i].span,
                format!(
                    "arguments `{}` and `{}` are both `{name}` on the wire; rename one of them",
                    sig.args[j].name, sig.args[i].name
                ),
            );
        }
    }
}

fn generate(
    attr: &CommandAttr,
    sig: &Signature<'_>,
    func: &ItemFn,
    name: &str,
    wire_names: &[String],
) -> TokenStream {
    let krate = &attr.krate;
    let ident = sig.ident;
    let vis = &func.vis;
    let function = syn::ext::IdentExt::unraw(ident).to_string();
    let kind = Kind::of(sig, attr.blocking);
    let kind_variant = kind.variant();
    let site = expand::site(ident);
    let name = LitStr::new(name, ident.span());
    let count = sig.args.len();

    let specs = sig.args.iter().zip(wire_names).map(|(arg, wire)| {
        let ty = arg.ty_text();
        quote!(__ipc::ArgSpec { name: #wire, ty: #ty })
    });
    // One slot per argument; the probe picks injection or params by type.
    let slots: Vec<TokenStream> = sig
        .args
        .iter()
        .map(|arg| {
            let owned = arg.owned_ty();
            quote_spanned! {arg.ty_span()=>
                (&&&&__ipc::ArgProbe::<#owned>::NEW).__ipc_arg_kind().slot()
            }
        })
        .collect();
    // No block ending in `()` for a command without arguments: clippy's
    // `unused_unit` would fire on the user's attribute.
    let slots_tuple = if slots.is_empty() {
        quote!(())
    } else {
        quote! {{
            #[allow(unused_imports)]
            use __ipc::{InjectKind as _, ParamKind as _, SpecialKind as _, UnsupportedKind as _};
            (#(#slots,)*)
        }}
    };
    let slot_vars: Vec<_> = (0..count)
        .map(|i| quote::format_ident!("__ipc_slot{i}"))
        .collect();
    let finish = (0..count).map(|i| {
        let var = expand::arg_var(i);
        let slot = &slot_vars[i];
        let value = expand::try_or_return(quote!(__ipc_call.finish(#slot, &__IPC_ARGS[#i])));
        quote!(let #var = #value;)
    });
    let read = expand::try_or_return(quote!(__ipc_call.read_args(&__IPC_ARGS, &mut __ipc_slots)));
    let call = expand::call_and_encode(sig, kind);
    let types = describe::command_types(&sig.args, sig.output);
    let docs = describe::docs(&func.attrs);

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        const _: () = {
            use #krate::__private as __ipc;

            static __IPC_ARGS: [__ipc::ArgSpec; #count] = [#(#specs),*];

            macro_rules! __ipc_slots {
                () => { #slots_tuple };
            }

            fn __ipc_reads_params() -> u64 {
                __ipc::Slots::params_mask(&__ipc_slots!())
            }

            #[allow(unused_mut, unused_variables, clippy::let_unit_value)]
            fn __ipc_shim(mut __ipc_call: __ipc::Invocation<'_>) -> __ipc::Pending {
                let mut __ipc_slots = __ipc_slots!();
                #read;
                let (#(#slot_vars,)*) = __ipc_slots;
                #(#finish)*
                let __ipc_out = __ipc_call.take_out();
                #call
            }

            #types

            static __IPC_COMMAND: __ipc::CommandRegistration = __ipc::CommandRegistration {
                name: #name,
                function: #function,
                args: &__IPC_ARGS,
                reads_params: __ipc_reads_params,
                shim: __ipc_shim,
                kind: __ipc::CommandKind::#kind_variant,
                site: #site,
                docs: #docs,
                types: __ipc_types,
            };

            __ipc::inventory::submit! {
                __ipc::Registered::Command(&__IPC_COMMAND)
            }

            impl __ipc::CommandDef for #ident {
                const REGISTRATION: &'static __ipc::CommandRegistration = &__IPC_COMMAND;
            }
        };
    }
}
