//! Two commands with one wire name: the build fails and names both sites.

use ipc_runtime::{App, BuildError, command};

mod first {
    #[ipc_runtime::command(rename = "save")]
    pub(crate) fn save_v1() {}
}

mod second {
    #[ipc_runtime::command(rename = "save")]
    pub(crate) fn save_v2() {}
}

#[command]
fn unrelated() {}

#[test]
fn duplicate_names_fail_the_build_naming_both_definitions() {
    let err = App::builder().build().unwrap_err();
    let BuildError::DuplicateCommand {
        name,
        first,
        second,
    } = &err
    else {
        panic!("expected DuplicateCommand, got {err:?}");
    };
    assert_eq!(name, "save");
    let mut modules = [first.module_path(), second.module_path()];
    modules.sort();
    assert_eq!(modules, ["duplicates::first", "duplicates::second"]);
    let message = err.to_string();
    assert!(
        message.contains("duplicates.rs:7") && message.contains("duplicates.rs:12"),
        "{message}"
    );
    assert!(
        message.contains("rename"),
        "the message says how to fix it: {message}"
    );
}

#[test]
fn registering_only_one_of_them_by_hand_builds() {
    let app = App::builder()
        .discover(false)
        .command::<first::save_v1>()
        .build()
        .unwrap();
    assert!(app.has_command("save"));
}
