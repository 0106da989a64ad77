//! The TypeScript bindings.
//!
#![doc = include_str!("../../docs/bindings.md")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::App;
use crate::invoke::describe::{Position, TypeDesc};
use crate::invoke::model::{AppModel, CommandModel, EventModel, Fallback};
use crate::invoke::registry::EventRegistration;
use crate::typed_event::TypedEvent;

/// The client module the bindings import by default: where the server serves `ipc.js`.
pub const DEFAULT_CLIENT_MODULE: &str = "/ipc.js";

/// The name the client module is imported as.
const IPC: &str = "ipc";

/// Names the generated module defines itself; a declared type may not take them.
const RESERVED_NAMES: [&str; 5] = [
    IPC,
    "commands",
    "events",
    "CommandErrorData",
    "isCommandError",
];

/// Why the bindings could not be generated or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Writing the file failed.
    #[error("could not write the bindings to {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Two Rust types have the same TypeScript name.
    #[error(
        "`{first}` and `{second}` are both named `{name}` in TypeScript; rename one with #[ts(rename = \"...\")]"
    )]
    TypeNameClash {
        /// The TypeScript name.
        name: String,
        /// One Rust type.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// Two commands, or two events, get the same function name.
    #[error(
        "{what} `{first}` and `{second}` both become `{js_name}` in the bindings; rename one of them"
    )]
    NameClash {
        /// `"commands"` or `"events"`.
        what: &'static str,
        /// One wire name.
        first: &'static str,
        /// The other.
        second: &'static str,
        /// The JavaScript name both map to.
        js_name: String,
    },
    /// A declared type takes a name the generated module uses itself.
    #[error(
        "the type `{rust}` is named `{name}` in TypeScript, a name the bindings use themselves; rename it with #[ts(rename = \"...\")]"
    )]
    ReservedName {
        /// The TypeScript name.
        name: String,
        /// The Rust type.
        rust: &'static str,
    },
}

/// Options of the generated bindings; get one from [`App::typescript`].
///
/// ```rust,standalone_crate
/// use ipc_runtime::{App, command};
///
/// /// Adds two numbers.
/// #[command(rename = "math.add")]
/// fn add(a: i32, b: i32) -> i32 { a + b }
///
/// let app = App::builder().build().unwrap();
/// let bindings = app.typescript().client_module("./ipc.js").render().unwrap();
/// assert!(bindings.typescript().contains(r#"import * as ipc from "./ipc.js";"#));
/// assert!(bindings.typescript().contains(
///     "mathAdd(args: { a: number, b: number }, options?: ipc.InvokeOptions): Promise<number>"
/// ));
/// assert!(bindings.fallbacks().is_empty());
/// ```
#[derive(Debug)]
pub struct TypeScriptExport<'a> {
    app: &'a App,
    client_module: String,
    events: Vec<&'static EventRegistration>,
}

impl<'a> TypeScriptExport<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        TypeScriptExport {
            app,
            client_module: DEFAULT_CLIENT_MODULE.to_owned(),
            events: Vec::new(),
        }
    }
}

impl TypeScriptExport<'_> {
    /// The module specifier the bindings import the client from (default
    /// `"/ipc.js"`), e.g. `"./ipc.js"` next to a copy of the client, or a
    /// bundler alias.
    #[must_use]
    pub fn client_module(mut self, specifier: impl Into<String>) -> Self {
        self.client_module = specifier.into();
        self
    }

    /// Adds an `#[event]` type by hand, for targets where `inventory` does not
    /// run (those found by `inventory` are always included).
    #[must_use]
    pub fn event<E: TypedEvent>(mut self) -> Self {
        self.events.push(E::REGISTRATION);
        self
    }

    /// Generates the bindings without writing them.
    pub fn render(&self) -> Result<Bindings, ExportError> {
        let listeners = self.app.registered_listeners();
        let model = AppModel::build(self.app.commands(), &listeners, &self.events);
        Renderer::new(&model, &self.client_module).render()
    }

    /// Generates the bindings and writes the TypeScript module to `path`.
    /// Types that fell back to `unknown` are logged as warnings (and listed in
    /// the file's header and in [`Bindings::fallbacks`]).
    pub fn export(&self, path: impl AsRef<Path>) -> Result<Bindings, ExportError> {
        let path = path.as_ref();
        let bindings = self.render()?;
        for fallback in &bindings.fallbacks {
            tracing::warn!(%fallback, "typed `unknown` in the TypeScript bindings");
        }
        std::fs::write(path, &bindings.typescript).map_err(|source| ExportError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(bindings)
    }
}

