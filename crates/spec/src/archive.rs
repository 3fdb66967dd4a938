//! Telling archives apart by their first bytes, as Docker does for build
//! contexts: a tar header (POSIX `ustar` magic, or a pre-POSIX header whose
//! checksum is right), or a gzip, bzip2, xz or zstd stream.

/// Size of a tar header block: the bytes [`is_tar`] needs.
pub const TAR_HEADER_LEN: usize = 512;

/// Magic numbers of the compressions Docker accepts for a context.
const COMPRESSION_MAGICS: [&[u8]; 4] = [
    &[0x1f, 0x8b],                         // gzip
    b"BZh",                                // bzip2
    &[0xfd, b'7', b'z', b'X', b'Z', 0x00], // xz
    &[0x28, 0xb5, 0x2f, 0xfd],             // zstd
];

/// Whether `head` starts with a tar header block (fewer than
/// [`TAR_HEADER_LEN`] bytes never are one).
pub fn is_tar(head: &[u8]) -> bool {
    let Some(block) = head.get(..TAR_HEADER_LEN) else {
        return false;
    };
    if &block[257..262] == b"ustar" {
        return true;
    }
    // A pre-POSIX (v7) header: only its checksum tells.
    let field = String::from_utf8_lossy(&block[148..156]);
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(*b)
            }
        })
        .sum();
    sum == stored && block[0] != 0
}

/// Whether `head` starts with a gzip, bzip2, xz or zstd magic number.
pub fn is_compressed(head: &[u8]) -> bool {
    COMPRESSION_MAGICS.iter().any(|m| head.starts_with(m))
}

/// Whether `head` starts an archive Docker accepts as a build context
/// (compressed, or a tar).
pub fn is_archive(head: &[u8]) -> bool {
    is_compressed(head) || is_tar(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v7 header for `name` with a correct checksum.
    fn v7_header(name: &str) -> Vec<u8> {
        let mut h = vec![0u8; TAR_HEADER_LEN];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(b"00000000000");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        let field = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(field.as_bytes());
        h
    }

    #[test]
    fn tar_headers() {
        let mut ustar = vec![0u8; TAR_HEADER_LEN];
        ustar[257..262].copy_from_slice(b"ustar");
        assert!(is_tar(&ustar));
        assert!(is_tar(&v7_header("Dockerfile")));
        let mut bad = v7_header("Dockerfile");
        bad[0] = b'E';
        assert!(!is_tar(&bad));
        assert!(!is_tar(&[0u8; TAR_HEADER_LEN]));
        assert!(!is_tar(&ustar[..TAR_HEADER_LEN - 1]));
        let mut text = b"FROM busybox\nRUN echo hi\n".to_vec();
        text.resize(TAR_HEADER_LEN, b'\n');
        assert!(!is_tar(&text));
    }

    #[test]
    fn compressions() {
        assert!(is_compressed(&[0x1f, 0x8b, 8]));
        assert!(is_compressed(b"BZh91AY"));
        assert!(is_compressed(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]));
        assert!(is_compressed(&[0x28, 0xb5, 0x2f, 0xfd, 1]));
        assert!(!is_compressed(b"FROM"));
        assert!(is_archive(&[0x1f, 0x8b]));
        assert!(is_archive(&v7_header("a")));
        assert!(!is_archive(b"FROM busybox\n"));
    }
}
