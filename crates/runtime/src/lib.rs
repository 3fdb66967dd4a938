//! berth-runtime: see Cargo.toml description.
