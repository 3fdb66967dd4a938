//! `down`: stop and remove the project's containers, then its networks
//! and, with `-v`, its volumes.

use berth_client::{Client, Filters};
use futures_util::future::join_all;

use super::labels;
use super::{project_containers, ApplyError, Progress};
use crate::model::Project;

/// What `down` removes besides containers and networks.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownOptions {
    /// `-v`: also named volumes declared by the project and anonymous ones.
    pub volumes: bool,
    /// `-t`: seconds to wait before killing.
    pub timeout: Option<i64>,
}

/// Remove the project's resources; returns whether anything was found.
pub async fn down(
    client: &Client,
    project: &Project,
    opts: DownOptions,
    progress: Progress<'_>,
) -> Result<bool, ApplyError> {
    let mut found = false;
    let mut containers = project_containers(client, &project.name, None, true).await?;
    // Dependents go first.
    let order = super::start_order(project);
    containers.sort_by_key(|c| {
        let s = c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
        std::cmp::Reverse(order.iter().position(|o| *o == s).unwrap_or(usize::MAX))
    });
    let name_of = |c: &berth_spec::api::ContainerSummary| {
        c.names
            .first()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default()
    };
    // Stop every running container at once (each may take its grace period).
    let running: Vec<_> = containers
        .iter()
        .filter(|c| matches!(c.state.as_str(), "running" | "paused" | "restarting"))
        .collect();
    for c in &running {
        progress("Container", &name_of(c), "Stopping");
    }
    let stops = running
        .iter()
        .map(|c| client.container_stop(&c.id, opts.timeout));
    for (c, r) in running.iter().zip(join_all(stops).await) {
        r?;
        progress("Container", &name_of(c), "Stopped");
    }
    for c in &containers {
        found = true;
        let name = name_of(c);
        progress("Container", &name, "Removing");
        client.container_remove(&c.id, true, opts.volumes).await?;
        progress("Container", &name, "Removed");
    }
    let mut f = Filters::new();
    f.insert(
        "label".into(),
        vec![format!("{}={}", labels::PROJECT, project.name)],
    );
    for n in client.networks_list(&f).await? {
        let external = project
            .networks
            .values()
            .any(|m| m.external && m.name == n.name);
        if external {
            continue;
        }
        found = true;
        progress("Network", &n.name, "Removing");
        client.network_remove(&n.name).await?;
        progress("Network", &n.name, "Removed");
    }
    if opts.volumes {
        for v in client.volumes_list(&f).await?.volumes {
            let external = project
                .volumes
                .values()
                .any(|m| m.external && m.name == v.name);
            if external {
                continue;
            }
            found = true;
            progress("Volume", &v.name, "Removing");
            client.volume_remove(&v.name, false).await?;
            progress("Volume", &v.name, "Removed");
        }
    }
    Ok(found)
}
