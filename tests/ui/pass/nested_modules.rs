//! `pub(crate)` commands in nested modules, found by discovery and
//! registrable by hand through their path.

mod api {
    pub(crate) mod users {
        use ipc_runtime::command;

        #[command(rename = "users.count")]
        pub(crate) fn count() -> usize {
            3
        }

        pub(crate) mod admin {
            #[ipc_runtime::command]
            pub(crate) async fn reset(confirm: bool) -> bool {
                confirm
            }
        }
    }
}

use ipc_runtime::App;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App::builder().build().unwrap();
    assert_eq!(
        app.invoke("users.count", serde_json::json!({}))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        app.invoke("reset", serde_json::json!({ "confirm": true }))
            .await
            .unwrap(),
        true
    );
    let reset = app
        .commands()
        .into_iter()
        .find(|c| c.name() == "reset")
        .unwrap();
    assert!(reset.is_async());
    assert!(reset.module_path().ends_with("api::users::admin"));

    let by_hand = App::builder()
        .discover(false)
        .command::<api::users::count>()
        .command::<api::users::admin::reset>()
        .build()
        .unwrap();
    let names: Vec<_> = by_hand.commands().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["reset", "users.count"]);
}
