//! `berth login` and `berth logout`, with the docker CLI's prompts,
//! warnings and credential storage (see `berth_client::credentials`).

use std::io::{BufRead, IsTerminal, Read, Write};

use berth_client::credentials::ConfigFile;
use berth_client::{convert_to_hostname, AuthConfig, AuthenticateOk, Client, INDEX_SERVER};
use clap::Args;

use super::load_config;
use crate::cli::error::{CliError, CliResult};
use crate::cli::output::{out, outln};

/// Docker's name for Docker Hub as a login server argument.
const DEFAULT_NAMESPACE: &str = "docker.io";

/// `berth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Password
    #[arg(short = 'p', long = "password", value_name = "string")]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Username
    #[arg(short = 'u', long = "username", value_name = "string")]
    pub username: Option<String>,
    /// The registry (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `berth logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// One line from stdin without its line ending.
fn read_line() -> CliResult<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::io("read from stdin", e))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Read a password from the terminal without echoing it.
fn read_secret() -> CliResult<String> {
    use nix::sys::termios::{self, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).ok();
    if let Some(orig) = &saved {
        let mut quiet = orig.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
    }
    let line = read_line();
    if let Some(orig) = &saved {
        let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, orig);
    }
    line
}

/// Docker's `ConfigureAuth`: fill in user name and password, prompting on
/// a terminal.
pub(super) fn configure_auth(
    user: &str,
    password: &str,
    auth: &mut AuthConfig,
    is_default: bool,
) -> CliResult {
    if password.is_empty() && !std::io::stdin().is_terminal() {
        return Err(CliError::msg(
            "Error: Cannot perform an interactive login from a non TTY device",
        ));
    }
    let default_user = auth.username.trim().to_string();
    let mut user = user.trim().to_string();
    if user.is_empty() {
        if is_default {
            outln("Login with your Docker ID to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com to create one.")?;
        }
        if default_user.is_empty() {
            out("Username: ")?;
        } else {
            out(&format!("Username ({default_user}): "))?;
        }
        user = read_line()?.trim().to_string();
        if user.is_empty() {
            user = default_user;
        }
    }
    if user.is_empty() {
        return Err(CliError::msg("Error: Non-null Username Required"));
    }
    let mut password = password.to_string();
    if password.is_empty() {
        out("Password: ")?;
        password = read_secret()?;
        out("\n")?;
        if password.is_empty() {
            return Err(CliError::msg("Error: Password Required"));
        }
    }
    auth.username = user;
    auth.password = password;
    Ok(())
}

/// Try the stored credentials (docker's `loginWithCredStoreCreds`).
async fn login_with_stored(client: &Client, auth: &AuthConfig) -> Option<AuthenticateOk> {
    let _ = outln("Authenticating with existing credentials...");
    match client.registry_login(auth).await {
        Ok(r) => Some(r),
        Err(e) => {
            if e.status() == Some(401) {
                eprintln!("Stored credentials invalid or expired");
            } else {
                eprintln!("Login did not succeed, error: {e}");
            }
            None
        }
    }
}

/// The `config.json` key a login stores under, and whether it is Docker Hub:
/// no server or `docker.io` is Docker Hub (`https://index.docker.io/v1/`),
/// anything else its host name (`http://r:5000/` -> `r:5000`).
fn login_key(server: Option<&str>) -> (String, bool) {
    match server {
        Some(s) if !s.is_empty() && s != DEFAULT_NAMESPACE && s != INDEX_SERVER => {
            (convert_to_hostname(s).to_string(), false)
        }
        _ => (INDEX_SERVER.to_string(), true),
    }
}

/// The keys `logout` erases: the server as given and, for other registries
/// than Docker Hub, its host name with and without scheme (spellings older
/// docker versions stored); and the host name it reports.
fn logout_keys(server: Option<&str>) -> (Vec<String>, String) {
    match server.filter(|s| !s.is_empty()) {
        Some(s) => {
            let host = convert_to_hostname(s).to_string();
            let keys = vec![
                s.to_string(),
                host.clone(),
                format!("http://{host}"),
                format!("https://{host}"),
            ];
            (keys, host)
        }
        None => (vec![INDEX_SERVER.to_string()], INDEX_SERVER.to_string()),
    }
}

