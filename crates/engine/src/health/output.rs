//! A probe's output as dockerd keeps it: stdout and stderr together, the
//! first 4096 bytes, `...` appended when more came, invalid UTF-8 replaced
//! byte by byte (as Go's JSON encoder does).

/// Bytes of output kept (dockerd's `maxOutputLen`).
pub(crate) const MAX_OUTPUT: usize = 4096;

/// The first [`MAX_OUTPUT`] bytes written, and whether more came.
#[derive(Debug, Default)]
pub(crate) struct LimitedBuffer {
    buf: Vec<u8>,
    truncated: bool,
}

impl LimitedBuffer {
    /// Append `bytes`, keeping at most [`MAX_OUTPUT`] in all.
    pub fn write(&mut self, bytes: &[u8]) {
        let room = MAX_OUTPUT - self.buf.len();
        if bytes.len() > room {
            self.truncated = true;
        }
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The text shown in `State.Health.Log[].Output`.
    pub fn into_string(self) -> String {
        let mut out = String::with_capacity(self.buf.len() + 3);
        // Hand-written rather than `String::from_utf8_lossy`: that replaces a
        // maximal invalid sequence with one U+FFFD, Go replaces each byte.
        for chunk in self.buf.utf8_chunks() {
            out.push_str(chunk.valid());
            for _ in chunk.invalid() {
                out.push(char::REPLACEMENT_CHARACTER);
            }
        }
        if self.truncated {
            out.push_str("...");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_4096_bytes_then_dots() {
        let mut b = LimitedBuffer::default();
        b.write(b"hi\n");
        assert_eq!(b.into_string(), "hi\n");
        let mut b = LimitedBuffer::default();
        b.write(&[b'a'; 4000]);
        b.write(&[b'b'; 1000]);
        b.write(b"c");
        let s = b.into_string();
        assert_eq!(s.len(), 4099);
        assert!(s.ends_with("bbb..."));
        let mut b = LimitedBuffer::default();
        b.write(&[b'a'; MAX_OUTPUT]);
        assert!(!b.into_string().ends_with("..."));
    }

    #[test]
    fn invalid_utf8_is_replaced_per_byte() {
        let mut b = LimitedBuffer::default();
        b.write(b"x\xff\xfey\xf0\x90\x80");
        assert_eq!(
            b.into_string(),
            "x\u{fffd}\u{fffd}y\u{fffd}\u{fffd}\u{fffd}"
        );
        let mut b = LimitedBuffer::default();
        b.write("é✓".as_bytes());
        assert_eq!(b.into_string(), "é✓");
    }
}
