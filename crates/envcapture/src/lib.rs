//! Environment capture: which packages are installed in a root filesystem
//! (dpkg, apk, Python distributions in the system, virtualenvs and conda
//! envs, conda packages, global npm modules, R libraries), read from their
//! metadata files without running anything inside the root; a recipe
//! (Dockerfile + pinned files) that rebuilds it; and the difference between
//! two captures.
//!
//! The only I/O is reading files below the root (or layer) directories
//! given to [`RootFs`], every path resolved inside them; and, for
//! [`recipe::write`], writing the recipe directory.

mod conda;
pub mod control;
mod ctx;
pub mod diff;
mod discover;
mod error;
pub mod model;
mod npm;
mod python;
pub mod recipe;
pub mod render;
mod rlang;
pub mod rootfs;
mod system;
pub mod version;

#[cfg(test)]
mod tests;

pub use diff::{diff, CollectionDiff, EnvDiff, VersionChange};
pub use error::EnvError;
pub use model::{Collection, Ecosystem, Environment, OsInfo, Package, Place, Warning};
pub use python::normalize as normalize_python_name;
pub use rootfs::RootFs;

use model::Place as P;

/// Capture the environment of `root`.
pub fn capture(root: &RootFs) -> Environment {
    root.forget();
    let mut ctx = ctx::Ctx::new(root);
    let os = system::os_release(&mut ctx);
    let mut collections = Vec::new();
    collections.extend(system::dpkg(&mut ctx));
    collections.extend(system::apk(&mut ctx));
    for prefix in ["/usr", "/usr/local"] {
        collections.extend(python::capture(&mut ctx, prefix, P::System));
    }
    let found = discover::find(&mut ctx);
    for prefix in &found.conda {
        collections.push(conda::capture(&mut ctx, prefix));
        collections.extend(python::capture(&mut ctx, prefix, P::Conda));
    }
    for prefix in &found.venvs {
        collections.extend(python::capture(&mut ctx, prefix, P::Venv));
    }
    collections.extend(npm::capture(&mut ctx));
    collections.extend(rlang::capture(&mut ctx));
    Environment {
        os,
        collections,
        warnings: ctx.warnings,
    }
}
