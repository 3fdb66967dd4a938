//! A fake `docker-credential-<name>` helper script.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A `docker-credential-test` helper in `dir/bin` keeping one credential in `dir/helper-store`
/// and logging each action to `dir/helper-log`. Returns the `bin` directory (to put on PATH).
pub fn credential_helper(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    let store = dir.join("helper-store");
    let log = dir.join("helper-log");
    let script = format!(
        r#"#!/bin/sh
input=$(cat)
echo "$1" >> '{log}'
case "$1" in
store) printf '%s' "$input" > '{store}' ;;
get)
  if [ -f '{store}' ] && grep -q "\"ServerURL\":\"$input\"" '{store}'; then cat '{store}'; echo
  else echo "credentials not found in native keychain"; exit 1; fi ;;
erase)
  if [ -f '{store}' ] && grep -q "\"ServerURL\":\"$input\"" '{store}'; then rm -f '{store}'
  else echo "credentials not found in native keychain"; exit 1; fi ;;
*) echo "unknown action $1"; exit 2 ;;
esac
"#,
        log = log.display(),
        store = store.display()
    );
    let path = bin.join("docker-credential-test");
    std::fs::write(&path, script).expect("write helper");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod helper");
    bin
}
