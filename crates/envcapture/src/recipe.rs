//! A recipe that rebuilds a captured environment: a `Dockerfile` on the
//! base image (pinned by digest or ID) installing exactly the package
//! versions that differ from the base's capture, the pinned files it
//! copies in, `environment.json` (the full capture) and a `README.txt`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::diff::{diff, diff_collection, CollectionDiff};
use crate::error::EnvError;
use crate::model::{Collection, Ecosystem, Environment, Package, Place};

/// Where the recipe's files are copied to during the build.
const STAGE: &str = "/tmp/berth-env";

/// Python installers whose packages come from another package manager.
const FOREIGN_INSTALLERS: &[&str] = &["debian", "dpkg", "conda", "rpm", "apk"];

/// The files of a recipe, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipe {
    /// File name → content.
    pub files: BTreeMap<String, String>,
}

impl Recipe {
    /// Write the files into `dir` (created if missing), returning their paths.
    pub fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>, EnvError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| EnvError::Write { path, source }
        };
        std::fs::create_dir_all(dir).map_err(err(dir))?;
        let mut out = Vec::new();
        for (name, content) in &self.files {
            let p = dir.join(name);
            std::fs::write(&p, content).map_err(err(&p))?;
            out.push(p);
        }
        Ok(out)
    }
}

/// A file name for a location: `/opt/venv` → `opt-venv`, `/` → `system`.
fn slug(location: &str) -> String {
    let s: String = location
        .trim_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if s.is_empty() {
        "system".into()
    } else {
        s
    }
}

/// Quote for a shell word when needed.
fn sh(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:=+/@~%,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The packages of `d` to install (added, upgraded, downgraded), looked up
/// in `current`.
fn to_install<'a>(d: &CollectionDiff, current: &'a Collection) -> Vec<&'a Package> {
    let changed: Vec<&str> = d
        .upgraded
        .iter()
        .chain(&d.downgraded)
        .map(|v| v.name.as_str())
        .collect();
    current
        .packages
        .iter()
        .filter(|p| d.added.contains(p) || changed.contains(&p.name.as_str()))
        .collect()
}

/// The dominant architecture of a dpkg collection (the native one).
fn native_arch(c: &Collection) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &c.packages {
        if let Some(a) = p.arch.as_deref().filter(|a| *a != "all") {
            *counts.entry(a).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(a, _)| a.to_string())
}

fn pip_recipeable(p: &Package) -> bool {
    !p.installer
        .as_deref()
        .is_some_and(|i| FOREIGN_INSTALLERS.contains(&i.to_ascii_lowercase().as_str()))
}

/// The conda executable to use: the base installation's (`<root>/bin/conda`).
fn conda_exe(envs: &[&Environment]) -> String {
    envs.iter()
        .flat_map(|e| &e.collections)
        .find(|c| c.ecosystem == Ecosystem::Conda && !c.location.contains("/envs/"))
        .map(|c| format!("{}/bin/conda", c.location.trim_end_matches('/')))
        .unwrap_or_else(|| "conda".into())
}

