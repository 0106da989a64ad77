//! [`Upload`]: a stream of bytes from the caller to a running command, with
//! credit-based flow control.
//!
//! The caller passes `"__UPLOAD__:<id>"` for the argument; when the command's
//! arguments are read, the upload opens on the call's connection and the
//! server grants the client a *window* of credit (bytes it may send). The
//! client sends chunks (`ipc.upload` notifications: base64 in JSON, or raw in
//! a binary frame) up to its credit; each chunk the command takes out of the
//! stream grants more, so the bytes held for one upload never exceed the
//! window, however large the upload. See `docs/protocol.md`, "Uploads".
//!
//! The shared state of one upload is its [`Inbox`]: the session's table of
//! open uploads holds it (routing delivers chunks to it), and so does the
//! command's [`Upload`] (the only reader).

use std::collections::VecDeque;
use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_util::Stream;
use serde::de::{self, Deserialize as _, Deserializer, Visitor};

use super::InvokeContext;
use super::args::{ArgProbe, ArgSlot, SlotError, SpecialKind};
use super::describe::{TypeCollector, TypeDesc};
use super::peer::Peer;
use super::probes::{BytesType, TypeProbe};
use crate::codec;
use crate::error::InvokeError;

/// The bytes of an upload, as the caller streams them: a
/// [`Stream`](futures_util::Stream) of chunks that ends when the caller has
/// sent everything, or yields one [`UploadError`] (then ends) when the caller
/// aborts or disconnects, or the upload passes its size limit.
///
/// Declare it as a `#[command]` argument; the caller passes a `Blob`, `File`,
/// `ReadableStream<Uint8Array>` (or, in Node, an async iterable of
/// `Uint8Array`) there, and `ipc.js` streams it. Dropping the `Upload` before
/// its end (a command that found what it needed) ends the upload cleanly: the
/// client stops sending and its call goes on.
///
/// Memory: the server holds at most the connection's upload window (1 MiB by
/// default) of each upload, whatever its size; the client sends more only as
/// the command reads.
///
/// ```rust,standalone_crate,no_run
/// use futures_util::StreamExt;
/// use ipc_runtime::{Upload, UploadError, command};
///
/// /// Counts the lines of a file of any size.
/// #[command]
/// async fn count_lines(mut file: Upload) -> Result<u64, String> {
///     let mut lines = 0;
///     while let Some(chunk) = file.next().await {
///         let chunk = chunk.map_err(|e: UploadError| e.to_string())?;
///         lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
///     }
///     Ok(lines)
/// }
/// ```
pub struct Upload {
    inbox: Arc<Inbox>,
}

/// Why an upload's bytes stopped before its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The caller aborted the upload (an `AbortSignal`, or the stream it read
    /// from failed).
    #[error("the caller aborted the upload: {0}")]
    Aborted(String),
    /// The caller disconnected before the upload ended.
    #[error("the caller disconnected before the upload ended")]
    Disconnected,
    /// The upload is larger than the limit set for it.
    #[error("the upload is larger than its limit of {max} bytes")]
    TooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// The caller broke the protocol (sent past its credit).
    #[error("the caller broke the upload protocol: {0}")]
    Protocol(String),
    /// Writing the upload out ([`Upload::to_file`]) failed.
    #[error("writing the upload failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The limits of a connection's uploads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UploadLimits {
    /// Bytes of credit an upload is granted ahead of what the command read.
    pub(crate) window: u64,
    /// The most bytes one upload may carry.
    pub(crate) max_size: u64,
    /// How many uploads may be open at once.
    pub(crate) max_open: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            window: 1 << 20,
            max_size: 4 << 30,
            max_open: 8,
        }
    }
}

/// Why an upload did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenRefused {
    /// The id is open for another call.
    InUse,
    /// The connection has as many uploads open as it may.
    TooMany(usize),
}

/// How an upload ended, or failed, on the client's side.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Finish {
    Open,
    /// The client sent its end.
    Ended,
    /// A failure not yet reported to the reader.
    Failed(Failure),
    /// The failure was reported; the stream is over.
    Reported,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Aborted(String),
    Disconnected,
    TooLarge(u64),
    Protocol(String),
}

impl From<Failure> for UploadError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Aborted(reason) => UploadError::Aborted(reason),
            Failure::Disconnected => UploadError::Disconnected,
            Failure::TooLarge(max) => UploadError::TooLarge { max },
            Failure::Protocol(why) => UploadError::Protocol(why),
        }
    }
}

