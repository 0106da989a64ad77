//! The model of an annotated function, and the checks every `#[command]` and
//! `#[listen]` function must pass. Each check explains why it exists.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{FnArg, Ident, Item, ItemFn, Pat, ReturnType, Type};

use crate::ctxt::Ctxt;

/// What kind of item an attribute is on, for messages.
#[derive(Clone, Copy)]
pub(crate) enum Role {
    Command,
    Listener,
}

impl Role {
    fn attribute(self) -> &'static str {
        match self {
            Role::Command => "#[command]",
            Role::Listener => "#[listen]",
        }
    }

    /// Why arguments must be named, for messages.
    fn why_named(self) -> &'static str {
        match self {
            Role::Command => ": the name is what the caller sends",
            Role::Listener => "",
        }
    }
}

pub(crate) struct Signature<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) is_async: bool,
    pub(crate) args: Vec<Arg<'a>>,
    pub(crate) output: &'a ReturnType,
}

pub(crate) struct Arg<'a> {
    /// The binding's name without `r#`.
    pub(crate) name: String,
    pub(crate) span: Span,
    /// The type as written.
    pub(crate) ty: &'a Type,
    /// For `&T`: `T` (the argument is read as `T::Owned` and lent to the function).
    pub(crate) borrowed: Option<&'a Type>,
}

impl Arg<'_> {
    /// The type read from the params or injected: `T::Owned` for `&T` (spanned
    /// at `T`, so "cannot be borrowed" errors point there).
    pub(crate) fn owned_ty(&self) -> proc_macro2::TokenStream {
        match self.borrowed {
            Some(inner) => quote_spanned!(inner.span()=> <#inner as ::std::borrow::ToOwned>::Owned),
            None => {
                let ty = self.ty;
                quote!(#ty)
            }
        }
    }

    /// Where the type is written, for errors about it.
    pub(crate) fn ty_span(&self) -> Span {
        self.ty.span()
    }

    /// The type as written, for messages and the registration record.
    pub(crate) fn ty_text(&self) -> String {
        let ty = self.ty;
        tidy_tokens(&quote!(#ty).to_string())
    }
}

/// `Option < String >` → `Option<String>`.
pub(crate) fn tidy_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.peek().copied();
            let glue = matches!(prev, Some('<' | '&' | ':' | '(' | '['))
                || matches!(next, Some('<' | '>' | ',' | ':' | ')' | ']'));
            if glue {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The function the attribute is on, or an error at the item's keyword and
/// name saying what it is instead.
pub(crate) fn parse_fn(item: &TokenStream, role: Role) -> syn::Result<ItemFn> {
    let attr = role.attribute();
    let item: Item = match syn::parse2(item.clone()) {
        Ok(Item::Fn(func)) => return Ok(func),
        Ok(other) => other,
        Err(_) => {
            return Err(syn::Error::new_spanned(
                item,
                format!("{attr} goes on a free function (`fn` or `async fn`)"),
            ));
        }
    };
    let (what, tokens) = match &item {
        Item::Struct(i) => ("a struct", join_tokens(&i.struct_token, &i.ident)),
        Item::Enum(i) => ("an enum", join_tokens(&i.enum_token, &i.ident)),
        Item::Union(i) => ("a union", join_tokens(&i.union_token, &i.ident)),
        Item::Trait(i) => ("a trait", join_tokens(&i.trait_token, &i.ident)),
        Item::Type(i) => ("a type alias", join_tokens(&i.type_token, &i.ident)),
        Item::Mod(i) => ("a module", join_tokens(&i.mod_token, &i.ident)),
        Item::Const(i) => ("a constant", join_tokens(&i.const_token, &i.ident)),
        Item::Static(i) => ("a static", join_tokens(&i.static_token, &i.ident)),
        // Commands cannot be methods: point at `impl Type`, not at its whole body.
        Item::Impl(i) => ("an `impl` block", join_tokens(&i.impl_token, &i.self_ty)),
        other => ("this item", other.to_token_stream()),
    };
    Err(syn::Error::new_spanned(
        tokens,
        format!("{attr} goes on a free function (`fn` or `async fn`), not on {what}"),
    ))
}

fn join_tokens(keyword: &dyn ToTokens, name: &dyn ToTokens) -> TokenStream {
    let mut tokens = keyword.to_token_stream();
    name.to_tokens(&mut tokens);
    tokens
}

/// Builds the model, recording every unsupported construct in `cx`.
pub(crate) fn analyze<'a>(func: &'a ItemFn, role: Role, cx: &mut Ctxt) -> Signature<'a> {
    let sig = &func.sig;
    let attr = role.attribute();

    // The runtime calls the function through a plain `fn` pointer it builds at
    // compile time; it has no value to call a method on and no types to choose
    // generics with.
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format!("{attr} functions cannot be generic: the runtime must know the concrete argument types; write a non-generic function that calls the generic one"),
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            format!(
                "{attr} functions cannot have a `where` clause: they are not generic; remove it"
            ),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(unsafety, format!("{attr} functions cannot be `unsafe`: a caller over IPC cannot uphold a safety contract; remove `unsafe` and use an `unsafe` block inside"));
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            format!("{attr} functions must use the Rust ABI; remove `extern`"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, format!("{attr} functions cannot be variadic"));
    }

    let is_async = sig.asyncness.is_some();
    let mut args = Vec::new();
    for input in &sig.inputs {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                cx.error_spanned_by(
                    receiver,
                    format!("{attr} functions cannot take `self`: they are free functions; move it out of the `impl` and reach shared data through `State<T>`"),
                );
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let name = match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                pat.ident.unraw().to_string()
            }
            Pat::Wild(wild) => {
                let why = role.why_named();
                cx.error_spanned_by(
                    wild,
                    format!(
                        "{attr} arguments need a name{why}; write `_name: Type` for an unused one"
                    ),
                );
                continue;
            }
            other => {
                let why = role.why_named();
                cx.error_spanned_by(
                    other,
                    format!("{attr} arguments must be plain names (`name: Type`){why}; destructure inside the function"),
                );
                continue;
            }
        };
        let ty = &*typed.ty;
        check_type(ty, is_async, attr, cx);
        let borrowed = match ty {
            Type::Reference(reference) => Some(&*reference.elem),
            _ => None,
        };
        args.push(Arg {
            name,
            span: typed.pat.span(),
            ty,
            borrowed,
        });
    }
    Signature {
        ident: &sig.ident,
        is_async,
        args,
        output: &sig.output,
    }
}

