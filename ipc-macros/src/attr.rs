//! The options inside `#[command(...)]` and `#[listen(...)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Path};

use crate::case::RenameAll;
use crate::ctxt::Ctxt;

pub(crate) const RENAME: &str = "rename";
pub(crate) const RENAME_ALL: &str = "rename_all";
pub(crate) const BLOCKING: &str = "blocking";
pub(crate) const CRATE: &str = "crate";

const COMMAND_KEYS: &str =
    "`rename = \"...\"`, `rename_all = \"...\"`, `blocking`, `crate = \"...\"`";
const LISTEN_KEYS: &str = "`blocking`, `crate = \"...\"`";
const EVENT_KEYS: &str = "`crate = \"...\"`";

/// Options of `#[command]`.
pub(crate) struct CommandAttr {
    pub(crate) rename: Option<LitStr>,
    pub(crate) rename_all: RenameAll,
    pub(crate) blocking: Option<Span>,
    pub(crate) krate: Path,
}

/// Options of `#[listen]` and `#[event]`: the event's name, then options
/// (`blocking` is for listeners only).
pub(crate) struct NamedAttr {
    pub(crate) event: Option<LitStr>,
    pub(crate) blocking: Option<Span>,
    pub(crate) krate: Path,
}

/// Options of `#[listen]`.
pub(crate) type ListenAttr = NamedAttr;
/// Options of `#[event]`.
pub(crate) type EventAttr = NamedAttr;

fn default_crate() -> Path {
    syn::parse_quote!(::ipc_runtime)
}

/// Tracks keys already given, for "duplicate attribute" errors.
#[derive(Default)]
struct Seen(Vec<&'static str>);

impl Seen {
    fn first(&mut self, key: &'static str, span: Span, cx: &mut Ctxt) -> bool {
        if self.0.contains(&key) {
            cx.error_at(span, format!("duplicate option `{key}`: give it once"));
            false
        } else {
            self.0.push(key);
            true
        }
    }
}

pub(crate) fn parse_command(args: TokenStream, cx: &mut Ctxt) -> CommandAttr {
    let mut attr = CommandAttr {
        rename: None,
        rename_all: RenameAll::CamelCase,
        blocking: None,
        krate: default_crate(),
    };
    let mut seen = Seen::default();
    let parser = syn::meta::parser(|meta| {
        let span = meta
            .path
            .segments
            .first()
            .map_or_else(Span::call_site, |s| s.ident.span());
        if meta.path.is_ident(RENAME) {
            let value: LitStr = meta.value()?.parse()?;
            if seen.first(RENAME, span, cx) {
                attr.rename = Some(value);
            }
        } else if meta.path.is_ident(RENAME_ALL) {
            let value: LitStr = meta.value()?.parse()?;
            if seen.first(RENAME_ALL, span, cx) {
                match RenameAll::parse(&value.value()) {
                    Some(rule) => attr.rename_all = rule,
                    None => cx.error_spanned_by(
                        &value,
                        format!("unknown `rename_all` rule; expected {}", RenameAll::VALUES),
                    ),
                }
            }
        } else if meta.path.is_ident(BLOCKING) {
            if seen.first(BLOCKING, span, cx) {
                attr.blocking = Some(span);
            }
        } else if meta.path.is_ident(CRATE) {
            let value: LitStr = meta.value()?.parse()?;
            if seen.first(CRATE, span, cx) {
                attr.krate = value.parse()?;
            }
        } else {
            let path = &meta.path;
            let name = quote::quote!(#path).to_string().replace(' ', "");
            cx.error_spanned_by(
                &meta.path,
                format!("unknown #[command] option `{name}`; expected one of {COMMAND_KEYS}"),
            );
            // Skip a value, if there is one, so the next option still parses.
            if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
        }
        Ok(())
    });
    if let Err(e) = parser.parse2(args) {
        cx.push(e);
    }
    attr
}

pub(crate) fn parse_listen(args: TokenStream, cx: &mut Ctxt) -> ListenAttr {
    parse_named(args, cx, "#[listen]", true)
}

pub(crate) fn parse_event(args: TokenStream, cx: &mut Ctxt) -> EventAttr {
    parse_named(args, cx, "#[event]", false)
}

/// `#[listen]` and `#[event]`: the event's name as a string literal, then
/// options (`crate = "..."`, and for listeners `blocking`).
fn parse_named(
    args: TokenStream,
    cx: &mut Ctxt,
    attribute: &str,
    blocking_allowed: bool,
) -> NamedAttr {
    let keys = if blocking_allowed {
        LISTEN_KEYS
    } else {
        EVENT_KEYS
    };
    let is_option = |p: &Path| (blocking_allowed && p.is_ident(BLOCKING)) || p.is_ident(CRATE);
    let mut attr = NamedAttr {
        event: None,
        blocking: None,
        krate: default_crate(),
    };
    let parser = |input: ParseStream<'_>| -> syn::Result<()> {
        let first = input.fork().call(Path::parse_mod_style).ok();
        if input.peek(LitStr) {
            attr.event = Some(input.parse()?);
            if input.is_empty() {
                return Ok(());
            }
            input.parse::<syn::Token![,]>()?;
        } else if input.is_empty() || first.as_ref().is_some_and(is_option) {
            let name = attribute.trim_start_matches("#[").trim_end_matches(']');
            let message =
                format!("{attribute} needs the event's name first: #[{name}(\"event-name\")]");
            match first.as_ref().filter(|p| is_option(p)) {
                Some(option) => cx.error_spanned_by(option, message),
                None => cx.error_at(Span::call_site(), message),
            }
        } else {
            // `#[listen(ready)]` or `#[listen(EVENT)]`: the macro cannot read a
            // constant's value, so the name must be written out.
            let hint = first
                .as_ref()
                .and_then(Path::get_ident)
                .map_or_else(|| "event-name".to_owned(), ToString::to_string);
            let name = attribute.trim_start_matches("#[").trim_end_matches(']');
            let message = format!("the event name must be a string literal: #[{name}(\"{hint}\")]");
            return Err(match &first {
                Some(path) => syn::Error::new_spanned(path, message),
                None => input.error(message),
            });
        }
        let mut seen = Seen::default();
        while !input.is_empty() {
            let path: Path = input.call(Path::parse_mod_style)?;
            let span = path
                .segments
                .first()
                .map_or_else(Span::call_site, |s| s.ident.span());
            if blocking_allowed && path.is_ident(BLOCKING) {
                if seen.first(BLOCKING, span, cx) {
                    attr.blocking = Some(span);
                }
            } else if path.is_ident(CRATE) {
                input.parse::<syn::Token![=]>()?;
                let value: LitStr = input.parse()?;
                if seen.first(CRATE, span, cx) {
                    attr.krate = value.parse()?;
                }
            } else {
                let name = quote::quote!(#path).to_string().replace(' ', "");
                return Err(syn::Error::new_spanned(
                    &path,
                    format!(
                        "unknown {attribute} option `{name}`; expected the event name as a string, then {keys}"
                    ),
                ));
            }
            if input.is_empty() {
                break;
            }
            input.parse::<syn::Token![,]>()?;
        }
        Ok(())
    };
    if let Err(e) = parser.parse2(args) {
        cx.push(e);
    }
    attr
}