struct State {
    queue: VecDeque<Bytes>,
    /// Bytes in `queue`.
    buffered: u64,
    /// Bytes received in all.
    received: u64,
    /// Bytes the reader took out.
    consumed: u64,
    /// Credit granted in all: the client may have sent this many bytes.
    granted: u64,
    max_size: u64,
    finish: Finish,
    /// The [`Upload`] was dropped: nothing more is kept.
    reader_gone: bool,
    waker: Option<Waker>,
}

/// One open upload: the chunks received and not yet read, and its credit.
pub(crate) struct Inbox {
    id: u64,
    window: u64,
    peer: Weak<dyn Peer>,
    state: Mutex<State>,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens upload `id` on `peer` and grants the client its first window.
    pub(crate) fn open(id: u64, peer: &dyn Peer) -> Result<Upload, OpenRefused> {
        let limits = peer.upload_limits();
        let window = limits.window.max(1);
        let inbox = Arc::new(Inbox {
            id,
            window,
            peer: peer.downgrade(),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                buffered: 0,
                received: 0,
                consumed: 0,
                granted: window,
                max_size: limits.max_size,
                finish: Finish::Open,
                reader_gone: false,
                waker: None,
            }),
        });
        peer.open_upload(id, Arc::clone(&inbox))?;
        peer.push_final(codec::upload_credit(id, window));
        Ok(Upload { inbox })
    }

    /// Takes a chunk from the client. A chunk past the client's credit, or
    /// past the upload's size limit, fails the upload (the reader sees the
    /// error, the client is told with `done` and the error). Chunks of an
    /// upload that has ended or whose reader is gone are dropped: they were on
    /// their way before the client heard.
    pub(crate) fn deliver(&self, chunk: Bytes) {
        let failure = {
            let mut state = self.lock();
            if state.reader_gone || state.finish != Finish::Open {
                return;
            }
            let len = chunk.len() as u64;
            let received = state.received.saturating_add(len);
            if received > state.max_size {
                Failure::TooLarge(state.max_size)
            } else if received > state.granted {
                Failure::Protocol(format!(
                    "sent {received} bytes, past the {} bytes of credit granted",
                    state.granted
                ))
            } else {
                state.received = received;
                if !chunk.is_empty() {
                    state.buffered += len;
                    state.queue.push_back(chunk);
                }
                wake(&mut state);
                return;
            }
        };
        self.fail(failure, true);
    }

    /// The client sent everything.
    pub(crate) fn end(&self) {
        let mut state = self.lock();
        if state.finish == Finish::Open {
            state.finish = Finish::Ended;
            wake(&mut state);
        }
    }

    /// The client aborted the upload.
    pub(crate) fn abort(&self, reason: String) {
        self.fail(Failure::Aborted(reason), false);
    }

    /// The client's connection closed.
    pub(crate) fn disconnect(&self) {
        self.fail(Failure::Disconnected, false);
    }

    /// Fails the upload (if it is still open): the reader sees `failure` after
    /// nothing, the buffered bytes are let go, and with `tell` the client
    /// hears it too.
    fn fail(&self, failure: Failure, tell: bool) {
        let message = {
            let mut state = self.lock();
            if state.finish != Finish::Open {
                return;
            }
            let message = UploadError::from(failure.clone()).to_string();
            state.finish = Finish::Failed(failure);
            state.queue.clear();
            state.buffered = 0;
            wake(&mut state);
            message
        };
        if let Some(peer) = self.peer.upgrade() {
            peer.close_upload(self.id, self);
            if tell {
                peer.push_final(codec::upload_done(self.id, Some(&message)));
            }
        }
    }

    /// The next chunk, the end, or the failure; grants more credit as bytes
    /// are taken.
    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, UploadError>>> {
        let (chunk, grant) = {
            let mut state = self.lock();
            match state.queue.pop_front() {
                Some(chunk) => {
                    let len = chunk.len() as u64;
                    state.buffered -= len;
                    state.consumed += len;
                    // Grant again once half a window has been read, so the
                    // client keeps sending without a grant per chunk.
                    let target = state.consumed + self.window;
                    let grant = (state.finish == Finish::Open
                        && target - state.granted >= self.window.div_ceil(2))
                    .then(|| {
                        state.granted = target;
                        target
                    });
                    (chunk, grant)
                }
                None => {
                    return match std::mem::replace(&mut state.finish, Finish::Reported) {
                        Finish::Open => {
                            state.finish = Finish::Open;
                            state.waker = Some(cx.waker().clone());
                            Poll::Pending
                        }
                        Finish::Ended => {
                            state.finish = Finish::Ended;
                            Poll::Ready(None)
                        }
                        Finish::Failed(failure) => Poll::Ready(Some(Err(failure.into()))),
                        Finish::Reported => Poll::Ready(None),
                    };
                }
            }
        };
        if let Some(credit) = grant
            && let Some(peer) = self.peer.upgrade()
        {
            peer.push_final(codec::upload_credit(self.id, credit));
        }
        Poll::Ready(Some(Ok(chunk)))
    }

    /// The reader is gone: let the buffer go, and if the client is still
    /// sending, tell it to stop.
    fn reader_dropped(&self) {
        let open = {
            let mut state = self.lock();
            state.reader_gone = true;
            state.queue.clear();
            state.buffered = 0;
            state.finish == Finish::Open
        };
        if let Some(peer) = self.peer.upgrade() {
            peer.close_upload(self.id, self);
            if open {
                peer.push_final(codec::upload_done(self.id, None));
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn buffered(&self) -> u64 {
        self.lock().buffered
    }

    #[cfg(test)]
    pub(crate) fn received(&self) -> u64 {
        self.lock().received
    }
}

fn wake(state: &mut State) {
    if let Some(waker) = state.waker.take() {
        waker.wake();
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Inbox")
            .field("id", &self.id)
            .field("received", &state.received)
            .field("consumed", &state.consumed)
            .field("granted", &state.granted)
            .field("finish", &state.finish)
            .finish()
    }
}

impl Upload {
    /// The id the caller gave the upload.
    pub fn id(&self) -> u64 {
        self.inbox.id
    }

    /// Bytes received so far (read or still buffered).
    pub fn received(&self) -> u64 {
        self.inbox.lock().received
    }

    /// This upload, with a lower size limit than the connection's (a
    /// per-command limit): past `max` bytes the stream yields
    /// [`UploadError::TooLarge`] and the client is told to stop. A limit
    /// above the connection's has no effect.
    ///
    /// ```rust,standalone_crate,no_run
    /// use ipc_runtime::{InvokeError, Upload, command};
    ///
    /// #[command]
    /// async fn avatar(image: Upload) -> Result<usize, InvokeError> {
    ///     let bytes = image.limit(2 << 20).read_to_end(usize::MAX).await?;
    ///     Ok(bytes.len())
    /// }
    /// ```
    #[must_use]
    pub fn limit(self, max: u64) -> Self {
        let past = {
            let mut state = self.inbox.lock();
            state.max_size = state.max_size.min(max);
            state.received > state.max_size
        };
        if past {
            // Bytes sent before the limit was set are already past it.
            self.inbox.fail(Failure::TooLarge(max), true);
        }
        self
    }

    /// Reads the whole upload into memory, failing with
    /// [`UploadError::TooLarge`] past `limit` bytes (the client is then told
    /// to stop).
    ///
    /// ```rust,standalone_crate,no_run
    /// use ipc_runtime::{InvokeError, Upload, command};
    ///
    /// #[command]
    /// async fn config(file: Upload) -> Result<serde_json::Value, InvokeError> {
    ///     let bytes = file.read_to_end(64 << 10).await?;
    ///     serde_json::from_slice(&bytes).map_err(|e| InvokeError::command(e.to_string()))
    /// }
    /// ```
    pub async fn read_to_end(mut self, limit: usize) -> Result<Vec<u8>, UploadError> {
        use futures_util::StreamExt as _;
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > limit {
                return Err(UploadError::TooLarge { max: limit as u64 });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Writes the upload to a new file at `path` (replacing one that exists)
    /// and returns its size. On any error the partial file is removed.
    ///
    /// ```rust,standalone_crate,no_run
    /// use ipc_runtime::{InvokeError, Upload, command};
    ///
    /// #[command]
    /// async fn save(name: String, file: Upload) -> Result<u64, InvokeError> {
    ///     let name = std::path::Path::new(&name).file_name().ok_or_else(|| InvokeError::command("bad name"))?;
    ///     Ok(file.to_file(std::env::temp_dir().join(name)).await?)
    /// }
    /// ```
    pub async fn to_file(self, path: impl AsRef<Path>) -> Result<u64, UploadError> {
        let path = path.as_ref();
        let result = self.write_file(path).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(path).await;
        }
        result
    }

    async fn write_file(mut self, path: &Path) -> Result<u64, UploadError> {
        use futures_util::StreamExt as _;
        use tokio::io::AsyncWriteExt as _;
        let mut file = tokio::fs::File::create(path).await?;
        let mut size = 0;
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            file.write_all(&chunk).await?;
            size += chunk.len() as u64;
        }
        file.flush().await?;
        Ok(size)
    }
}

impl Stream for Upload {
    type Item = Result<Bytes, UploadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inbox.poll_next(cx)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.inbox.reader_dropped();
    }
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Upload").field(&self.inbox).finish()
    }
}

