//! The registry commands end to end against real registries on loopback (Debian's
//! `docker-registry`, one of them behind htpasswd): `pull` (plain and on a terminal, `-q`,
//! `-a`, errors and exit codes), `push`, `login`/`logout` with `config.json` and with a
//! credential helper, credentials shared with the docker CLI both ways, `search` (against a
//! fake v1 search endpoint), and the implicit pull of `run`/`create` with `--pull`.
//!
//! The daemon does the registry work, so these tests need a daemon that can pull: run them
//! with `BERTH_E2E_HOST=unix:///run/docker-oracle.sock` to drive the berth CLI against the
//! reference dockerd, or against berth's own daemon once it speaks to registries.
//! `BERTH_E2E_CLI=docker` runs them with the docker CLI to check the tests themselves.
mod common;
mod regfix;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use regfix::{credential_helper, fake_search, FakeDaemon, Registry, PASSWORD, USER};

/// Run the CLI with `DOCKER_CONFIG=cfg` (and optionally more environment and stdin).
fn with_cfg(h: &Harness, cfg: &Path, args: &[&str]) -> Out {
    h.run_env(args, &[("DOCKER_CONFIG", path_str(cfg))], None, CMD_TIMEOUT)
}

/// Lines of `s` naming a layer (`<12 hex>: ...`).
fn layer_lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim_end)
        .filter(|l| {
            l.split_once(": ")
                .is_some_and(|(id, _)| id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn pull_prints_docker_progress_lines_and_the_reference() {
    let h = h_host();
    let reg = Registry::start(false);
    reg.seed("plain", "1", 300_000);
    let image = format!("{}:1", reg.repo("plain"));
    let mut g = h.guard(&[]);
    g.image(&image);

    let out = h.run(&["pull", &image]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"1: Pulling from plain"),
        "{}",
        out.stdout
    );
    let n = lines.len();
    assert!(n >= 5, "{}", out.stdout);
    assert!(
        lines[n - 3].starts_with("Digest: sha256:"),
        "{}",
        out.stdout
    );
    assert_eq!(
        lines[n - 2],
        format!("Status: Downloaded newer image for {image}")
    );
    assert_eq!(lines[n - 1], image);
    // Two layers; the random one is new everywhere, so it is downloaded and extracted.
    let layers = layer_lines(&out.stdout);
    assert!(
        layers.iter().any(|l| l.ends_with(": Pull complete")),
        "{}",
        out.stdout
    );
    let ids: std::collections::BTreeSet<&str> = layers.iter().map(|l| &l[..12]).collect();
    assert_eq!(ids.len(), 2, "{}", out.stdout);
    // Not a terminal: no bars, no cursor movement.
    assert!(!out.raw.contains(&0x1b), "{:?}", out.stdout);
    assert!(!out.stdout.contains("[="), "{}", out.stdout);
    assert!(out.stderr.is_empty(), "{}", out.stderr);

    // The image is there and runs.
    h.run(&["run", "--rm", &image, "sh", "-c", "wc -c < /rnd"])
        .ok()
        .stdout_is("300000\n");

    // Again: up to date.
    let again = h.run(&["pull", &image]);
    again.ok();
    assert_eq!(
        again.lines(),
        vec![
            "1: Pulling from plain".to_string(),
            again.lines()[1].clone(),
            format!("Status: Image is up to date for {image}"),
            image.clone(),
        ]
    );
    assert!(again.lines()[1].starts_with("Digest: sha256:"));

    // By digest: the reference printed is NAME@DIGEST.
    let digest = again.lines()[1].trim_start_matches("Digest: ").to_string();
    let by_digest = format!("{}@{digest}", reg.repo("plain"));
    let out = h.run(&["pull", &by_digest]);
    out.ok()
        .stdout_has(&format!("Status: Image is up to date for {by_digest}\n"));
    assert_eq!(out.lines().last(), Some(&by_digest));
}

#[test]
fn pull_quiet_prints_only_the_reference() {
    let h = h_host();
    let reg = Registry::start(false);
    reg.seed("quiet", "7", 10_000);
    let image = format!("{}:7", reg.repo("quiet"));
    let mut g = h.guard(&[]);
    g.image(&image);
    h.run(&["pull", "-q", &image])
        .ok()
        .stdout_is(&format!("{image}\n"));
    h.run(&["image", "inspect", "-f", "{{.Id}}", &image]).ok();
}

#[test]
fn pull_all_tags_and_default_tag() {
    let h = h_host();
    let reg = Registry::start(false);
    reg.seed("multi", "1", 10_000);
    reg.seed("multi", "2", 10_000);
    let repo = reg.repo("multi");
    let mut g = h.guard(&[]);
    g.image(&format!("{repo}:1"));
    g.image(&format!("{repo}:2"));

    // No tag, no `latest` in the registry: docker's message and exit 1.
    let out = h.run(&["pull", &repo]);
    out.code(1).stdout_is("Using default tag: latest\n");
    assert_eq!(
        out.stderr,
        format!(
            "Error response from daemon: manifest for {repo}:latest not found: manifest unknown: manifest unknown\n"
        )
    );

    let out = h.run(&["pull", "-a", &repo]);
    out.ok();
    out.stdout_has("1: Pulling from multi\n")
        .stdout_has("2: Pulling from multi\n")
        .stdout_has(&format!("Status: Downloaded newer image for {repo}\n"));
    assert_eq!(out.lines().last(), Some(&repo));
    let tags = h.run(&["images", "--format", "{{.Tag}}", &repo]);
    tags.ok();
    let mut t = tags.lines();
    t.sort();
    assert_eq!(t, vec!["1", "2"]);

    let out = h.run(&["pull", "-a", &format!("{repo}:1")]);
    out.code(1).stdout_is("");
    assert_eq!(out.stderr, "tag can't be used with --all-tags/-a\n");
}

#[test]
fn pull_errors_and_exit_codes() {
    let h = h_host();
    let cli = cli_name(h);
    for (name, msg) in [
        (
            "Bad//x",
            "invalid reference format: repository name must be lowercase",
        ),
        ("a//b", "invalid reference format"),
        ("x:bad:tag", "invalid reference format"),
        ("a@sha256:zz", "invalid reference format"),
    ] {
        let out = h.run(&["pull", name]);
        out.code(1).stdout_is("");
        assert_eq!(out.stderr, format!("{msg}\n"), "pull {name}");
    }
    let out = h.run(&["pull"]);
    out.code(1);
    assert!(
        out.stderr.starts_with(&format!(
            "\"{cli} pull\" requires exactly 1 argument.\nSee '{cli} pull --help'.\n\nUsage:  {cli} pull [OPTIONS] NAME[:TAG|@DIGEST]\n"
        )),
        "{}",
        out.stderr
    );
    h.run(&["pull", "--bogus", "x"])
        .code(125)
        .stderr_has(&format!("unknown flag: --bogus\nSee '{cli} pull --help'."));

    let reg = Registry::start(false);
    let missing = format!("{}:1", reg.repo("nothere"));
    let out = h.run(&["pull", &missing]);
    out.code(1).stdout_is("");
    assert_eq!(
        out.stderr,
        format!("Error response from daemon: manifest for {missing} not found: manifest unknown: manifest unknown\n")
    );
    // A registry that is not there at all.
    let closed = format!("127.0.0.1:{}/x:1", free_port());
    let out = h.run(&["pull", &closed]);
    out.code(1).stdout_is("");
    assert!(
        out.stderr.starts_with("Error response from daemon: ")
            && out.stderr.contains("connection refused"),
        "{}",
        out.stderr
    );
}

/// A tmux session (on a tmux server of its own) in a 120x40 terminal running `line` once
/// Enter is pressed, then `echo EXIT=$?`; killed on drop.
struct Tmux {
    name: String,
}

impl Tmux {
    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .arg("-L")
            .arg(&self.name)
            .args(args)
            .output()
            .expect("tmux is installed (scripts/install-deps.sh)");
        assert!(
            o.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Start the session; with `raw`, everything the terminal receives is also written there.
    fn start(line: &str, raw: Option<&Path>) -> Tmux {
        let t = Tmux {
            name: uname("tmux"),
        };
        let script = format!("read go; {line}; echo EXIT=$?; sleep 600");
        t.tmux(&[
            "new-session",
            "-d",
            "-s",
            &t.name,
            "-x",
            "120",
            "-y",
            "40",
            &script,
        ]);
        if let Some(raw) = raw {
            t.tmux(&[
                "pipe-pane",
                "-t",
                &t.name,
                "-o",
                &format!("cat > {}", path_str(raw)),
            ]);
        }
        t.keys(&["Enter"]);
        t
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.name.as_str()];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.name])
    }

    /// Wait (2 minutes at most) until `text` is on screen; returns the screen.
    #[track_caller]
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(Instant::now() < deadline, "no {text:?} on screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.name)
            .args(["kill-server"])
            .output();
    }
}

