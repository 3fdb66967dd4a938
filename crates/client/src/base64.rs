//! Standard base64 decoding for the one header that uses it
//! (`X-Docker-Container-Path-Stat`). A dozen lines do not justify a
//! dependency.

/// Decode standard (`+/`, padded or not) base64; `None` if malformed.
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    }
    let trimmed: Vec<u8> = input
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let body = match trimmed.iter().position(|&c| c == b'=') {
        Some(p) if trimmed[p..].iter().all(|&c| c == b'=') => &trimmed[..p],
        Some(_) => return None,
        None => &trimmed[..],
    };
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_padded_and_unpadded() {
        assert_eq!(decode(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode(b"aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode(b"eyJuYW1lIjoiYSJ9").unwrap(), br#"{"name":"a"}"#);
        assert_eq!(decode(b"").unwrap(), b"");
        assert!(decode(b"a").is_none());
        assert!(decode(b"a=b=").is_none());
        assert!(decode(b"!!!!").is_none());
    }
}
