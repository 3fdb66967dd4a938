//! Tar header checksum repair, so that byte-level mutations of a tar reach
//! the extractor instead of stopping at the header checksum check.
//!
//! Hand-written (a few lines of the ustar layout) because the point is to
//! accept archives no tar library would build.

/// Size of a tar block.
const BLOCK: usize = 512;

/// Walk the top-level headers of `buf` and rewrite each one's checksum.
/// Stops at the first block that does not look like a header.
pub fn fix_checksums(buf: &mut [u8]) {
    let mut off = 0;
    while off + BLOCK <= buf.len() {
        let header = &mut buf[off..off + BLOCK];
        if header.iter().all(|&b| b == 0) {
            off += BLOCK;
            continue;
        }
        if &header[257..262] != b"ustar" {
            return;
        }
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        let field = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(&field.as_bytes()[..8]);
        let size = octal(&header[124..136]);
        let blocks = size.div_ceil(BLOCK as u64);
        let Some(next) = blocks
            .checked_mul(BLOCK as u64)
            .and_then(|b| usize::try_from(b).ok())
            .and_then(|b| b.checked_add(off + BLOCK))
        else {
            return;
        };
        off = next;
    }
}

/// An octal header number (0 when the field is not one).
fn octal(field: &[u8]) -> u64 {
    let mut n: u64 = 0;
    for &b in field {
        match b {
            b'0'..=b'7' => n = n.saturating_mul(8).saturating_add(u64::from(b - b'0')),
            b' ' if n == 0 => {}
            _ => break,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_a_mutated_header_so_tar_accepts_it() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "a.txt", &b"abc"[..]).unwrap();
        let mut buf = b.into_inner().unwrap();
        buf[0] = b'b';
        let names = |buf: &[u8]| -> Result<Vec<String>, std::io::Error> {
            tar::Archive::new(buf)
                .entries()?
                .map(|e| Ok(e?.path()?.to_string_lossy().into_owned()))
                .collect()
        };
        assert!(
            names(&buf).is_err(),
            "a mutated header must fail its checksum"
        );
        fix_checksums(&mut buf);
        assert_eq!(names(&buf).unwrap(), ["b.txt"]);
    }
}
