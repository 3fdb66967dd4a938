//! `config.json` of the docker CLI: read it, look credentials up (in the
//! file or through the configured helper), store and erase them, and write
//! it back keeping every key berth does not know about.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::helper::{HelperCredentials, NativeHelper, TOKEN_USERNAME};
use super::{CredResult, CredentialsError};
use crate::auth::{convert_to_hostname, AuthConfig};

/// The file's name inside the config directory.
pub const CONFIG_FILE_NAME: &str = "config.json";

/// The docker CLI's config directory: `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub fn config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".docker")
}

/// A loaded `config.json`: its `auths` apart, and the rest of the document
/// as it was, so that keys berth does not know survive a save.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    auths: Map<String, Value>,
    doc: Map<String, Value>,
}

impl ConfigFile {
    /// An empty configuration that would be written to `path`.
    pub fn empty(path: impl Into<PathBuf>) -> Self {
        ConfigFile {
            path: path.into(),
            auths: Map::new(),
            doc: Map::new(),
        }
    }

    /// Read `path`; a missing file is an empty configuration.
    pub fn load(path: impl Into<PathBuf>) -> CredResult<Self> {
        let path = path.into();
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::empty(path)),
            Err(source) => {
                return Err(CredentialsError::Io {
                    context: "read",
                    path,
                    source,
                })
            }
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::empty(path));
        }
        match serde_json::from_slice::<Value>(&text) {
            Ok(Value::Object(mut doc)) => {
                let auths = match doc.remove("auths") {
                    Some(Value::Object(a)) => a,
                    _ => Map::new(),
                };
                Ok(ConfigFile { path, auths, doc })
            }
            Ok(_) => Err(CredentialsError::Parse {
                path,
                reason: "not a JSON object".into(),
            }),
            Err(e) => Err(CredentialsError::Parse {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// The configuration of the default directory ([`config_dir`]).
    pub fn load_default() -> CredResult<Self> {
        Self::load(config_dir().join(CONFIG_FILE_NAME))
    }

    /// Where this configuration lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A top-level string setting (`credsStore`, `psFormat`, ...).
    pub fn string(&self, key: &str) -> Option<&str> {
        self.doc.get(key)?.as_str()
    }

    /// The helper that keeps the credentials of `server`: its entry in
    /// `credHelpers`, else `credsStore`; `None` means the file itself.
    pub fn helper_for(&self, server: &str) -> Option<NativeHelper> {
        let named = self
            .doc
            .get("credHelpers")
            .and_then(|h| h.get(server))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        named
            .or_else(|| self.string("credsStore").filter(|n| !n.is_empty()))
            .map(NativeHelper::new)
    }

    /// The keys of `auths` (the servers the file knows).
    pub fn auth_keys(&self) -> Vec<String> {
        self.auths.keys().cloned().collect()
    }

    /// The file's own entry for `server`: the exact key, else a key whose
    /// host name is `server` (`https://r.example/v1/` for `r.example`).
    pub fn file_auth(&self, server: &str) -> AuthConfig {
        let found = self.auths.get_key_value(server).or_else(|| {
            self.auths
                .iter()
                .find(|(k, _)| convert_to_hostname(k) == server)
        });
        match found {
            Some((key, v)) => decode_entry(key, v),
            None => AuthConfig::default(),
        }
    }

    /// The credentials for `server` (a host name, or Docker Hub's
    /// `https://index.docker.io/v1/`), from its helper or the file. As with
    /// the docker CLI, no credentials is an empty [`AuthConfig`] (sent as
    /// `{}`), and `server_address` is set when something was found.
    pub fn get_auth(&self, server: &str) -> CredResult<AuthConfig> {
        let mut auth = self.file_auth(server);
        if let Some(helper) = self.helper_for(server) {
            auth.username.clear();
            auth.password.clear();
            auth.identity_token.clear();
            if let Some(c) = helper.get(server)? {
                if c.username == TOKEN_USERNAME {
                    auth.identity_token = c.secret;
                } else {
                    auth.username = c.username;
                    auth.password = c.secret;
                }
                auth.server_address = server.to_string();
            }
        }
        auth.auth.clear();
        Ok(auth)
    }

    /// Whether credentials for `server` would be written in this file in
    /// plain text (no helper configured for it).
    pub fn stores_in_file(&self, server: &str) -> bool {
        self.helper_for(server).is_none()
    }

    /// Keep `auth` for `auth.server_address`: through its helper (the file
    /// keeps only the e-mail, as docker does) or in the file. Call
    /// [`ConfigFile::save`] afterwards.
    pub fn store_auth(&mut self, auth: &AuthConfig) -> CredResult<()> {
        let server = auth.server_address.clone();
        let mut entry = Map::new();
        if !auth.email.is_empty() {
            entry.insert("email".into(), Value::String(auth.email.clone()));
        }
        match self.helper_for(&server) {
            Some(helper) => {
                let creds = if auth.identity_token.is_empty() {
                    HelperCredentials {
                        server_url: server.clone(),
                        username: auth.username.clone(),
                        secret: auth.password.clone(),
                    }
                } else {
                    HelperCredentials {
                        server_url: server.clone(),
                        username: TOKEN_USERNAME.into(),
                        secret: auth.identity_token.clone(),
                    }
                };
                helper.store(&creds)?;
            }
            None => {
                if !auth.username.is_empty() || !auth.password.is_empty() {
                    let pair = format!("{}:{}", auth.username, auth.password);
                    let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
                    entry.insert("auth".into(), Value::String(b64));
                }
                if !auth.identity_token.is_empty() {
                    entry.insert(
                        "identitytoken".into(),
                        Value::String(auth.identity_token.clone()),
                    );
                }
            }
        }
        self.auths.insert(server, Value::Object(entry));
        Ok(())
    }

    /// Forget the credentials of `server` (in its helper and in the file).
    /// Call [`ConfigFile::save`] afterwards.
    pub fn erase_auth(&mut self, server: &str) -> CredResult<()> {
        let result = match self.helper_for(server) {
            Some(helper) => helper.erase(server),
            None => Ok(()),
        };
        self.auths.remove(server);
        result
    }

    /// Write the file atomically (temp file, fsync, rename), creating its
    /// directory (0700) when missing. A new file is 0600; an existing one
    /// keeps its mode, as the docker CLI does.
    pub fn save(&self) -> CredResult<()> {
        let dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let io = |context, path: &Path| {
            let path = path.to_path_buf();
            move |source| CredentialsError::Io {
                context,
                path,
                source,
            }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io("create directory", &dir))?;
        let mode = std::fs::metadata(&self.path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o600);
        /// `auths` first, as the docker CLI writes it, then everything else.
        #[derive(serde::Serialize)]
        struct Document<'a> {
            auths: &'a Map<String, Value>,
            #[serde(flatten)]
            rest: &'a Map<String, Value>,
        }
        let mut rest = self.doc.clone();
        rest.remove("auths");
        let text = to_go_json(&Document {
            auths: &self.auths,
            rest: &rest,
        });
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            self.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| CONFIG_FILE_NAME.into()),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io("write", &self.path)(e)
        })
    }
}

