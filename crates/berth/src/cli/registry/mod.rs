//! The registry commands: `pull`, `push`, `login`, `logout`, `search`, the
//! pull that `run`/`create` do for a missing image, and what they share:
//! credentials from the docker CLI's `config.json` turned into
//! `X-Registry-Auth`, and docker's progress display.

mod login;
mod pull;
mod push;
mod search;

pub use login::{login, logout, LoginArgs, LogoutArgs};
pub use pull::{pull, pull_image, PullArgs, PullTarget};
pub use push::{push, PushArgs};
pub use search::{search, SearchArgs};

use berth_client::credentials::ConfigFile;
use berth_client::INDEX_SERVER;
use berth_spec::reference::{Reference, DEFAULT_DOMAIN};

use super::error::{CliError, CliResult};
pub use super::progress::{show_stream, Sink};

/// The `config.json` key of a registry: Docker Hub's is
/// `https://index.docker.io/v1/`, any other registry's its host name.
pub fn auth_key(domain: &str) -> String {
    if domain == DEFAULT_DOMAIN || domain == "index.docker.io" {
        INDEX_SERVER.to_string()
    } else {
        domain.to_string()
    }
}

/// The docker CLI's configuration; a broken file gives docker's warning
/// and an empty configuration.
pub fn load_config() -> ConfigFile {
    match ConfigFile::load_default() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("WARNING: Error loading config file: {e}");
            ConfigFile::empty(
                berth_client::credentials::config_dir()
                    .join(berth_client::credentials::CONFIG_FILE_NAME),
            )
        }
    }
}

/// The `X-Registry-Auth` value for the registry of `domain`. As with the
/// docker CLI, credentials that cannot be read (a helper that fails or is
/// missing) mean no credentials: the registry then says what it lacks.
pub fn registry_auth(domain: &str) -> String {
    load_config()
        .get_auth(&auth_key(domain))
        .unwrap_or_default()
        .encode_header()
}

/// Docker's answer to a 401 from the daemon in `pull`, `push` and `search`:
/// `Please login prior to <cmd>:`, ask for credentials on the terminal
/// (stored ones as defaults; nothing is saved) and return the new
/// `X-Registry-Auth` to retry with.
pub fn request_privilege(domain: &str, cmd: &str) -> CliResult<String> {
    super::output::out(&format!("\nPlease login prior to {cmd}:\n"))?;
    let key = auth_key(domain);
    let mut auth = match load_config().get_auth(&key) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("Unable to retrieve stored credentials for {key}, error: {e}.");
            berth_client::AuthConfig::default()
        }
    };
    auth.server_address = key.clone();
    auth.identity_token.clear();
    login::configure_auth("", "", &mut auth, key == INDEX_SERVER)?;
    Ok(auth.encode_header())
}

/// A parsed image name, or docker's error for it (exit 1).
pub fn parse_reference(name: &str) -> CliResult<Reference> {
    Reference::parse_normalized(name).map_err(|e| CliError::msg(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_has_its_legacy_key() {
        assert_eq!(auth_key("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(auth_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(auth_key("localhost"), "localhost");
    }
}
