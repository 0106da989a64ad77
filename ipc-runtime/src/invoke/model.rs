//! The model of a whole app's commands and events that the TypeScript
//! bindings ([`App::export_typescript`](crate::App::export_typescript)) and
//! `rpc.discover` are written from. Each type in it is described by the
//! macros' describe functions (see `invoke/describe.rs`).

use std::collections::BTreeMap;

use crate::invoke::describe::{Position, TypeCollector, TypeDesc};
use crate::invoke::registry::{CommandInfo, EventRegistration, ListenerRegistration};

/// A command as the bindings see it.
#[derive(Debug)]
pub(crate) struct CommandModel {
    pub(crate) info: CommandInfo,
    /// The arguments read from the params: wire name, Rust type as written, type.
    pub(crate) params: Vec<(&'static str, &'static str, TypeDesc)>,
    pub(crate) ok: TypeDesc,
    pub(crate) err: TypeDesc,
}

/// An event as the bindings see it.
#[derive(Debug)]
pub(crate) struct EventModel {
    pub(crate) name: &'static str,
    /// Distinct payload types (a union when declarations disagree); empty
    /// means `unknown`.
    pub(crate) payload: Vec<TypeDesc>,
    /// The Rust payload type that fell back to `unknown`, when `payload` is empty.
    pub(crate) unknown: Option<&'static str>,
    /// Doc comment of the `#[event]` type, if any.
    pub(crate) docs: &'static str,
}

/// Something typed `unknown` because its Rust type has no `TS` implementation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    /// `command \`todos.add\`` or `event \`todos:changed\``.
    pub item: String,
    /// `argument \`title\``, `result`, `error`, `payload`.
    pub position: String,
    /// The Rust type.
    pub rust_type: &'static str,
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, {}: `{}` does not implement ts_rs::TS",
            self.item, self.position, self.rust_type
        )
    }
}

/// Every command and event of an app, described.
#[derive(Debug)]
pub(crate) struct AppModel {
    pub(crate) collector: TypeCollector,
    /// Sorted by wire name.
    pub(crate) commands: Vec<CommandModel>,
    /// Sorted by name.
    pub(crate) events: Vec<EventModel>,
}

impl AppModel {
    /// Describes `commands` and the events declared by `#[event]` (found by
    /// `inventory`, plus `extra`) and by `listeners`' payloads.
    pub(crate) fn build(
        commands: Vec<CommandInfo>,
        listeners: &[&'static ListenerRegistration],
        extra: &[&'static EventRegistration],
    ) -> Self {
        let mut collector = TypeCollector::new();
        let commands = commands
            .into_iter()
            .map(|info| {
                let registration = info.registration();
                let types = (registration.types)(&mut collector);
                let params = registration
                    .args
                    .iter()
                    .zip(types.args)
                    .enumerate()
                    .filter(|(i, _)| info.reads_param(*i))
                    .map(|(_, (spec, ty))| (spec.name, spec.ty, ty))
                    .collect();
                CommandModel {
                    info,
                    params,
                    ok: types.ok,
                    err: types.err,
                }
            })
            .collect();

        // Declarations first (they are what the frontend is promised), then
        // what listeners accept.
        let mut declared: BTreeMap<&'static str, (Vec<TypeDesc>, &'static str)> = BTreeMap::new();
        let mut seen: Vec<*const EventRegistration> = Vec::new();
        for registration in crate::invoke::registry::declared_events().chain(extra.iter().copied())
        {
            let ptr: *const EventRegistration = registration;
            if seen.contains(&ptr) {
                continue;
            }
            seen.push(ptr);
            let ty = (registration.payload)(&mut collector);
            let entry = declared.entry(registration.event).or_default();
            entry.0.push(ty);
            if entry.1.is_empty() {
                entry.1 = registration.docs;
            }
        }
        let mut listened: BTreeMap<&'static str, Vec<TypeDesc>> = BTreeMap::new();
        let mut listeners = listeners.to_vec();
        listeners.sort_by_key(|l| (l.event, l.site.file, l.site.line, l.function));
        for listener in listeners {
            let ty = (listener.payload)(&mut collector);
            listened.entry(listener.event).or_default().push(ty);
        }
        let mut names: Vec<&'static str> =
            declared.keys().chain(listened.keys()).copied().collect();
        names.sort_unstable();
        names.dedup();
        let events = names
            .into_iter()
            .map(|name| {
                let (candidates, docs) = match declared.remove(name) {
                    Some((types, docs)) => (types, docs),
                    None => (listened.remove(name).unwrap_or_default(), ""),
                };
                let unknown = candidates.iter().find_map(TypeDesc::fallback);
                let mut payload: Vec<TypeDesc> = Vec::new();
                for ty in candidates {
                    if ty.fallback().is_none() && !payload.contains(&ty) {
                        payload.push(ty);
                    }
                }
                payload.sort_by_key(|ty| ty.ts(Position::Json, ""));
                EventModel {
                    name,
                    unknown: if payload.is_empty() { unknown } else { None },
                    payload,
                    docs,
                }
            })
            .collect();
        AppModel {
            collector,
            commands,
            events,
        }
    }

    /// Everything typed `unknown` for want of a `TS` implementation.
    pub(crate) fn fallbacks(&self) -> Vec<Fallback> {
        let mut out = Vec::new();
        for command in &self.commands {
            let item = format!("command `{}`", command.info.name());
            for (name, _, ty) in &command.params {
                if let Some(rust_type) = ty.fallback() {
                    out.push(Fallback {
                        item: item.clone(),
                        position: format!("argument `{name}`"),
                        rust_type,
                    });
                }
            }
            for (position, ty) in [("result", &command.ok), ("error", &command.err)] {
                if let Some(rust_type) = ty.fallback() {
                    out.push(Fallback {
                        item: item.clone(),
                        position: position.to_owned(),
                        rust_type,
                    });
                }
            }
        }
        for event in &self.events {
            if let Some(rust_type) = event.unknown {
                out.push(Fallback {
                    item: format!("event `{}`", event.name),
                    position: "payload".to_owned(),
                    rust_type,
                });
            }
        }
        out
    }
}

#[cfg(all(test, feature = "typescript"))]
mod tests {
    use super::*;
    use crate::invoke::describe::LARGE_INT_TS;

    #[test]
    fn large_integers_are_number_or_bigint() {
        let mut c = TypeCollector::new();
        for desc in [c.ts::<u64>(), c.ts::<i64>(), c.ts::<u128>(), c.ts::<i128>()] {
            assert_eq!(
                desc,
                TypeDesc::Ts {
                    ts: LARGE_INT_TS.into(),
                    optional: false
                }
            );
        }
        assert_eq!(
            c.ts::<Option<u32>>(),
            TypeDesc::Ts {
                ts: "number | null".into(),
                optional: true
            }
        );
        assert!(c.declarations.is_empty());
    }

    #[test]
    fn bytes_read_differently_by_position() {
        assert_eq!(TypeDesc::Bytes.ts(Position::Result, "ipc"), "Uint8Array");
        assert_eq!(TypeDesc::Bytes.ts(Position::Json, "ipc"), "Array<number>");
        assert_eq!(
            TypeDesc::Bytes.ts(Position::Arg, "ipc"),
            "ipc.BinaryData | Array<number>"
        );
        let channel = TypeDesc::Channel(Box::new(TypeDesc::unknown::<std::fs::File>(false)));
        assert_eq!(channel.ts(Position::Arg, "ipc"), "ipc.Channel<unknown>");
        assert_eq!(channel.fallback(), Some("std::fs::File"));
    }
}
