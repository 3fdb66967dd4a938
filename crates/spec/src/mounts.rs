//! Pure parsers and validators of a container's mount requests, with
//! dockerd's (20.10, Linux) rules and messages: `HostConfig.Binds`
//! (`-v`), `HostConfig.Mounts` (`--mount`), `HostConfig.Tmpfs` (`--tmpfs`),
//! `HostConfig.VolumesFrom` and local volume names.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::MountSpec;

/// What kind of mount a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A tmpfs.
    Tmpfs,
}

impl MountType {
    /// Docker's word (`bind`, `volume`, `tmpfs`).
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::Tmpfs => "tmpfs",
        }
    }
}

/// One validated mount request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMount {
    /// Bind, volume or tmpfs.
    pub kind: MountType,
    /// Host path (bind, cleaned), volume name (empty: anonymous), empty for tmpfs.
    pub source: String,
    /// Absolute, cleaned path inside the container.
    pub destination: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// The mode string as given (`-v`'s third field), else empty.
    pub mode: String,
    /// Bind propagation (`rprivate` unless given).
    pub propagation: String,
    /// Do not copy the image's content into an empty volume.
    pub nocopy: bool,
    /// Whether the bind source must already exist (`--mount`) rather
    /// than be created (`-v`).
    pub must_exist: bool,
    /// Volume driver (empty: `local`).
    pub driver: String,
    /// Labels for a volume created by this mount.
    pub volume_labels: BTreeMap<String, String>,
    /// Driver options for a volume created by this mount.
    pub driver_opts: BTreeMap<String, String>,
    /// tmpfs mount data (`size=1048576,mode=1777`), comma-separated.
    pub tmpfs_options: String,
}

impl ParsedMount {
    fn new(kind: MountType, source: &str, destination: &str) -> ParsedMount {
        ParsedMount {
            kind,
            source: source.to_string(),
            destination: destination.to_string(),
            read_only: false,
            mode: String::new(),
            propagation: String::new(),
            nocopy: false,
            must_exist: false,
            driver: String::new(),
            volume_labels: BTreeMap::new(),
            driver_opts: BTreeMap::new(),
            tmpfs_options: String::new(),
        }
    }
}

const RW_MODES: &[&str] = &["rw", "ro"];
const LABEL_MODES: &[&str] = &["z", "Z"];
const PROPAGATION_MODES: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];
const COPY_MODES: &[&str] = &["nocopy"];
const CONSISTENCY_MODES: &[&str] = &["consistent", "cached", "delegated"];

/// dockerd's `ValidMountMode`: comma-separated, at most one of each kind.
pub fn valid_mount_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0usize; 5];
    for part in mode.split(',') {
        let kinds = [
            RW_MODES,
            LABEL_MODES,
            PROPAGATION_MODES,
            COPY_MODES,
            CONSISTENCY_MODES,
        ];
        match kinds.iter().position(|k| k.contains(&part)) {
            Some(i) => {
                counts[i] += 1;
                if counts[i] > 1 {
                    return false;
                }
            }
            None => return false,
        }
    }
    true
}

fn mode_parts(mode: &str) -> impl Iterator<Item = &str> {
    mode.split(',').filter(|s| !s.is_empty())
}

