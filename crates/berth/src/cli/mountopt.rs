//! `--mount` values as the docker CLI parses them (`opts.MountOpt`): a CSV
//! line of `key=value` fields into one `HostConfig.Mounts` entry.

use berth_spec::api::MountSpec;
use serde_json::{json, Map, Value};

/// Go's `encoding/csv` reading of a single line: comma-separated fields,
/// double-quoted fields may hold commas and `""` for a quote.
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut at_start = true;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                    if !matches!(chars.peek(), None | Some(',')) {
                        return Err("parse error on line 1, column 1: extraneous or missing \" in quoted-field".into());
                    }
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
                continue;
            }
            '"' if at_start => quoted = true,
            '"' => {
                return Err("parse error on line 1, column 1: bare \" in non-quoted-field".into())
            }
            c => cur.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err(
            "parse error on line 1, column 1: extraneous or missing \" in quoted-field".into(),
        );
    }
    fields.push(cur);
    Ok(fields)
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `key[=value]` into a map (a bare key maps to "").
fn set_on_map(map: &mut Map<String, Value>, value: &str) {
    let (k, v) = value.split_once('=').unwrap_or((value, ""));
    map.insert(k.to_string(), Value::String(v.to_string()));
}

/// Parse one `--mount` value; the error is the text docker puts after
/// `invalid argument "..." for "--mount" flag: `.
pub fn parse_mount(value: &str) -> Result<MountSpec, String> {
    let mut m = MountSpec {
        kind: "volume".into(),
        ..Default::default()
    };
    let mut volume: Option<Map<String, Value>> = None;
    let mut driver: Option<Map<String, Value>> = None;
    let mut bind: Option<Map<String, Value>> = None;
    let mut tmpfs: Option<Map<String, Value>> = None;
    for field in csv_fields(value)? {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), Some(v.to_string())),
            None => (field.to_lowercase(), None),
        };
        let Some(val) = val else {
            match key.as_str() {
                "readonly" | "ro" => m.read_only = true,
                "volume-nocopy" => {
                    volume
                        .get_or_insert_with(Map::new)
                        .insert("NoCopy".into(), json!(true));
                    driver.get_or_insert_with(Map::new);
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        let bad = || format!("invalid value for {key}: {val}");
        match key.as_str() {
            "type" => m.kind = val.to_lowercase(),
            "source" | "src" => m.source = val.clone(),
            "target" | "dst" | "destination" => m.target = val.clone(),
            "readonly" | "ro" => m.read_only = parse_bool(&val).ok_or_else(bad)?,
            "consistency" => m.consistency = val.to_lowercase(),
            "bind-propagation" => {
                bind.get_or_insert_with(Map::new)
                    .insert("Propagation".into(), json!(val.to_lowercase()));
            }
            "bind-nonrecursive" => {
                let b = parse_bool(&val).ok_or_else(bad)?;
                bind.get_or_insert_with(Map::new)
                    .insert("NonRecursive".into(), json!(b));
            }
            "volume-nocopy" => {
                let b = parse_bool(&val)
                    .ok_or_else(|| format!("invalid value for volume-nocopy: {val}"))?;
                volume
                    .get_or_insert_with(Map::new)
                    .insert("NoCopy".into(), json!(b));
                driver.get_or_insert_with(Map::new);
            }
            "volume-label" => {
                let v = volume.get_or_insert_with(Map::new);
                driver.get_or_insert_with(Map::new);
                let labels = v.entry("Labels").or_insert_with(|| json!({}));
                if let Value::Object(map) = labels {
                    set_on_map(map, &val);
                }
            }
            "volume-driver" => {
                volume.get_or_insert_with(Map::new);
                driver
                    .get_or_insert_with(Map::new)
                    .insert("Name".into(), json!(val));
            }
            "volume-opt" => {
                volume.get_or_insert_with(Map::new);
                let d = driver.get_or_insert_with(Map::new);
                let opts = d.entry("Options").or_insert_with(|| json!({}));
                if let Value::Object(map) = opts {
                    set_on_map(map, &val);
                }
            }
            "tmpfs-size" => {
                let size = super::run::ram_in_bytes(&val).map_err(|_| bad())?;
                tmpfs
                    .get_or_insert_with(Map::new)
                    .insert("SizeBytes".into(), json!(size));
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(&val, 8).map_err(|_| bad())?;
                tmpfs
                    .get_or_insert_with(Map::new)
                    .insert("Mode".into(), json!(mode));
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if m.kind.is_empty() {
        return Err("type is required".into());
    }
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    if volume.is_some() && m.kind != "volume" {
        return Err(format!(
            "cannot mix 'volume-*' options with mount type '{}'",
            m.kind
        ));
    }
    if bind.is_some() && m.kind != "bind" {
        return Err(format!(
            "cannot mix 'bind-*' options with mount type '{}'",
            m.kind
        ));
    }
    if tmpfs.is_some() && m.kind != "tmpfs" {
        return Err(format!(
            "cannot mix 'tmpfs-*' options with mount type '{}'",
            m.kind
        ));
    }
    if let Some(mut v) = volume {
        v.insert(
            "DriverConfig".into(),
            Value::Object(driver.unwrap_or_default()),
        );
        m.volume_options = Some(Value::Object(v));
    }
    m.bind_options = bind.map(Value::Object);
    m.tmpfs_options = tmpfs.map(Value::Object);
    Ok(m)
}

/// All `--mount` values, with docker's flag error wording.
pub fn parse_mounts(values: &[String]) -> Result<Vec<MountSpec>, String> {
    values
        .iter()
        .map(|v| {
            parse_mount(v)
                .map_err(|e| format!("invalid argument \"{v}\" for \"--mount\" flag: {e}"))
        })
        .collect()
}

/// `--volumes-from` values are sent as given (`name[:ro|rw]`).
pub fn volumes_from(values: &[String]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(m: &MountSpec) -> Value {
        serde_json::to_value(m).unwrap()
    }

    #[test]
    fn mounts_serialize_as_docker_sends_them() {
        assert_eq!(
            js(&parse_mount("type=bind,src=/a,dst=/b,readonly").unwrap()),
            json!({"Type":"bind","Source":"/a","Target":"/b","ReadOnly":true})
        );
        assert_eq!(
            js(
                &parse_mount("type=volume,source=v,target=/v,volume-opt=o=x,volume-nocopy")
                    .unwrap()
            ),
            json!({"Type":"volume","Source":"v","Target":"/v","VolumeOptions":{"NoCopy":true,"DriverConfig":{"Options":{"o":"x"}}}})
        );
        assert_eq!(
            js(&parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777").unwrap()),
            json!({"Type":"tmpfs","Source":"","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":1023}})
        );
        assert_eq!(
            js(
                &parse_mount("type=bind,source=/c,target=/d,bind-propagation=rshared,ro=false")
                    .unwrap()
            ),
            json!({"Type":"bind","Source":"/c","Target":"/d","BindOptions":{"Propagation":"rshared"}})
        );
        let m = parse_mount("dst=/x").unwrap();
        assert_eq!((m.kind.as_str(), m.target.as_str()), ("volume", "/x"));
        let m = parse_mount("type=bind,\"src=/a,b\",dst=/x").unwrap();
        assert_eq!(m.source, "/a,b");
    }

    #[test]
    fn errors_like_docker() {
        assert_eq!(parse_mount("src=/a").unwrap_err(), "target is required");
        assert_eq!(
            parse_mount("type=bind,src=/a,dst=/x,ro=maybe").unwrap_err(),
            "invalid value for ro: maybe"
        );
        assert_eq!(
            parse_mount("type=bind,src=/a,dst=/x,foo=1").unwrap_err(),
            "unexpected key 'foo' in 'foo=1'"
        );
        assert_eq!(
            parse_mount("type=bind,src=/a,dst=/x,tmpfs-size=1").unwrap_err(),
            "cannot mix 'tmpfs-*' options with mount type 'bind'"
        );
        assert_eq!(
            parse_mount("type=volume,dst=/x,bind-propagation=shared").unwrap_err(),
            "cannot mix 'bind-*' options with mount type 'volume'"
        );
        assert_eq!(
            parse_mount("type=tmpfs,dst=/x,tmpfs-size=abc").unwrap_err(),
            "invalid value for tmpfs-size: abc"
        );
        assert_eq!(
            parse_mount("type=tmpfs,dst=/x,tmpfs-mode=abc").unwrap_err(),
            "invalid value for tmpfs-mode: abc"
        );
        assert_eq!(
            parse_mount("type=bind,foo").unwrap_err(),
            "invalid field 'foo' must be a key=value pair"
        );
        assert_eq!(
            parse_mounts(&["src=/a".into()]).unwrap_err(),
            "invalid argument \"src=/a\" for \"--mount\" flag: target is required"
        );
    }
}
