//! Docker Engine API v1.41 volume models (`/volumes`), field names and
//! `null`s as dockerd serializes them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A volume as `GET /volumes/{name}` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Volume {
    /// Creation time, RFC 3339 in seconds (`2026-11-21T11:00:00Z`).
    pub created_at: String,
    /// Volume driver (`local`).
    pub driver: String,
    /// User labels; `null` when none.
    pub labels: Option<BTreeMap<String, String>>,
    /// Host path of the volume's data.
    pub mountpoint: String,
    /// Volume name.
    pub name: String,
    /// Driver options; `null` when none.
    pub options: Option<BTreeMap<String, String>>,
    /// Always `local`.
    pub scope: String,
    /// Usage data (only in `/system/df`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<VolumeUsageData>,
}

/// `UsageData` of a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeUsageData {
    /// Bytes used (-1 when unknown).
    pub size: i64,
    /// Containers referencing the volume (-1 when unknown).
    pub ref_count: i64,
}

/// Body of `POST /volumes/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeCreateRequest {
    /// Name; empty means a generated 64-hex name.
    pub name: String,
    /// Driver; empty means `local`.
    pub driver: String,
    /// Driver options (`-o`).
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// Labels (`--label`).
    pub labels: Option<BTreeMap<String, String>>,
}

/// Answer of `GET /volumes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeListResponse {
    /// The volumes.
    pub volumes: Vec<Volume>,
    /// Warnings (`null` from dockerd when none).
    pub warnings: Option<Vec<String>>,
}

/// Answer of `POST /volumes/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumePruneResponse {
    /// Names of the removed volumes (`null` when none, as dockerd).
    pub volumes_deleted: Option<Vec<String>>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_serializes_like_dockerd() {
        let v = Volume {
            created_at: "2026-11-21T11:05:47Z".into(),
            driver: "local".into(),
            mountpoint: "/v/named1/_data".into(),
            name: "named1".into(),
            scope: "local".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"CreatedAt":"2026-11-21T11:05:47Z","Driver":"local","Labels":null,"Mountpoint":"/v/named1/_data","Name":"named1","Options":null,"Scope":"local"}"#
        );
        let p = VolumePruneResponse::default();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"VolumesDeleted":null,"SpaceReclaimed":0}"#
        );
    }
}