impl SpecialKind for &&&ArgProbe<Upload> {
    type Tag = UploadTag;
    fn __ipc_arg_kind(&self) -> UploadTag {
        UploadTag
    }
}

/// Chosen for `Upload` arguments. Not public API.
#[derive(Debug)]
pub struct UploadTag;

impl UploadTag {
    /// An empty slot.
    pub fn slot(self) -> UploadSlot {
        UploadSlot(None)
    }
}

/// Slot of an `Upload` argument: the id the caller sent, then the upload
/// opened on the call's connection. Not public API.
#[derive(Debug)]
pub struct UploadSlot(Option<u64>);

impl ArgSlot for UploadSlot {
    type Value = Upload;
    const READS_PARAMS: bool = true;

    fn is_filled(&self) -> bool {
        self.0.is_some()
    }

    fn read<'de, D: Deserializer<'de>>(&mut self, deserializer: D) -> Result<(), D::Error> {
        self.0 = Some(UploadId::deserialize(deserializer)?.0);
        Ok(())
    }

    fn finish(self, cx: &InvokeContext<'_>) -> Result<Upload, SlotError> {
        let Some(id) = self.0 else {
            return Err(SlotError::Missing);
        };
        let Some(peer) = cx.peer else {
            return Err(SlotError::Invalid(
                "uploads stream from a connection; this call has none (use App::connect)"
                    .to_owned(),
            ));
        };
        Inbox::open(id, peer).map_err(|refused| match refused {
            OpenRefused::InUse => {
                SlotError::Invalid(format!("upload {id} is already open for another call"))
            }
            OpenRefused::TooMany(max) => SlotError::Failed(
                InvokeError::new(
                    ipc_core::codes::LIMIT_EXCEEDED,
                    format!("too many uploads: a connection may have {max} open at once"),
                )
                .with_data(serde_json::json!({ "limit": "uploads", "max": max })),
            ),
        })
    }
}