/// `path.Clean` of Go for absolute or relative slash paths.
pub fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !abs {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

fn config_err(kind: MountType, msg: impl std::fmt::Display) -> String {
    format!("invalid mount config for type \"{}\": {msg}", kind.as_str())
}

/// Validate a mount's destination (dockerd's messages without the prefix).
fn check_target(target: &str) -> Result<(), String> {
    if target.is_empty() {
        return Err("field Target must not be empty".into());
    }
    if clean_path(target) == "/" {
        return Err("invalid specification: destination can't be '/'".into());
    }
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    Ok(())
}

/// Parse one `HostConfig.Binds` entry (`-v`): `name:/dst[:mode]`,
/// `/host:/dst[:mode]` or `/dst` (anonymous volume).
pub fn parse_bind(raw: &str) -> Result<ParsedMount, String> {
    let spec_err = || format!("invalid volume specification: '{raw}'");
    let arr: Vec<&str> = raw.split(':').collect();
    if arr[0].is_empty() {
        return Err(spec_err());
    }
    let (source, target, mode) = match arr.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => {
            if valid_mount_mode(t) {
                return Err(spec_err());
            }
            (*s, *t, "")
        }
        [s, t, m] => (*s, *t, *m),
        _ => return Err(spec_err()),
    };
    if !valid_mount_mode(mode) {
        return Err(format!("invalid mode: {mode}"));
    }
    let kind = if source.starts_with('/') {
        MountType::Bind
    } else {
        MountType::Volume
    };
    let mut m = ParsedMount::new(kind, source, target);
    m.mode = mode.to_string();
    m.read_only = mode_parts(mode).any(|p| p == "ro");
    m.nocopy = mode_parts(mode).any(|p| p == "nocopy");
    if let Some(p) = mode_parts(mode).find(|p| PROPAGATION_MODES.contains(p)) {
        m.propagation = p.to_string();
    }
    let wrap = |e: String| format!("{}: {}", spec_err(), config_err(kind, e));
    check_target(target).map_err(wrap)?;
    m.destination = clean_path(target);
    match kind {
        MountType::Bind => {
            m.source = clean_path(source);
            if m.propagation.is_empty() {
                m.propagation = "rprivate".into();
            }
        }
        _ => {
            if source.is_empty() && m.read_only {
                return Err(wrap(
                    "must not set ReadOnly mode when using anonymous volumes".into(),
                ));
            }
            if m.nocopy && source.is_empty() {
                // dockerd accepts it; nothing to do.
            }
        }
    }
    Ok(m)
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn map_field(v: &Value, key: &str) -> BTreeMap<String, String> {
    v.get(key)
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn present(v: &Option<Value>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_null())
}

/// Parse one `HostConfig.Mounts` entry (`--mount`).
pub fn parse_mount(spec: &MountSpec) -> Result<ParsedMount, String> {
    let kind = match spec.kind.as_str() {
        "bind" => MountType::Bind,
        "volume" => MountType::Volume,
        "tmpfs" => MountType::Tmpfs,
        other => return Err(format!("mount type unknown: \"{other}\"")),
    };
    let err = |e: String| config_err(kind, e);
    check_target(&spec.target).map_err(err)?;
    let mut m = ParsedMount::new(kind, &spec.source, &clean_path(&spec.target));
    m.read_only = spec.read_only;
    m.must_exist = true;
    match kind {
        MountType::Bind => {
            if spec.source.is_empty() {
                return Err(err("field Source must not be empty".into()));
            }
            if present(&spec.volume_options) {
                return Err(err("field VolumeOptions must not be specified".into()));
            }
            if present(&spec.tmpfs_options) {
                return Err(err("field TmpfsOptions must not be specified".into()));
            }
            if !spec.source.starts_with('/') {
                return Err(err(format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    spec.source
                )));
            }
            m.source = clean_path(&spec.source);
            m.propagation = spec
                .bind_options
                .as_ref()
                .and_then(|b| str_field(b, "Propagation"))
                .filter(|p| !p.is_empty())
                .unwrap_or("rprivate")
                .to_string();
        }
        MountType::Volume => {
            if present(&spec.bind_options) {
                return Err(err("field BindOptions must not be specified".into()));
            }
            if present(&spec.tmpfs_options) {
                return Err(err("field TmpfsOptions must not be specified".into()));
            }
            if spec.source.is_empty() && spec.read_only {
                return Err(err(
                    "must not set ReadOnly mode when using anonymous volumes".into(),
                ));
            }
            if let Some(vo) = spec.volume_options.as_ref().filter(|v| !v.is_null()) {
                m.nocopy = vo.get("NoCopy").and_then(Value::as_bool).unwrap_or(false);
                m.volume_labels = map_field(vo, "Labels");
                if let Some(dc) = vo.get("DriverConfig").filter(|d| !d.is_null()) {
                    m.driver = str_field(dc, "Name").unwrap_or_default().to_string();
                    m.driver_opts = map_field(dc, "Options");
                }
            }
        }
        MountType::Tmpfs => {
            if !spec.source.is_empty() {
                return Err(err("field Source must not be specified".into()));
            }
            if present(&spec.bind_options) {
                return Err(err("field BindOptions must not be specified".into()));
            }
            if present(&spec.volume_options) {
                return Err(err("field VolumeOptions must not be specified".into()));
            }
            let mut opts = Vec::new();
            if let Some(to) = spec.tmpfs_options.as_ref().filter(|v| !v.is_null()) {
                if let Some(size) = to.get("SizeBytes").and_then(Value::as_i64) {
                    if size < 0 {
                        return Err(err(format!("invalid tmpfs size: {size}")));
                    }
                    if size > 0 {
                        opts.push(format!("size={size}"));
                    }
                }
                if let Some(mode) = to.get("Mode").and_then(Value::as_u64) {
                    if mode > 0 {
                        opts.push(format!("mode={:o}", mode & 0o7777));
                    }
                }
            }
            if m.read_only {
                opts.push("ro".into());
            }
            m.tmpfs_options = opts.join(",");
        }
    }
    Ok(m)
}

