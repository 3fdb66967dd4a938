//! berth-store: see Cargo.toml description.
