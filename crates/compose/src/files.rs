//! Finding the Compose files (the working directory or a parent, Compose's
//! file names and their override files) and naming the project.

use std::path::{Path, PathBuf};

use crate::LoadError;

/// File names Compose looks for, in order of precedence.
pub const FILE_NAMES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];
/// Override files merged after the found file when no `-f` is given.
pub const OVERRIDE_NAMES: &[&str] = &[
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// A file found by [`discover`]: where it is and how to name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Absolute path.
    pub path: PathBuf,
    /// Name shown in messages.
    pub shown: PathBuf,
}

/// Look for a Compose file in `dir` and its parents; returns it, its
/// override file if any, and warnings.
pub fn discover(dir: &Path) -> Result<(Vec<Found>, Vec<String>), LoadError> {
    let mut warnings = Vec::new();
    let mut current = Some(dir);
    while let Some(d) = current {
        let present: Vec<&str> = FILE_NAMES
            .iter()
            .copied()
            .filter(|n| d.join(n).is_file())
            .collect();
        if let Some(first) = present.first() {
            if present.len() > 1 {
                warnings.push(format!(
                    "Found multiple config files with supported names: {}\nUsing {}",
                    present
                        .iter()
                        .map(|n| d.join(n).display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    d.join(first).display()
                ));
            }
            let show = |name: &str| {
                if d == dir {
                    PathBuf::from(name)
                } else {
                    d.join(name)
                }
            };
            let mut files = vec![Found {
                path: d.join(first),
                shown: show(first),
            }];
            if let Some(o) = OVERRIDE_NAMES.iter().find(|n| d.join(n).is_file()) {
                files.push(Found {
                    path: d.join(o),
                    shown: show(o),
                });
            }
            return Ok((files, warnings));
        }
        current = d.parent();
    }
    Err(LoadError::project(crate::error::NO_FILE))
}

/// Compose's project name from a directory name: lowercase, only
/// `[a-z0-9_-]`, no leading `_` or `-`.
pub fn normalize_project_name(s: &str) -> String {
    let lowered: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lowered.trim_start_matches(['_', '-']).to_string()
}

/// Check a project name given explicitly (`-p`, `COMPOSE_PROJECT_NAME`).
pub fn check_project_name(s: &str) -> Result<(), LoadError> {
    if s.is_empty() {
        return Err(LoadError::project("project name must not be empty"));
    }
    if normalize_project_name(s) != s {
        return Err(LoadError::project(format!(
            "invalid project name {s:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize_project_name("My Project.v2"), "myprojectv2");
        assert_eq!(normalize_project_name("__-Data_Sci-ence"), "data_sci-ence");
        assert_eq!(normalize_project_name("..."), "");
        assert!(check_project_name("web-1_x").is_ok());
        assert!(check_project_name("Web").is_err());
        assert!(check_project_name("_web").is_err());
        assert!(check_project_name("").is_err());
    }

    #[test]
    fn discovery_walks_up_with_precedence_and_override() {
        let t = tempfile::tempdir().unwrap();
        let sub = t.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        assert!(
            discover(&sub).is_err()
                || t.path()
                    .ancestors()
                    .any(|a| a.join("compose.yaml").exists())
        );
        std::fs::write(t.path().join("docker-compose.yml"), "services: {}").unwrap();
        std::fs::write(t.path().join("compose.yaml"), "services: {}").unwrap();
        std::fs::write(t.path().join("docker-compose.override.yml"), "services: {}").unwrap();
        let (files, warnings) = discover(&sub).unwrap();
        assert_eq!(files[0].path, t.path().join("compose.yaml"));
        assert_eq!(files[1].path, t.path().join("docker-compose.override.yml"));
        assert_eq!(files[0].shown, t.path().join("compose.yaml"));
        assert_eq!(warnings.len(), 1);
        let (files, _) = discover(t.path()).unwrap();
        assert_eq!(files[0].shown, PathBuf::from("compose.yaml"));
    }
}
