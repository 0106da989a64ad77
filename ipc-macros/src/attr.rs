//! The options inside `#[command(...)]`, `#[listen(...)]` and `#[event(...)]`.
//!
//! The arguments are split at their top-level commas and each entry is read on
//! its own: a malformed entry is reported and skipped, and the entries after it
//! are still read, so the user sees every mistake in an attribute at once.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{Lit, LitStr, Path, Token};

use crate::case::RenameAll;
use crate::ctxt::Ctxt;

pub(crate) const RENAME: &str = "rename";
pub(crate) const RENAME_ALL: &str = "rename_all";
pub(crate) const BLOCKING: &str = "blocking";
pub(crate) const CRATE: &str = "crate";
pub(crate) const REPLAY: &str = "replay";
pub(crate) const LAST: &str = "last";
pub(crate) const BRIDGE: &str = "bridge";

/// Options of `#[command]`.
pub(crate) struct CommandAttr {
    pub(crate) rename: Option<LitStr>,
    pub(crate) rename_all: RenameAll,
    pub(crate) blocking: Option<Span>,
    pub(crate) krate: Path,
}

/// Options of `#[listen]` and `#[event]`: the event's name, then options
/// (`blocking` is for listeners only; `replay` and `last` for events only).
pub(crate) struct NamedAttr {
    pub(crate) event: Option<LitStr>,
    pub(crate) blocking: Option<Span>,
    pub(crate) krate: Path,
    /// How many events to keep for resuming frontends (`last` is 1).
    pub(crate) replay: u32,
    /// Whether the event crosses between instances under
    /// `BridgeFilter::declared()` (`bridge`).
    pub(crate) bridge: bool,
}

/// Options of `#[listen]`.
pub(crate) type ListenAttr = NamedAttr;
/// Options of `#[event]`.
pub(crate) type EventAttr = NamedAttr;

fn default_crate() -> Path {
    syn::parse_quote!(::ipc_runtime)
}

/// An option's key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Rename,
    RenameAll,
    Blocking,
    Crate,
    Replay,
    Last,
    Bridge,
}

impl Key {
    const ALL: [Key; 7] = [
        Key::Rename,
        Key::RenameAll,
        Key::Blocking,
        Key::Crate,
        Key::Replay,
        Key::Last,
        Key::Bridge,
    ];

    fn name(self) -> &'static str {
        match self {
            Key::Rename => RENAME,
            Key::RenameAll => RENAME_ALL,
            Key::Blocking => BLOCKING,
            Key::Crate => CRATE,
            Key::Replay => REPLAY,
            Key::Last => LAST,
            Key::Bridge => BRIDGE,
        }
    }

    /// Whether it is written `key = value`; the others are flags (`key`).
    fn takes_value(self) -> bool {
        !matches!(self, Key::Blocking | Key::Last | Key::Bridge)
    }

    /// Whether its value is a number rather than a string.
    fn takes_number(self) -> bool {
        matches!(self, Key::Replay)
    }

    /// How it is written, for messages.
    fn usage(self) -> String {
        if self.takes_number() {
            format!("`{} = N`", self.name())
        } else if self.takes_value() {
            format!("`{} = \"...\"`", self.name())
        } else {
            format!("`{}`", self.name())
        }
    }

    /// The key `path` names, whichever attribute it belongs to.
    fn of(path: &Path) -> Option<Key> {
        Key::ALL.into_iter().find(|key| path.is_ident(key.name()))
    }
}

/// Which attribute is being read: the keys it accepts, and its name in messages.
#[derive(Clone, Copy)]
enum Attribute {
    Command,
    Listen,
    Event,
}