/// Generated bindings.
#[derive(Clone, Debug)]
pub struct Bindings {
    typescript: String,
    javascript: String,
    fallbacks: Vec<Fallback>,
}

impl Bindings {
    /// The TypeScript module.
    pub fn typescript(&self) -> &str {
        &self.typescript
    }

    /// The same module as plain JavaScript (the TypeScript with its types
    /// erased), for pages loaded without a build step. Put it next to the
    /// `.ts` file with the same name: editors and `tsc` then take the types
    /// from the `.ts`.
    pub fn javascript(&self) -> &str {
        &self.javascript
    }

    /// Every argument, result, error and event payload typed `unknown`
    /// because its Rust type does not implement ts-rs's `TS`.
    pub fn fallbacks(&self) -> &[Fallback] {
        &self.fallbacks
    }
}

/// With or without types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    TypeScript,
    JavaScript,
}

struct Renderer<'m> {
    model: &'m AppModel,
    client_module: &'m str,
    /// JavaScript names of the commands, in `model.commands` order.
    command_names: Vec<String>,
    /// JavaScript names of the events, in `model.events` order.
    event_names: Vec<String>,
    fallbacks: Vec<Fallback>,
}

impl<'m> Renderer<'m> {
    fn new(model: &'m AppModel, client_module: &'m str) -> Self {
        Renderer {
            model,
            client_module,
            command_names: model
                .commands
                .iter()
                .map(|c| js_name(c.info.name()))
                .collect(),
            event_names: model.events.iter().map(|e| js_name(e.name)).collect(),
            fallbacks: model.fallbacks(),
        }
    }

    fn render(self) -> Result<Bindings, ExportError> {
        self.check()?;
        Ok(Bindings {
            typescript: self.module(Flavor::TypeScript),
            javascript: self.module(Flavor::JavaScript),
            fallbacks: self.fallbacks,
        })
    }

    fn check(&self) -> Result<(), ExportError> {
        if let Some((name, first, second)) = self.model.collector.conflicts.first() {
            return Err(ExportError::TypeNameClash {
                name: name.clone(),
                first,
                second,
            });
        }
        for (name, declaration) in &self.model.collector.declarations {
            if RESERVED_NAMES.contains(&name.as_str()) {
                return Err(ExportError::ReservedName {
                    name: name.clone(),
                    rust: declaration.rust,
                });
            }
        }
        let commands: Vec<&'static str> =
            self.model.commands.iter().map(|c| c.info.name()).collect();
        clash("commands", &commands, &self.command_names)?;
        let events: Vec<&'static str> = self.model.events.iter().map(|e| e.name).collect();
        clash("events", &events, &self.event_names)
    }

    fn module(&self, flavor: Flavor) -> String {
        let mut out = String::with_capacity(4096);
        self.header(&mut out, flavor);
        let _ = writeln!(out, "import * as {IPC} from {};", json(self.client_module));
        if flavor == Flavor::TypeScript {
            out.push_str("\n// ---- Types ----\n");
            for declaration in self.model.collector.declarations.values() {
                out.push('\n');
                out.push_str(declaration.text.trim_end());
                out.push('\n');
            }
        }
        self.commands(&mut out, flavor);
        self.errors(&mut out, flavor);
        self.events(&mut out, flavor);
        out
    }

    fn header(&self, out: &mut String, flavor: Flavor) {
        out.push_str(
            "// Generated by ipc-runtime (App::export_typescript) from the #[command]\n\
             // functions, #[listen] functions and #[event] types of this program.\n\
             // Do not edit: change the Rust code and generate the file again.\n",
        );
        if flavor == Flavor::JavaScript {
            out.push_str(
                "//\n\
                 // The TypeScript module of the same name with its types erased, for pages\n\
                 // loaded without a build step; the types are in the .ts file.\n",
            );
        }
        out.push_str(
            "//\n\
             // Integers that may exceed 2^53 (Rust's i64, u64, i128, u128) are typed\n\
             // `number | bigint`: ipc.js decodes integers beyond Number.MAX_SAFE_INTEGER\n\
             // as BigInt, so no precision is lost, and sends BigInt arguments exactly.\n",
        );
        if !self.fallbacks.is_empty() {
            out.push_str("//\n// Typed `unknown` (their Rust types do not implement ts_rs::TS):\n");
            for fallback in &self.fallbacks {
                let _ = writeln!(out, "// - {fallback}");
            }
        }
        out.push('\n');
    }