/// Run `line` in a terminal; (screen, raw terminal bytes) once it printed `EXIT=`.
fn tmux_run(line: &str, raw: &Path) -> (String, Vec<u8>) {
    let t = Tmux::start(line, Some(raw));
    let screen = t.wait_for("EXIT=");
    drop(t);
    (screen, std::fs::read(raw).unwrap_or_default())
}

fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn pull_on_a_terminal_redraws_each_layer_line_in_place() {
    let h = h_host();
    let reg = Registry::start(false);
    reg.seed("tty", "1", 4_000_000);
    let image = format!("{}:1", reg.repo("tty"));
    let mut g = h.guard(&[]);
    g.image(&image);
    let dir = unique_tmp_dir("tty");
    let line = format!(
        "{} -H {} pull {}",
        sq(path_str(&h.cli)),
        sq(&h.host),
        sq(&image)
    );
    let (screen, raw) = tmux_run(&line, &dir.join("raw"));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("1: Pulling from tty\n"), "{screen}");
    assert!(
        screen.contains(&format!(
            "Status: Downloaded newer image for {image}\n{image}\n"
        )),
        "{screen}"
    );
    // One line per layer, left showing its last state.
    let layers = layer_lines(&screen);
    assert_eq!(layers.len(), 2, "{screen}");
    for l in &layers {
        assert!(
            l.ends_with(": Pull complete") || l.ends_with(": Already exists"),
            "{screen}"
        );
    }
    assert!(
        layers.iter().any(|l| l.ends_with(": Pull complete")),
        "{screen}"
    );
    // Drawn with docker's escape sequences: clear line, cursor up and down, and bars.
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("\x1b[2K\r"), "{text:?}");
    assert!(
        text.contains("\x1b[1A") && text.contains("\x1b[1B"),
        "{text:?}"
    );
    assert!(text.contains("Pull complete \r"), "{text:?}");
    assert!(
        text.contains("Extracting [") || text.contains("Downloading ["),
        "{text:?}"
    );
}

