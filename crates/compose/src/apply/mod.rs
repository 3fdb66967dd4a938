//! Driving the Engine API (through `berth-client`) to make a project's
//! containers, networks and volumes exist (`up`) or go away (`down`).
//! Works against berth and against dockerd alike.

mod down;
pub mod labels;
pub mod spec;
mod up;

pub use down::{down, DownOptions};
pub use up::up;

use berth_client::{Client, ClientError, Filters, ListOptions};
use berth_spec::api::ContainerSummary;

/// A failure while applying a project.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The Engine API refused or failed.
    #[error(transparent)]
    Api(#[from] ClientError),
    /// Something about the project that cannot be done.
    #[error("{0}")]
    Project(String),
}

/// Where progress lines go (`Container proj-web-1  Started`).
pub type Progress<'a> = &'a mut dyn FnMut(&str, &str, &str);

/// The containers of a project (all states), optionally of one service.
pub async fn project_containers(
    client: &Client,
    project: &str,
    service: Option<&str>,
    all: bool,
) -> Result<Vec<ContainerSummary>, ClientError> {
    let mut filters = Filters::new();
    let mut labels = vec![
        format!("{}={project}", labels::PROJECT),
        format!("com.docker.compose.oneoff=False"),
    ];
    if let Some(s) = service {
        labels.push(format!("{}={s}", labels::SERVICE));
    }
    filters.insert("label".into(), labels);
    let mut list = client
        .containers_list(&ListOptions {
            all,
            limit: None,
            size: false,
            filters,
        })
        .await?;
    list.sort_by(|a, b| a.names.cmp(&b.names));
    Ok(list)
}

/// The order in which services start: every service after its
/// dependencies (the loader has rejected cycles).
pub fn start_order(project: &crate::Project) -> Vec<String> {
    let mut done: Vec<String> = Vec::new();
    fn visit(p: &crate::Project, n: &str, done: &mut Vec<String>, depth: usize) {
        if done.iter().any(|d| d == n) || depth > p.services.len() {
            return;
        }
        if let Some(s) = p.services.get(n) {
            for dep in implicit_dependencies(s) {
                visit(p, &dep, done, depth + 1);
            }
            done.push(n.to_string());
        }
    }
    for n in project.services.keys() {
        visit(project, n, &mut done, 0);
    }
    done
}

/// The services a service needs running first: `depends_on`, and those whose
/// network stack, volumes or name it uses (`network_mode: service:X`,
/// `volumes_from`, `links`), as Compose orders them.
pub fn implicit_dependencies(s: &crate::model::Service) -> Vec<String> {
    let mut deps: Vec<String> = s.depends_on.keys().cloned().collect();
    if let Some(t) = s
        .network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("service:"))
    {
        deps.push(t.to_string());
    }
    for v in &s.volumes_from {
        if !v.starts_with("container:") {
            deps.push(v.split(':').next().unwrap_or("").to_string());
        }
    }
    for l in &s.links {
        deps.push(l.split(':').next().unwrap_or("").to_string());
    }
    deps
}
