//! The binary frame layout (see `docs/protocol.md`, "Binary payloads"):
//!
//! ```text
//! header length (u32, big-endian) ‖ header (UTF-8 JSON-RPC message with
//! "attachments": [len, ...]) ‖ attachment 0 ‖ attachment 1 ‖ ...
//! ```
//!
//! Attachments are slices of the received frame, never copied here.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;

/// A decoded binary frame.
#[derive(Debug)]
pub(crate) struct BinaryMessage {
    /// The JSON-RPC message.
    pub(crate) header: Bytes,
    /// The raw byte payloads its placeholders refer to.
    pub(crate) attachments: Vec<Bytes>,
}

impl BinaryMessage {
    /// The header as text.
    pub(crate) fn header_text(&self) -> &str {
        // Checked to be UTF-8 by `decode`.
        std::str::from_utf8(&self.header).unwrap_or_default()
    }
}

/// Splits a binary frame; the error says what is wrong with it.
pub(crate) fn decode(frame: Bytes) -> Result<BinaryMessage, String> {
    if frame.len() < 4 {
        return Err("a binary frame starts with a 4-byte header length".to_owned());
    }
    let header_len = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    let rest = frame.len() - 4;
    if header_len > rest {
        return Err(format!(
            "the header length says {header_len} bytes but only {rest} follow"
        ));
    }
    let header = frame.slice(4..4 + header_len);
    let text = std::str::from_utf8(&header).map_err(|_| "the header is not UTF-8".to_owned())?;

    #[derive(Deserialize)]
    struct Lengths {
        #[serde(default)]
        attachments: Vec<u64>,
    }
    let lengths: Lengths = serde_json::from_str(text)
        .map_err(|e| format!("the header is not a JSON-RPC message: {e}"))?;
    let mut offset = 4 + header_len;
    let mut attachments = Vec::with_capacity(lengths.attachments.len());
    for (i, len) in lengths.attachments.iter().enumerate() {
        let len = usize::try_from(*len).unwrap_or(usize::MAX);
        if len > frame.len() - offset {
            return Err(format!(
                "attachment {i} ({len} bytes) runs past the end of the frame"
            ));
        }
        attachments.push(frame.slice(offset..offset + len));
        offset += len;
    }
    if offset != frame.len() {
        return Err(format!(
            "{} bytes after the last attachment; \"attachments\" must list every length",
            frame.len() - offset
        ));
    }
    Ok(BinaryMessage {
        header,
        attachments,
    })
}

/// Builds the head of a frame carrying one attachment: the length prefix and
/// the header (the JSON message without its closing brace, to which
/// `"attachments":[len]}` is added). The attachment follows it on the wire.
pub(crate) fn encode_head(open_message: &[u8], attachment_len: usize) -> Bytes {
    let tail = format!(r#","attachments":[{attachment_len}]}}"#);
    let header_len = open_message.len() + tail.len();
    let mut head = BytesMut::with_capacity(4 + header_len);
    head.put_u32(u32::try_from(header_len).unwrap_or(u32::MAX));
    head.put_slice(open_message);
    head.put_slice(tail.as_bytes());
    head.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(header: &str, attachments: &[&[u8]]) -> Bytes {
        let mut out = BytesMut::new();
        out.put_u32(header.len() as u32);
        out.put_slice(header.as_bytes());
        for a in attachments {
            out.put_slice(a);
        }
        out.freeze()
    }

    #[test]
    fn splits_header_and_attachments() {
        let header = r#"{"jsonrpc":"2.0","id":1,"method":"m","params":[{"$bytes":0},{"$bytes":1}],"attachments":[3,0]}"#;
        let decoded = decode(frame(header, &[&[0xff, 0, 1], &[]])).unwrap();
        assert_eq!(decoded.header_text(), header);
        assert_eq!(
            decoded.attachments,
            [Bytes::from_static(&[0xff, 0, 1]), Bytes::new()]
        );
    }

    #[test]
    fn refuses_frames_that_do_not_add_up() {
        assert!(decode(Bytes::from_static(&[0, 0])).is_err());
        assert!(
            decode(frame("{}", &[&[1]]))
                .unwrap_err()
                .contains("after the last attachment")
        );
        let short = frame(r#"{"attachments":[5]}"#, &[&[1, 2]]);
        assert!(decode(short).unwrap_err().contains("runs past the end"));
        let mut lying = BytesMut::new();
        lying.put_u32(100);
        lying.put_slice(b"{}");
        assert!(
            decode(lying.freeze())
                .unwrap_err()
                .contains("header length")
        );
        assert!(decode(frame("not json", &[])).is_err());
    }

    #[test]
    fn encoded_heads_decode() {
        let head = encode_head(br#"{"jsonrpc":"2.0","id":1,"result":{"$bytes":0}"#, 2);
        let mut whole = BytesMut::from(&head[..]);
        whole.put_slice(&[7, 8]);
        let decoded = decode(whole.freeze()).unwrap();
        assert_eq!(
            decoded.header_text(),
            r#"{"jsonrpc":"2.0","id":1,"result":{"$bytes":0},"attachments":[2]}"#
        );
        assert_eq!(decoded.attachments, [Bytes::from_static(&[7, 8])]);
    }
}
