use ipc_runtime::App;

#[derive(serde::Serialize)]
struct NotDeclared;

fn main() {
    let app = App::builder().build().unwrap();
    let _ = app.emit_event(&NotDeclared);
}