/// Build the recipe that turns `from` (whose capture is `base`) into
/// `current`. `source` names what was captured (for README.txt).
pub fn plan(from: &str, base: &Environment, current: &Environment, source: &str) -> Recipe {
    let mut files = BTreeMap::new();
    let mut df = String::new();
    let _ = writeln!(
        df,
        "# Written by `berth env capture {source}`: rebuilds its packages on its base image."
    );
    let _ = writeln!(df, "FROM {from}");
    let mut staged = false;
    let mut stage = |df: &mut String, name: &str| {
        staged = true;
        let _ = writeln!(df, "COPY {name} {STAGE}/{name}");
    };
    let order = [
        Ecosystem::Dpkg,
        Ecosystem::Apk,
        Ecosystem::Conda,
        Ecosystem::Pip,
        Ecosystem::Npm,
        Ecosystem::R,
    ];
    let conda = conda_exe(&[current, base]);
    let mut r_script = String::new();
    for eco in order {
        for c in current.collections.iter().filter(|c| c.ecosystem == eco) {
            let old = base.collection(eco, &c.location);
            let Some(d) = diff_collection(old, Some(c)) else {
                continue;
            };
            let install = to_install(&d, c);
            match eco {
                Ecosystem::Dpkg => {
                    let native = native_arch(c);
                    let pins: Vec<String> = install
                        .iter()
                        .map(|p| match p.arch.as_deref() {
                            Some(a) if a != "all" && Some(a) != native.as_deref() => {
                                format!("{}:{a}={}", p.name, p.version)
                            }
                            _ => format!("{}={}", p.name, p.version),
                        })
                        .collect();
                    if !pins.is_empty() {
                        files.insert("apt-packages.txt".into(), lines(&pins));
                        let _ = writeln!(
                            df,
                            "RUN apt-get update \\\n && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends --allow-downgrades \\\n    {} \\\n && rm -rf /var/lib/apt/lists/*",
                            pins.iter().map(|p| sh(p)).collect::<Vec<_>>().join(" \\\n    ")
                        );
                    }
                    if !d.removed.is_empty() {
                        let names: Vec<String> = d.removed.iter().map(|p| sh(&p.name)).collect();
                        let _ = writeln!(df, "RUN apt-get purge -y {}", names.join(" "));
                    }
                }
                Ecosystem::Apk => {
                    let pins: Vec<String> = install
                        .iter()
                        .map(|p| sh(&format!("{}={}", p.name, p.version)))
                        .collect();
                    if !pins.is_empty() {
                        let _ = writeln!(df, "RUN apk add --no-cache {}", pins.join(" "));
                    }
                    if !d.removed.is_empty() {
                        let names: Vec<String> = d.removed.iter().map(|p| sh(&p.name)).collect();
                        let _ = writeln!(df, "RUN apk del {}", names.join(" "));
                    }
                }
                Ecosystem::Conda => {
                    if install.is_empty() {
                        continue;
                    }
                    let name = format!("conda-{}.txt", slug(&c.location));
                    let specs: Vec<String> = install
                        .iter()
                        .map(|p| match (&p.channel, &p.build) {
                            (Some(ch), Some(b)) => format!("{ch}::{}={}={b}", p.name, p.version),
                            (None, Some(b)) => format!("{}={}={b}", p.name, p.version),
                            _ => format!("{}={}", p.name, p.version),
                        })
                        .collect();
                    files.insert(name.clone(), lines(&specs));
                    stage(&mut df, &name);
                    let verb = if old.is_some() { "install" } else { "create" };
                    let _ = writeln!(
                        df,
                        "RUN {conda} {verb} -y -p {} --file {STAGE}/{name}",
                        sh(&c.location)
                    );
                }
                Ecosystem::Pip => {
                    let pins: Vec<String> = install
                        .iter()
                        .filter(|p| pip_recipeable(p))
                        .map(|p| match &p.url {
                            Some(u) => format!("{} @ {u}", p.name),
                            None => format!("{}=={}", p.name, p.version),
                        })
                        .collect();
                    let removed: Vec<String> = d
                        .removed
                        .iter()
                        .filter(|p| pip_recipeable(p))
                        .map(|p| sh(&p.name))
                        .collect();
                    let pip = match c.place {
                        Place::System => {
                            let brk = if c.externally_managed {
                                " --break-system-packages"
                            } else {
                                ""
                            };
                            format!("python3 -m pip{brk}")
                        }
                        _ => format!("{}/bin/python -m pip", c.location.trim_end_matches('/')),
                    };
                    if old.is_none() && c.place == Place::Venv {
                        let _ = writeln!(df, "RUN python3 -m venv {}", sh(&c.location));
                    }
                    if !pins.is_empty() {
                        let name = format!("requirements-{}.txt", slug(&c.location));
                        files.insert(name.clone(), lines(&pins));
                        stage(&mut df, &name);
                        let _ = writeln!(
                            df,
                            "RUN {pip} install --no-cache-dir --no-deps -r {STAGE}/{name}"
                        );
                    }
                    if !removed.is_empty() {
                        let _ = writeln!(df, "RUN {pip} uninstall -y {}", removed.join(" "));
                    }
                }
                Ecosystem::Npm => {
                    if install.is_empty() {
                        continue;
                    }
                    let deps: serde_json::Map<String, serde_json::Value> = install
                        .iter()
                        .map(|p| (p.name.clone(), p.version.clone().into()))
                        .collect();
                    let pkg = serde_json::json!({
                        "name": format!("berth-env-{}", slug(&c.location)),
                        "private": true,
                        "description": format!("global npm packages of {}", c.location),
                        "dependencies": deps,
                    });
                    let name = format!("npm-{}.json", slug(&c.location));
                    files.insert(
                        name,
                        serde_json::to_string_pretty(&pkg).unwrap_or_default() + "\n",
                    );
                    let specs: Vec<String> = install
                        .iter()
                        .map(|p| sh(&format!("{}@{}", p.name, p.version)))
                        .collect();
                    let _ = writeln!(df, "RUN npm install -g {}", specs.join(" "));
                }
                Ecosystem::R => {
                    for p in install.iter().filter(|p| !p.builtin) {
                        let _ = writeln!(
                            r_script,
                            "remotes::install_version({:?}, version = {:?}, lib = {:?}, upgrade = \"never\", repos = \"https://cloud.r-project.org\")",
                            p.name, p.version, c.location
                        );
                    }
                }
            }
        }
    }
    if !r_script.is_empty() {
        let script = format!(
            "# R packages of the captured environment, pinned.\nif (!requireNamespace(\"remotes\", quietly = TRUE)) install.packages(\"remotes\", repos = \"https://cloud.r-project.org\")\n{r_script}"
        );
        files.insert("install-r.R".into(), script);
        stage(&mut df, "install-r.R");
        let _ = writeln!(df, "RUN Rscript {STAGE}/install-r.R");
    }
    if staged {
        let _ = writeln!(df, "RUN rm -rf {STAGE}");
    }
    files.insert("Dockerfile".into(), df);
    files.insert(
        "environment.json".into(),
        serde_json::to_string_pretty(current).unwrap_or_default() + "\n",
    );
    files.insert("README.txt".into(), readme(from, base, current, source));
    Recipe { files }
}

fn lines(items: &[String]) -> String {
    let mut s = items.join("\n");
    s.push('\n');
    s
}

fn readme(from: &str, base: &Environment, current: &Environment, source: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Environment of {source}, captured by berth.\n");
    let _ = writeln!(s, "Base image: {from}\n");
    let d = diff(base, current);
    if d.is_empty() {
        let _ = writeln!(s, "No package differs from the base image.");
    } else {
        let _ = writeln!(
            s,
            "Changes from the base image (+ added, - removed, ^ upgraded, v downgraded):\n"
        );
        s.push_str(&crate::render::diff_text(&d));
    }
    let _ = writeln!(s, "\nEverything installed:\n");
    s.push_str(&crate::render::summary(current));
    let _ = writeln!(
        s,
        "\nFiles: Dockerfile (the recipe), environment.json (the full capture), and the\npinned package lists it copies in. Rebuild with:\n\n    berth build -t NAME DIR\n\nPinned versions must still be available from the package repositories."
    );
    s
}
