//! A coverage-less mutation fuzzer's mutator: random byte and bit changes,
//! insertions and deletions, duplication of chunks, splices between corpus
//! entries, the target's dictionary tokens, interesting numbers and length
//! extremes, stacked a few at a time.
//!
//! Hand-written because only the stable toolchain is available here (no
//! libFuzzer sanitizers) and this needs nothing but `rand`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Largest input the mutator produces.
pub const MAX_LEN: usize = 1 << 20;

/// Bytes and numbers that often hit boundaries.
const INTERESTING_BYTES: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, b'\n', b'/', b'.', b'\\', b'"', b'$'];
const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "255",
    "256",
    "65535",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "99999999999999999999",
    "1e308",
    "077777777777",
];

/// Produces mutated inputs for one target.
pub struct Mutator {
    rng: StdRng,
    dict: &'static [&'static str],
    tar: bool,
}

impl Mutator {
    /// A mutator seeded with `seed`, inserting tokens of `dict`; `tar`
    /// repairs tar header checksums after each mutation.
    pub fn new(seed: u64, dict: &'static [&'static str], tar: bool) -> Self {
        Mutator {
            rng: StdRng::seed_from_u64(seed),
            dict,
            tar,
        }
    }

    /// Pick an index below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.gen_range(0..n.max(1))
    }

    /// A mutant of `input`; `corpus` supplies splice partners.
    pub fn mutate(&mut self, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
        let mut out = input.to_vec();
        let rounds = 1 + self.below(4);
        for _ in 0..rounds {
            self.once(&mut out, corpus);
        }
        out.truncate(MAX_LEN);
        if self.tar {
            crate::tarfix::fix_checksums(&mut out);
        }
        out
    }

    fn once(&mut self, out: &mut Vec<u8>, corpus: &[Vec<u8>]) {
        let len = out.len();
        match self.below(13) {
            0 if len > 0 => {
                let i = self.below(len);
                out[i] ^= 1 << self.below(8);
            }
            1 if len > 0 => {
                let i = self.below(len);
                out[i] = self.rng.gen();
            }
            2 if len > 0 => {
                let i = self.below(len);
                out[i] = INTERESTING_BYTES[self.below(INTERESTING_BYTES.len())];
            }
            3 => {
                let i = self.below(len + 1);
                let n = 1 + self.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.gen()).collect();
                out.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let i = self.below(len);
                let n = 1 + self.below((len - i).min(64));
                out.drain(i..i + n);
            }
            5 if len > 0 => {
                // Duplicate a chunk in place.
                let i = self.below(len);
                let n = 1 + self.below((len - i).min(256));
                let chunk = out[i..i + n].to_vec();
                out.splice(i..i, chunk);
            }
            6 | 7 if !self.dict.is_empty() => {
                let tok = self.dict[self.below(self.dict.len())].as_bytes();
                let i = self.below(len + 1);
                if self.rng.gen_bool(0.5) || i + tok.len() > len {
                    out.splice(i..i, tok.iter().copied());
                } else {
                    out[i..i + tok.len()].copy_from_slice(tok);
                }
            }
            8 if !corpus.is_empty() => {
                // Splice: our head, another entry's tail (or a middle chunk).
                let other = &corpus[self.below(corpus.len())];
                let cut = self.below(len + 1);
                let from = self.below(other.len() + 1);
                let to = from + self.below(other.len() - from + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..to]);
            }
            9 => {
                let num = INTERESTING_NUMBERS[self.below(INTERESTING_NUMBERS.len())].as_bytes();
                let i = self.below(len + 1);
                out.splice(i..i, num.iter().copied());
            }
            10 if len > 0 => {
                // Length extreme: repeat a chunk many times.
                let i = self.below(len);
                let n = 1 + self.below((len - i).min(16));
                let chunk = out[i..i + n].to_vec();
                let times = [64, 1024, 16384][self.below(3)];
                let rep: Vec<u8> = chunk.iter().copied().cycle().take(n * times).collect();
                out.splice(i..i, rep);
            }
            11 if len > 0 => {
                out.truncate(self.below(len));
            }
            _ => {
                // Swap two bytes.
                if len > 1 {
                    let a = self.below(len);
                    let b = self.below(len);
                    out.swap(a, b);
                }
            }
        }
    }
}
