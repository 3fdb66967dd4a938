//! The native credential store protocol of `docker-credential-<name>`
//! helpers: `get` and `erase` read the server URL on stdin, `store` reads
//! `{"ServerURL","Username","Secret"}`; `get` answers that JSON on stdout.
//! A helper that has no credentials for a server says
//! `credentials not found in native keychain`.

use std::io::Write;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::{CredResult, CredentialsError};

/// The user name under which helpers keep an identity token.
pub const TOKEN_USERNAME: &str = "<token>";

/// What the helper's answer says when it has nothing for a server.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// The JSON a helper stores and returns.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HelperCredentials {
    /// The registry.
    #[serde(rename = "ServerURL")]
    pub server_url: String,
    /// User name, or [`TOKEN_USERNAME`] for an identity token.
    #[serde(rename = "Username")]
    pub username: String,
    /// Password or identity token.
    #[serde(rename = "Secret")]
    pub secret: String,
}

impl std::fmt::Debug for HelperCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperCredentials")
            .field("server_url", &self.server_url)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// One helper program, `docker-credential-<name>` on `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeHelper {
    program: String,
}

impl NativeHelper {
    /// The helper called `docker-credential-<name>`.
    pub fn new(name: &str) -> Self {
        NativeHelper {
            program: format!("docker-credential-{name}"),
        }
    }

    /// The program's name.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// Run `program action` with `input` on stdin; `Ok(stdout)` on
    /// success, `Err((why, output))` otherwise.
    fn call(&self, action: &str, input: &[u8]) -> Result<String, (String, String)> {
        let mut child = Command::new(&self.program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "exec: \"{}\": executable file not found in $PATH",
                        self.program
                    )
                } else {
                    format!("exec: \"{}\": {e}", self.program)
                };
                (why, String::new())
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper may exit without reading its input; its exit status tells.
            let _ = stdin.write_all(input);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| (e.to_string(), String::new()))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(text);
        }
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let why = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "signal: killed".to_string(),
        };
        Err((why, text.trim().to_string()))
    }

    /// The credentials for `server`; `None` when the helper has none.
    pub fn get(&self, server: &str) -> CredResult<Option<HelperCredentials>> {
        match self.call("get", server.as_bytes()) {
            Ok(out) => serde_json::from_str(&out)
                .map(Some)
                .map_err(|e| CredentialsError::Helper {
                    action: "getting",
                    err: e.to_string(),
                    out: out.trim().to_string(),
                }),
            Err((_, out)) if out == NOT_FOUND => Ok(None),
            Err((err, out)) => Err(CredentialsError::Helper {
                action: "getting",
                err,
                out,
            }),
        }
    }

    /// Store credentials.
    pub fn store(&self, creds: &HelperCredentials) -> CredResult<()> {
        let input = serde_json::to_vec(creds).map_err(|e| CredentialsError::Helper {
            action: "storing",
            err: e.to_string(),
            out: String::new(),
        })?;
        self.call("store", &input)
            .map(|_| ())
            .map_err(|(err, out)| CredentialsError::Helper {
                action: "storing",
                err,
                out,
            })
    }

    /// Remove the credentials of `server`.
    pub fn erase(&self, server: &str) -> CredResult<()> {
        self.call("erase", server.as_bytes())
            .map(|_| ())
            .map_err(|(err, out)| CredentialsError::Helper {
                action: "erasing",
                err,
                out,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A helper script keeping one credential in a file beside it.
    fn fake_helper(dir: &std::path::Path) -> NativeHelper {
        let script = dir.join("docker-credential-fake");
        let store = dir.join("store.json");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nin=$(cat)\ncase \"$1\" in\n\
                 store) printf '%s' \"$in\" > {s} ;;\n\
                 get) if [ -f {s} ] && grep -q \"\\\"$in\\\"\" {s}; then cat {s}; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n\
                 erase) rm -f {s} ;;\n\
                 *) echo bad; exit 3 ;;\nesac\n",
                s = store.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        NativeHelper {
            program: script.display().to_string(),
        }
    }

    #[test]
    fn round_trip_through_a_helper() {
        let dir = tempfile::tempdir().unwrap();
        let h = fake_helper(dir.path());
        assert_eq!(h.get("r.example").unwrap(), None);
        let c = HelperCredentials {
            server_url: "r.example".into(),
            username: "u".into(),
            secret: "s".into(),
        };
        h.store(&c).unwrap();
        assert_eq!(h.get("r.example").unwrap(), Some(c));
        h.erase("r.example").unwrap();
        assert_eq!(h.get("r.example").unwrap(), None);
        let e = h.call("bogus", b"").unwrap_err();
        assert_eq!(e, ("exit status 3".to_string(), "bad".to_string()));
    }

    #[test]
    fn a_missing_helper_is_reported_as_docker_does() {
        let h = NativeHelper::new("berth-test-no-such-helper");
        let e = h.get("x").unwrap_err().to_string();
        assert_eq!(
            e,
            "error getting credentials - err: exec: \"docker-credential-berth-test-no-such-helper\": executable file not found in $PATH, out: ``"
        );
    }
}