#[test]
fn push_then_pull_back() {
    let h = h_host();
    let cli = cli_name(h);
    let reg = Registry::start(false);
    let repo = reg.repo("pushed");
    let mut g = h.guard(&[]);
    for t in ["1", "2"] {
        let image = format!("{repo}:{t}");
        h.run(&["tag", &h.image, &image]).ok();
        g.image(&image);
    }
    let out = h.run(&["push", &format!("{repo}:1")]);
    out.ok();
    let lines = out.lines();
    assert_eq!(lines[0], format!("The push refers to repository [{repo}]"));
    let last = lines.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("1: digest: sha256:") && last.contains(" size: "),
        "{}",
        out.stdout
    );
    let layers = layer_lines(&out.stdout);
    assert!(
        layers.iter().any(|l| l.ends_with(": Preparing")),
        "{}",
        out.stdout
    );
    assert!(
        layers.iter().any(|l| l.ends_with(": Pushed")),
        "{}",
        out.stdout
    );
    assert_eq!(reg.tags("pushed"), vec!["1"]);

    // -q: only the reference. -a: every tag.
    h.run(&["push", "-q", &format!("{repo}:1")])
        .ok()
        .stdout_is(&format!("{repo}:1\n"));
    let out = h.run(&["push", "-a", &repo]);
    out.ok()
        .stdout_has("1: digest: sha256:")
        .stdout_has("2: digest: sha256:");
    assert_eq!(reg.tags("pushed"), vec!["1", "2"]);
    h.run(&["push", "-a", &format!("{repo}:1")])
        .code(1)
        .stderr_has("tag can't be used with --all-tags/-a");

    // Errors as docker prints them.
    let out = h.run(&["push", &repo]);
    out.code(1).stdout_is(&format!(
        "Using default tag: latest\nThe push refers to repository [{repo}]\n"
    ));
    assert_eq!(out.stderr, format!("tag does not exist: {repo}:latest\n"));
    let nosuch = reg.repo("nosuch");
    let out = h.run(&["push", &format!("{nosuch}:1")]);
    out.code(1);
    assert_eq!(
        out.stderr,
        format!("An image does not exist locally with the tag: {nosuch}\n")
    );
    h.run(&["push", "A//"])
        .code(1)
        .stderr_has("invalid reference format: repository name must be lowercase");
    h.run(&["push"])
        .code(1)
        .stderr_has(&format!("\"{cli} push\" requires exactly 1 argument."));

    // What was pushed comes back.
    h.run(&["rmi", &format!("{repo}:1")]).ok();
    h.run(&["pull", &format!("{repo}:1")]).ok();
    h.run(&["run", "--rm", &format!("{repo}:1"), "echo", "back"])
        .ok()
        .stdout_is("back\n");
}