/// Options `--tmpfs` accepts besides `size=` and `mode=` (mount flags).
const TMPFS_FLAGS: &[&str] = &[
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "bind",
    "rbind",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// Parse one `HostConfig.Tmpfs` entry (`--tmpfs /path:opts` gives `/path` -> `opts`).
pub fn parse_tmpfs(destination: &str, options: &str) -> Result<ParsedMount, String> {
    if !destination.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{destination}' mount path must be absolute"
        ));
    }
    if clean_path(destination) == "/" {
        return Err("invalid specification: destination can't be '/'".into());
    }
    let mut kept = Vec::new();
    for opt in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let key = opt.split_once('=').map(|(k, _)| k).unwrap_or(opt);
        let ok = match key {
            "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" | "mpol" => {
                opt.contains('=')
            }
            _ => TMPFS_FLAGS.contains(&opt),
        };
        if !ok {
            return Err(format!("Invalid tmpfs option [\"{opt}\"]"));
        }
        kept.push(opt.to_string());
    }
    let mut m = ParsedMount::new(MountType::Tmpfs, "", &clean_path(destination));
    m.read_only = kept.iter().any(|o| o == "ro");
    m.tmpfs_options = kept.join(",");
    Ok(m)
}

/// Parse a `HostConfig.VolumesFrom` entry `container[:ro|rw]` into the
/// container and whether its mounts stay writable.
pub fn parse_volumes_from(spec: &str) -> Result<(String, bool), String> {
    match spec.split_once(':') {
        None => Ok((spec.to_string(), true)),
        Some((c, mode)) => {
            if !valid_mount_mode(mode) {
                return Err(format!("invalid mode: {mode}"));
            }
            Ok((c.to_string(), !mode_parts(mode).any(|p| p == "ro")))
        }
    }
}

