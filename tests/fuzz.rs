//! A few thousand fuzz cases per run (the `ipc-fuzz` binary runs millions):
//! any input gets a valid JSON-RPC answer or none, never a panic, and the app
//! keeps serving afterwards.

use ipc_tests::fuzz::{self, app};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[test]
fn hostile_text_gets_valid_answers() {
    let app = app();
    runner(3_000)
        .run(&fuzz::hostile_text(), |text| {
            block_on(fuzz::text_case(&app, &text)).map_err(TestCaseError::fail)
        })
        .unwrap();
    // Still serving.
    let reply = block_on(
        app.handle_message(r#"{"jsonrpc":"2.0","id":1,"method":"fuzz.echo","params":[1]}"#),
    );
    assert_eq!(
        reply.as_deref(),
        Some(r#"{"jsonrpc":"2.0","id":1,"result":1}"#)
    );
}

#[test]
fn plausible_requests_get_valid_answers() {
    let app = app();
    runner(3_000)
        .run(&fuzz::request(), |text| {
            block_on(fuzz::text_case(&app, &text)).map_err(TestCaseError::fail)
        })
        .unwrap();
}

#[test]
fn wrongly_typed_arguments_are_invalid_params_never_panics() {
    let app = app();
    runner(3_000)
        .run(&fuzz::typed_call(), |text| {
            let answer = block_on(app.handle_message(&text));
            fuzz::check_answer(answer.as_deref()).map_err(TestCaseError::fail)?;
            let value: serde_json::Value =
                serde_json::from_str(answer.as_deref().unwrap_or("null")).unwrap();
            let code = value["error"]["code"].as_i64();
            prop_assert!(code.is_none() || code == Some(-32602), "{value}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn binary_frames_get_valid_answers() {
    let app = app();
    let (connection, outbox) = fuzz::connection(&app);
    let outbox = std::cell::RefCell::new(outbox);
    runner(2_000)
        .run(&fuzz::binary_frame(), |frame| {
            let mut outbox = outbox.borrow_mut();
            block_on(fuzz::binary_case(&connection, &mut outbox, frame))
                .map_err(TestCaseError::fail)
        })
        .unwrap();
}

#[test]
fn nesting_far_past_the_parser_limit_is_an_error_not_a_stack_overflow() {
    let app = app();
    for depth in [200, 10_000, 1_000_000] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let answer = block_on(app.handle_message(&text)).unwrap();
        assert!(
            answer.contains("-32700") || answer.contains("-32600"),
            "{depth}: {answer}"
        );
        let deep_params = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"fuzz.echo","params":{{"value":{}{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let answer = block_on(app.handle_message(&deep_params)).unwrap();
        assert!(answer.contains("\"error\""), "{depth}: {answer}");
    }
}

#[test]
fn huge_numbers_are_invalid_params() {
    let app = app();
    for number in [
        "1e400",
        "123456789012345678901234567890",
        "-99999999999999999999",
        "1.5",
    ] {
        let text = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"fuzz.typed","params":{{"count":{number}}}}}"#
        );
        let answer = block_on(app.handle_message(&text)).unwrap();
        assert!(
            answer.contains("-32602") || answer.contains("-32700"),
            "{number}: {answer}"
        );
    }
}