#[test]
fn login_logout_round_trip_with_config_json() {
    let h = h_host();
    let reg = Registry::start(true);
    reg.seed("private", "1", 10_000);
    let image = format!("{}:1", reg.repo("private"));
    let mut g = h.guard(&[]);
    g.image(&image);
    let dir = unique_tmp_dir("login");
    let cfg = dir.join("docker");
    let cfg_file = cfg.join("config.json");

    // Without credentials the registry refuses.
    let out = with_cfg(h, &cfg, &["pull", &image]);
    out.code(1);
    assert!(
        out.stderr.contains("no basic auth credentials"),
        "{}",
        out.stderr
    );

    // Bad password: the daemon's error, nothing stored.
    let out = with_cfg(h, &cfg, &["login", "-u", USER, "-p", "wrong", &reg.addr]);
    out.code(1).stdout_is("");
    assert_eq!(
        out.stderr,
        format!(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n\
             Error response from daemon: login attempt to http://{}/v2/ failed with status: 401 Unauthorized\n",
            reg.addr
        )
    );
    assert!(!cfg_file.exists());

    // Other settings of config.json survive a login.
    std::fs::create_dir_all(&cfg).expect("mkdir config dir");
    std::fs::write(
        &cfg_file,
        r#"{"psFormat": "table {{.Names}}", "x-berth-test": {"keep": [1, 2]}}"#,
    )
    .expect("write config.json");
    let out = with_cfg(h, &cfg, &["login", "-u", USER, "-p", PASSWORD, &reg.addr]);
    out.ok().stdout_is("Login Succeeded\n");
    assert_eq!(
        out.stderr,
        format!(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n\
             WARNING! Your password will be stored unencrypted in {}.\n\
             Configure a credential helper to remove this warning. See\n\
             https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n",
            cfg_file.display()
        )
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_file).expect("read config.json"))
            .expect("config.json is JSON");
    let b64 = {
        // base64 of "reguser:s3cret-pass"
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s '{USER}:{PASSWORD}' | base64 -w0"))
            .output()
            .expect("base64");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(v["auths"][&reg.addr]["auth"], b64.as_str());
    assert_eq!(v["psFormat"], "table {{.Names}}");
    if h.is_berth() {
        // berth keeps keys it does not know (the docker CLI drops them).
        assert_eq!(v["x-berth-test"], serde_json::json!({"keep": [1, 2]}));
    }
    // The pull now carries the credentials; nothing secret is printed.
    let out = with_cfg(h, &cfg, &["pull", &image]);
    out.ok()
        .stdout_has(&format!("Status: Downloaded newer image for {image}"));
    assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));
    assert!(!out.stdout.contains(&b64) && !out.stderr.contains(&b64));

    // Pushes carry them too.
    let pushed = format!("{}:2", reg.repo("private"));
    h.run(&["tag", &h.image, &pushed]).ok();
    g.image(&pushed);
    with_cfg(h, &cfg, &["push", &pushed])
        .ok()
        .stdout_has("2: digest: sha256:");
    assert_eq!(reg.tags("private"), vec!["1", "2"]);

    // Logout forgets them.
    let out = with_cfg(h, &cfg, &["logout", &reg.addr]);
    out.ok()
        .stdout_is(&format!("Removing login credentials for {}\n", reg.addr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_file).expect("read config.json"))
            .expect("config.json is JSON");
    assert_eq!(v["auths"], serde_json::json!({}));
    assert_eq!(v["psFormat"], "table {{.Names}}");
    h.run(&["rmi", &image]).ok();
    with_cfg(h, &cfg, &["pull", &image])
        .code(1)
        .stderr_has("no basic auth credentials");
    with_cfg(h, &cfg, &["push", &pushed])
        .code(1)
        .stderr_has("no basic auth credentials");

    // --password-stdin, and a URL as server: stored under the host name, in a new file (0600).
    std::fs::remove_file(&cfg_file).expect("rm config.json");
    let pw = dir.join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).expect("write pw");
    let out = h.run_env(
        &[
            "login",
            "--username",
            USER,
            "--password-stdin",
            &format!("http://{}/", reg.addr),
        ],
        &[("DOCKER_CONFIG", path_str(&cfg))],
        Some(&pw),
        CMD_TIMEOUT,
    );
    out.ok().stdout_is("Login Succeeded\n");
    assert!(
        !out.stderr.contains("--password via the CLI"),
        "{}",
        out.stderr
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cfg_file)
        .expect("config.json written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_file).expect("read config.json"))
            .expect("config.json is JSON");
    assert_eq!(v["auths"][&reg.addr]["auth"], b64.as_str());

    // Usage errors (with an empty configuration: stored credentials would be tried first).
    let empty = dir.join("empty");
    let out = with_cfg(h, &empty, &["login", &reg.addr]);
    out.code(1);
    assert_eq!(
        out.stderr,
        "Error: Cannot perform an interactive login from a non TTY device\n"
    );
    with_cfg(h, &cfg, &["login", "--password-stdin", &reg.addr])
        .code(1)
        .stderr_has("Must provide --username with --password-stdin");
    with_cfg(
        h,
        &cfg,
        &["login", "-u", "u", "-p", "p", "--password-stdin", &reg.addr],
    )
    .code(1)
    .stderr_has("--password and --password-stdin are mutually exclusive");
    with_cfg(h, &cfg, &["logout", "a", "b"])
        .code(1)
        .stderr_has("requires at most 1 argument.");
}

