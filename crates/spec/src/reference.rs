//! (owned by the store work: see crates/store)
