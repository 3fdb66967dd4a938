//! The fuzz targets, grouped by the crate whose parser they drive.

pub mod api;
pub mod dockerfile;
pub mod layer;
pub mod refs;
pub mod template;