impl Attribute {
    fn name(self) -> &'static str {
        match self {
            Attribute::Command => "command",
            Attribute::Listen => "listen",
            Attribute::Event => "event",
        }
    }

    fn keys(self) -> &'static [Key] {
        match self {
            Attribute::Command => &[Key::Rename, Key::RenameAll, Key::Blocking, Key::Crate],
            Attribute::Listen => &[Key::Blocking, Key::Crate],
            Attribute::Event => &[Key::Replay, Key::Last, Key::Bridge, Key::Crate],
        }
    }

    /// What the attribute's arguments may be, for "unknown option" messages.
    fn expected(self) -> String {
        let keys: Vec<String> = self.keys().iter().map(|key| key.usage()).collect();
        let keys = keys.join(", ");
        match self {
            Attribute::Command => format!("expected one of {keys}"),
            Attribute::Listen | Attribute::Event => {
                format!("expected the event name as a string, then {keys}")
            }
        }
    }
}

/// The options as read; each attribute copies out the ones it accepts.
#[derive(Default)]
struct Options {
    rename: Option<LitStr>,
    rename_all: Option<RenameAll>,
    blocking: Option<Span>,
    krate: Option<Path>,
    replay: Option<u32>,
    last: bool,
    bridge: bool,
    /// Keys read so far, for "duplicate option" errors.
    seen: Vec<Key>,
}

pub(crate) fn parse_command(args: TokenStream, cx: &mut Ctxt) -> CommandAttr {
    let mut options = Options::default();
    for entry in split_entries(args, cx) {
        if let Some(lit) = string_literal(&entry) {
            // `#[command("greet")]`: a name where `#[listen]` takes one.
            let message = format!(
                "a #[command]'s wire name is given with `rename`: #[command(rename = {})]",
                quote!(#lit)
            );
            cx.error_spanned_by(&entry, message);
        } else {
            read_option(entry, Attribute::Command, &mut options, cx);
        }
    }
    CommandAttr {
        rename: options.rename,
        rename_all: options.rename_all.unwrap_or(RenameAll::CamelCase),
        blocking: options.blocking,
        krate: options.krate.unwrap_or_else(default_crate),
    }
}

pub(crate) fn parse_listen(args: TokenStream, cx: &mut Ctxt) -> ListenAttr {
    parse_named(args, Attribute::Listen, cx)
}

pub(crate) fn parse_event(args: TokenStream, cx: &mut Ctxt) -> EventAttr {
    parse_named(args, Attribute::Event, cx)
}

/// `#[listen]` and `#[event]`: the event's name as a string literal, then options.
fn parse_named(args: TokenStream, attribute: Attribute, cx: &mut Ctxt) -> NamedAttr {
    let name = attribute.name();
    let entries = split_entries(args, cx);
    let mut event = None;
    // The entry that holds the name, or the first one when it cannot be read
    // as an option either: it is not read again below.
    let mut taken = None;
    match entries.first() {
        None => cx.error_at(
            Span::call_site(),
            format!("#[{name}] needs the event's name first: #[{name}(\"event-name\")]"),
        ),
        Some(first) if string_literal(first).is_some() => {
            event = read_name(first, cx);
            taken = Some(0);
        }
        Some(first) => match first_entry(first) {
            First::NotString { tokens, hint } => {
                // `#[listen(ready)]` or `#[listen(EVENT)]`: the macro cannot
                // read a constant's value, so the name must be written out.
                cx.error_spanned_by(
                    tokens,
                    format!("the event name must be a string literal: #[{name}(\"{hint}\")]"),
                );
                taken = Some(0);
            }
            First::Option(path) => {
                let late = entries.iter().position(|e| string_literal(e).is_some());
                match late {
                    Some(i) => {
                        // `#[listen(blocking, "ready")]`: say where the name goes,
                        // and use it so the rest is still checked.
                        event = read_name(&entries[i], cx);
                        if let Some(lit) = &event {
                            cx.error_spanned_by(
                                lit,
                                format!(
                                    "the event's name goes first: #[{name}({}, ...)]",
                                    quote!(#lit)
                                ),
                            );
                        }
                        taken = Some(i);
                    }
                    None => cx.error_spanned_by(
                        path,
                        format!(
                            "#[{name}] needs the event's name first: #[{name}(\"event-name\")]"
                        ),
                    ),
                }
            }
        },
    }
    let mut options = Options::default();
    for (i, entry) in entries.into_iter().enumerate() {
        if taken == Some(i) {
            continue;
        }
        if string_literal(&entry).is_some() {
            cx.error_spanned_by(
                &entry,
                format!(
                    "#[{name}] takes one event name; for another event, write another #[{name}]"
                ),
            );
        } else {
            read_option(entry, attribute, &mut options, cx);
        }
    }
    NamedAttr {
        event,
        blocking: options.blocking,
        krate: options.krate.unwrap_or_else(default_crate),
        // `last` keeps one; `replay = N` keeps N (at least the one `last` wants).
        replay: options.replay.unwrap_or(0).max(u32::from(options.last)),
        bridge: options.bridge,
    }
}

/// What the first entry of `#[listen(...)]` or `#[event(...)]` is, when it is
/// not the name as a string literal.
enum First<'a> {
    /// Something meant as the name: another literal, or a path that is no
    /// option (`ready`, `EVENT`), with the name to suggest.
    NotString {
        tokens: &'a TokenStream,
        hint: String,
    },
    /// An option (a known key, or `key = ...`): the name is missing.
    Option(Path),
}

fn first_entry(entry: &TokenStream) -> First<'_> {
    let not_string = |hint: String| First::NotString {
        tokens: entry,
        hint,
    };
    match parse_option(entry.clone()) {
        Some(option) if Key::of(&option.path).is_some() || option.value.is_some() => {
            First::Option(option.path)
        }
        Some(option) if option.stray.is_empty() => not_string(
            option
                .path
                .get_ident()
                .map_or_else(|| "event-name".to_owned(), ToString::to_string),
        ),
        _ => not_string("event-name".to_owned()),
    }
}

