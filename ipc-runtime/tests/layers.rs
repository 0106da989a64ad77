//! The architecture of `ipc-runtime/src`, checked.
//!
//! The table below is the architecture's documentation: the layers, lowest
//! first, and the top-level modules of each. A module may import from its own
//! layer and the layers below it, never from a layer above. "Imports" counts
//! every path naming `crate::…` (in `use` items, expressions, types, patterns
//! and macro arguments) and every `super::…` that leaves the module, with
//! items re-exported from `lib.rs` (`crate::App`, ...) resolved to the module
//! that defines them. Test code is not counted: `#[cfg(test)]` modules and
//! functions, and files that start with `#![cfg(test)]`.
//!
//! A second check keeps the import graph between top-level modules free of
//! cycles except small ones inside the app layer (`app` ↔ `builder`: the
//! builder builds the app, the app hands out builders).
//!
//! A third keeps protocol text in one place: outside test modules, exactly
//! one file writes the `"jsonrpc"` member by hand (the codec).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// The layers, lowest first, and the top-level modules (files or folders of
/// `src/`) in each.
const LAYERS: &[(&str, &[&str])] = &[
    // What every layer speaks in: the caller, capabilities, errors, managed
    // state, secrets, definition sites.
    (
        "types",
        &["caller", "capability", "error", "secret", "site", "state"],
    ),
    // The one place that writes outgoing protocol text and frames.
    ("codec", &["codec"]),
    // Calling one command through its shim: registry, argument reading,
    // injected arguments, result encoding, the panic guard, the `Peer` trait.
    ("invocation", &["invoke"]),
    // The dispatcher, reserved methods, the event bus, channels, the bridge seam.
    ("routing", &["route"]),
    // One frontend's state: its outbox, limits and running calls.
    ("session", &["session"]),
    // Bytes to session calls and back: WebSocket, stdio, desktop windows; and
    // events to a broker and back (the NATS bridge).
    ("transport", &["transport"]),
    // Beside the layers: `App` and its builder, the bindings, the path
    // generated code uses, and the crate root.
    (
        "app",
        &[
            "app",
            "builder",
            "bindings",
            "typed_event",
            "private",
            "lib",
        ],
    ),
];

/// Import cycles allowed between top-level modules (each a set of modules).
const ALLOWED_CYCLES: &[&[&str]] = &[&["app", "bindings", "builder"]];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every source file under `dir`, but those that are test code as a whole
/// (`#![cfg(test)]`).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read a source file");
            let syntax =
                syn::parse_file(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
            if !is_cfg_test(&syntax.attrs) {
                out.push(path);
            }
        }
    }
}

/// The module path of a file, from the crate root: `src/route/events.rs` is
/// `["route", "events"]`, `src/route/mod.rs` is `["route"]`, `src/lib.rs` is `[]`.
fn module_path(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The top-level module a file belongs to (`lib` for the crate root).
fn top_level(file: &Path) -> String {
    module_path(file)
        .first()
        .cloned()
        .unwrap_or_else(|| "lib".to_owned())
}

fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, modules))| modules.contains(&module))
        .map(|(i, (name, _))| (i, *name))
}

/// What `lib.rs` declares and re-exports: module names (with their `#[path]`
/// aliases resolved) and, for each re-exported item, the module it comes from.
struct Root {
    modules: BTreeMap<String, String>,
    items: BTreeMap<String, String>,
}

fn read_root() -> Root {
    let text = std::fs::read_to_string(src().join("lib.rs")).expect("read lib.rs");
    let file = syn::parse_file(&text).expect("parse lib.rs");
    let mut modules = BTreeMap::new();
    let mut items = BTreeMap::new();
    for item in &file.items {
        match item {
            syn::Item::Mod(m) => {
                // `#[path = "private/mod.rs"] pub mod __private;` is `private`.
                let path_attr = m.attrs.iter().find_map(|a| match &a.meta {
                    syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        }) => Some(s.value()),
                        _ => None,
                    },
                    _ => None,
                });
                let dir = match path_attr {
                    Some(p) => p
                        .split('/')
                        .next()
                        .unwrap_or_default()
                        .trim_end_matches(".rs")
                        .to_owned(),
                    None => m.ident.to_string(),
                };
                modules.insert(m.ident.to_string(), dir);
            }
            syn::Item::Use(u) => {
                let mut leaves = Vec::new();
                flatten_use(&u.tree, Vec::new(), &mut leaves);
                for (path, name) in leaves {
                    if let Some(first) = path.first() {
                        items.insert(name, first.clone());
                    }
                }
            }
            _ => {}
        }
    }
    Root { modules, items }
}

/// Every leaf of a use tree: the path up to it and the name it binds.
fn flatten_use(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        syn::UseTree::Path(p) => {
            let mut next = prefix;
            next.push(p.ident.to_string());
            flatten_use(&p.tree, next, out);
        }
        syn::UseTree::Name(n) => {
            let mut full = prefix;
            full.push(n.ident.to_string());
            out.push((full, n.ident.to_string()));
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix;
            full.push(r.ident.to_string());
            out.push((full, r.rename.to_string()));
        }
        syn::UseTree::Glob(_) => out.push((prefix, "*".to_owned())),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                flatten_use(tree, prefix.clone(), out);
            }
        }
    }
}

/// Collects the paths a file names: `use` trees, paths anywhere in the
/// syntax tree, and `crate :: x` / `super :: x` sequences inside macro calls.
#[derive(Default)]
struct Paths {
    found: Vec<Vec<String>>,
}