/// An `auths` entry as credentials: `auth` is `base64(user:password)`.
fn decode_entry(key: &str, v: &Value) -> AuthConfig {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut a = AuthConfig {
        username: s("username"),
        password: s("password"),
        email: s("email"),
        identity_token: s("identitytoken"),
        registry_token: s("registrytoken"),
        server_address: key.to_string(),
        ..Default::default()
    };
    let encoded = s("auth");
    if !encoded.is_empty() {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
            let pair = String::from_utf8_lossy(&bytes);
            if let Some((u, p)) = pair.split_once(':') {
                a.username = u.to_string();
                a.password = p.trim_end_matches('\0').to_string();
            }
        }
    }
    a
}

/// JSON as Go's `json.MarshalIndent(v, "", "\t")` writes it (tabs, and
/// `<`, `>`, `&` escaped).
fn to_go_json<T: serde::Serialize>(v: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if serde::Serialize::serialize(v, &mut ser).is_err() {
        return "{}".into();
    }
    String::from_utf8_lossy(&buf)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(server: &str) -> AuthConfig {
        AuthConfig {
            username: "user".into(),
            password: "pa:ss".into(),
            server_address: server.into(),
            ..Default::default()
        }
    }

    #[test]
    fn stores_in_the_file_keeping_other_keys_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        let mut c = ConfigFile::load(&path).unwrap();
        c.store_auth(&user("127.0.0.1:5000")).unwrap();
        c.save().unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\n\t\"auths\": {\n\t\t\"127.0.0.1:5000\": {\n\t\t\t\"auth\": \"dXNlcjpwYTpzcw==\"\n\t\t}\n\t}\n}"
        );
        // Other keys survive; an existing file keeps its mode.
        std::fs::write(
            &path,
            r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYTpzcw=="}},"psFormat":"table {{.ID}}","x-tool":{"a":[1,2]}}"#,
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let mut c = ConfigFile::load(&path).unwrap();
        let got = c.get_auth("127.0.0.1:5000").unwrap();
        assert_eq!(
            (got.username.as_str(), got.password.as_str()),
            ("user", "pa:ss")
        );
        assert_eq!(got.server_address, "127.0.0.1:5000");
        assert!(got.auth.is_empty());
        c.erase_auth("127.0.0.1:5000").unwrap();
        c.save().unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["auths"], serde_json::json!({}));
        assert_eq!(v["psFormat"], "table {{.ID}}");
        assert_eq!(v["x-tool"], serde_json::json!({"a": [1, 2]}));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("{\n\t\"auths\": {},\n\t\"psFormat\""),
            "{text}"
        );
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    }

    #[test]
    fn identity_tokens_and_hostname_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://r.example:5000/v2/":{"identitytoken":"tok"}}}"#,
        )
        .unwrap();
        let c = ConfigFile::load(&path).unwrap();
        let a = c.get_auth("r.example:5000").unwrap();
        assert_eq!(a.identity_token, "tok");
        assert!(a.username.is_empty());
        assert_eq!(a.server_address, "https://r.example:5000/v2/");
        // Nothing known: an empty configuration, sent as `{}` like docker does.
        let none = c.get_auth("other:1").unwrap();
        assert_eq!(none, AuthConfig::default());
        assert_eq!(none.encode_header(), "e30=");
    }

    #[test]
    fn identity_tokens_replace_the_password_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let mut c = ConfigFile::load(&path).unwrap();
        c.store_auth(&AuthConfig {
            username: "user".into(),
            identity_token: "refresh-tok".into(),
            email: "u@example.org".into(),
            server_address: "r.example".into(),
            ..Default::default()
        })
        .unwrap();
        c.save().unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            v["auths"]["r.example"],
            serde_json::json!({"auth": "dXNlcjo=", "email": "u@example.org", "identitytoken": "refresh-tok"})
        );
        let a = ConfigFile::load(&path)
            .unwrap()
            .get_auth("r.example")
            .unwrap();
        assert_eq!(a.identity_token, "refresh-tok");
        assert_eq!(a.username, "user");
        assert!(a.password.is_empty());
        assert_eq!(a.email, "u@example.org");
    }

    #[test]
    fn bad_json_is_an_error_and_empty_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            ConfigFile::load(&path),
            Err(CredentialsError::Parse { .. })
        ));
        std::fs::write(&path, "\n").unwrap();
        assert!(ConfigFile::load(&path).unwrap().auth_keys().is_empty());
    }

    #[test]
    fn helpers_are_chosen_per_server() {
        let mut c = ConfigFile::empty("/nonexistent/config.json");
        c.doc =
            serde_json::from_str(r#"{"credsStore":"desktop","credHelpers":{"r.example":"ecr"}}"#)
                .unwrap();
        assert_eq!(
            c.helper_for("r.example").map(|h| h.program().to_string()),
            Some("docker-credential-ecr".into())
        );
        assert_eq!(
            c.helper_for("other").map(|h| h.program().to_string()),
            Some("docker-credential-desktop".into())
        );
        assert!(!c.stores_in_file("other"));
    }

    #[test]
    fn go_json_escapes_html() {
        assert_eq!(
            to_go_json(&serde_json::json!({"a": "<&>"})),
            "{\n\t\"a\": \"\\u003c\\u0026\\u003e\"\n}"
        );
    }
}