    fn commands(&self, out: &mut String, flavor: Flavor) {
        let ts = flavor == Flavor::TypeScript;
        out.push_str(
            "\n// ---- Commands ----\n\
             // Each resolves to the command's result, or rejects with an ipc.IpcError\n\
             // (the command's own error has code -32000 and a typed `data`: see\n\
             // isCommandError).\n\
             \nexport const commands = {\n",
        );
        for (command, name) in self.model.commands.iter().zip(&self.command_names) {
            out.push_str(&jsdoc("  ", &command_doc(command, ts)));
            let wire = json(command.info.name());
            let result = command.ok.ts(Position::Result, IPC);
            let options = if ts {
                format!("options?: {IPC}.InvokeOptions")
            } else {
                "options".to_owned()
            };
            let returns = if ts {
                format!(": Promise<{result}>")
            } else {
                String::new()
            };
            let invoke = if ts {
                format!("{IPC}.invoke<{result}>")
            } else {
                format!("{IPC}.invoke")
            };
            if command.params.is_empty() {
                let _ = writeln!(out, "  {name}({options}){returns} {{");
                let _ = writeln!(out, "    return {invoke}({wire}, {{}}, options);");
            } else {
                let optional = command.params.iter().all(|(_, _, ty)| ty.is_optional());
                let args = match (ts, optional) {
                    (true, _) => {
                        let fields: Vec<String> = command
                            .params
                            .iter()
                            .map(|(wire, _, ty)| {
                                let mark = if ty.is_optional() { "?" } else { "" };
                                format!("{}{mark}: {}", property(wire), ty.ts(Position::Arg, IPC))
                            })
                            .collect();
                        let default = if optional { " = {}" } else { "" };
                        format!("args: {{ {} }}{default}", fields.join(", "))
                    }
                    (false, true) => "args = {}".to_owned(),
                    (false, false) => "args".to_owned(),
                };
                let _ = writeln!(out, "  {name}({args}, {options}){returns} {{");
                let _ = writeln!(out, "    return {invoke}({wire}, args, options);");
            }
            out.push_str("  },\n");
        }
        out.push_str("};\n");
    }

    fn errors(&self, out: &mut String, flavor: Flavor) {
        out.push('\n');
        if flavor == Flavor::TypeScript {
            out.push_str(
                "/**\n \
                 * The `data` of each command's own error (an ipc.IpcError with code -32000,\n \
                 * COMMAND_ERROR). `never`: the command does not return a `Result`;\n \
                 * `undefined`: its error has a message only; `unknown`: its type is not\n \
                 * known (an `InvokeError`, or a type without ts_rs::TS).\n \
                 */\n\
                 export interface CommandErrorData {\n",
            );
            for (command, name) in self.model.commands.iter().zip(&self.command_names) {
                let _ = writeln!(out, "  {name}: {};", command.err.ts(Position::Json, IPC));
            }
            out.push_str("}\n\n");
        }
        out.push_str(
            "/**\n \
             * Whether `error` is the own error of a command (an ipc.IpcError with code\n \
             * -32000, COMMAND_ERROR), narrowing its `data` to that command's error type.\n \
             * Only the code is checked: name the command the error came from.\n \
             */\n",
        );
        if flavor == Flavor::TypeScript {
            let _ = writeln!(
                out,
                "export function isCommandError<C extends keyof CommandErrorData>(\n  \
                 error: unknown,\n  \
                 _command: C,\n\
                 ): error is {IPC}.IpcError & {{ code: -32000; data: CommandErrorData[C] }} {{"
            );
        } else {
            out.push_str("export function isCommandError(error, _command) {\n");
        }
        let _ = writeln!(
            out,
            "  return error instanceof {IPC}.IpcError && error.code === {IPC}.ErrorCode.COMMAND_ERROR;\n}}"
        );
    }

    fn events(&self, out: &mut String, flavor: Flavor) {
        let ts = flavor == Flavor::TypeScript;
        out.push_str(
            "\n// ---- Events ----\n\
             // `listen` and `once` resolve, once the server has confirmed the\n\
             // subscription, to a function that removes the listener. Options:\n\
             // `last` starts with the newest event from before listening (if the\n\
             // backend keeps the name's events, or this client has one), and\n\
             // `onGap(lost)` is told of events missed while reconnecting.\n\
             \nexport const events = {\n",
        );
        for (event, name) in self.model.events.iter().zip(&self.event_names) {
            out.push_str(&jsdoc("  ", &event_doc(event)));
            let payload = event_payload(event);
            let wire = json(event.name);
            let _ = writeln!(out, "  {name}: {{");
            if ts {
                let _ = writeln!(out, "    name: {wire} as const,");
            } else {
                let _ = writeln!(out, "    name: {wire},");
            }
            for method in ["listen", "once"] {
                if ts {
                    let _ = writeln!(
                        out,
                        "    {method}(cb: (event: {IPC}.IpcEvent<{payload}>) => void, options?: {IPC}.ListenOptions): Promise<{IPC}.UnlistenFn> {{\n      \
                         return {IPC}.{method}<{payload}>({wire}, cb, options);\n    }},"
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "    {method}(cb, options) {{\n      return {IPC}.{method}({wire}, cb, options);\n    }},"
                    );
                }
            }
            // Frontends may not emit the runtime's own events.
            if !event.name.starts_with("ipc:") {
                if ts {
                    let _ = writeln!(
                        out,
                        "    emit(payload: {payload}, options?: {IPC}.EmitOptions): Promise<void> {{\n      \
                         return {IPC}.emit({wire}, payload, options);\n    }},"
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "    emit(payload, options) {{\n      return {IPC}.emit({wire}, payload, options);\n    }},"
                    );
                }
            }
            out.push_str("  },\n");
        }
        out.push_str("};\n");
    }
}

