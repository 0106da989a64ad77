//! The protocol is described once and checked everywhere it is written down:
//! `ipc-core`'s event target forms against `docs/protocol.md`'s table and the
//! `EmitTarget` type of the JavaScript client's declarations (`ipc.d.ts`).

use std::path::Path;

use ipc_runtime::EventTarget;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The TypeScript spelling of a target form's JSON.
fn typescript(json: &str) -> String {
    match json.strip_prefix('{').and_then(|j| j.strip_suffix('}')) {
        Some(member) => {
            let (key, value) = member.split_once(':').expect("a one-member object");
            let key = key.trim().trim_matches('"');
            let ty = match value.trim() {
                "id" => "number",
                "label" => "string",
                other => panic!("no TypeScript type for the placeholder `{other}`"),
            };
            format!("{{ {key}: {ty} }}")
        }
        None => json.to_owned(),
    }
}

#[test]
fn the_protocol_doc_lists_every_event_target_as_ipc_core_describes_it() {
    let doc = read("docs/protocol.md");
    let section = doc
        .split("### Event targets")
        .nth(1)
        .expect("docs/protocol.md has an `Event targets` section");
    let rows: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    let expected: Vec<String> = EventTarget::FORMS
        .iter()
        .map(|form| format!("| `{}` | {} |", form.json, form.reaches))
        .collect();
    assert_eq!(
        rows, expected,
        "the table must be EventTarget::FORMS, row for row"
    );
}

#[test]
fn ipc_d_ts_declares_every_event_target() {
    let declarations = read("ipc-runtime/js/ipc.d.ts");
    let line = declarations
        .lines()
        .find(|l| l.starts_with("export type EmitTarget ="))
        .expect("ipc.d.ts declares `EmitTarget`");
    let union: Vec<String> = line
        .trim_start_matches("export type EmitTarget =")
        .trim_end_matches(';')
        .split('|')
        .map(|member| member.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let expected: Vec<String> = EventTarget::FORMS
        .iter()
        .map(|form| typescript(form.json))
        .collect();
    assert_eq!(
        union, expected,
        "EmitTarget must be EventTarget::FORMS, in order"
    );
}
