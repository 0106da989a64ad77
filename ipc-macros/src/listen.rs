//! `#[listen("event")]`: parse → check → expand.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;

use crate::attr::{self, ListenAttr};
use crate::ctxt::{Ctxt, errors_with_item};
use crate::describe;
use crate::expand::{self, Kind};
use crate::signature::{self, Role, Signature};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    // The options first, so their mistakes are reported even when the item
    // is not a function.
    let mut cx = Ctxt::default();
    let attr = attr::parse_listen(args, &mut cx);
    let func = match signature::parse_fn(&item, Role::Listener) {
        Ok(func) => func,
        Err(error) => return cx.abort(error, item),
    };
    let sig = signature::analyze(&func, Role::Listener, &mut cx);
    check(&attr, &sig, &func, &mut cx);
    if let Err(error) = cx.check() {
        return errors_with_item(error, item);
    }
    let generated = generate(&attr, &sig, &func);
    quote! {
        #func
        #generated
    }
}

fn check(attr: &ListenAttr, sig: &Signature<'_>, func: &ItemFn, cx: &mut Ctxt) {
    if func.sig.inputs.is_empty() {
        // The payload is what the event carries; without it the listener could
        // not tell events apart from noise. `()` accepts any payload-less event.
        cx.error_spanned_by(
            &func.sig.ident,
            "a #[listen] function takes the event's payload as its first argument: `fn on_event(payload: T)`; use `payload: ()` for events without one",
        );
    }
    if let (Some(span), true) = (attr.blocking, sig.is_async) {
        cx.error_at(span, "`blocking` is for sync functions; an `async fn` listener already runs without blocking: remove `blocking`");
    }
}

fn generate(attr: &ListenAttr, sig: &Signature<'_>, func: &ItemFn) -> TokenStream {
    let krate = &attr.krate;
    let ident = sig.ident;
    let vis = &func.vis;
    let event = attr.event.as_ref().map(|e| e.value()).unwrap_or_default();
    let function = syn::ext::IdentExt::unraw(ident).to_string();
    let kind = Kind::of(sig, attr.blocking);
    let kind_variant = kind.variant();
    let site = expand::site(ident);

    // The first argument is the payload; the rest are injected.
    let args = sig.args.iter().enumerate().map(|(i, arg)| {
        let var = expand::arg_var(i);
        let owned = arg.owned_ty();
        let value = if i == 0 {
            let ty = arg.ty_text();
            quote_spanned!(arg.ty_span()=> __ipc_call.payload::<#owned>(#ty))
        } else {
            quote_spanned!(arg.ty_span()=> __ipc_call.inject::<#owned>())
        };
        let value = expand::try_or_return(value);
        quote!(let #var = #value;)
    });
    let call = expand::call_and_encode(sig, kind);
    let payload = describe::listener_payload(&sig.args);

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        const _: () = {
            use #krate::__private as __ipc;

            #[allow(unused_mut, unused_variables, clippy::let_unit_value)]
            fn __ipc_shim(mut __ipc_call: __ipc::Invocation<'_>) -> __ipc::Pending {
                #(#args)*
                let __ipc_out = __ipc_call.take_out();
                #call
            }

            #payload

            static __IPC_LISTENER: __ipc::ListenerRegistration = __ipc::ListenerRegistration {
                event: #event,
                function: #function,
                shim: __ipc_shim,
                kind: __ipc::CommandKind::#kind_variant,
                site: #site,
                payload: __ipc_payload,
            };

            __ipc::inventory::submit! {
                __ipc::Registered::Listener(&__IPC_LISTENER)
            }

            impl __ipc::ListenerDef for #ident {
                const REGISTRATION: &'static __ipc::ListenerRegistration = &__IPC_LISTENER;
            }
        };
    }
}