/// `berth login`.
pub async fn login(client: &Client, args: &LoginArgs) -> CliResult {
    let mut password = args.password.clone().unwrap_or_default();
    let user = args.username.clone().unwrap_or_default();
    if !password.is_empty() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        if args.password_stdin {
            return Err(CliError::msg(
                "--password and --password-stdin are mutually exclusive",
            ));
        }
    }
    if args.password_stdin {
        if user.is_empty() {
            return Err(CliError::msg(
                "Must provide --username with --password-stdin",
            ));
        }
        let mut contents = String::new();
        std::io::stdin()
            .read_to_string(&mut contents)
            .map_err(|e| CliError::io("read password from stdin", e))?;
        let p = contents.strip_suffix('\n').unwrap_or(&contents);
        password = p.strip_suffix('\r').unwrap_or(p).to_string();
    }
    let (key, is_default) = login_key(args.server.as_deref());
    let mut config = load_config();
    let check_store = user.is_empty() && password.is_empty();
    let stored = if check_store {
        config.get_auth(&key)
    } else {
        Ok(AuthConfig::default())
    };
    let stored_ok = stored.is_ok();
    let mut auth = stored.unwrap_or_default();
    auth.server_address = key.clone();
    auth.identity_token.clear();
    let mut response = None;
    if stored_ok && !auth.username.is_empty() && !auth.password.is_empty() {
        response = login_with_stored(client, &auth).await;
    }
    let response = match response {
        Some(r) => r,
        None => {
            configure_auth(&user, &password, &mut auth, is_default)?;
            client.registry_login(&auth).await?
        }
    };
    if !response.identity_token.is_empty() {
        auth.password.clear();
        auth.identity_token = response.identity_token.clone();
    }
    if config.stores_in_file(&key) && !auth.password.is_empty() {
        eprint!(
            "WARNING! Your password will be stored unencrypted in {}.\n\
             Configure a credential helper to remove this warning. See\n\
             https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n",
            config.path().display()
        );
    }
    config
        .store_auth(&auth)
        .and_then(|()| config.save())
        .map_err(|e| CliError::msg(format!("Error saving credentials: {e}")))?;
    if !response.status.is_empty() {
        outln(&response.status)?;
    }
    Ok(())
}

/// `berth logout`: forget the credentials of a registry, under every
/// spelling docker may have stored them.
pub fn logout(args: &LogoutArgs) -> CliResult {
    let (keys, hostname) = logout_keys(args.server.as_deref());
    let mut config: ConfigFile = load_config();
    outln(&format!("Removing login credentials for {hostname}"))?;
    let mut errors = Vec::new();
    for k in &keys {
        if let Err(e) = config.erase_auth(k) {
            errors.push((k.clone(), e.to_string()));
        }
    }
    if let Err(e) = config.save() {
        return Err(CliError::msg(e.to_string()));
    }
    if errors.len() == keys.len() {
        let mut text = String::from("WARNING: could not erase credentials:\n");
        for (k, e) in &errors {
            text.push_str(&format!("{k}: {e}\n"));
        }
        eprint!("{text}");
        let _ = std::io::stderr().flush();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_is_the_default_login_server() {
        let hub = (INDEX_SERVER.to_string(), true);
        assert_eq!(login_key(None), hub);
        assert_eq!(login_key(Some("")), hub);
        assert_eq!(login_key(Some("docker.io")), hub);
        assert_eq!(login_key(Some(INDEX_SERVER)), hub);
        assert_eq!(
            login_key(Some("http://127.0.0.1:5000/")),
            ("127.0.0.1:5000".to_string(), false)
        );
        assert_eq!(
            login_key(Some("registry.example.org")),
            ("registry.example.org".to_string(), false)
        );
    }

    #[test]
    fn logout_erases_every_spelling() {
        assert_eq!(
            logout_keys(None),
            (vec![INDEX_SERVER.to_string()], INDEX_SERVER.to_string())
        );
        let (keys, host) = logout_keys(Some("https://r.example:5000/v2/"));
        assert_eq!(host, "r.example:5000");
        assert_eq!(
            keys,
            vec![
                "https://r.example:5000/v2/",
                "r.example:5000",
                "http://r.example:5000",
                "https://r.example:5000"
            ]
        );
    }
}