#[test]
fn credentials_are_shared_with_the_docker_cli_both_ways() {
    let h = h_host();
    let docker = Path::new("/usr/bin/docker");
    let reg = Registry::start(true);
    reg.seed("shared", "1", 10_000);
    let image = format!("{}:1", reg.repo("shared"));
    let mut g = h.guard(&[]);
    g.image(&image);
    let dir = unique_tmp_dir("share");
    let cfg = dir.join("docker");
    let env = [
        ("DOCKER_CONFIG", path_str(&cfg)),
        ("DOCKER_HOST", h.host.as_str()),
    ];

    // docker login -> berth pull.
    run_cmd(
        docker,
        &["login", "-u", USER, "-p", PASSWORD, &reg.addr],
        &env,
        None,
        CMD_TIMEOUT,
    )
    .ok()
    .stdout_is("Login Succeeded\n");
    with_cfg(h, &cfg, &["pull", &image])
        .ok()
        .stdout_has(&format!("Status: Downloaded newer image for {image}"));
    run_cmd(docker, &["logout", &reg.addr], &env, None, CMD_TIMEOUT).ok();
    h.run(&["rmi", &image]).ok();
    with_cfg(h, &cfg, &["pull", &image])
        .code(1)
        .stderr_has("no basic auth credentials");

    // berth login -> docker pull.
    with_cfg(h, &cfg, &["login", "-u", USER, "-p", PASSWORD, &reg.addr])
        .ok()
        .stdout_is("Login Succeeded\n");
    run_cmd(docker, &["pull", &image], &env, None, CMD_TIMEOUT)
        .ok()
        .stdout_has(&format!("Status: Downloaded newer image for {image}"));
    // And docker logout is understood by berth.
    run_cmd(docker, &["logout", &reg.addr], &env, None, CMD_TIMEOUT).ok();
    h.run(&["rmi", &image]).ok();
    with_cfg(h, &cfg, &["pull", &image])
        .code(1)
        .stderr_has("no basic auth credentials");
}