impl Paths {
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, tree) in trees.iter().enumerate() {
            match tree {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if id == "crate" || id == "super" => {
                    let mut path = vec![id.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (trees.get(j), trees.get(j + 1), trees.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        path.push(next.to_string());
                        j += 3;
                    }
                    if path.len() > 1 {
                        self.found.push(path);
                    }
                }
                _ => {}
            }
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta.require_list().is_ok_and(|l| {
                l.tokens
                    .to_string()
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w == "test")
            })
    })
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_cfg_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut leaves = Vec::new();
        flatten_use(&u.tree, Vec::new(), &mut leaves);
        self.found.extend(leaves.into_iter().map(|(path, _)| path));
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.found
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {
        // Doc comments and attributes are not imports.
    }
}

/// The top-level module a path leads to, from a file at `here`; `None` for
/// paths that stay outside the crate or inside the same top-level module.
fn resolve(path: &[String], here: &[String], root: &Root) -> Option<String> {
    let (mut at, rest): (Vec<String>, &[String]) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("super") => {
            let mut at = here.to_vec();
            let mut rest = path;
            while rest.first().map(String::as_str) == Some("super") {
                at.pop()?;
                rest = &rest[1..];
            }
            (at, rest)
        }
        _ => return None,
    };
    if at.is_empty() {
        let first = rest.first()?;
        if let Some(dir) = root.modules.get(first) {
            at.push(dir.clone());
        } else if let Some(module) = root.items.get(first) {
            at.push(module.clone());
        } else {
            return None;
        }
    }
    at.first().cloned()
}

/// Every import between top-level modules: (from, to) → the files and paths.
fn imports() -> BTreeMap<(String, String), Vec<String>> {
    let root = read_root();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read a source file");
        let syntax =
            syn::parse_file(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()));
        let mut paths = Paths::default();
        paths.visit_file(&syntax);
        let here = module_path(&file);
        let from = top_level(&file);
        for path in paths.found {
            let Some(to) = resolve(&path, &here, &root) else {
                continue;
            };
            if to != from {
                let shown = format!(
                    "{}: {}",
                    file.strip_prefix(src()).unwrap_or(&file).display(),
                    path.join("::")
                );
                edges.entry((from.clone(), to)).or_default().push(shown);
            }
        }
    }
    edges
}

#[test]
fn every_top_level_module_has_a_layer() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| top_level(f)).collect();
    let unplaced: Vec<&String> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "put these modules in the LAYERS table of tests/layers.rs: {unplaced:?}"
    );
}

#[test]
fn no_layer_imports_from_a_layer_above_it() {
    let mut violations = Vec::new();
    for ((from, to), sites) in imports() {
        let (Some((from_rank, from_layer)), Some((to_rank, to_layer))) =
            (layer_of(&from), layer_of(&to))
        else {
            continue;
        };
        if to_rank > from_rank {
            violations.push(format!(
                "{from} ({from_layer}) imports {to} ({to_layer}), a higher layer:\n    {}",
                sites.join("\n    ")
            ));
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn top_level_modules_form_no_cycles_but_the_allowed_ones() {
    let edges: BTreeSet<(String, String)> = imports()
        .into_keys()
        .filter(|(from, to)| from != "lib" && to != "lib")
        .collect();
    let nodes: BTreeSet<String> = edges
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    let reach = |start: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.clone()];
        while let Some(node) = stack.pop() {
            for (a, b) in &edges {
                if *a == node && seen.insert(b.clone()) {
                    stack.push(b.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (n, reach(n))).collect();
    let mut components: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    for node in &nodes {
        let component: BTreeSet<String> = nodes
            .iter()
            .filter(|other| {
                *other == node
                    || (reachable[node].contains(*other) && reachable[*other].contains(node))
            })
            .cloned()
            .collect();
        if component.len() > 1 {
            components.insert(component);
        }
    }
    let not_allowed: Vec<&BTreeSet<String>> = components
        .iter()
        .filter(|c| {
            !ALLOWED_CYCLES
                .iter()
                .any(|allowed| c.iter().all(|m| allowed.contains(&m.as_str())))
        })
        .collect();
    assert!(
        not_allowed.is_empty(),
        "import cycles between top-level modules: {not_allowed:?}"
    );
}

/// String and byte-string literals outside test modules and attributes.
#[derive(Default)]
struct Literals {
    found: Vec<String>,
}

impl<'ast> Visit<'ast> for Literals {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_cfg_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    fn visit_lit(&mut self, lit: &'ast syn::Lit) {
        match lit {
            syn::Lit::Str(s) => self.found.push(s.value()),
            syn::Lit::ByteStr(b) => self
                .found
                .push(String::from_utf8_lossy(&b.value()).into_owned()),
            _ => {}
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        for token in mac.tokens.clone() {
            collect_literals(token, &mut self.found);
        }
    }
}

fn collect_literals(token: TokenTree, out: &mut Vec<String>) {
    match token {
        TokenTree::Group(g) => g
            .stream()
            .into_iter()
            .for_each(|t| collect_literals(t, out)),
        TokenTree::Literal(l) => out.push(l.to_string()),
        _ => {}
    }
}

#[test]
fn one_file_writes_the_jsonrpc_member() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut writers: Vec<String> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read a source file");
        let syntax = syn::parse_file(&text).expect("parse");
        let mut literals = Literals::default();
        literals.visit_file(&syntax);
        if literals
            .found
            .iter()
            .any(|l| l.contains("\"jsonrpc\"") || l.contains("\\\"jsonrpc\\\""))
        {
            writers.push(
                file.strip_prefix(src())
                    .unwrap_or(&file)
                    .display()
                    .to_string(),
            );
        }
    }
    assert_eq!(
        writers,
        ["codec/json.rs"],
        "protocol text belongs to the codec"
    );
}