/// The event's name from an entry starting with a string literal, checked
/// here (a name the runtime would refuse is a compile error) so that its error
/// comes before those of the options; anything after the literal is a missing
/// comma.
fn read_name(entry: &TokenStream, cx: &mut Ctxt) -> Option<LitStr> {
    let mut trees = entry.clone().into_iter();
    let lit = string_literal(&trees.next().into_iter().collect());
    if let Some(lit) = &lit
        && let Err(e) = ipc_core::EventName::validate(&lit.value())
    {
        cx.error_spanned_by(lit, format!("invalid event name: {e}"));
    }
    let rest: TokenStream = trees.collect();
    if !rest.is_empty() {
        cx.error_spanned_by(&rest, "expected `,` after the event's name");
    }
    lit
}

/// The string literal an entry starts with, if it does.
fn string_literal(entry: &TokenStream) -> Option<LitStr> {
    let first: TokenStream = entry.clone().into_iter().take(1).collect();
    match syn::parse2::<Lit>(first) {
        Ok(Lit::Str(lit)) => Some(lit),
        _ => None,
    }
}

/// The arguments split at top-level commas (a comma inside brackets belongs to
/// its group). A trailing comma is fine; an empty entry elsewhere is an error.
fn split_entries(args: TokenStream, cx: &mut Ctxt) -> Vec<TokenStream> {
    let mut entries = Vec::new();
    let mut current = TokenStream::new();
    for tree in args {
        match &tree {
            TokenTree::Punct(punct) if punct.as_char() == ',' => {
                if current.is_empty() {
                    cx.error_at(punct.span(), "expected an option before `,`");
                } else {
                    entries.push(std::mem::take(&mut current));
                }
            }
            _ => current.extend([tree]),
        }
    }
    if !current.is_empty() {
        entries.push(current);
    }
    entries
}

/// One entry read as `key`, `key = value`, or `key` followed by stray tokens.
struct OptionEntry {
    path: Path,
    /// The `=` and everything after it.
    value: Option<(Token![=], TokenStream)>,
    /// What follows a key that is not `=`: a missing comma or `=`.
    stray: TokenStream,
}