#[test]
fn credential_helper_keeps_the_secret_out_of_config_json() {
    let h = h_host();
    let reg = Registry::start(true);
    reg.seed("helped", "1", 10_000);
    let image = format!("{}:1", reg.repo("helped"));
    let mut g = h.guard(&[]);
    g.image(&image);
    let dir = unique_tmp_dir("helper");
    let cfg = dir.join("docker");
    std::fs::create_dir_all(&cfg).expect("mkdir config dir");
    let cfg_file = cfg.join("config.json");
    std::fs::write(&cfg_file, r#"{"credsStore": "test"}"#).expect("write config.json");
    let bin = credential_helper(&dir);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [("DOCKER_CONFIG", path_str(&cfg)), ("PATH", path.as_str())];
    let pw = dir.join("pw");
    std::fs::write(&pw, PASSWORD).expect("write pw");

    let out = h.run_env(
        &["login", "-u", USER, "--password-stdin", &reg.addr],
        &env,
        Some(&pw),
        CMD_TIMEOUT,
    );
    out.ok().stdout_is("Login Succeeded\n");
    // No plain-text warning: the helper holds the password.
    assert_eq!(out.stderr, "");
    let stored = std::fs::read_to_string(dir.join("helper-store")).expect("helper stored");
    let creds: serde_json::Value = serde_json::from_str(&stored).expect("helper JSON");
    assert_eq!(
        creds,
        serde_json::json!({"ServerURL": reg.addr, "Username": USER, "Secret": PASSWORD})
    );
    let text = std::fs::read_to_string(&cfg_file).expect("read config.json");
    assert!(
        !text.contains(PASSWORD) && !text.contains("\"auth\""),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).expect("config.json is JSON");
    assert_eq!(v["auths"][&reg.addr], serde_json::json!({}));
    assert_eq!(v["credsStore"], "test");

    // Pulls get the credentials from the helper.
    h.run_env(&["pull", &image], &env, None, CMD_TIMEOUT)
        .ok()
        .stdout_has(&format!("Status: Downloaded newer image for {image}"));

    // Logout erases them in the helper.
    h.run_env(&["logout", &reg.addr], &env, None, CMD_TIMEOUT)
        .ok()
        .stdout_is(&format!("Removing login credentials for {}\n", reg.addr));
    assert!(!dir.join("helper-store").exists());
    let log = std::fs::read_to_string(dir.join("helper-log")).expect("helper log");
    assert!(log.lines().any(|l| l == "store"), "{log}");
    assert!(log.lines().any(|l| l == "get"), "{log}");
    assert!(log.lines().any(|l| l == "erase"), "{log}");
    h.run(&["rmi", &image]).ok();
    h.run_env(&["pull", &image], &env, None, CMD_TIMEOUT)
        .code(1)
        .stderr_has("no basic auth credentials");

    // credHelpers names the helper of one registry.
    std::fs::write(
        &cfg_file,
        format!(r#"{{"credHelpers": {{"{}": "test"}}}}"#, reg.addr),
    )
    .expect("write config.json");
    h.run_env(
        &["login", "-u", USER, "--password-stdin", &reg.addr],
        &env,
        Some(&pw),
        CMD_TIMEOUT,
    )
    .ok()
    .stdout_is("Login Succeeded\n");
    assert!(dir.join("helper-store").exists());
    h.run_env(&["pull", &image], &env, None, CMD_TIMEOUT)
        .ok()
        .stdout_has(&format!("Status: Downloaded newer image for {image}"));
    h.run(&["rmi", &image]).ok();

    // A helper that is not installed: no credentials (as docker), the registry refuses.
    std::fs::write(&cfg_file, r#"{"credsStore": "berth-missing"}"#).expect("write config.json");
    let out = with_cfg(h, &cfg, &["pull", &image]);
    out.code(1);
    assert_eq!(
        out.stderr,
        format!(
            "Error response from daemon: Head \"http://{}/v2/helped/manifests/1\": no basic auth credentials\n",
            reg.addr
        )
    );
}

#[test]
fn search_prints_docker_table_filters_and_limits() {
    let h = h_host();
    let long = "A tool that does many things.\nIt has a very long description indeed.";
    let addr = fake_search(serde_json::json!([
        {"name": "library/busy", "description": "Busybox base image.", "star_count": 3000, "is_official": true, "is_automated": false},
        {"name": "someone/busytool", "description": long, "star_count": 12, "is_official": false, "is_automated": true},
        {"name": "other/busy", "description": "", "star_count": 1, "is_official": false, "is_automated": false}
    ]));
    let term = format!("{addr}/busy");
    let out = h.run(&["search", &term]);
    out.ok().stdout_is(
        "NAME               DESCRIPTION                                     STARS     OFFICIAL   AUTOMATED\n\
         library/busy       Busybox base image.                             3000      [OK]       \n\
         someone/busytool   A tool that does many things. It has a very …   12                   [OK]\n\
         other/busy                                                         1                    \n",
    );
    h.run(&["search", "--limit", "2", "--format", "{{.Name}}", &term])
        .ok()
        .stdout_is("library/busy\nsomeone/busytool\n");
    h.run(&[
        "search",
        "-f",
        "is-official=true",
        "--format",
        "{{.Name}}",
        &term,
    ])
    .ok()
    .stdout_is("library/busy\n");
    h.run(&[
        "search",
        "--filter",
        "stars=10",
        "--format",
        "{{.Name}}:{{.StarCount}}",
        &term,
    ])
    .ok()
    .stdout_is("library/busy:3000\nsomeone/busytool:12\n");
    h.run(&[
        "search",
        "--no-trunc",
        "--format",
        "{{.Description}}|{{.IsAutomated}}",
        "-f",
        "is-automated=true",
        &term,
    ])
    .ok()
    .stdout_is("A tool that does many things. It has a very long description indeed.|[OK]\n");
    let out = h.run(&["search", "--limit", "0", &term]);
    out.code(1);
    assert_eq!(
        out.stderr,
        "Error response from daemon: Limit 0 is outside the range of [1, 100]\n"
    );
    let out = h.run(&["search", "-f", "bogus=1", &term]);
    out.code(1);
    assert_eq!(
        out.stderr,
        "Error response from daemon: Invalid filter 'bogus'\n"
    );
    let cli = cli_name(h);
    let out = h.run(&["search", "-f", "bogus", &term]);
    out.code(125);
    assert_eq!(
        out.stderr,
        format!("invalid argument \"bogus\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\nSee '{cli} search --help'.\n")
    );
    let out = h.run(&["search", "--limit", "x", &term]);
    out.code(125);
    assert_eq!(
        out.stderr,
        format!("invalid argument \"x\" for \"--limit\" flag: strconv.ParseInt: parsing \"x\": invalid syntax\nSee '{cli} search --help'.\n")
    );
}

#[test]
fn run_and_create_pull_a_missing_image() {
    let h = h_host();
    let cli = cli_name(h);
    let reg = Registry::start(false);
    reg.seed("implicit", "1", 5_000);
    reg.seed("created", "1", 5_000);
    let image = format!("{}:1", reg.repo("implicit"));
    let created = format!("{}:1", reg.repo("created"));
    let mut g = h.guard(&[]);
    g.image(&image);
    g.image(&created);

    // --pull never: no pull, docker's error.
    let out = h.run(&["run", "--rm", "--pull", "never", &image, "true"]);
    out.code(125).stdout_is("");
    assert_eq!(
        out.stderr,
        format!(
            "{cli}: Error response from daemon: No such image: {image}.\nSee '{cli} run --help'.\n"
        )
    );

    // Default (missing): the notice and the pull on stderr, only the command's output on stdout.
    let out = h.run(&["run", "--rm", &image, "sh", "-c", "wc -c < /rnd"]);
    out.ok().stdout_is("5000\n");
    let mut lines = out.stderr.lines();
    assert_eq!(
        lines.next(),
        Some(format!("Unable to find image '{image}' locally").as_str()),
        "{}",
        out.stderr
    );
    assert_eq!(
        lines.next(),
        Some("1: Pulling from implicit"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .ends_with(&format!("Status: Downloaded newer image for {image}\n")),
        "{}",
        out.stderr
    );

    // --pull always pulls again even though it is there.
    let out = h.run(&["run", "--rm", "--pull", "always", &image, "echo", "ok"]);
    out.ok().stdout_is("ok\n");
    assert!(
        out.stderr.starts_with("1: Pulling from implicit\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .ends_with(&format!("Status: Image is up to date for {image}\n")),
        "{}",
        out.stderr
    );
    // Present and --pull missing: nothing on stderr.
    let out = h.run(&["run", "--rm", &image, "echo", "ok"]);
    out.ok().stdout_is("ok\n");
    assert_eq!(out.stderr, "");

    // create: stdout is the container ID alone.
    let name = uname("implicit");
    g.container(&name);
    let out = h.run(&["create", "--name", &name, &created]);
    out.ok();
    assert!(is_full_id(out.stdout.trim()), "{}", out.stdout);
    assert!(
        out.stderr
            .starts_with(&format!("Unable to find image '{created}' locally\n")),
        "{}",
        out.stderr
    );

    // An image no registry has: run exits 125, create 1, with docker's messages.
    let missing = format!("{}:latest", reg.repo("nosuch"));
    let out = h.run(&["run", "--rm", &reg.repo("nosuch")]);
    out.code(125).stdout_is("");
    assert_eq!(
        out.stderr,
        format!(
            "Unable to find image '{missing}' locally\n\
             {cli}: Error response from daemon: manifest for {missing} not found: manifest unknown: manifest unknown.\n\
             See '{cli} run --help'.\n"
        )
    );
    let out = h.run(&["create", &reg.repo("nosuch")]);
    out.code(1).stdout_is("");
    assert_eq!(
        out.stderr,
        format!(
            "Unable to find image '{missing}' locally\n\
             Error response from daemon: manifest for {missing} not found: manifest unknown: manifest unknown\n"
        )
    );
}

#[test]
fn build_pull_pulls_the_base_image_again() {
    let h = h_host();
    let reg = Registry::start(false);
    reg.seed("based", "1", 5_000);
    let base = format!("{}:1", reg.repo("based"));
    let built = uname("built");
    let mut g = h.guard(&[]);
    g.image(&base);
    g.image(&built);
    let dir = unique_tmp_dir("buildpull");
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {base}\nRUN wc -c < /rnd > /size\n"),
    )
    .expect("write Dockerfile");
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "-t", built.as_str()];
        args.extend_from_slice(extra);
        args.push(path_str(&dir));
        h.run_env(&args, &[], None, CMD_TIMEOUT)
    };
    h.run(&["pull", "-q", &base]).ok();
    // The base is here: a plain build does not go to the registry.
    let out = build(&[]);
    out.ok();
    assert!(!out.stdout.contains("Pulling from"), "{}", out.stdout);
    // --pull asks the daemon to pull it anyway (`pull=1`).
    let out = build(&["--pull"]);
    out.ok()
        .stdout_has(&format!("Step 1/2 : FROM {base}\n1: Pulling from based\n"))
        .stdout_has(&format!("Status: Image is up to date for {base}\n"));
    assert!(!out.raw.contains(&0x1b), "{:?}", out.stdout);
    h.run(&["run", "--rm", &built, "cat", "/size"])
        .ok()
        .stdout_is("5000\n");
}

#[test]
fn login_prompts_on_a_terminal_without_echoing_the_password() {
    let h = h_host();
    let reg = Registry::start(true);
    let dir = unique_tmp_dir("prompt");
    let cfg = dir.join("docker");
    let line = format!(
        "DOCKER_CONFIG={} {} -H {} login {}",
        sq(path_str(&cfg)),
        sq(path_str(&h.cli)),
        sq(&h.host),
        sq(&reg.addr)
    );
    let t = Tmux::start(&line, None);
    t.wait_for("Username:");
    t.keys(&["-l", USER]);
    t.keys(&["Enter"]);
    t.wait_for("Password:");
    t.keys(&["-l", PASSWORD]);
    t.keys(&["Enter"]);
    let screen = t.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains(&format!("Username: {USER}\nPassword:\n")),
        "{screen}"
    );
    assert!(screen.contains("Login Succeeded\n"), "{screen}");
    assert!(!screen.contains(PASSWORD), "{screen}");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(cfg.join("config.json")).expect("config.json written"),
    )
    .expect("config.json is JSON");
    assert!(v["auths"][&reg.addr]["auth"].is_string(), "{v}");

    // Logged in already: the stored credentials are tried first, no prompt.
    let t = Tmux::start(&line, None);
    let screen = t.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains("Authenticating with existing credentials...\n"),
        "{screen}"
    );
    assert!(!screen.contains("Username"), "{screen}");
}

