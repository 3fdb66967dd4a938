//! `GET /system/df`: what images, containers and volumes use on disk, in dockerd's shape.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use berth_spec::api::{ContainerSummary, ImageSummary};
use berth_spec::volume_api::{Volume, VolumeUsageData};
use serde::Serialize;

use crate::error::Result;
use crate::list::{dir_size, ListOptions};
use crate::Engine;

/// Answer of `GET /system/df` (dockerd's `types.DiskUsage`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    /// Bytes of every image layer on disk, each counted once.
    pub layers_size: i64,
    /// Images, with `Containers` (how many use each) and `SharedSize` filled in.
    pub images: Vec<ImageSummary>,
    /// Every container, with `SizeRw` and `SizeRootFs`.
    pub containers: Vec<ContainerSummary>,
    /// Volumes, with `UsageData` (size and how many containers mount each).
    pub volumes: Vec<Volume>,
    /// Build cache records (berth keeps none apart from images).
    pub build_cache: Vec<serde_json::Value>,
}

impl Engine {
    /// Disk usage of images, containers and volumes, as `GET /system/df` reports it.
    pub async fn disk_usage(self: &Arc<Self>) -> Result<DiskUsage> {
        let mut images = self.images(false, BTreeMap::new()).await?;
        let containers = self
            .list(ListOptions {
                all: true,
                limit: -1,
                size: true,
                filters: BTreeMap::new(),
            })
            .await?;
        let mut volumes = self.volume_list(BTreeMap::new()).await?.volumes;

        let store = self.store();
        let ids: Vec<String> = images.iter().map(|i| i.id.clone()).collect();
        let mounts: Vec<String> = volumes.iter().map(|v| v.mountpoint.clone()).collect();
        let (layers_of, layer_size, volume_sizes) = crate::blocking(move || {
            let mut layers_of: HashMap<String, Vec<PathBuf>> = HashMap::new();
            let mut layer_size: HashMap<PathBuf, i64> = HashMap::new();
            for id in &ids {
                let dirs = store.layer_dirs(id).unwrap_or_default();
                for d in &dirs {
                    if !layer_size.contains_key(d) {
                        layer_size.insert(d.clone(), dir_size(d));
                    }
                }
                layers_of.insert(id.clone(), dirs);
            }
            let volume_sizes: Vec<i64> = mounts
                .iter()
                .map(|m| dir_size(std::path::Path::new(m)))
                .collect();
            Ok((layers_of, layer_size, volume_sizes))
        })
        .await?;

        let mut users: HashMap<&PathBuf, i64> = HashMap::new();
        for dirs in layers_of.values() {
            for d in dirs {
                *users.entry(d).or_default() += 1;
            }
        }
        for image in &mut images {
            image.containers = containers.iter().filter(|c| c.image_id == image.id).count() as i64;
            image.shared_size = layers_of
                .get(&image.id)
                .map(|dirs| {
                    dirs.iter()
                        .filter(|d| users.get(d).copied().unwrap_or(0) > 1)
                        .map(|d| layer_size.get(d).copied().unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0);
        }
        for (volume, size) in volumes.iter_mut().zip(volume_sizes) {
            let ref_count = containers
                .iter()
                .filter(|c| c.mounts.iter().any(|m| m.name == volume.name))
                .count() as i64;
            volume.usage_data = Some(VolumeUsageData { size, ref_count });
        }
        Ok(DiskUsage {
            layers_size: layer_size.values().sum(),
            images,
            containers,
            volumes,
            build_cache: Vec::new(),
        })
    }
}
