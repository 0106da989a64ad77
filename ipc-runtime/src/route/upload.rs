//! `ipc.upload` from the client: a chunk, the end or an abort of an upload
//! it passed to a command (see [`Upload`](crate::Upload)). The chunk's bytes
//! are base64 in a text message, or a binary attachment (`{"$bytes": 0}`).

use std::borrow::Cow;

use base64::Engine as _;
use bytes::Bytes;
use ipc_core::method;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::InvokeError;
use crate::invoke::Peer;

/// `ipc.upload {"upload", "data"?, "end"?, "abort"?}` → whether the upload
/// was open (chunks of an upload that has ended on the server's side are
/// dropped: they were on their way before the client heard).
pub(super) fn upload(
    raw: Option<&RawValue>,
    attachments: &[Bytes],
    peer: &dyn Peer,
) -> Result<String, InvokeError> {
    #[derive(Deserialize)]
    struct Params<'a> {
        upload: u64,
        #[serde(default, borrow)]
        data: Option<&'a RawValue>,
        #[serde(default)]
        end: bool,
        #[serde(default)]
        abort: Option<String>,
    }
    let text = raw.map_or("{}", RawValue::get);
    let p: Params<'_> = serde_json::from_str(text)
        .map_err(|e| InvokeError::invalid_params(None, None, format!("{}: {e}", method::UPLOAD)))?;
    let chunk = p.data.map(|data| chunk(data, attachments)).transpose()?;
    let Some(inbox) = peer.upload(p.upload) else {
        tracing::trace!(
            upload = p.upload,
            "chunk of an upload that is not open dropped"
        );
        return Ok("false".to_owned());
    };
    if let Some(reason) = p.abort {
        inbox.abort(reason);
        return Ok("true".to_owned());
    }
    if let Some(chunk) = chunk {
        inbox.deliver(chunk);
    }
    if p.end {
        inbox.end();
    }
    Ok("true".to_owned())
}

/// A chunk's bytes: a base64 string, or a binary attachment's placeholder.
fn chunk(data: &RawValue, attachments: &[Bytes]) -> Result<Bytes, InvokeError> {
    let invalid = |reason: String| InvokeError::invalid_params(Some("data"), None, reason);
    if data.get().starts_with('"') {
        let text: Cow<'_, str> =
            serde_json::from_str(data.get()).map_err(|e| invalid(e.to_string()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| invalid(format!("not base64: {e}")))?;
        return Ok(Bytes::from(bytes));
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Placeholder {
        #[serde(rename = "$bytes")]
        index: usize,
    }
    let placeholder: Placeholder = serde_json::from_str(data.get()).map_err(|_| {
        invalid(r#"a chunk is a base64 string or a binary attachment {"$bytes": index}"#.to_owned())
    })?;
    attachments.get(placeholder.index).cloned().ok_or_else(|| {
        invalid(format!(
            "refers to binary attachment {}, but the message has {}",
            placeholder.index,
            attachments.len()
        ))
    })
}