/// Check a local volume name as dockerd's local driver does, with its message.
pub fn validate_volume_name(name: &str) -> Result<(), String> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .skip(1)
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !(first_ok && rest_ok) {
        return Err(format!(
            "\"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        ));
    }
    if name.len() < 2 {
        return Err(
            "volume name is too short, names should be at least two alphanumeric characters".into(),
        );
    }
    Ok(())
}

/// Check the driver options of a local volume (`type`, `device`, `o`).
pub fn validate_local_options(opts: &BTreeMap<String, String>) -> Result<(), String> {
    for k in opts.keys() {
        if !matches!(k.as_str(), "type" | "device" | "o") {
            return Err(format!("invalid option: \"{k}\""));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_accepted_as_dockerd() {
        let cases: &[(&str, MountType, &str, &str, bool, &str)] = &[
            (
                "named:/data",
                MountType::Volume,
                "named",
                "/data",
                false,
                "",
            ),
            (
                "named:/data:ro",
                MountType::Volume,
                "named",
                "/data",
                true,
                "ro",
            ),
            (
                "named:/data/:nocopy",
                MountType::Volume,
                "named",
                "/data",
                false,
                "nocopy",
            ),
            ("/host:/c", MountType::Bind, "/host", "/c", false, ""),
            (
                "/host/../h//x/:/c:ro",
                MountType::Bind,
                "/h/x",
                "/c",
                true,
                "ro",
            ),
            (
                "/host:/c:rw,z",
                MountType::Bind,
                "/host",
                "/c",
                false,
                "rw,z",
            ),
            ("/data", MountType::Volume, "", "/data", false, ""),
            (
                "rel/path:/x",
                MountType::Volume,
                "rel/path",
                "/x",
                false,
                "",
            ),
        ];
        for (raw, kind, src, dst, ro, mode) in cases {
            let m = parse_bind(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(
                (
                    m.kind,
                    m.source.as_str(),
                    m.destination.as_str(),
                    m.read_only,
                    m.mode.as_str()
                ),
                (*kind, *src, *dst, *ro, *mode),
                "{raw}"
            );
        }
        assert!(parse_bind("named:/data:nocopy").unwrap().nocopy);
        assert_eq!(parse_bind("/h:/c").unwrap().propagation, "rprivate");
        assert_eq!(parse_bind("/h:/c:rshared").unwrap().propagation, "rshared");
    }

    #[test]
    fn binds_rejected_with_dockerds_messages() {
        let cases: &[(&str, &str)] = &[
            ("/x:ro", "invalid volume specification: '/x:ro'"),
            ("named1:/data:rw,ro", "invalid mode: rw,ro"),
            ("named1:/data:foo", "invalid mode: foo"),
            ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
            (":/x", "invalid volume specification: ':/x'"),
            (
                "named1:/",
                "invalid volume specification: 'named1:/': invalid mount config for type \"volume\": invalid specification: destination can't be '/'",
            ),
            (
                "/tmp:relative",
                "invalid volume specification: '/tmp:relative': invalid mount config for type \"bind\": invalid mount path: 'relative' mount path must be absolute",
            ),
        ];
        for (raw, msg) in cases {
            assert_eq!(parse_bind(raw).unwrap_err(), *msg, "{raw}");
        }
    }

    #[test]
    fn mounts_api() {
        let spec = |kind: &str, src: &str, dst: &str| MountSpec {
            kind: kind.into(),
            source: src.into(),
            target: dst.into(),
            ..Default::default()
        };
        let m = parse_mount(&spec("bind", "/nonexist", "/x")).unwrap();
        assert!(m.must_exist);
        assert_eq!(m.propagation, "rprivate");
        let mut ro_anon = spec("volume", "", "/x");
        ro_anon.read_only = true;
        assert_eq!(
            parse_mount(&ro_anon).unwrap_err(),
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes"
        );
        assert_eq!(
            parse_mount(&spec("tmpfs", "x", "/x")).unwrap_err(),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        let mut t = spec("tmpfs", "", "/t");
        t.tmpfs_options = Some(serde_json::json!({"SizeBytes": 1048576, "Mode": 0o1700}));
        assert_eq!(
            parse_mount(&t).unwrap().tmpfs_options,
            "size=1048576,mode=1700"
        );
        let mut v = spec("volume", "mv", "/mv");
        v.volume_options = Some(serde_json::json!({"NoCopy": true, "Labels": {"a": "b"}}));
        let m = parse_mount(&v).unwrap();
        assert!(m.nocopy);
        assert_eq!(m.volume_labels.get("a").map(String::as_str), Some("b"));
        assert_eq!(
            parse_mount(&spec("bind", "", "/x")).unwrap_err(),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
    }

    #[test]
    fn tmpfs_and_volumes_from() {
        let m = parse_tmpfs("/t", "size=1m,mode=1700").unwrap();
        assert_eq!(m.tmpfs_options, "size=1m,mode=1700");
        assert_eq!(
            parse_tmpfs("t", "").unwrap_err(),
            "invalid mount path: 't' mount path must be absolute"
        );
        assert!(parse_tmpfs("/t", "bogus").is_err());
        assert_eq!(parse_volumes_from("c1").unwrap(), ("c1".into(), true));
        assert_eq!(parse_volumes_from("c1:ro").unwrap(), ("c1".into(), false));
        assert_eq!(
            parse_volumes_from("m1:foo").unwrap_err(),
            "invalid mode: foo"
        );
    }

    #[test]
    fn volume_names() {
        assert!(validate_volume_name("redis-data").is_ok());
        assert!(validate_volume_name("x y")
            .unwrap_err()
            .starts_with("\"x y\" includes invalid characters"));
        assert_eq!(
            validate_volume_name("a").unwrap_err(),
            "volume name is too short, names should be at least two alphanumeric characters"
        );
        let mut o = BTreeMap::new();
        o.insert("foo".to_string(), "bar".to_string());
        assert_eq!(
            validate_local_options(&o).unwrap_err(),
            "invalid option: \"foo\""
        );
    }

    #[test]
    fn cleans_paths_as_go() {
        assert_eq!(clean_path("/a/../b/./c/"), "/b/c");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path("a/.."), ".");
    }
}
