//! `GET /containers/{id}/json`.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_spec::api::{ContainerInspect, ContainerState, GraphDriver};

use crate::error::Result;
use crate::record::{ContainerRecord, Status};
use crate::timefmt::{opt_rfc3339_nano, rfc3339_nano};
use crate::{blocking, Engine};

/// `State` of the inspect output.
pub(crate) fn state_of(rec: &ContainerRecord) -> ContainerState {
    let st = &rec.state;
    ContainerState {
        status: st.status_str().to_string(),
        running: matches!(st.status, Status::Running | Status::Restarting),
        paused: st.is_paused(),
        restarting: st.status == Status::Restarting,
        oom_killed: st.oom_killed,
        dead: st.status == Status::Dead,
        pid: i64::from(st.pid),
        exit_code: st.exit_code,
        error: st.error.clone(),
        started_at: opt_rfc3339_nano(&st.started_at),
        finished_at: opt_rfc3339_nano(&st.finished_at),
        health: st.health.as_ref().map(|h| h.to_api()),
    }
}

impl Engine {
    /// A container's record (for callers that need raw data).
    pub fn record(&self, name: &str) -> Result<ContainerRecord> {
        Ok(self.lookup(name)?.snapshot())
    }

    /// Inspect a container; `size` adds SizeRw and SizeRootFs.
    pub async fn inspect(self: &Arc<Self>, name: &str, size: bool) -> Result<ContainerInspect> {
        let c = self.lookup(name)?;
        let rec = c.snapshot();
        let dir = c.dir.clone();
        let store = self.store();
        let image_id = rec.image_id.clone();
        let upper = dir.join("upper");
        let (layers, sizes) = blocking(move || {
            let layers = store.layer_dirs(&image_id).unwrap_or_default();
            let sizes = if size {
                let rw = crate::list::dir_size(&upper);
                let img = store.inspect(&image_id).map(|i| i.size).unwrap_or(0);
                Some((rw, rw + img))
            } else {
                None
            };
            Ok((layers, sizes))
        })
        .await?;
        let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let mut gd = BTreeMap::new();
        let lower: Vec<String> = layers
            .iter()
            .rev()
            .map(|l| l.to_string_lossy().into_owned())
            .collect();
        gd.insert("LowerDir".to_string(), lower.join(":"));
        gd.insert("MergedDir".to_string(), p("rootfs"));
        gd.insert("UpperDir".to_string(), p("upper"));
        gd.insert("WorkDir".to_string(), p("work"));
        let network_settings = self.network_settings(&rec);
        let mut host_config = rec.host_config.clone();
        host_config.links = self.links_view(&rec);
        Ok(ContainerInspect {
            id: rec.id.clone(),
            created: rfc3339_nano(&rec.created),
            path: rec.path.clone(),
            args: rec.args.clone(),
            state: state_of(&rec),
            image: rec.image_id.clone(),
            resolv_conf_path: p("resolv.conf"),
            hostname_path: p("hostname"),
            hosts_path: p("hosts"),
            log_path: c.log_path().to_string_lossy().into_owned(),
            name: format!("/{}", rec.name),
            restart_count: rec.state.restart_count,
            driver: "overlay2".into(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: self.exec_ids(&c.id),
            host_config,
            graph_driver: GraphDriver {
                data: gd,
                name: "overlay2".into(),
            },
            size_rw: sizes.map(|s| s.0),
            size_root_fs: sizes.map(|s| s.1),
            mounts: crate::mounts::api_mounts(&rec),
            config: rec.config.clone(),
            network_settings,
        })
    }
}
