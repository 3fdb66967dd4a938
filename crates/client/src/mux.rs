//! Decoder of Docker's multiplexed stdout/stderr stream (logs and attach
//! without a TTY): each frame is an 8-byte header — stream type (0 stdin,
//! 1 stdout, 2 stderr, 3 system error), three zero bytes, big-endian u32
//! payload length — followed by the payload.

use bytes::{Buf, Bytes, BytesMut};

/// Which stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Standard input (echoed).
    Stdin,
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// An error message from the daemon (`systemerr`).
    System,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its stream.
    pub kind: StreamKind,
    /// Its payload.
    pub data: Bytes,
}

/// Incremental decoder: feed it chunks as they arrive, take frames out.
#[derive(Debug, Default)]
pub struct MuxDecoder {
    buf: BytesMut,
}

/// A frame header that is not Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized stream: {0}")]
pub struct BadFrame(pub u8);

const HEADER: usize = 8;

impl MuxDecoder {
    /// A decoder with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete frame, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, BadFrame> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        let kind = match self.buf[0] {
            0 => StreamKind::Stdin,
            1 => StreamKind::Stdout,
            2 => StreamKind::Stderr,
            3 => StreamKind::System,
            other => return Err(BadFrame(other)),
        };
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        self.buf.advance(HEADER);
        let data = self.buf.split_to(len).freeze();
        Ok(Some(Frame { kind, data }))
    }

    /// Bytes received but not yet forming a full frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Encode one frame (used by tests and by anyone serving the format).
pub fn encode_frame(kind: StreamKind, data: &[u8]) -> Vec<u8> {
    let code = match kind {
        StreamKind::Stdin => 0,
        StreamKind::Stdout => 1,
        StreamKind::Stderr => 2,
        StreamKind::System => 3,
    };
    let mut out = Vec::with_capacity(HEADER + data.len());
    out.extend_from_slice(&[code, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_frames_split_across_chunks() {
        let mut wire = encode_frame(StreamKind::Stdout, b"hello\n");
        wire.extend(encode_frame(StreamKind::Stderr, b"oops\n"));
        wire.extend(encode_frame(StreamKind::Stdout, b""));
        let mut dec = MuxDecoder::new();
        let mut frames = Vec::new();
        for byte in wire {
            dec.push(&[byte]);
            while let Some(f) = dec.next_frame().unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].kind, StreamKind::Stdout);
        assert_eq!(&frames[0].data[..], b"hello\n");
        assert_eq!(frames[1].kind, StreamKind::Stderr);
        assert_eq!(&frames[1].data[..], b"oops\n");
        assert!(frames[2].data.is_empty());
        assert_eq!(dec.pending(), 0);
    }

    #[test]
    fn rejects_unknown_stream_type() {
        let mut dec = MuxDecoder::new();
        dec.push(&[9, 0, 0, 0, 0, 0, 0, 1, b'x']);
        assert_eq!(dec.next_frame(), Err(BadFrame(9)));
    }

    #[test]
    fn waits_for_whole_payload() {
        let mut dec = MuxDecoder::new();
        dec.push(&[1, 0, 0, 0, 0, 0, 0, 4, b'a', b'b']);
        assert_eq!(dec.next_frame(), Ok(None));
        dec.push(b"cd");
        let f = dec.next_frame().unwrap().unwrap();
        assert_eq!(&f.data[..], b"abcd");
    }
}
