//! The `berth` binary: CLI, daemon and shim entry points.
fn main() {}
