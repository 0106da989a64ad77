//! Reassembling WebSocket messages from frames, with a size limit that holds
//! across fragments, and UTF-8 checking that reports instead of failing the
//! connection.

use bytes::{Bytes, BytesMut};
use fastwebsockets::{Frame, OpCode, Payload};

/// A complete message. Payloads are the received buffers, not copies.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// A text message (its UTF-8 is checked by [`Message::text`]).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// The peer closed the connection.
    Close,
}

impl Message {
    /// A text message's content, `None` if it is not UTF-8.
    pub(crate) fn text(bytes: &Bytes) -> Option<&str> {
        std::str::from_utf8(bytes).ok()
    }
}

/// A frame's payload as shared bytes (no copy for received frames).
fn into_bytes(payload: Payload<'_>) -> Bytes {
    match payload {
        Payload::Bytes(bytes) => bytes.freeze(),
        Payload::Owned(vec) => Bytes::from(vec),
        other => Bytes::copy_from_slice(&other),
    }
}

/// What makes the connection unusable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fatal {
    /// A fragmented message grew past the limit.
    TooLarge,
    /// Frames out of order (a continuation without a start, or a new message
    /// before the last one ended).
    Protocol,
}

/// Collects the frames of one message at a time.
#[derive(Debug)]
pub(crate) struct Assembler {
    max: usize,
    partial: Option<(OpCode, BytesMut)>,
}

impl Assembler {
    pub(crate) fn new(max: usize) -> Self {
        Assembler { max, partial: None }
    }

    /// Adds a frame; returns a message when one is complete.
    pub(crate) fn push(&mut self, frame: Frame<'_>) -> Result<Option<Message>, Fatal> {
        match frame.opcode {
            OpCode::Close => Ok(Some(Message::Close)),
            OpCode::Ping | OpCode::Pong => Ok(None),
            OpCode::Text | OpCode::Binary => {
                if self.partial.is_some() {
                    return Err(Fatal::Protocol);
                }
                if frame.fin {
                    Ok(Some(finish(frame.opcode, into_bytes(frame.payload))))
                } else {
                    self.check(frame.payload.len())?;
                    self.partial = Some((frame.opcode, BytesMut::from(&frame.payload[..])));
                    Ok(None)
                }
            }
            OpCode::Continuation => {
                let Some((_, data)) = &self.partial else {
                    return Err(Fatal::Protocol);
                };
                self.check(data.len().saturating_add(frame.payload.len()))?;
                let Some((opcode, mut data)) = self.partial.take() else {
                    return Err(Fatal::Protocol);
                };
                data.extend_from_slice(&frame.payload);
                if frame.fin {
                    Ok(Some(finish(opcode, data.freeze())))
                } else {
                    self.partial = Some((opcode, data));
                    Ok(None)
                }
            }
        }
    }

    fn check(&self, len: usize) -> Result<(), Fatal> {
        if len > self.max {
            Err(Fatal::TooLarge)
        } else {
            Ok(())
        }
    }
}

fn finish(opcode: OpCode, data: Bytes) -> Message {
    match opcode {
        OpCode::Text => Message::Text(data),
        _ => Message::Binary(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: OpCode, data: &[u8]) -> Frame<'static> {
        Frame::new(fin, opcode, None, Payload::Owned(data.to_vec()))
    }

    fn text(message: Result<Option<Message>, Fatal>) -> Option<String> {
        match message {
            Ok(Some(Message::Text(bytes))) => Message::text(&bytes).map(str::to_owned),
            other => panic!("expected a whole text message, got {other:?}"),
        }
    }

    #[test]
    fn whole_and_fragmented_messages() {
        let mut a = Assembler::new(10);
        assert_eq!(
            text(a.push(frame(true, OpCode::Text, b"hi"))).as_deref(),
            Some("hi")
        );
        assert_eq!(a.push(frame(false, OpCode::Binary, b"ab")), Ok(None));
        assert_eq!(
            a.push(frame(true, OpCode::Ping, b"")),
            Ok(None),
            "control frames may interleave"
        );
        assert_eq!(a.push(frame(false, OpCode::Continuation, b"cd")), Ok(None));
        assert_eq!(
            a.push(frame(true, OpCode::Continuation, b"e")),
            Ok(Some(Message::Binary(Bytes::from_static(b"abcde"))))
        );
    }

    #[test]
    fn utf8_is_checked_on_the_whole_message() {
        let mut a = Assembler::new(10);
        // "é" split across two fragments is fine.
        assert_eq!(a.push(frame(false, OpCode::Text, &[0xc3])), Ok(None));
        assert_eq!(
            text(a.push(frame(true, OpCode::Continuation, &[0xa9]))).as_deref(),
            Some("é")
        );
        assert_eq!(text(a.push(frame(true, OpCode::Text, &[0xff]))), None);
    }

    #[test]
    fn the_limit_holds_across_fragments() {
        let mut a = Assembler::new(4);
        assert_eq!(a.push(frame(false, OpCode::Text, b"abc")), Ok(None));
        assert_eq!(
            a.push(frame(true, OpCode::Continuation, b"de")),
            Err(Fatal::TooLarge)
        );
        let mut b = Assembler::new(4);
        assert_eq!(
            b.push(frame(false, OpCode::Text, b"abcde")),
            Err(Fatal::TooLarge)
        );
        assert_eq!(
            text(b.push(frame(true, OpCode::Text, b"abcd"))).as_deref(),
            Some("abcd")
        );
    }

    #[test]
    fn out_of_order_frames_are_fatal() {
        let mut a = Assembler::new(10);
        assert_eq!(
            a.push(frame(true, OpCode::Continuation, b"x")),
            Err(Fatal::Protocol)
        );
        assert_eq!(a.push(frame(false, OpCode::Text, b"x")), Ok(None));
        assert_eq!(
            a.push(frame(true, OpCode::Text, b"y")),
            Err(Fatal::Protocol)
        );
    }
}
