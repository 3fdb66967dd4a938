//! The loading pipeline: files → per-file parse, interpolation, `include`
//! and `extends` → merge → project name → profiles → typed project →
//! cross-reference validation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::convert::{self, Cx};
use crate::files::{check_project_name, discover, normalize_project_name, Found};
use crate::merge::{merge_documents, merge_service, normalize_service};
use crate::model::{Network, Project};
use crate::node::{parse, Node, Pos};
use crate::paths::resolve_service_paths;
use crate::{interp, validate, LoadError};

/// What to load, as the command line and environment say.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-f` files in order (`-` is standard input); empty: look for one.
    pub files: Vec<PathBuf>,
    /// The content of standard input, when a file is `-`.
    pub stdin: Option<String>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (default: `.env` in the project directory).
    pub env_files: Vec<PathBuf>,
    /// `--profile`.
    pub profiles: Vec<String>,
    /// Services named on the command line (activated whatever their
    /// profiles; with their dependencies, the only ones kept).
    pub services: Vec<String>,
    /// The working directory (absolute).
    pub working_dir: PathBuf,
    /// The process environment.
    pub environment: BTreeMap<String, String>,
}

/// Variables for interpolation: the process environment over a `.env`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    /// The process environment.
    pub(crate) process: BTreeMap<String, String>,
    /// The project's `.env` (or `--env-file`s).
    pub(crate) dotenv: IndexMap<String, String>,
}

impl Env {
    /// A variable: the process environment first, then the `.env`.
    pub(crate) fn get(&self, k: &str) -> Option<String> {
        self.process.get(k).or_else(|| self.dotenv.get(k)).cloned()
    }
}

/// Read a `.env`-style file.
pub(crate) fn read_dotenv(
    path: &Path,
    process: &BTreeMap<String, String>,
) -> Result<IndexMap<String, String>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
    crate::dotenv::parse(&text, &|k| process.get(k).cloned()).map_err(|e| {
        LoadError::project(format!(
            "failed to read {}: line {}: {}",
            path.display(),
            e.line,
            e.message
        ))
    })
}

pub(crate) fn abs_from(base: &Path, p: &Path) -> PathBuf {
    PathBuf::from(convert::absolute(&p.to_string_lossy(), base, &|_| None))
}

