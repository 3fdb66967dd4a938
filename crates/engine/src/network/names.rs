//! Names derived from the data root, so that several daemons on one host
//! (tests) never share a bridge or a firewall chain: bridge device names
//! and the firewall chain prefix.

use std::path::Path;

use sha2::{Digest, Sha256};

/// The data root of a daemon started without `--data-root`.
pub(crate) const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";

fn is_default(data_root: &Path) -> bool {
    data_root == Path::new(DEFAULT_DATA_ROOT)
}

fn sha_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The Linux bridge of the default `bridge` network.
pub(crate) fn default_bridge(data_root: &Path) -> String {
    if is_default(data_root) {
        "berth0".into()
    } else {
        format!("bt{}", &sha_hex(&data_root.to_string_lossy())[..10])
    }
}

/// The Linux bridge of the user network `network_id`.
pub(crate) fn user_bridge(data_root: &Path, network_id: &str) -> String {
    if is_default(data_root) {
        format!("berth-{}", &network_id[..network_id.len().min(9)])
    } else {
        let key = format!("{}/{network_id}", data_root.to_string_lossy());
        format!("bt{}", &sha_hex(&key)[..13])
    }
}

/// The prefix of this daemon's firewall chains.
pub(crate) fn firewall_prefix(data_root: &Path) -> String {
    if is_default(data_root) {
        "BERTH".into()
    } else {
        format!("BT{}", &sha_hex(&data_root.to_string_lossy())[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_limits() {
        let d = Path::new(DEFAULT_DATA_ROOT);
        assert_eq!(default_bridge(d), "berth0");
        assert_eq!(user_bridge(d, &"ab".repeat(32)), "berth-ababababa");
        assert_eq!(firewall_prefix(d), "BERTH");
        let t = Path::new("/tmp/x");
        let b = default_bridge(t);
        assert!(b.starts_with("bt") && b.len() == 12, "{b}");
        let u = user_bridge(t, &"cd".repeat(32));
        assert!(u.starts_with("bt") && u.len() == 15, "{u}");
        assert_ne!(u, user_bridge(Path::new("/tmp/y"), &"cd".repeat(32)));
        assert!(firewall_prefix(t).starts_with("BT") && firewall_prefix(t).len() == 10);
    }
}
