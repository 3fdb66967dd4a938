//! The networking options of `run`/`create` (`--link`, `--network-alias`,
//! `--ip`) turned into `HostConfig.Links` and
//! `NetworkingConfig.EndpointsConfig` as the docker CLI sends them.

use std::collections::BTreeMap;

use berth_spec::api::EndpointSettings;
use berth_spec::network_api::{EndpointIpamConfig, NetworkingConfig};

/// docker's `opts.ParseLink` validation of `name[:alias]`.
fn validate_link(val: &str) -> Result<(), String> {
    if val.is_empty() {
        return Err("empty string specified for links".into());
    }
    if val.split(':').count() > 2 {
        return Err(format!("bad format for links: {val}"));
    }
    Ok(())
}

/// All `--link` values with docker's flag error wording; sent as typed.
pub fn parse_links(values: &[String]) -> Result<Option<Vec<String>>, String> {
    for l in values {
        validate_link(l)
            .map_err(|e| format!("invalid argument \"{l}\" for \"--link\" flag: {e}"))?;
    }
    Ok((!values.is_empty()).then(|| values.to_vec()))
}

/// Whether a `--network` value names a user-defined network (not the
/// default bridge, `host`, `none` or `container:<id>`).
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "" | "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// `NetworkingConfig` for the network mode: an endpoint entry when the
/// network is user-defined or endpoint options are given (`--ip`,
/// `--network-alias`); links are copied into it on user networks.
pub fn networking_config(
    mode: &str,
    ip: Option<&str>,
    aliases: &[String],
    links: Option<&Vec<String>>,
) -> Option<NetworkingConfig> {
    let ip = ip.filter(|i| !i.is_empty());
    let user = is_user_defined(mode);
    if !user && ip.is_none() && aliases.is_empty() {
        return None;
    }
    let ep = EndpointSettings {
        ipam_config: ip.map(|i| EndpointIpamConfig {
            ipv4_address: i.to_string(),
            ..Default::default()
        }),
        links: if user { links.cloned() } else { None },
        aliases: (!aliases.is_empty()).then(|| aliases.to_vec()),
        ..Default::default()
    };
    Some(NetworkingConfig {
        endpoints_config: Some(BTreeMap::from([(mode.to_string(), ep)])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_validate_like_docker() {
        assert_eq!(
            parse_links(&["a".into(), "b:c".into()]).unwrap(),
            Some(vec!["a".to_string(), "b:c".to_string()])
        );
        assert_eq!(
            parse_links(&["a:b:c".into()]).unwrap_err(),
            "invalid argument \"a:b:c\" for \"--link\" flag: bad format for links: a:b:c"
        );
        assert_eq!(
            parse_links(&[String::new()]).unwrap_err(),
            "invalid argument \"\" for \"--link\" flag: empty string specified for links"
        );
        assert_eq!(parse_links(&[]).unwrap(), None);
    }

    #[test]
    fn endpoint_entry_for_user_networks() {
        assert!(networking_config("default", None, &[], None).is_none());
        assert!(networking_config("bridge", None, &[], None).is_none());
        let links = vec!["db:d".to_string()];
        let nc =
            networking_config("mynet", Some("10.1.0.5"), &["al".into()], Some(&links)).unwrap();
        let v = serde_json::to_value(&nc).unwrap();
        let ep = &v["EndpointsConfig"]["mynet"];
        assert_eq!(ep["IPAMConfig"]["IPv4Address"], "10.1.0.5");
        assert_eq!(ep["Aliases"][0], "al");
        assert_eq!(ep["Links"][0], "db:d");
        let nc = networking_config("mynet", None, &[], None).unwrap();
        assert!(nc.endpoints_config.unwrap().contains_key("mynet"));
        let nc = networking_config("default", Some("172.17.0.9"), &[], Some(&links)).unwrap();
        let v = serde_json::to_value(&nc).unwrap();
        assert!(v["EndpointsConfig"]["default"]["Links"].is_null());
    }
}