fn check_type(ty: &Type, is_async: bool, attr: &str, cx: &mut Ctxt) {
    struct Finder<'c> {
        cx: &'c mut Ctxt,
        attr: &'c str,
        is_async: bool,
        top: bool,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
            // The argument's concrete type decides how it is read.
            self.cx.error_spanned_by(
                node.impl_token,
                format!(
                    "{} arguments cannot be `impl Trait`: name a concrete type",
                    self.attr
                ),
            );
        }
        fn visit_type_reference(&mut self, node: &'ast syn::TypeReference) {
            if let Some(mutability) = &node.mutability {
                self.cx.error_spanned_by(
                    join_tokens(&node.and_token, mutability),
                    format!("{} arguments cannot be `&mut`: each call gets its own values; use `State<T>` with a lock for shared, mutable data", self.attr),
                );
            } else if self.is_async {
                // The future outlives the message it was read from.
                self.cx.error_spanned_by(
                    node,
                    format!("async {} functions cannot borrow arguments: the future must own them; take `String` for `&str`, `Vec<T>` for `&[T]`, `T` for `&T`", self.attr),
                );
                return;
            } else if !self.top {
                self.cx.error_spanned_by(
                    node,
                    format!("{} arguments may borrow only at the top (`&str`, `&[T]`, `&T`), not inside another type; use an owned type, e.g. `Option<String>` for `Option<&str>`", self.attr),
                );
                return;
            }
            self.top = false;
            syn::visit::visit_type_reference(self, node);
        }
        fn visit_lifetime(&mut self, node: &'ast syn::Lifetime) {
            if self.is_async && node.ident != "static" {
                self.cx.error_spanned_by(
                    node,
                    format!("async {} functions cannot take borrowed arguments: the future must own them; use an owned type (`String`, `Cow<'static, str>`, ...)", self.attr),
                );
            }
        }
        fn visit_type(&mut self, node: &'ast Type) {
            if !matches!(node, Type::Reference(_)) {
                self.top = false;
            }
            syn::visit::visit_type(self, node);
        }
    }
    let mut finder = Finder {
        cx,
        attr,
        is_async,
        top: true,
    };
    if let Type::Reference(reference) = ty {
        finder.visit_type_reference(reference);
    } else {
        finder.visit_type(ty);
    }
}

#[cfg(test)]
mod tests {
    use super::tidy_tokens;

    #[test]
    fn tidies_spaced_tokens() {
        assert_eq!(tidy_tokens("Option < String >"), "Option<String>");
        assert_eq!(tidy_tokens("State < Todos >"), "State<Todos>");
        assert_eq!(tidy_tokens("& str"), "&str");
        assert_eq!(
            tidy_tokens("HashMap < String , Vec < u8 > >"),
            "HashMap<String, Vec<u8>>"
        );
        assert_eq!(tidy_tokens("std :: path :: PathBuf"), "std::path::PathBuf");
        assert_eq!(tidy_tokens("(i32 , bool)"), "(i32, bool)");
        assert_eq!(tidy_tokens("[u8 ; 4]"), "[u8 ; 4]");
    }
}
