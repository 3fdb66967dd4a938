//! `up -d`: networks, volumes, then each service's containers in
//! dependency order, waiting for `depends_on` conditions.

use std::time::Duration;

use berth_client::{Client, Filters};
use berth_spec::network_api::{NetworkConnectRequest, NetworkCreateRequest};
use berth_spec::volume_api::VolumeCreateRequest;
use serde_json::Value;

use super::labels::{self, config_hash, container_name, replicas};
use super::spec::{create_request, endpoint, service_networks};
use super::{project_containers, start_order, ApplyError, Progress};
use crate::model::Project;

/// Create and start what the project needs; leave alone what matches.
pub async fn up(
    client: &Client,
    project: &Project,
    progress: Progress<'_>,
) -> Result<(), ApplyError> {
    ensure_networks(client, project, progress).await?;
    ensure_volumes(client, project, progress).await?;
    for service in start_order(project) {
        let Some(svc) = project.services.get(&service) else {
            continue;
        };
        for (dep, d) in &svc.depends_on {
            wait_for(client, project, dep, &d.condition, progress).await?;
        }
        let hash = config_hash(svc);
        for number in 1..=replicas(svc) {
            let name = container_name(project, &service, svc, number);
            let existing = project_containers(client, &project.name, Some(&service), true)
                .await?
                .into_iter()
                .find(|c| {
                    c.labels.get(labels::NUMBER).map(String::as_str) == Some(&number.to_string())
                });
            if let Some(c) = existing {
                if c.labels.get(labels::CONFIG_HASH) == Some(&hash) {
                    if c.state == "running" {
                        progress("Container", &name, "Running");
                    } else {
                        progress("Container", &name, "Starting");
                        client.container_start(&c.id).await?;
                        progress("Container", &name, "Started");
                    }
                    continue;
                }
                progress("Container", &name, "Recreate");
                client.container_stop(&c.id, None).await?;
                client.container_remove(&c.id, false, false).await?;
                progress("Container", &name, "Recreated");
            } else {
                progress("Container", &name, "Creating");
            }
            let req = create_request(project, &service, svc, number);
            let id = match client.container_create(&req, Some(&name)).await {
                Ok(r) => r.id,
                Err(e) if e.is_not_found() => {
                    return Err(ApplyError::Project(format!(
                        "service {service:?}: image {:?} not found, and berth compose does not pull images yet: load it (`berth load`) or give the service a `build:` section ({e})",
                        req.config.image
                    )))
                }
                Err(e) => return Err(e.into()),
            };
            for (_, net, cfg) in service_networks(project, svc).iter().skip(1) {
                if svc.network_mode.is_none() {
                    let body = NetworkConnectRequest {
                        container: id.clone(),
                        endpoint_config: Some(endpoint(&service, *cfg)),
                    };
                    client.network_connect(net, &body).await?;
                }
            }
            progress("Container", &name, "Created");
            progress("Container", &name, "Starting");
            client.container_start(&id).await?;
            progress("Container", &name, "Started");
        }
        // Scaled down: replicas above the count go.
        let count = replicas(svc);
        for c in project_containers(client, &project.name, Some(&service), true).await? {
            let number: u64 = c
                .labels
                .get(labels::NUMBER)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if number > count {
                let name = c
                    .names
                    .first()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default();
                progress("Container", &name, "Stopping");
                client.container_stop(&c.id, None).await?;
                progress("Container", &name, "Removing");
                client.container_remove(&c.id, false, false).await?;
                progress("Container", &name, "Removed");
            }
        }
    }
    Ok(())
}

async fn ensure_networks(
    client: &Client,
    project: &Project,
    progress: Progress<'_>,
) -> Result<(), ApplyError> {
    let used: Vec<&String> = project
        .services
        .values()
        .flat_map(|s| s.networks.keys())
        .collect();
    for (key, net) in &project.networks {
        if !used.contains(&key) {
            continue;
        }
        let mut f = Filters::new();
        f.insert("name".into(), vec![net.name.clone()]);
        let exists = client
            .networks_list(&f)
            .await?
            .iter()
            .any(|n| n.name == net.name);
        if exists {
            continue;
        }
        if net.external {
            return Err(ApplyError::Project(format!(
                "network {} declared as external, but could not be found",
                net.name
            )));
        }
        progress("Network", &net.name, "Creating");
        let req = NetworkCreateRequest {
            name: net.name.clone(),
            check_duplicate: true,
            driver: net.driver.clone().unwrap_or_else(|| "bridge".into()),
            internal: net.internal,
            attachable: net.attachable,
            options: (!net.driver_opts.is_empty()).then(|| net.driver_opts.clone()),
            labels: Some(labels::resource_labels(
                project,
                labels::NETWORK,
                key,
                &net.labels,
            )),
            ..NetworkCreateRequest::default()
        };
        client.network_create(&req).await?;
        progress("Network", &net.name, "Created");
    }
    Ok(())
}

async fn ensure_volumes(
    client: &Client,
    project: &Project,
    progress: Progress<'_>,
) -> Result<(), ApplyError> {
    for (key, vol) in &project.volumes {
        match client.volume_inspect(&vol.name).await {
            Ok(_) => continue,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        if vol.external {
            return Err(ApplyError::Project(format!(
                "external volume {:?} not found",
                vol.name
            )));
        }
        progress("Volume", &vol.name, "Creating");
        let req = VolumeCreateRequest {
            name: vol.name.clone(),
            driver: vol.driver.clone().unwrap_or_default(),
            driver_opts: (!vol.driver_opts.is_empty()).then(|| vol.driver_opts.clone()),
            labels: Some(labels::resource_labels(
                project,
                labels::VOLUME,
                key,
                &vol.labels,
            )),
        };
        client.volume_create(&req).await?;
        progress("Volume", &vol.name, "Created");
    }
    Ok(())
}

/// Wait until every container of `service` meets `condition`.
async fn wait_for(
    client: &Client,
    project: &Project,
    service: &str,
    condition: &str,
    progress: Progress<'_>,
) -> Result<(), ApplyError> {
    if condition == "service_started" {
        return Ok(());
    }
    let containers = project_containers(client, &project.name, Some(service), true).await?;
    for c in containers {
        let name = c
            .names
            .first()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default();
        progress("Container", &name, "Waiting");
        loop {
            let v: Value = client.container_inspect_raw(&c.id, false).await?;
            let state = &v["State"];
            let status = state["Status"].as_str().unwrap_or("");
            let code = state["ExitCode"].as_i64().unwrap_or(0);
            match condition {
                "service_healthy" => {
                    match state["Health"]["Status"].as_str() {
                        Some("healthy") => break,
                        Some("unhealthy") => {
                            return Err(ApplyError::Project(format!(
                                "dependency failed to start: container {name} is unhealthy"
                            )))
                        }
                        Some(_) => {}
                        None => {
                            return Err(ApplyError::Project(format!(
                                "container {name} has no healthcheck configured"
                            )))
                        }
                    }
                    if status == "exited" || status == "dead" {
                        return Err(ApplyError::Project(format!(
                            "dependency failed to start: container {name} exited ({code})"
                        )));
                    }
                }
                _ => {
                    if status == "exited" || status == "dead" {
                        if code == 0 {
                            break;
                        }
                        return Err(ApplyError::Project(format!(
                            "service {service:?} didn't complete successfully: exit {code}"
                        )));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        progress(
            "Container",
            &name,
            if condition == "service_healthy" {
                "Healthy"
            } else {
                "Exited"
            },
        );
    }
    Ok(())
}