/// Load a project.
pub fn load(opts: &Options) -> Result<Project, LoadError> {
    let mut warnings = Vec::new();
    if let Some(p) = &opts.project_name {
        check_project_name(p)?;
    }
    let files: Vec<Found> = if opts.files.is_empty() {
        if let Some(list) = opts
            .environment
            .get("COMPOSE_FILE")
            .filter(|s| !s.is_empty())
        {
            list.split(':')
                .map(|f| Found {
                    path: abs_from(&opts.working_dir, Path::new(f)),
                    shown: PathBuf::from(f),
                })
                .collect()
        } else {
            let (found, w) = discover(&opts.working_dir)?;
            warnings.extend(w);
            found
        }
    } else {
        opts.files
            .iter()
            .map(|f| {
                if f.as_os_str() == "-" {
                    Found {
                        path: PathBuf::from("-"),
                        shown: PathBuf::from("-"),
                    }
                } else {
                    Found {
                        path: abs_from(&opts.working_dir, f),
                        shown: f.clone(),
                    }
                }
            })
            .collect()
    };
    let project_dir = match &opts.project_directory {
        Some(d) => abs_from(&opts.working_dir, d),
        None => match files.first() {
            Some(f) if f.path.as_os_str() != "-" => f
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| opts.working_dir.clone()),
            _ => opts.working_dir.clone(),
        },
    };
    let mut env = Env {
        process: opts.environment.clone(),
        dotenv: IndexMap::new(),
    };
    if opts.env_files.is_empty() {
        let dot = project_dir.join(".env");
        if dot.is_file() {
            env.dotenv = read_dotenv(&dot, &env.process)?;
        }
    } else {
        for f in &opts.env_files {
            let p = abs_from(&opts.working_dir, f);
            let parsed = read_dotenv(&p, &env.process)?;
            env.dotenv.extend(parsed);
        }
    }

    let mut merged: Option<Node> = None;
    let mut config_files = Vec::new();
    for f in &files {
        let text = if f.path.as_os_str() == "-" {
            opts.stdin.clone().unwrap_or_default()
        } else {
            config_files.push(f.path.clone());
            std::fs::read_to_string(&f.path).map_err(|e| LoadError::io(&f.shown, e))?
        };
        let file_dir = if f.path.as_os_str() == "-" {
            project_dir.clone()
        } else {
            f.path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let mut stack = vec![f.path.clone()];
        let doc = load_document(&text, &f.shown, &file_dir, &env, &mut warnings, &mut stack)?;
        match &mut merged {
            None => merged = Some(doc),
            Some(base) => merge_documents(base, doc),
        }
    }
    let doc = merged.unwrap_or_else(|| Node::map(Pos::none()));
    convert::check_keys(
        &doc,
        "",
        &[
            "version", "name", "services", "networks", "volumes", "secrets", "configs", "include",
        ],
    )?;

    let name = project_name(opts, &env, &doc, &project_dir)?;
    let lookup = |k: &str| env.get(k);
    let cx = Cx {
        project_dir: &project_dir,
        project_name: &name,
        env: &lookup,
    };

    let services_node = match doc.get("services") {
        Some(s) if !s.is_null() => convert::map(s, "services")?.clone(),
        _ => IndexMap::new(),
    };
    let mut all_profiles = BTreeSet::new();
    let mut service_profiles = BTreeMap::new();
    for (svc_name, svc) in &services_node {
        let valid = !svc_name.is_empty()
            && svc_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(convert::err(
                svc,
                "services",
                format!("invalid service name {svc_name:?}: only [a-zA-Z0-9._-] are allowed"),
            ));
        }
        let profiles = match svc.get("profiles") {
            Some(p) => convert::string_list(p, &format!("services.{svc_name}.profiles"))?,
            None => Vec::new(),
        };
        all_profiles.extend(profiles.iter().cloned());
        service_profiles.insert(svc_name.clone(), profiles);
    }
    for s in &opts.services {
        if !services_node.contains_key(s) {
            return Err(LoadError::project(format!("no such service: {s}")));
        }
    }
    let active_profiles: Vec<String> = if opts.profiles.is_empty() {
        env.get("COMPOSE_PROFILES")
            .map(|p| {
                p.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        opts.profiles.clone()
    };
    let forced = dependency_closure(&services_node, &opts.services);
    let active = |n: &str| {
        let p = &service_profiles[n];
        p.is_empty()
            || forced.contains(n)
            || active_profiles.iter().any(|a| a == "*" || p.contains(a))
    };

    let mut project = Project {
        name: name.clone(),
        working_dir: project_dir.clone(),
        config_files,
        services: BTreeMap::new(),
        networks: convert::convert_networks(&cx, doc.get("networks"))?,
        volumes: convert::convert_volumes(&cx, doc.get("volumes"))?,
        secrets: convert::convert_file_objects(&cx, doc.get("secrets"), "secrets")?,
        configs: convert::convert_file_objects(&cx, doc.get("configs"), "configs")?,
        extensions: doc
            .as_map()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.starts_with("x-"))
                    .map(|(k, v)| (k.clone(), convert::raw(v)))
                    .collect()
            })
            .unwrap_or_default(),
        all_profiles: all_profiles.into_iter().collect(),
        warnings: Vec::new(),
    };
    let mut active_nodes = IndexMap::new();
    for (svc_name, svc) in &services_node {
        if !active(svc_name) {
            continue;
        }
        let mut s = convert::convert_service(&cx, svc_name, svc)?;
        if s.network_mode.is_none() && s.networks.is_empty() {
            s.networks.insert("default".into(), None);
        }
        project.services.insert(svc_name.clone(), s);
        active_nodes.insert(svc_name.clone(), svc.clone());
    }
    let uses_default = project
        .services
        .values()
        .any(|s| s.networks.contains_key("default"));
    if uses_default && !project.networks.contains_key("default") {
        project.networks.insert(
            "default".into(),
            Network {
                name: format!("{name}_default"),
                ..Network::default()
            },
        );
    }
    validate::validate(&mut project, &active_nodes, &services_node, &mut warnings)?;
    if !opts.services.is_empty() {
        let keep = dependency_closure(&services_node, &opts.services);
        project.services.retain(|n, _| keep.contains(n));
    }
    project.warnings = warnings;
    Ok(project)
}

