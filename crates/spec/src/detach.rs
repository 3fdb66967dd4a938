//! Docker's detach keys: the `--detach-keys` syntax (moby `term.ToBytes`)
//! and the escape proxy that watches typed input for the sequence.
//!
//! One implementation shared by the daemon (hijacked streams) and the CLI.

/// Docker's default detach sequence: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: [u8; 2] = [16, 17];

/// Names of the control characters, indexed by their code (`ctrl-@` = 0 ..
/// `ctrl-_` = 31), case-sensitive as in moby.
const CTRL: &str = "@abcdefghijklmnopqrstuvwxyz[\\]^_";

/// A detach-key specification that moby's `term.ToBytes` rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown character: '{key}'")]
pub struct DetachKeysError {
    /// The offending comma-separated element.
    pub key: String,
}

/// Parse `keys` like moby's `term.ToBytes`: comma-separated elements, each
/// a single character, `ctrl-@`..`ctrl-_` (lower-case letters only), or
/// `DEL`. An empty string is not special-cased here: callers use
/// [`DEFAULT_DETACH_KEYS`] when no keys were given.
pub fn parse_detach_keys(keys: &str) -> Result<Vec<u8>, DetachKeysError> {
    let mut codes = Vec::new();
    for key in keys.split(',') {
        if key.len() == 1 {
            codes.push(key.as_bytes()[0]);
            continue;
        }
        if key == "DEL" {
            codes.push(127);
            continue;
        }
        let code = key
            .strip_prefix("ctrl-")
            .filter(|c| c.len() == 1)
            .and_then(|c| CTRL.find(c));
        match code.and_then(|i| u8::try_from(i).ok()) {
            Some(b) => codes.push(b),
            None => {
                return Err(DetachKeysError {
                    key: key.to_string(),
                })
            }
        }
    }
    Ok(codes)
}

/// The detach keys to use for an optional specification: the default
/// sequence when `keys` is empty, else the parsed keys.
pub fn detach_keys_or_default(keys: &str) -> Result<Vec<u8>, DetachKeysError> {
    if keys.is_empty() {
        Ok(DEFAULT_DETACH_KEYS.to_vec())
    } else {
        parse_detach_keys(keys)
    }
}

/// What one chunk of input amounts to.
#[derive(Debug, PartialEq, Eq)]
pub enum Escape {
    /// Forward these bytes.
    Forward(Vec<u8>),
    /// The sequence was typed: detach (the bytes before it are forwarded).
    Detach(Vec<u8>),
}

/// Watches input for the detach sequence, as docker's escape proxy: bytes
/// that may start the sequence are held back until it is known whether the
/// rest of the sequence follows.
#[derive(Debug)]
pub struct EscapeProxy {
    keys: Vec<u8>,
    matched: usize,
}

impl EscapeProxy {
    /// A proxy for `keys` (empty: never detaches, forwards everything).
    pub fn new(keys: Vec<u8>) -> Self {
        EscapeProxy { keys, matched: 0 }
    }

    /// Feed one chunk of input.
    pub fn feed(&mut self, input: &[u8]) -> Escape {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return Escape::Forward(out);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Escape::Detach(out);
                }
                continue;
            }
            // Not the sequence: release what was held back, then look at
            // this byte afresh (it may start a new sequence).
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Escape::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Escape::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_moby_to_bytes() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            DEFAULT_DETACH_KEYS
        );
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert_eq!(parse_detach_keys("ctrl-@,ctrl-_").unwrap(), vec![0, 31]);
        assert_eq!(parse_detach_keys("ctrl-[,ctrl-\\").unwrap(), vec![27, 28]);
        assert_eq!(parse_detach_keys("DEL").unwrap(), vec![127]);
        assert_eq!(parse_detach_keys("P,q").unwrap(), vec![b'P', b'q']);
        assert_eq!(
            parse_detach_keys("ctrl-1").unwrap_err().to_string(),
            "Unknown character: 'ctrl-1'"
        );
        // Case-sensitive, like moby.
        assert!(parse_detach_keys("ctrl-P").is_err());
        assert!(parse_detach_keys("CTRL-p").is_err());
        assert!(parse_detach_keys("del").is_err());
        assert!(parse_detach_keys("foo").is_err());
        assert_eq!(
            parse_detach_keys("a,,b").unwrap_err(),
            DetachKeysError { key: String::new() }
        );
    }

    #[test]
    fn empty_means_default() {
        assert_eq!(detach_keys_or_default("").unwrap(), DEFAULT_DETACH_KEYS);
        assert_eq!(detach_keys_or_default("x").unwrap(), vec![b'x']);
        assert!(parse_detach_keys("").is_err());
    }

    #[test]
    fn escape_proxy_detects_split_sequence() {
        let mut p = EscapeProxy::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(p.feed(b"ls\r"), Escape::Forward(b"ls\r".to_vec()));
        assert_eq!(p.feed(&[b'a', 16]), Escape::Forward(b"a".to_vec()));
        assert_eq!(p.feed(&[17, b'z']), Escape::Detach(Vec::new()));
    }

    #[test]
    fn escape_proxy_releases_false_starts() {
        let mut p = EscapeProxy::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(p.feed(&[16]), Escape::Forward(Vec::new()));
        assert_eq!(p.feed(b"x"), Escape::Forward(vec![16, b'x']));
        assert_eq!(p.feed(&[16, 16, 17]), Escape::Detach(vec![16]));
        assert_eq!(p.feed(b"ab\x10"), Escape::Forward(b"ab".to_vec()));
        assert_eq!(p.feed(b"c"), Escape::Forward(b"\x10c".to_vec()));
    }

    #[test]
    fn single_key_and_no_keys() {
        let mut one = EscapeProxy::new(vec![b'q']);
        assert_eq!(one.feed(b"abq!"), Escape::Detach(b"ab".to_vec()));
        let mut none = EscapeProxy::new(Vec::new());
        assert_eq!(none.feed(&[16, 17]), Escape::Forward(vec![16, 17]));
    }
}
