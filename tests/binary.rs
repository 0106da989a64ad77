//! Byte payloads as raw bytes in binary frames, never as JSON number arrays,
//! for clients that ask for them; JSON arrays for those that do not.

use bytes::Bytes;
use ipc_runtime::transport::ws::ServerHandle;
use ipc_runtime::{App, codes, command};
use ipc_tests::WsClient;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[command]
fn echo_bytes(data: Vec<u8>) -> Vec<u8> {
    data
}

#[command]
fn describe(name: String, data: Bytes, extra: Vec<u8>) -> Value {
    json!({ "name": name, "len": data.len(), "first": data.first(), "extra": extra.len() })
}

#[command]
fn make_bytes(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i * 31 % 256) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Bytes that are not UTF-8 anywhere (0xff, 0xfe never occur in UTF-8).
fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| [0xff, 0xfe, 0x00, 0x80][i % 4] ^ (i / 4 % 7) as u8)
        .collect()
}

async fn start() -> ServerHandle {
    App::builder()
        .build()
        .unwrap()
        .serve("127.0.0.1:0")
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_of_0_b_1_kib_and_16_mib_keep_every_byte() {
    let server = start().await;
    let mut client = WsClient::connect_with(&server.ws_url(), true).await;
    for (id, len) in [(1, 0), (2, 1024), (3, 16 << 20)] {
        let data = payload(len);
        assert!(len == 0 || std::str::from_utf8(&data).is_err(), "not UTF-8");
        client
            .send_binary(
                json!({ "jsonrpc": "2.0", "id": id, "method": "echo_bytes", "params": { "data": { "$bytes": 0 } } }),
                &[&data],
            )
            .await;
        let reply = client.response(id).await;
        assert_eq!(
            reply["result"],
            json!({ "$bytes": 0 }),
            "the result is an attachment"
        );
        assert_eq!(reply["attachments"], json!([len]));
        let attachments = client.attachments_of(&reply);
        assert_eq!(attachments.len(), 1);
        assert!(attachments[0] == data, "{len} bytes came back unchanged");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn several_attachments_and_positional_params() {
    let server = start().await;
    let mut client = WsClient::connect_with(&server.ws_url(), true).await;
    client
        .send_binary(
            json!({ "jsonrpc": "2.0", "id": 1, "method": "describe", "params": ["a.bin", { "$bytes": 1 }, { "$bytes": 0 }] }),
            &[&[1, 2], &[9, 8, 7]],
        )
        .await;
    let reply = client.response(1).await;
    assert_eq!(
        reply["result"],
        json!({ "name": "a.bin", "len": 3, "first": 9, "extra": 2 })
    );
    server.shutdown().await;
}

#[tokio::test]
async fn text_only_clients_use_json_arrays_both_ways() {
    let server = start().await;
    let mut client = WsClient::connect(&server.ws_url()).await;
    let reply = client
        .call("echo_bytes", json!({ "data": [0, 255, 7] }))
        .await;
    assert_eq!(reply["result"], json!([0, 255, 7]));
    let reply = client.call("make_bytes", json!({ "len": 4 })).await;
    assert_eq!(reply["result"], json!([0, 31, 62, 93]));
    // A binary request from such a client still works; its answer stays JSON.
    client
        .send_binary(json!({ "jsonrpc": "2.0", "id": 9, "method": "echo_bytes", "params": [{ "$bytes": 0 }] }), &[&[5]])
        .await;
    assert_eq!(client.response(9).await["result"], json!([5]));
    server.shutdown().await;
}

#[tokio::test]
async fn binary_clients_get_byte_results_as_attachments() {
    let server = start().await;
    let mut client = WsClient::connect_with(&server.ws_url(), true).await;
    let reply = client.call("make_bytes", json!({ "len": 4 })).await;
    assert_eq!(reply["result"], json!({ "$bytes": 0 }));
    assert_eq!(
        client.attachments_of(&reply)[0].to_vec(),
        vec![0, 31, 62, 93]
    );
    // Batches are one JSON array, so their byte results stay JSON.
    client
        .send_text(r#"[{"jsonrpc":"2.0","id":"b","method":"make_bytes","params":{"len":2}}]"#)
        .await;
    let batch = client.next().await;
    assert_eq!(batch[0]["result"], json!([0, 31]));
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_binary_frames_are_answered_and_the_connection_stays() {
    let server = start().await;
    let mut client = WsClient::connect_with(&server.ws_url(), true).await;
    let bad_frames: Vec<Vec<u8>> = vec![
        vec![0, 0],                                      // no room for the length
        vec![0, 0, 0, 50, b'{', b'}'],                   // length past the end
        [&[0, 0, 0, 2][..], b"{}", &[1, 2, 3]].concat(), // bytes no length accounts for
        [&[0, 0, 0, 3][..], b"{\xff}"].concat(),         // header not UTF-8
    ];
    for frame in bad_frames {
        client.send_message(Message::binary(frame)).await;
        let reply = client.next().await;
        assert_eq!(reply["error"]["code"], codes::INVALID_REQUEST, "{reply}");
    }
    // A placeholder for an attachment that is not there.
    client
        .send_binary(json!({ "jsonrpc": "2.0", "id": 5, "method": "echo_bytes", "params": { "data": { "$bytes": 3 } } }), &[])
        .await;
    let reply = client.response(5).await;
    assert_eq!(reply["error"]["code"], codes::INVALID_PARAMS);
    assert_eq!(reply["error"]["data"]["argument"], "data");
    // A batch in a binary frame.
    let batch = br#"[{"jsonrpc":"2.0","id":6,"method":"make_bytes","params":[1]}]"#;
    client
        .send_message(Message::binary(
            [&(batch.len() as u32).to_be_bytes()[..], batch].concat(),
        ))
        .await;
    let reply = client.next().await;
    assert_eq!(reply["error"]["code"], codes::INVALID_REQUEST);
    assert_eq!(
        client.call("make_bytes", json!([1])).await["attachments"],
        json!([1])
    );
    server.shutdown().await;
}