/// `names` and every service they depend on, transitively.
fn dependency_closure(services: &IndexMap<String, Node>, names: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(n) = todo.pop() {
        if !out.insert(n.clone()) {
            continue;
        }
        let Some(mut svc) = services.get(&n).cloned() else {
            continue;
        };
        normalize_service(&mut svc);
        if let Some(deps) = svc.get("depends_on").and_then(Node::as_map) {
            todo.extend(deps.keys().cloned());
        }
    }
    out
}

fn project_name(
    opts: &Options,
    env: &Env,
    doc: &Node,
    project_dir: &Path,
) -> Result<String, LoadError> {
    if let Some(p) = &opts.project_name {
        check_project_name(p)?;
        return Ok(p.clone());
    }
    if let Some(p) = env.get("COMPOSE_PROJECT_NAME").filter(|p| !p.is_empty()) {
        check_project_name(&p)?;
        return Ok(p);
    }
    if let Some(n) = doc.get("name").filter(|n| !n.is_null()) {
        let s = convert::string(n, "name")?;
        let norm = normalize_project_name(&s);
        if norm.is_empty() {
            return Err(convert::err(
                n,
                "name",
                format!("invalid project name {s:?}"),
            ));
        }
        return Ok(norm);
    }
    let base = project_dir
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    let norm = normalize_project_name(&base);
    if norm.is_empty() {
        return Err(LoadError::project(format!(
            "project name must not be empty: the directory name {base:?} has no usable character; use -p or name:"
        )));
    }
    Ok(norm)
}

/// Parse and interpolate one file, then bring in its `include`s and
/// resolve its `extends`.
pub(crate) fn load_document(
    text: &str,
    shown: &Path,
    file_dir: &Path,
    env: &Env,
    warnings: &mut Vec<String>,
    stack: &mut Vec<PathBuf>,
) -> Result<Node, LoadError> {
    let mut doc = parse(text, shown)?;
    if doc.as_map().is_none() {
        return Err(LoadError::at(
            doc.pos.clone(),
            "",
            format!("top-level object must be a mapping, not {}", doc.kind()),
        ));
    }
    let lookup = |k: &str| env.get(k);
    interp::interpolate_tree(&mut doc, "", &lookup, warnings)?;
    if let Some(m) = doc.as_map_mut() {
        if m.shift_remove("version").is_some() {
            let w = format!("{}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion", shown.display());
            warnings.push(w);
        }
    }
    crate::extends::resolve_extends(&mut doc, shown, file_dir, &lookup, warnings, stack)?;
    if let Some(inc) = doc.as_map_mut().and_then(|m| m.shift_remove("include")) {
        crate::include::include(&mut doc, &inc, file_dir, env, warnings, stack)?;
    }
    Ok(doc)
}

/// Load another file for `extends` (parsed and interpolated with `env`).
pub(crate) fn read_other(
    path: &Path,
    shown: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Node, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(shown, e))?;
    let mut doc = parse(&text, shown)?;
    interp::interpolate_tree(&mut doc, "", lookup, warnings)?;
    Ok(doc)
}

/// Merge `over` into `base` as `extends` does.
pub(crate) fn extend_service(
    base: &Node,
    over: Node,
    file_dir: Option<&Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Node {
    let mut merged = base.clone();
    if let Some(d) = file_dir {
        resolve_service_paths(&mut merged, d, lookup);
    }
    merge_service(&mut merged, over);
    merged
}