/// An upload described for the bindings: what `ipc.js` streams.
impl BytesType for &&&&&TypeProbe<Upload> {
    fn __ipc_type(&self, _: &mut TypeCollector) -> TypeDesc {
        TypeDesc::Ts {
            ts: "Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>".to_owned(),
            optional: false,
        }
    }
}

/// An upload as an argument value: `"__UPLOAD__:<id>"`.
struct UploadId(u64);

impl<'de> de::Deserialize<'de> for UploadId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = UploadId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"an upload: "__UPLOAD__:<id>""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UploadId, E> {
                v.strip_prefix("__UPLOAD__:")
                    .and_then(|id| id.parse().ok())
                    .map(UploadId)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_str(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids_parse_in_one_spelling() {
        let id: UploadId = serde_json::from_str(r#""__UPLOAD__:42""#).unwrap();
        assert_eq!(id.0, 42);
        assert!(serde_json::from_str::<UploadId>("42").is_err());
        assert!(serde_json::from_str::<UploadId>(r#""__CHANNEL__:42""#).is_err());
        assert!(serde_json::from_str::<UploadId>(r#""__UPLOAD__:-1""#).is_err());
    }

    #[test]
    fn uploads_are_typed_as_what_ipc_js_streams() {
        let c = &mut TypeCollector::new();
        let probe = &&&&&TypeProbe::<Upload>::NEW;
        assert_eq!(
            probe.__ipc_type(c),
            TypeDesc::Ts {
                ts: "Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>".into(),
                optional: false
            }
        );
    }
}