/// The payload type of an event: a union when declarations disagree.
fn event_payload(event: &EventModel) -> String {
    if event.payload.is_empty() {
        return "unknown".to_owned();
    }
    let types: Vec<String> = event
        .payload
        .iter()
        .map(|ty| ty.ts(Position::Json, IPC))
        .collect();
    types.join(" | ")
}

fn command_doc(command: &CommandModel, ts: bool) -> String {
    let mut doc = command.info.docs().trim().to_owned();
    if !doc.is_empty() {
        doc.push_str("\n\n");
    }
    let _ = write!(doc, "Command `{}`", command.info.name());
    if ts {
        match &command.err {
            TypeDesc::Never => {}
            TypeDesc::NoData => doc.push_str("; its errors have a message only"),
            other => {
                let _ = write!(
                    doc,
                    "; its own errors carry `data`: `{}`",
                    other.ts(Position::Json, IPC)
                );
            }
        }
    }
    doc.push('.');
    doc
}

fn event_doc(event: &EventModel) -> String {
    let mut doc = event.docs.trim().to_owned();
    if !doc.is_empty() {
        doc.push_str("\n\n");
    }
    let _ = write!(doc, "Event `{}`.", event.name);
    doc
}

/// A JSDoc comment, indented.
fn jsdoc(indent: &str, text: &str) -> String {
    let text = text.replace("*/", "*\\/");
    let mut out = format!("{indent}/**\n");
    for line in text.lines() {
        if line.trim().is_empty() {
            let _ = writeln!(out, "{indent} *");
        } else {
            let _ = writeln!(out, "{indent} * {}", line.trim_end());
        }
    }
    let _ = writeln!(out, "{indent} */");
    out
}

/// A string literal (JSON's escaping is valid JavaScript).
fn json(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// An object key: bare if it is an identifier, else quoted.
fn property(name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    if identifier {
        name.to_owned()
    } else {
        json(name)
    }
}

/// The function name of a command or event: words split at anything that is
/// not a letter or digit, joined in camelCase (`todos.add` → `todosAdd`,
/// `todos:changed` → `todosChanged`, `add_todo` → `addTodo`).
pub(crate) fn js_name(wire: &str) -> String {
    let mut out = String::with_capacity(wire.len());
    let mut upper = false;
    for c in wire.chars() {
        if c.is_alphanumeric() || c == '$' {
            if upper && !out.is_empty() {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn clash(what: &'static str, wire: &[&'static str], js: &[String]) -> Result<(), ExportError> {
    for (i, name) in js.iter().enumerate() {
        if let Some(j) = js[..i].iter().position(|earlier| earlier == name) {
            return Err(ExportError::NameClash {
                what,
                first: wire[j],
                second: wire[i],
                js_name: name.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_names_are_camel_case() {
        assert_eq!(js_name("todos.add"), "todosAdd");
        assert_eq!(js_name("todos:changed"), "todosChanged");
        assert_eq!(js_name("add_todo"), "addTodo");
        assert_eq!(js_name("getHTTP"), "getHTTP");
        assert_eq!(js_name("a/b-c.d"), "aBCD");
        assert_eq!(js_name("2fa.check"), "_2faCheck");
        assert_eq!(js_name("..."), "_");
    }

    #[test]
    fn properties_are_quoted_when_needed() {
        assert_eq!(property("userId"), "userId");
        assert_eq!(property("user-id"), "\"user-id\"");
        assert_eq!(property("1st"), "\"1st\"");
    }

    #[test]
    fn jsdoc_cannot_be_closed_early() {
        assert_eq!(
            jsdoc("", "a */ b\n\nc"),
            "/**\n * a *\\/ b\n *\n * c\n */\n"
        );
    }
}
