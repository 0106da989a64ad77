//! The protocol is described once and checked everywhere it is written down:
//! `ipc-core`'s event target forms against `docs/protocol.md`'s table and the
//! `EmitTarget` type of the JavaScript client's declarations (`ipc.d.ts`), and
//! its error codes against the client's `ErrorCode` (in `ipc.js` and
//! `ipc.d.ts`) and the protocol's table of errors.

use std::path::Path;

use ipc_runtime::{EventTarget, codes};

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

#[test]
fn the_js_client_and_the_protocol_doc_know_every_error_code() {
    let js = read("ipc-runtime/js/ipc.js");
    let declarations = read("ipc-runtime/js/ipc.d.ts");
    let doc = read("docs/protocol.md");
    let block = |text: &str, start: &str| -> String {
        let from = text.find(start).unwrap_or_else(|| panic!("no `{start}`"));
        let to = text[from..].find("};").map_or(text.len(), |end| from + end);
        text[from..to].to_owned()
    };
    let js_codes = block(&js, "export const ErrorCode");
    let declared = block(&declarations, "export declare const ErrorCode");
    let count = |text: &str| text.matches(": -3").count();
    for (name, code) in codes::ALL {
        assert!(
            js_codes.contains(&format!("{name}: {code},")),
            "ipc.js's ErrorCode lacks {name}: {code}"
        );
        assert!(
            declared.contains(&format!("readonly {name}: {code};")),
            "ipc.d.ts's ErrorCode lacks {name}: {code}"
        );
        assert!(
            doc.contains(&format!("| {code} |")),
            "docs/protocol.md's errors lack {code}"
        );
    }
    assert_eq!(
        count(&js_codes),
        codes::ALL.len(),
        "ipc.js has codes ipc-core does not"
    );
    assert_eq!(
        count(&declared),
        codes::ALL.len(),
        "ipc.d.ts has codes ipc-core does not"
    );
}
