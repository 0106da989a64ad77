//! `#[event("name")]` on a payload type: parse → check → expand.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Attribute, Generics, Ident, Item};

use crate::attr::{self, EventAttr};
use crate::ctxt::{Ctxt, errors_with_item};
use crate::describe;
use crate::expand;

/// The parts of the struct or enum the attribute is on.
struct PayloadType<'a> {
    ident: &'a Ident,
    generics: &'a Generics,
    attrs: &'a [Attribute],
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    // The options first, so their mistakes are reported even when the item
    // is not a payload type.
    let mut cx = Ctxt::default();
    let attr = attr::parse_event(args, &mut cx);
    let parsed: Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &item,
                "#[event] goes on the payload type (a struct or an enum)",
            );
            return cx.abort(error, item);
        }
    };
    let ty = match &parsed {
        Item::Struct(s) => PayloadType {
            ident: &s.ident,
            generics: &s.generics,
            attrs: &s.attrs,
        },
        Item::Enum(e) => PayloadType {
            ident: &e.ident,
            generics: &e.generics,
            attrs: &e.attrs,
        },
        Item::Fn(f) => {
            let error = syn::Error::new_spanned(
                &f.sig.ident,
                "#[event] goes on the payload type (a struct or an enum), not on a function; to run a function on an event, use #[listen(\"event-name\")]",
            );
            return cx.abort(error, item);
        }
        other => {
            let error = syn::Error::new_spanned(
                other
                    .to_token_stream()
                    .into_iter()
                    .take(2)
                    .collect::<TokenStream>(),
                "#[event] goes on the payload type (a struct or an enum)",
            );
            return cx.abort(error, item);
        }
    };
    check(&ty, &mut cx);
    if let Err(error) = cx.check() {
        return errors_with_item(error, item);
    }
    let generated = generate(&attr, &ty);
    quote! {
        #item
        #generated
    }
}

fn check(ty: &PayloadType<'_>, cx: &mut Ctxt) {
    // One event name, one payload type: a generic type would be many.
    if !ty.generics.params.is_empty() {
        cx.error_spanned_by(
            ty.generics,
            "an #[event] type cannot be generic or borrow: the event's payload is one owned type; declare a non-generic wrapper",
        );
    }
}

fn generate(attr: &EventAttr, ty: &PayloadType<'_>) -> TokenStream {
    let krate = &attr.krate;
    let ident = ty.ident;
    let event = attr.event.as_ref().map(|e| e.value()).unwrap_or_default();
    let docs = describe::docs(ty.attrs);
    let name = ident.to_string();
    let site = expand::site(ident);
    let payload = describe::payload_type(quote!(#ident));
    let replay = attr.replay;
    let bridge = attr.bridge;
    quote! {
        const _: () = {
            use #krate::__private as __ipc;

            #payload

            static __IPC_EVENT: __ipc::EventRegistration = __ipc::EventRegistration {
                event: #event,
                payload_type: ::core::concat!(::core::module_path!(), "::", #name),
                docs: #docs,
                payload: __ipc_payload,
                site: #site,
                replay: #replay,
                bridge: #bridge,
            };

            __ipc::inventory::submit! {
                __ipc::DeclaredEvent(&__IPC_EVENT)
            }

            impl __ipc::TypedEvent for #ident {
                const NAME: &'static str = #event;
                const REGISTRATION: &'static __ipc::EventRegistration = &__IPC_EVENT;
            }
        };
    }
}
