//! berth-client: see Cargo.toml description.
