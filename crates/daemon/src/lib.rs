//! berth-daemon: see Cargo.toml description.