/// The entry as an option, or `None` when it does not start with a path.
fn parse_option(entry: TokenStream) -> Option<OptionEntry> {
    let parser = |input: ParseStream<'_>| -> syn::Result<OptionEntry> {
        let path = input.call(Path::parse_mod_style)?;
        if input.peek(Token![=]) {
            let eq = input.parse()?;
            let value = input.parse()?;
            Ok(OptionEntry {
                path,
                value: Some((eq, value)),
                stray: TokenStream::new(),
            })
        } else {
            let stray = input.parse()?;
            Ok(OptionEntry {
                path,
                value: None,
                stray,
            })
        }
    };
    parser.parse2(entry).ok()
}

/// Reads one option into `options`, or records why it cannot be read.
fn read_option(entry: TokenStream, attribute: Attribute, options: &mut Options, cx: &mut Ctxt) {
    let name = attribute.name();
    let Some(OptionEntry { path, value, stray }) = parse_option(entry.clone()) else {
        let expected = attribute.expected();
        cx.error_spanned_by(&entry, format!("not a #[{name}] option; {expected}"));
        return;
    };
    let Some(key) = Key::of(&path).filter(|key| attribute.keys().contains(key)) else {
        let written = quote!(#path).to_string().replace(' ', "");
        let expected = attribute.expected();
        cx.error_spanned_by(
            &path,
            format!("unknown #[{name}] option `{written}`; {expected}"),
        );
        return;
    };
    let key_name = key.name();
    let key_span = path
        .segments
        .first()
        .map_or_else(Span::call_site, |segment| segment.ident.span());
    if options.seen.contains(&key) {
        cx.error_at(
            key_span,
            format!("duplicate option `{key_name}`: give it once"),
        );
        return;
    }
    options.seen.push(key);
    if !stray.is_empty() {
        let message = if key.takes_value() {
            format!("expected `=` after `{key_name}`: `{key_name} = \"...\"`")
        } else {
            "expected `,` between options".to_owned()
        };
        cx.error_spanned_by(&stray, message);
        return;
    }
    match value {
        None if key.takes_value() => cx.error_at(
            key_span,
            format!("`{key_name}` needs a value: {}", key.usage()),
        ),
        None => set_flag(key, key_span, options),
        Some((eq, value)) if !key.takes_value() => cx.error_spanned_by(
            quote!(#eq #value),
            format!("`{key_name}` takes no value: write `{key_name}` alone"),
        ),
        Some((eq, value)) if key.takes_number() => {
            if let Some(number) = number_value(key, eq, value, cx) {
                options.replay = Some(number);
            }
        }
        Some((eq, value)) => {
            if let Some(lit) = string_value(key, eq, value, cx) {
                set_value(key, lit, options, cx);
            }
        }
    }
}

/// The positive integer after `key =`, or `None` after recording why it is not one.
fn number_value(key: Key, eq: Token![=], value: TokenStream, cx: &mut Ctxt) -> Option<u32> {
    let key_name = key.name();
    let message = format!("`{key_name}` takes a number of events from 1 up: `{key_name} = 64`");
    let first: TokenStream = value.clone().into_iter().take(1).collect();
    let Ok(Lit::Int(int)) = syn::parse2::<Lit>(first) else {
        if value.is_empty() {
            cx.error_spanned_by(eq, message);
        } else {
            cx.error_spanned_by(&value, message);
        }
        return None;
    };
    let rest: TokenStream = value.into_iter().skip(1).collect();
    if !rest.is_empty() {
        cx.error_spanned_by(&rest, "expected `,` between options");
        return None;
    }
    match int.base10_parse::<u32>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            cx.error_spanned_by(&int, message);
            None
        }
    }
}

/// The string literal after `key =`, or `None` after recording why it is not one.
fn string_value(key: Key, eq: Token![=], value: TokenStream, cx: &mut Ctxt) -> Option<LitStr> {
    let key_name = key.name();
    let message = format!("`{key_name}` takes a string: `{key_name} = \"...\"`");
    if value.is_empty() {
        cx.error_spanned_by(eq, message);
        return None;
    }
    let Some(lit) = string_literal(&value) else {
        cx.error_spanned_by(&value, message);
        return None;
    };
    let rest: TokenStream = value.into_iter().skip(1).collect();
    if !rest.is_empty() {
        cx.error_spanned_by(&rest, "expected `,` between options");
        return None;
    }
    Some(lit)
}

