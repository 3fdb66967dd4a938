//! berth's Compose support, a client-side library as Compose v2 is: the
//! loader turns Compose files into a typed, canonical [`Project`] (the
//! planner and reconciler that drive the Engine API build on it).
//!
//! [`apply`] drives the Engine API through `berth-client` (`up`, `down`),
//! so it works against berth and dockerd alike.
//!
//! Loading reads only the files it is given (and the `.env`/`env_file`
//! files they name): [`load`] takes the process environment and working
//! directory as [`Options`], so it is testable without side effects.

pub mod apply;
mod convert;
mod dotenv;
mod emit;
mod envfile;
mod error;
mod extends;
mod files;
mod include;
mod interp;
mod load;
mod merge;
pub mod model;
mod node;
mod paths;
pub mod units;
mod validate;

pub use emit::{to_json_string, to_yaml_string};
pub use error::LoadError;
pub use files::{normalize_project_name, FILE_NAMES, OVERRIDE_NAMES};
pub use load::{load, Options};
pub use model::Project;
