//! Collects every error found in one attribute, so the user sees them all at once.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Option<syn::Error>,
}

impl Ctxt {
    /// Records an error at the span of `tokens`.
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&mut self, tokens: T, message: M) {
        self.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records an error at `span`.
    pub(crate) fn error_at<M: Display>(&mut self, span: proc_macro2::Span, message: M) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(error),
            None => self.errors = Some(error),
        }
    }

    /// Records `error`, one that stops the expansion, and returns every error
    /// recorded so far followed by the user's item unchanged.
    pub(crate) fn abort(mut self, error: syn::Error, item: TokenStream) -> TokenStream {
        self.push(error);
        match self.errors {
            Some(errors) => errors_with_item(errors, item),
            None => item,
        }
    }

    /// The combined errors, if any.
    pub(crate) fn check(self) -> Result<(), syn::Error> {
        match self.errors {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// On failure, the errors followed by the user's item unchanged, so one mistake
/// does not turn every use of the function into a second error.
pub(crate) fn errors_with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = error.to_compile_error();
    out.extend(item);
    out
}
