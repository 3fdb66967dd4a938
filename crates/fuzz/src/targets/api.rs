//! The API's JSON request bodies and the string parsers the engine runs on
//! their fields (`berth_spec`).

use berth_spec::api::ContainerCreateRequest;
use berth_spec::detach::parse_detach_keys;
use berth_spec::goduration::parse_go_duration;
use berth_spec::mounts::{
    clean_path, parse_bind, parse_mount, parse_tmpfs, parse_volumes_from, validate_volume_name,
};
use berth_spec::names::is_valid_container_name;
use berth_spec::network_api::{NetworkConnectRequest, NetworkCreateRequest};
use berth_spec::volume_api::VolumeCreateRequest;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// Deserialise `data` as `T`, the way the daemon reads a body; what parses
/// must serialise and parse back to the same value.
fn round_trip<T: DeserializeOwned + Serialize + PartialEq + Debug>(data: &[u8]) -> Option<T> {
    let v: T = serde_json::from_slice(data).ok()?;
    let out = serde_json::to_vec(&v)
        .unwrap_or_else(|e| panic!("parsed body does not serialise: {e}: {v:?}"));
    let again: T = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "serialised body does not parse back: {e}: {}",
            String::from_utf8_lossy(&out)
        )
    });
    assert_eq!(v, again, "body changes in a JSON round trip");
    Some(v)
}

/// Every request body type the daemon deserialises from JSON that lives
/// below the engine (container create, network create/connect, volume
/// create); for a container, its binds, mounts, tmpfs and volumes-from
/// entries go through the same parsers the engine uses.
pub fn target_api_json(data: &[u8]) {
    if let Some(req) = round_trip::<ContainerCreateRequest>(data) {
        let hc = &req.host_config;
        for b in hc.binds.iter().flatten() {
            let _ = parse_bind(b);
        }
        for m in hc.mounts.iter().flatten() {
            let _ = parse_mount(m);
        }
        for (dst, opts) in hc.tmpfs.iter().flatten() {
            let _ = parse_tmpfs(dst, opts);
        }
        for v in hc.volumes_from.iter().flatten() {
            let _ = parse_volumes_from(v);
        }
    }
    let _ = round_trip::<NetworkCreateRequest>(data);
    let _ = round_trip::<NetworkConnectRequest>(data);
    let _ = round_trip::<VolumeCreateRequest>(data);
}

/// The string parsers of flags and query values: each line of the input
/// goes to every one of them (bind specs, Go durations, detach keys,
/// volume and container names, volumes-from, path cleaning).
pub fn target_spec_strings(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n').take(64) {
        let _ = parse_bind(line);
        let _ = parse_go_duration(line);
        let _ = parse_detach_keys(line);
        let _ = validate_volume_name(line);
        let _ = is_valid_container_name(line);
        let _ = parse_volumes_from(line);
        let _ = parse_tmpfs(line, line);
        let cleaned = clean_path(line);
        assert_eq!(
            clean_path(&cleaned),
            cleaned,
            "clean_path is not idempotent on {line:?}"
        );
    }
}
