//! berth-engine: see Cargo.toml description.
