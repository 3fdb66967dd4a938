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

use std::io::{IsTerminal as _, Write};
use std::os::fd::AsFd;

use berth_client::credentials::ConfigFile;
use berth_client::{MessageStream, INDEX_SERVER};
use berth_spec::reference::{Reference, DEFAULT_DOMAIN};

use super::error::{CliError, CliResult};
use super::progress::{DisplayError, Renderer};

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
    let key = auth_key(domain);
    let auth = load_config()
        .get_auth(&key)
        .unwrap_or_else(|_| berth_client::AuthConfig {
            server_address: key.clone(),
            ..Default::default()
        });
    auth.encode_header()
}

/// A parsed image name, or docker's error for it (exit 1).
pub fn parse_reference(name: &str) -> CliResult<Reference> {
    Reference::parse_normalized(name).map_err(|e| CliError::msg(e.to_string()))
}

/// Where a progress stream is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Standard output (`pull`, `push`).
    Stdout,
    /// Standard error (the pull of `run`/`create`, whose stdout is the container's).
    Stderr,
    /// Nowhere (`-q`); errors still end the command.
    Discard,
}

/// Draw a progress stream to `sink` until it ends; an error in the stream
/// is returned as docker reports it (its message, exit 1).
pub async fn show_stream(mut stream: MessageStream, sink: Sink) -> CliResult {
    fn renderer<W: Write + AsFd>(w: W) -> Renderer<W> {
        let tty = w.as_fd().is_terminal();
        let width = super::term::window_size(w.as_fd()).map(|(_, cols)| cols as usize);
        Renderer::new(w, tty, width)
    }
    enum Any {
        Out(Renderer<std::io::Stdout>),
        Err(Renderer<std::io::Stderr>),
        Sink(Renderer<std::io::Sink>),
    }
    let mut r = match sink {
        Sink::Stdout => Any::Out(renderer(std::io::stdout())),
        Sink::Stderr => Any::Err(renderer(std::io::stderr())),
        Sink::Discard => Any::Sink(Renderer::new(std::io::sink(), false, None)),
    };
    while let Some(msg) = stream.next().await? {
        let shown = match &mut r {
            Any::Out(r) => r.show(&msg),
            Any::Err(r) => r.show(&msg),
            Any::Sink(r) => r.show(&msg),
        };
        match shown {
            Ok(()) => {}
            Err(DisplayError::Remote(m)) => return Err(CliError::msg(m)),
            Err(DisplayError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(DisplayError::Io(e)) => return Err(CliError::io("write progress", e)),
        }
    }
    Ok(())
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
