//! Image references and digests (`berth_spec`).

use berth_spec::digest::Digest;
use berth_spec::reference::Reference;

/// `Reference::parse_normalized` (what a user types after `docker pull`):
/// a parsed reference prints to a string that parses back to itself, and
/// its familiar form parses back to it too.
pub fn target_reference(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let Ok(r) = Reference::parse_normalized(&s) else {
        return;
    };
    let full = r.to_string();
    let again = Reference::parse_normalized(&full)
        .unwrap_or_else(|e| panic!("{s:?} parsed, but its printed form {full:?} does not: {e}"));
    assert_eq!(r, again, "{s:?} printed as {full:?} re-parses differently");
    let familiar = r.familiar_string();
    if r.domain() == berth_spec::reference::DEFAULT_DOMAIN
        && (looks_like_domain(&familiar) || berth_spec::digest::is_hex64(&familiar))
    {
        // Docker's familiar form does not always parse back: `docker.io/a.io/b`
        // prints as `a.io/b` (registry `a.io`), `library/<64 hex>` as the
        // bare hex (refused as a name). berth prints what Docker prints, so
        // only the full form must round-trip.
        return;
    }
    let again = Reference::parse_normalized(&familiar).unwrap_or_else(|e| {
        panic!("{s:?} parsed, but its familiar form {familiar:?} does not: {e}")
    });
    assert_eq!(
        r, again,
        "{s:?} familiar {familiar:?} re-parses differently"
    );
    let _ = r.clone().with_default_tag();
    let _ = Reference::parse_normalized_tagged(&s);
}

/// Whether the first path component of `name` would be taken for a
/// registry (it contains `.` or `:`, or is `localhost`).
fn looks_like_domain(name: &str) -> bool {
    match name.split_once('/') {
        Some((first, _)) => first.contains(['.', ':']) || first == "localhost",
        None => false,
    }
}

/// `Digest::parse`: a parsed digest prints exactly as it was written.
pub fn target_digest(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    if let Ok(d) = Digest::parse(&s) {
        assert_eq!(d.to_string(), s, "digest does not print as written");
        assert_eq!(Digest::parse(&d.to_string()).ok(), Some(d));
    }
    let _ = Digest::from_hex(&s);
}
