//! Decoder of the JSON-message streams of import, load and pull: a
//! sequence of JSON objects (usually one per line); an object carrying
//! `error`/`errorDetail` ends the operation with that error.

use std::marker::PhantomData;

use berth_spec::api::StreamMessage;
use bytes::BytesMut;
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Result};

/// Incremental decoder of a stream of JSON values of type `T` (the
/// JSON-message streams of import, load and pull by default; builds
/// decode their own message type with it).
pub struct JsonStreamDecoder<T = StreamMessage> {
    buf: BytesMut,
    _message: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for JsonStreamDecoder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonStreamDecoder")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl<T> Default for JsonStreamDecoder<T> {
    fn default() -> Self {
        JsonStreamDecoder {
            buf: BytesMut::new(),
            _message: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> JsonStreamDecoder<T> {
    /// A decoder with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete message. Messages may be separated by newlines or
    /// nothing at all, so this parses one JSON value from the front.
    pub fn next_message(&mut self) -> Result<Option<T>> {
        let start = self
            .buf
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(self.buf.len());
        let _ = self.buf.split_to(start);
        if self.buf.is_empty() {
            return Ok(None);
        }
        let mut iter = serde_json::Deserializer::from_slice(&self.buf).into_iter::<T>();
        match iter.next() {
            Some(Ok(msg)) => {
                let used = iter.byte_offset();
                let _ = self.buf.split_to(used);
                Ok(Some(msg))
            }
            Some(Err(e)) if e.is_eof() => Ok(None),
            Some(Err(e)) => Err(ClientError::Json(e)),
            None => Ok(None),
        }
    }

    /// Hand over the bytes received but not decoded yet.
    pub(crate) fn take_pending(&mut self) -> BytesMut {
        self.buf.split()
    }

    /// Whether unparsed bytes remain (a truncated message at end of stream).
    pub fn has_pending(&self) -> bool {
        self.buf.iter().any(|b| !b.is_ascii_whitespace())
    }
}

/// The error a message carries, if any.
pub fn message_error(msg: &StreamMessage) -> Option<String> {
    if let Some(detail) = &msg.error_detail {
        if !detail.message.is_empty() {
            return Some(detail.message.clone());
        }
    }
    msg.error.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_messages_across_chunks() {
        let wire = b"{\"status\":\"a\"}\r\n{\"stream\":\"Loaded image: x:1\\n\"}{\"status\":\"sha256:12\"}\n";
        let mut dec: JsonStreamDecoder = JsonStreamDecoder::new();
        let mut got = Vec::new();
        for chunk in wire.chunks(5) {
            dec.push(chunk);
            while let Some(m) = dec.next_message().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].status.as_deref(), Some("a"));
        assert_eq!(got[1].stream.as_deref(), Some("Loaded image: x:1\n"));
        assert_eq!(got[2].status.as_deref(), Some("sha256:12"));
        assert!(!dec.has_pending());
    }

    #[test]
    fn surfaces_error_detail() {
        let mut dec: JsonStreamDecoder = JsonStreamDecoder::new();
        dec.push(br#"{"errorDetail":{"message":"bad tar"},"error":"bad tar"}"#);
        let m = dec.next_message().unwrap().unwrap();
        assert_eq!(message_error(&m).as_deref(), Some("bad tar"));
    }

    #[test]
    fn garbage_is_an_error() {
        let mut dec: JsonStreamDecoder = JsonStreamDecoder::new();
        dec.push(b"not json\n");
        assert!(dec.next_message().is_err());
    }
}