#[test]
fn run_draws_the_pull_on_a_terminal_and_then_runs() {
    let h = h_host();
    let reg = Registry::start(false);
    reg.seed("ttyrun", "1", 2_000_000);
    let image = format!("{}:1", reg.repo("ttyrun"));
    let mut g = h.guard(&[]);
    g.image(&image);
    let dir = unique_tmp_dir("ttyrun");
    let line = format!(
        "{} -H {} run --rm {} sh -c 'echo ran-$((6*7))'",
        sq(path_str(&h.cli)),
        sq(&h.host),
        sq(&image)
    );
    let (screen, raw) = tmux_run(&line, &dir.join("raw"));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains(&format!(
            "Unable to find image '{image}' locally\n1: Pulling from ttyrun\n"
        )),
        "{screen}"
    );
    assert!(
        screen.contains(&format!(
            "Status: Downloaded newer image for {image}\nran-42\n"
        )),
        "{screen}"
    );
    let layers = layer_lines(&screen);
    assert_eq!(layers.len(), 2, "{screen}");
    assert!(String::from_utf8_lossy(&raw).contains("\x1b[2K\r"));
}

#[test]
fn unauthorized_pull_push_and_search_ask_for_a_login() {
    let h = h_host();
    let fake = FakeDaemon::start("pw");
    let dir = unique_tmp_dir("privilege");
    let cfg = dir.join("docker");
    let env = [("DOCKER_CONFIG", path_str(&cfg))];
    let cli = |args: &[&str]| {
        let mut full = vec!["-H", fake.host.as_str()];
        full.extend_from_slice(args);
        run_cmd(&h.cli, &full, &env, None, CMD_TIMEOUT)
    };
    // Without a terminal there is nobody to ask.
    for (args, what) in [
        (vec!["pull", "r.example/x:1"], "pull"),
        (vec!["push", "r.example/x:1"], "push"),
        (vec!["search", "r.example/x"], "search"),
    ] {
        let out = cli(&args);
        out.code(1)
            .stdout_is(&format!("\nPlease login prior to {what}:\n"));
        assert_eq!(
            out.stderr,
            "Error: Cannot perform an interactive login from a non TTY device\n"
        );
    }
    // Nothing stored: docker sends empty credentials, `{}`.
    assert!(
        fake.seen().iter().all(|a| *a == serde_json::json!({})),
        "{:?}",
        fake.seen()
    );

    // On a terminal: the prompt, then the pull again with what was typed (not stored).
    let line = format!(
        "DOCKER_CONFIG={} {} -H {} pull r.example/x:1",
        sq(path_str(&cfg)),
        sq(path_str(&h.cli)),
        sq(&fake.host)
    );
    let t = Tmux::start(&line, None);
    t.wait_for("Username:");
    t.keys(&["-l", "me"]);
    t.keys(&["Enter"]);
    t.wait_for("Password:");
    t.keys(&["-l", "pw"]);
    t.keys(&["Enter"]);
    let screen = t.wait_for("EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains(
            "Please login prior to pull:\nUsername: me\nPassword:\n1: Pulling from x\nStatus: Downloaded newer image for r.example/x:1\nr.example/x:1\n"
        ),
        "{screen}"
    );
    let last = fake.seen().last().cloned().unwrap_or_default();
    assert_eq!(
        last,
        serde_json::json!({"username": "me", "password": "pw", "serveraddress": "r.example"})
    );
    assert!(!cfg.join("config.json").exists());
}