fn set_flag(key: Key, span: Span, options: &mut Options) {
    match key {
        Key::Blocking => options.blocking = Some(span),
        Key::Last => options.last = true,
        Key::Bridge => options.bridge = true,
        // Keys with a value are never flags (checked by the caller).
        Key::Rename | Key::RenameAll | Key::Crate | Key::Replay => {}
    }
}

fn set_value(key: Key, lit: LitStr, options: &mut Options, cx: &mut Ctxt) {
    match key {
        Key::Rename => options.rename = Some(lit),
        Key::RenameAll => match RenameAll::parse(&lit.value()) {
            Some(rule) => options.rename_all = Some(rule),
            None => cx.error_spanned_by(
                &lit,
                format!("unknown `rename_all` rule; expected {}", RenameAll::VALUES),
            ),
        },
        Key::Crate => match lit.parse_with(Path::parse_mod_style) {
            Ok(path) => options.krate = Some(path),
            Err(_) => cx.error_spanned_by(
                &lit,
                "`crate` takes the path of the `ipc-runtime` crate, such as `crate = \"my_ipc\"`",
            ),
        },
        // A flag, or a number: never a string to set (checked by the caller).
        Key::Blocking | Key::Last | Key::Bridge | Key::Replay => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message recorded while reading `args`, in order.
    fn messages(read: impl FnOnce(&mut Ctxt)) -> Vec<String> {
        let mut cx = Ctxt::default();
        read(&mut cx);
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn reads_every_command_option() {
        let mut cx = Ctxt::default();
        let attr = parse_command(
            quote!(
                rename = "a.b",
                rename_all = "snake_case",
                blocking,
                crate = "::my_ipc",
            ),
            &mut cx,
        );
        assert!(cx.check().is_ok());
        assert_eq!(attr.rename.map(|r| r.value()).as_deref(), Some("a.b"));
        assert_eq!(attr.rename_all, RenameAll::SnakeCase);
        assert!(attr.blocking.is_some());
        let krate = &attr.krate;
        assert_eq!(quote!(#krate).to_string(), ":: my_ipc");
    }

    #[test]
    fn reads_a_listeners_name_and_options() {
        let mut cx = Ctxt::default();
        let attr = parse_listen(quote!("app:ready", blocking, crate = "ipc"), &mut cx);
        assert!(cx.check().is_ok());
        assert_eq!(attr.event.map(|e| e.value()).as_deref(), Some("app:ready"));
        assert!(attr.blocking.is_some());
    }

    #[test]
    fn reports_every_bad_command_option() {
        let found = messages(|cx| {
            parse_command(
                quote!(
                    rename = 5,
                    blocking = true,
                    foo,
                    rename_all = "kebab",
                    rename = "x",
                    "greet"
                ),
                cx,
            );
        });
        assert_eq!(
            found,
            [
                "`rename` takes a string: `rename = \"...\"`",
                "`blocking` takes no value: write `blocking` alone",
                "unknown #[command] option `foo`; expected one of `rename = \"...\"`, `rename_all = \"...\"`, `blocking`, `crate = \"...\"`",
                "unknown `rename_all` rule; expected \"camelCase\" or \"snake_case\"",
                "duplicate option `rename`: give it once",
                "a #[command]'s wire name is given with `rename`: #[command(rename = \"greet\")]",
            ]
        );
    }

    #[test]
    fn reports_every_bad_listen_option() {
        let found = messages(|cx| {
            parse_listen(
                quote!("ready", foo = 1, crate, blocking blocking, crate = "a b", "again"),
                cx,
            );
        });
        assert_eq!(
            found,
            [
                "unknown #[listen] option `foo`; expected the event name as a string, then `blocking`, `crate = \"...\"`",
                "`crate` needs a value: `crate = \"...\"`",
                "expected `,` between options",
                "duplicate option `crate`: give it once",
                "#[listen] takes one event name; for another event, write another #[listen]",
            ]
        );
    }

    #[test]
    fn an_invalid_name_is_reported_before_the_options() {
        let found = messages(|cx| {
            parse_listen(quote!("has space", foo), cx);
        });
        assert_eq!(found.len(), 2);
        assert!(found[0].starts_with("invalid event name: "), "{found:?}");
        assert!(
            found[1].starts_with("unknown #[listen] option `foo`"),
            "{found:?}"
        );
    }

    #[test]
    fn a_misplaced_name_is_still_read() {
        let mut cx = Ctxt::default();
        let attr = parse_event(quote!(crate = "ipc", "ready"), &mut cx);
        assert_eq!(attr.event.map(|e| e.value()).as_deref(), Some("ready"));
        let found: Vec<String> = match cx.check() {
            Ok(()) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
        };
        assert_eq!(
            found,
            ["the event's name goes first: #[event(\"ready\", ...)]"]
        );
    }

    #[test]
    fn replay_takes_a_positive_number_and_last_keeps_one() {
        let mut cx = Ctxt::default();
        let attr = parse_event(quote!("progress", replay = 16), &mut cx);
        assert!(cx.check().is_ok());
        assert_eq!(attr.replay, 16);
        let mut cx = Ctxt::default();
        let attr = parse_event(quote!("theme", last), &mut cx);
        assert!(cx.check().is_ok());
        assert_eq!(attr.replay, 1);
        let wrong = messages(|cx| {
            parse_event(quote!("x", replay = 0, last = true), cx);
        });
        assert_eq!(
            wrong,
            [
                "`replay` takes a number of events from 1 up: `replay = 64`",
                "`last` takes no value: write `last` alone",
            ]
        );
        let on_listen = messages(|cx| {
            parse_listen(quote!("x", replay = 2), cx);
        });
        assert_eq!(
            on_listen.len(),
            1,
            "replay is an #[event] option: {on_listen:?}"
        );
    }

    #[test]
    fn bridge_is_an_event_flag() {
        let mut cx = Ctxt::default();
        let attr = parse_event(quote!("chat:message", replay = 5, bridge), &mut cx);
        assert!(cx.check().is_ok());
        assert!(attr.bridge);
        assert_eq!(attr.replay, 5);
        let mut cx = Ctxt::default();
        assert!(!parse_event(quote!("chat:message"), &mut cx).bridge);
        let wrong = messages(|cx| {
            parse_event(quote!("x", bridge = true), cx);
        });
        assert_eq!(wrong, ["`bridge` takes no value: write `bridge` alone"]);
        let on_listen = messages(|cx| {
            parse_listen(quote!("x", bridge), cx);
        });
        assert_eq!(
            on_listen,
            [
                "unknown #[listen] option `bridge`; expected the event name as a string, then `blocking`, `crate = \"...\"`"
            ]
        );
    }

    #[test]
    fn a_missing_or_unwritten_name_is_reported_once() {
        let none = messages(|cx| {
            parse_event(TokenStream::new(), cx);
        });
        assert_eq!(
            none,
            ["#[event] needs the event's name first: #[event(\"event-name\")]"]
        );
        let option_first = messages(|cx| {
            parse_event(quote!(blocking), cx);
        });
        assert_eq!(
            option_first,
            [
                "#[event] needs the event's name first: #[event(\"event-name\")]",
                "unknown #[event] option `blocking`; expected the event name as a string, then `replay = N`, `last`, `bridge`, `crate = \"...\"`",
            ]
        );
        let constant = messages(|cx| {
            parse_listen(quote!(READY, blocking), cx);
        });
        assert_eq!(
            constant,
            ["the event name must be a string literal: #[listen(\"READY\")]"]
        );
    }

    #[test]
    fn empty_entries_are_reported_but_a_trailing_comma_is_fine() {
        assert!(
            messages(|cx| {
                parse_listen(quote!("a", blocking,), cx);
            })
            .is_empty()
        );
        assert_eq!(
            messages(|cx| {
                parse_listen(quote!("a",, blocking), cx);
            }),
            ["expected an option before `,`"]
        );
    }
}
