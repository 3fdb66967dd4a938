//! `berth compose config` end to end through the binary: the book's stack
//! (Jupyter + PostgreSQL + Redis + workers, named volumes, relative binds,
//! `.env` interpolation), file discovery from a subdirectory, override
//! files, `-f` (also `-`), `-p`, `--project-directory`, `--env-file`,
//! `--profile`, the listing flags, the round trip of the printed config,
//! Compose's errors (file, line, key path; exit 1), and agreement with
//! docker-compose 1.29 where v1 and v2 agree. `config` needs no daemon.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs `berth ARGS` in `dir` with extra environment and optional stdin.
fn berth_in(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Out {
    let tmp = unique_tmp_dir("stdin");
    let stdin_file = tmp.join("stdin");
    std::fs::write(&stdin_file, stdin.unwrap_or("")).expect("write stdin");
    let mut cmd = Command::new(berth_exe());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_PROFILES")
        .env_remove("COMPOSE_FILE")
        .stdin(std::fs::File::open(&stdin_file).expect("open stdin"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run berth");
    let _ = std::fs::remove_dir_all(tmp);
    Out {
        cmd: format!("berth {}", args.join(" ")),
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        raw: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const BOOK: &str = r#"services:
  this_jupyter:   {build: docker/jupyter, ports: ["8888:8888"], volumes: [".:/home/jovyan"], env_file: [config/jupyter.env]}
  this_postgres:  {build: docker/postgres, volumes: ["postgres_data:/var/lib/postgresql/data"], environment: {POSTGRES_PASSWORD: "${PG_PASSWORD:?set PG_PASSWORD in .env}"}}
  this_redis:     {image: "redis:${REDIS_TAG:-7}", volumes: ["redis_data:/data"]}
  this_worker:    {build: docker/jupyter, volumes: [".:/home/jovyan"], entrypoint: ["tini", "--", "rqworker", "-u", "redis://this_redis:6379"], depends_on: [this_redis]}
  this_monitor:   {build: docker/jupyter, volumes: [".:/home/jovyan", "./lib:/home/jovyan/lib:ro"], ports: ["5000:5000"], entrypoint: ["tini", "--", "rq-dashboard", "-H", "this_redis", "-p", "5000"]}
volumes: {postgres_data: {}, redis_data: {}}
"#;

/// The book's project in `<tmp>/Data_Science-Book/`, with a `notebooks/`
/// subdirectory; returns the project directory.
fn book_project() -> PathBuf {
    let root = unique_tmp_dir("book").join("Data_Science-Book");
    write(&root.join("compose.yaml"), BOOK);
    write(
        &root.join(".env"),
        "# project settings\nREDIS_TAG=7.2\nexport PG_PASSWORD='pa$word'\n",
    );
    write(
        &root.join("config/jupyter.env"),
        "JUPYTER_TOKEN=letmein\nGRANT_SUDO=yes\n",
    );
    for d in ["docker/jupyter", "docker/postgres", "notebooks", "lib"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    root
}

#[test]
fn book_stack_config_from_a_subdirectory() {
    let root = book_project();
    let o = berth_in(&root.join("notebooks"), &["compose", "config"], &[], None);
    o.ok();
    let y = &o.stdout;
    let r = path_str(&root);
    assert!(y.starts_with("name: data_science-book\nservices:\n"), "{y}");
    for want in [
        format!("      context: {r}/docker/jupyter\n"),
        format!("        source: {r}\n        target: /home/jovyan\n"),
        format!("        source: {r}/lib\n        target: /home/jovyan/lib\n        read_only: true\n"),
        "      JUPYTER_TOKEN: letmein\n".into(),
        "      POSTGRES_PASSWORD: pa$$word\n".into(),
        "    image: \"redis:7.2\"\n".into(),
        "      - mode: ingress\n        target: 8888\n        published: \"8888\"\n        protocol: tcp\n".into(),
        "      - type: volume\n        source: redis_data\n        target: /data\n".into(),
        "      this_redis:\n        condition: service_started\n        required: true\n".into(),
        "networks:\n  default:\n    name: data_science-book_default\n".into(),
        "  redis_data:\n    name: data_science-book_redis_data\n".into(),
    ] {
        assert!(y.contains(&want), "missing {want:?} in:\n{y}");
    }
    // Services sorted, each on the default network.
    let services: Vec<&str> = y.lines().filter(|l| l.starts_with("  this_")).collect();
    assert_eq!(
        services,
        [
            "  this_jupyter:",
            "  this_monitor:",
            "  this_postgres:",
            "  this_redis:",
            "  this_worker:"
        ]
    );
    assert_eq!(y.matches("      default: null\n").count(), 5, "{y}");
}

#[test]
fn printed_config_round_trips() {
    let root = book_project();
    write(
        &root.join("compose.override.yaml"),
        "services:\n  this_redis:\n    healthcheck: {test: redis-cli ping, interval: 90s, retries: 3}\n    deploy: {resources: {limits: {memory: 256m, cpus: '0.5'}}}\n    command: redis-server --save 60 1\n    stop_grace_period: 30s\n    shm_size: 64m\n    x-owner: lab\n  this_worker:\n    depends_on:\n      this_redis: {condition: service_healthy}\n",
    );
    let first = berth_in(&root, &["compose", "config"], &[], None);
    first.ok();
    assert!(first.stdout.contains("interval: 1m30s"), "{}", first.stdout);
    assert!(
        first.stdout.contains("memory: 268435456"),
        "{}",
        first.stdout
    );
    let elsewhere = unique_tmp_dir("rt");
    write(&elsewhere.join("printed.yaml"), &first.stdout);
    let again = berth_in(
        &elsewhere,
        &["compose", "-f", "printed.yaml", "config"],
        &[],
        None,
    );
    again.ok();
    assert_eq!(again.stdout, first.stdout);
    // Through stdin and through JSON as well.
    let piped = berth_in(
        &elsewhere,
        &["compose", "-f", "-", "config"],
        &[],
        Some(&first.stdout),
    );
    piped.ok();
    assert_eq!(piped.stdout, first.stdout);
    let json = berth_in(&root, &["compose", "config", "--format", "json"], &[], None);
    json.ok();
    let v: serde_json::Value =
        serde_json::from_str(&json.stdout).expect("config --format json is JSON");
    assert_eq!(v["name"], "data_science-book");
    assert_eq!(
        v["services"]["this_redis"]["command"],
        serde_json::json!(["redis-server", "--save", "60", "1"])
    );
    write(&elsewhere.join("printed.json"), &json.stdout);
    let from_json = berth_in(
        &elsewhere,
        &["compose", "-f", "printed.json", "config"],
        &[],
        None,
    );
    from_json.ok();
    assert_eq!(from_json.stdout, first.stdout);
}

#[test]
fn project_flags_and_listings() {
    let root = book_project();
    write(
        &root.join("tools.yaml"),
        "services:\n  pgadmin: {image: pgadmin, profiles: [admin]}\n  debug: {image: busybox, profiles: [debug, admin]}\n",
    );
    let c = |args: &[&str], env: &[(&str, &str)]| {
        let mut full = vec!["compose"];
        full.extend_from_slice(args);
        berth_in(&root, &full, env, None)
    };
    c(&["config", "--services"], &[])
        .ok()
        .stdout_is("this_jupyter\nthis_monitor\nthis_postgres\nthis_redis\nthis_worker\n");
    c(&["config", "--volumes"], &[])
        .ok()
        .stdout_is("postgres_data\nredis_data\n");
    let f = ["-f", "compose.yaml", "-f", "tools.yaml"];
    c(&[&f[..], &["config", "--profiles"]].concat(), &[])
        .ok()
        .stdout_is("admin\ndebug\n");
    c(&[&f[..], &["config", "--services"]].concat(), &[])
        .ok()
        .stdout_has("this_worker")
        .stdout_is("this_jupyter\nthis_monitor\nthis_postgres\nthis_redis\nthis_worker\n");
    let with_admin = c(
        &[&f[..], &["--profile", "admin", "config", "--services"]].concat(),
        &[],
    );
    with_admin.ok();
    assert_eq!(with_admin.lines().len(), 7, "{}", with_admin.stdout);
    let debug_env = c(
        &[&f[..], &["config", "--services"]].concat(),
        &[("COMPOSE_PROFILES", "debug")],
    );
    assert!(debug_env.ok().lines().contains(&"debug".to_string()));
    // Naming a service shows it and its dependencies, whatever its profiles.
    c(
        &[&f[..], &["config", "--services", "this_worker", "pgadmin"]].concat(),
        &[],
    )
    .ok()
    .stdout_is("pgadmin\nthis_redis\nthis_worker\n");
    // -q validates only; -p and COMPOSE_PROJECT_NAME name the project.
    c(&["config", "-q"], &[]).ok().stdout_is("");
    c(&["-p", "course", "config"], &[])
        .ok()
        .stdout_has("name: course\n")
        .stdout_has("name: course_redis_data\n");
    c(&["config"], &[("COMPOSE_PROJECT_NAME", "student7")])
        .ok()
        .stdout_has("name: student7_default\n");
    // The process environment wins over .env; --env-file replaces it.
    c(&["config"], &[("REDIS_TAG", "6")])
        .ok()
        .stdout_has("image: \"redis:6\"");
    write(&root.join("alt.env"), "REDIS_TAG=5\nPG_PASSWORD=x\n");
    c(&["--env-file", "alt.env", "config"], &[])
        .ok()
        .stdout_has("image: \"redis:5\"");
    // --project-directory moves the base of relative paths and the .env.
    let other = root.join("notebooks");
    write(&other.join(".env"), "REDIS_TAG=4\nPG_PASSWORD=y\n");
    write(&other.join("config/jupyter.env"), "JUPYTER_TOKEN=nb\n");
    let moved = c(&["--project-directory", "notebooks", "config"], &[]);
    moved
        .ok()
        .stdout_has("image: \"redis:4\"")
        .stdout_has(&format!("source: {}/lib\n", path_str(&other)));
    assert!(
        moved.stdout.starts_with("name: notebooks\n"),
        "{}",
        moved.stdout
    );
    // -o writes the file instead.
    c(&["config", "-o", "out.yaml"], &[]).ok().stdout_is("");
    let saved = std::fs::read_to_string(root.join("out.yaml")).expect("out.yaml");
    assert!(saved.starts_with("name: data_science-book\n"));
}

#[test]
fn errors_name_file_line_and_key_and_exit_1() {
    let dir = unique_tmp_dir("errs").join("proj");
    let cases: &[(&str, &str)] = &[
        (
            "services:\n  web:\n    image: nginx\n    ports:\n      - \"80:80:80\"\n",
            "compose.yaml:5: services.web.ports[0]: invalid port \"80:80:80\"\n",
        ),
        (
            "services:\n  web:\n    image: nginx\n    depends_on: [db]\n",
            "compose.yaml:4: services.web.depends_on: service \"web\" depends on undefined service \"db\": invalid compose project\n",
        ),
        (
            "services:\n  web:\n    image: nginx\n    volumes: [\"data:/data\"]\n",
            "compose.yaml:4: services.web.volumes[0]: service \"web\" refers to undefined volume data: invalid compose project\n",
        ),
        (
            "services:\n  web:\n    image: nginx\n    enviroment: [A=1]\n",
            "compose.yaml:4: services.web: additional property \"enviroment\" is not allowed\n",
        ),
        (
            "services:\n  web:\n    image: ${IMAGE:?IMAGE must be set}\n",
            "compose.yaml:3: services.web.image: required variable IMAGE is missing a value: IMAGE must be set\n",
        ),
    ];
    for (text, want) in cases {
        write(&dir.join("compose.yaml"), text);
        let o = berth_in(&dir, &["compose", "config"], &[], None);
        o.code(1);
        assert_eq!(o.stdout, "");
        assert_eq!(o.stderr, *want);
    }
    let o = berth_in(&dir, &["compose", "config", "--format", "xml"], &[], None);
    o.code(1);
    assert_eq!(o.stderr, "unsupported format \"xml\"\n");
    let o = berth_in(&dir, &["compose", "-p", "My Project", "config"], &[], None);
    o.code(1).stderr_has("invalid project name \"My Project\"");
    write(
        &dir.join("compose.yaml"),
        "version: '3.8'\nservices:\n  web:\n    image: nginx\n",
    );
    let o = berth_in(&dir, &["compose", "config", "-q"], &[], None);
    o.ok().stderr_has("the attribute `version` is obsolete");
    let empty = unique_tmp_dir("nofile");
    let has_parent_file = empty.ancestors().any(|a| {
        [
            "compose.yaml",
            "compose.yml",
            "docker-compose.yaml",
            "docker-compose.yml",
        ]
        .iter()
        .any(|f| a.join(f).exists())
    });
    assert!(
        !has_parent_file,
        "a compose file in a parent of {} breaks this test",
        empty.display()
    );
    let o = berth_in(&empty, &["compose", "config"], &[], None);
    o.code(1);
    assert_eq!(o.stderr, "no configuration file provided: not found\n");
}

/// docker-compose 1.29 (Python, v1) lists the same services and volumes and
/// resolves the same interpolation and relative paths.
#[test]
fn agrees_with_docker_compose_v1() {
    let v1 = Path::new("/usr/bin/docker-compose");
    assert!(
        v1.exists(),
        "docker-compose 1.29 is missing: scripts/install-deps.sh installs it"
    );
    let root = book_project();
    let run_v1 = |args: &[&str]| {
        let o = Command::new(v1)
            .current_dir(&root)
            .args(args)
            .env_remove("COMPOSE_PROJECT_NAME")
            .output()
            .expect("docker-compose");
        assert!(
            o.status.success(),
            "docker-compose {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let sorted = |s: String| {
        let mut l: Vec<String> = s.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    for flag in ["--services", "--volumes"] {
        let ours = berth_in(&root, &["compose", "config", flag], &[], None);
        ours.ok();
        assert_eq!(
            sorted(ours.stdout.clone()),
            sorted(run_v1(&["config", flag])),
            "{flag}"
        );
    }
    let v1_config = run_v1(&["config"]);
    let ours = berth_in(&root, &["compose", "config"], &[], None);
    ours.ok();
    for needle in [
        "redis:7.2",
        "JUPYTER_TOKEN: letmein",
        "POSTGRES_PASSWORD: pa$$word",
    ] {
        assert!(
            v1_config.contains(needle),
            "v1 lacks {needle}:\n{v1_config}"
        );
        assert!(
            ours.stdout.contains(needle),
            "berth lacks {needle}:\n{}",
            ours.stdout
        );
    }
    let lib = format!("{}/lib", path_str(&root));
    assert!(v1_config.contains(&lib) && ours.stdout.contains(&lib));
}

/// `berth -H <daemon> compose ...` in `dir`. The berth CLI drives whatever
/// daemon the harness runs (berth, or dockerd with `BERTH_E2E_CLI=docker`):
/// compose is a client of the Engine API.
fn compose_in(dir: &Path, args: &[&str]) -> Out {
    let mut full = vec!["-H", h().host.as_str(), "compose"];
    full.extend_from_slice(args);
    berth_in(dir, &full, &[], None)
}

fn inspect(target: &str, format: &str) -> String {
    h().run(&["inspect", "-f", format, target]).ok().out()
}

/// Removes what a compose test made, whatever happened.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = compose_in(&self.0, &["down", "-v"]);
    }
}

#[test]
fn up_ps_down_a_stack() {
    let project = uname("stack").replace('x', "-");
    let dir = unique_tmp_dir("up").join("stack");
    let port = free_port();
    let image = &h().image;
    let text = |greeting: &str| {
        format!(
            r#"name: {project}
services:
  web:
    image: {image}
    command: ["sh", "-c", "echo $$GREETING > /www/index.html && exec httpd -f -p 8080 -h /www"]
    environment:
      GREETING: {greeting}
    ports: ["127.0.0.1:{port}:8080"]
    volumes: ["www:/www"]
    depends_on: [cache]
  cache:
    image: {image}
    command: ["sh", "-c", "echo cache-ready; exec sleep 100000"]
    volumes: ["./shared:/shared"]
    secrets: [db_password]
volumes:
  www: {{}}
secrets:
  db_password:
    file: ./db_password.txt
"#
        )
    };
    write(&dir.join("compose.yaml"), &text("hello"));
    write(&dir.join("db_password.txt"), "s3cret\n");
    let _down = Down(dir.clone());

    let up = compose_in(&dir, &["up", "-d"]);
    up.ok();
    let web = format!("{project}-web-1");
    let cache = format!("{project}-cache-1");
    let pos = |s: &str| {
        up.stderr
            .find(s)
            .unwrap_or_else(|| panic!("no {s:?} in:\n{}", up.stderr))
    };
    assert!(
        pos(&format!(" Network {project}_default  Created"))
            < pos(&format!(" Container {cache}  Started"))
    );
    assert!(
        pos(&format!(" Container {cache}  Started")) < pos(&format!(" Container {web}  Started"))
    );
    pos(&format!(" Volume {project}_www  Created"));

    // Published port, environment and the named volume.
    wait_curl(&format!("http://127.0.0.1:{port}/"), "hello");
    // The service name resolves on the project's network.
    let o = h().run(&["exec", &cache, "wget", "-q", "-O", "-", "http://web:8080/"]);
    assert_eq!(o.ok().out(), "hello");
    // The relative bind is the project's directory.
    h().run(&[
        "exec",
        &cache,
        "sh",
        "-c",
        "echo from-container > /shared/f",
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(dir.join("shared/f"))
            .expect("bind file")
            .trim(),
        "from-container"
    );

    // A file secret is mounted read-only under /run/secrets.
    let o = h().run(&["exec", &cache, "cat", "/run/secrets/db_password"]);
    assert_eq!(o.ok().out(), "s3cret");
    h().run(&[
        "exec",
        &cache,
        "sh",
        "-c",
        "echo x > /run/secrets/db_password",
    ])
    .fails();

    // Compose's labels.
    let labels =
        |name: &str, key: &str| inspect(name, &format!("{{{{index .Config.Labels \"{key}\"}}}}"));
    assert_eq!(labels(&web, "com.docker.compose.project"), project);
    assert_eq!(labels(&web, "com.docker.compose.service"), "web");
    assert_eq!(labels(&web, "com.docker.compose.container-number"), "1");
    assert_eq!(labels(&web, "com.docker.compose.oneoff"), "False");
    assert_eq!(
        labels(&web, "com.docker.compose.project.working_dir"),
        path_str(&dir)
    );
    assert_eq!(
        labels(&web, "com.docker.compose.project.config_files"),
        format!("{}/compose.yaml", path_str(&dir))
    );
    assert!(!labels(&web, "com.docker.compose.version").is_empty());
    let hash = labels(&web, "com.docker.compose.config-hash");
    assert!(
        hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{hash}"
    );

    // ps: Compose v2's columns, sorted by name.
    let ps = compose_in(&dir, &["ps"]);
    ps.ok();
    let lines = ps.lines();
    assert_eq!(lines.len(), 3, "{}", ps.stdout);
    for col in [
        "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
    ] {
        assert!(lines[0].contains(col), "{}", lines[0]);
    }
    assert!(
        lines[1].starts_with(&cache) && lines[1].contains(" cache ") && lines[1].contains("Up "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(&web) && lines[2].contains(&format!("127.0.0.1:{port}->8080/tcp")),
        "{}",
        lines[2]
    );
    compose_in(&dir, &["ps", "--services"])
        .ok()
        .stdout_is("cache\nweb\n");
    assert_eq!(compose_in(&dir, &["ps", "-q"]).ok().lines().len(), 2);

    // logs: each line prefixed with its container's name; exec in a service.
    wait_until(
        "cache logs its line",
        std::time::Duration::from_secs(20),
        || {
            compose_in(&dir, &["logs", "cache"])
                .stdout
                .contains("cache-ready")
        },
    );
    compose_in(&dir, &["logs"])
        .ok()
        .stdout_is(&format!("{cache} | cache-ready\n"));
    compose_in(&dir, &["logs", "--no-log-prefix", "cache"])
        .ok()
        .stdout_is("cache-ready\n");
    compose_in(&dir, &["logs", "web"]).ok().stdout_is("");
    compose_in(&dir, &["logs", "nope"])
        .code(1)
        .stderr_has("no such service: nope");
    compose_in(&dir, &["exec", "cache", "cat", "/shared/f"])
        .ok()
        .stdout_is("from-container\n");
    compose_in(&dir, &["exec", "-T", "cache", "sh", "-c", "exit 3"]).code(3);
    compose_in(&dir, &["exec", "nope", "true"])
        .code(1)
        .stderr_has("no such service: nope");

    // A second up changes nothing; a changed service is recreated alone.
    let web_id = inspect(&web, "{{.Id}}");
    let cache_id = inspect(&cache, "{{.Id}}");
    let again = compose_in(&dir, &["up", "-d"]);
    again.ok().stderr_has(&format!(" Container {web}  Running"));
    assert_eq!(inspect(&web, "{{.Id}}"), web_id);
    write(&dir.join("compose.yaml"), &text("changed"));
    compose_in(&dir, &["up", "-d"])
        .ok()
        .stderr_has(&format!(" Container {web}  Recreate"));
    assert_ne!(inspect(&web, "{{.Id}}"), web_id);
    assert_eq!(inspect(&cache, "{{.Id}}"), cache_id);
    wait_curl(&format!("http://127.0.0.1:{port}/"), "changed");

    // down keeps named volumes; down -v removes them.
    let down = compose_in(&dir, &["down"]);
    down.ok()
        .stderr_has(&format!(" Container {web}  Removed"))
        .stderr_has(&format!(" Network {project}_default  Removed"));
    h().run(&["inspect", &web]).fails();
    h().run(&["network", "inspect", &format!("{project}_default")])
        .fails();
    h().run(&["volume", "inspect", &format!("{project}_www")])
        .ok();
    compose_in(&dir, &["ps", "-a"]).ok();
    assert_eq!(compose_in(&dir, &["ps", "-a", "-q"]).ok().out(), "");
    compose_in(&dir, &["down", "-v"])
        .ok()
        .stderr_has(&format!(" Volume {project}_www  Removed"));
    h().run(&["volume", "inspect", &format!("{project}_www")])
        .fails();
    compose_in(&dir, &["down"])
        .ok()
        .stderr_has("No resource found to remove");
}

#[test]
fn up_reports_missing_images() {
    let dir = unique_tmp_dir("noimg").join("p");
    let project = uname("noimg").replace('x', "-");
    write(
        &dir.join("compose.yaml"),
        &format!("name: {project}\nservices:\n  a:\n    image: berth-e2e/absent:never\n"),
    );
    let _down = Down(dir.clone());
    let o = compose_in(&dir, &["up", "-d"]);
    o.code(1);
    assert!(o.stderr.contains("berth-e2e/absent:never"), "{}", o.stderr);
}

#[test]
fn up_builds_missing_images_and_compose_build_rebuilds() {
    let project = uname("build").replace('x', "-");
    let dir = unique_tmp_dir("build").join("p");
    write(
        &dir.join("docker/nb/Dockerfile"),
        &format!(
            "FROM {}\nARG GREETING\nRUN echo $GREETING > /built\nCMD [\"sleep\", \"100000\"]\n",
            h().image
        ),
    );
    write(
        &dir.join("compose.yaml"),
        &format!("name: {project}\nservices:\n  nb:\n    build:\n      context: docker/nb\n      args: {{GREETING: built-by-compose}}\n"),
    );
    let image = format!("{project}-nb");
    // Dropped in reverse order: the stack goes down before its image goes.
    let _cleanup = ImageGuard(image.clone());
    let _down = Down(dir.clone());
    let up = compose_in(&dir, &["up", "-d"]);
    up.ok()
        .stderr_has(" Service nb  Building")
        .stderr_has(&format!(" Container {project}-nb-1  Started"));
    let o = h().run(&["exec", &format!("{project}-nb-1"), "cat", "/built"]);
    assert_eq!(o.ok().out(), "built-by-compose");
    h().run(&["image", "inspect", &image]).ok();
    // The image exists now: a second up does not build; `build` and `up --build` do.
    let again = compose_in(&dir, &["up", "-d"]);
    assert!(!again.ok().stderr.contains("Building"), "{}", again.stderr);
    compose_in(&dir, &["build"])
        .ok()
        .stderr_has(" Service nb  Built");
    compose_in(&dir, &["up", "-d", "--build"])
        .ok()
        .stderr_has(" Service nb  Building");
}

/// Removes an image when dropped.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = h().run(&["rmi", "-f", &self.0]);
    }
}

/// berth has no health checks yet: `depends_on` conditions are checked
/// against the reference dockerd (`BERTH_E2E_ORACLE`, CI starts it), which
/// `berth compose` drives like any Engine API.
#[test]
fn depends_on_conditions_against_dockerd() {
    let oracle = std::env::var("BERTH_E2E_ORACLE")
        .unwrap_or_else(|_| "unix:///run/docker-oracle.sock".into());
    let docker = |args: &[&str]| {
        let mut full = vec!["-H", oracle.as_str()];
        full.extend_from_slice(args);
        run_cmd(Path::new("/usr/bin/docker"), &full, &[], None, CMD_TIMEOUT)
    };
    let ping = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(ping.code, 0, "the reference dockerd is not reachable at {oracle}: start it with `eval \"$(../shared/tools/docker-oracle start)\"` (CI does): {}", ping.stderr);
    let image = "berth-e2e/compose-busybox:latest";
    docker(&["import", path_str(&fixture("busybox.tar")), image]).ok();
    let project = uname("cond").replace('x', "-");
    let dir = unique_tmp_dir("cond").join("p");
    let text = |init_exit: u8| {
        format!(
            r#"name: {project}
services:
  db:
    image: {image}
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 100000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 60
  init:
    image: {image}
    command: ["sh", "-c", "exit {init_exit}"]
  app:
    image: {image}
    command: ["sleep", "100000"]
    depends_on:
      db: {{condition: service_healthy}}
      init: {{condition: service_completed_successfully}}
"#
        )
    };
    write(&dir.join("compose.yaml"), &text(0));
    let compose = |args: &[&str]| {
        let mut full = vec!["-H", oracle.as_str(), "compose"];
        full.extend_from_slice(args);
        berth_in(&dir, &full, &[], None)
    };
    struct OracleDown<'a>(&'a dyn Fn(&[&str]) -> Out);
    impl Drop for OracleDown<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["down", "-v", "-t", "1"]);
        }
    }
    let _down = OracleDown(&compose);
    let up = compose(&["up", "-d"]);
    up.ok();
    let pos = |s: &str| {
        up.stderr
            .find(s)
            .unwrap_or_else(|| panic!("no {s:?} in:\n{}", up.stderr))
    };
    let app_started = pos(&format!(" Container {project}-app-1  Started"));
    assert!(pos(&format!(" Container {project}-db-1  Healthy")) < app_started);
    assert!(pos(&format!(" Container {project}-init-1  Exited")) < app_started);
    let health = docker(&[
        "inspect",
        "-f",
        "{{.State.Health.Status}}",
        &format!("{project}-db-1"),
    ]);
    assert_eq!(health.ok().out(), "healthy");
    // A one-shot dependency that fails stops `up` before its dependent.
    compose(&["down", "-t", "1"]).ok();
    write(&dir.join("compose.yaml"), &text(3));
    let failed = compose(&["up", "-d"]);
    failed
        .code(1)
        .stderr_has("service \"init\" didn't complete successfully: exit 3");
    docker(&["inspect", &format!("{project}-app-1")]).fails();
}

#[test]
fn scale_up_and_down_and_project_name_without_a_file() {
    let project = uname("scale").replace('x', "-");
    let dir = unique_tmp_dir("scale").join("p");
    let text = |n: u32| {
        format!(
            "name: {project}\nservices:\n  worker:\n    image: {}\n    command: [\"sh\", \"-c\", \"echo up; exec sleep 100000\"]\n    stop_grace_period: 1s\n    scale: {n}\n",
            h().image
        )
    };
    write(&dir.join("compose.yaml"), &text(2));
    let _down = Down(dir.clone());
    let up = compose_in(&dir, &["up", "-d"]);
    up.ok()
        .stderr_has(&format!(" Container {project}-worker-2  Started"));
    compose_in(&dir, &["ps", "--services"])
        .ok()
        .stdout_is("worker\n");
    assert_eq!(compose_in(&dir, &["ps", "-q"]).ok().lines().len(), 2);
    // Scaling does not change the containers that stay.
    let first = inspect(&format!("{project}-worker-1"), "{{.Id}}");
    write(&dir.join("compose.yaml"), &text(1));
    let down_to_one = compose_in(&dir, &["up", "-d"]);
    down_to_one
        .ok()
        .stderr_has(&format!(" Container {project}-worker-2  Removed"));
    assert_eq!(inspect(&format!("{project}-worker-1"), "{{.Id}}"), first);
    h().run(&["inspect", &format!("{project}-worker-2")])
        .fails();
    // stop, start and restart act on the existing containers.
    let w1 = format!("{project}-worker-1");
    compose_in(&dir, &["stop"])
        .ok()
        .stderr_has(&format!(" Container {w1}  Stopped"));
    assert_eq!(inspect(&w1, "{{.State.Status}}"), "exited");
    compose_in(&dir, &["start"])
        .ok()
        .stderr_has(&format!(" Container {w1}  Started"));
    assert_eq!(inspect(&w1, "{{.State.Status}}"), "running");
    let started = inspect(&w1, "{{.State.StartedAt}}");
    compose_in(&dir, &["restart", "worker"])
        .ok()
        .stderr_has(&format!(" Container {w1}  Started"));
    assert_eq!(inspect(&w1, "{{.State.Status}}"), "running");
    assert_ne!(inspect(&w1, "{{.State.StartedAt}}"), started);
    assert_eq!(inspect(&w1, "{{.Id}}"), first);
    // Elsewhere, -p finds the project's containers without its file.
    let elsewhere = unique_tmp_dir("nofile");
    let by_name = |args: &[&str]| {
        let mut full = vec!["-H", h().host.as_str(), "compose", "-p", project.as_str()];
        full.extend_from_slice(args);
        berth_in(&elsewhere, &full, &[], None)
    };
    let ps = by_name(&["ps"]);
    assert!(
        ps.ok().stdout.contains(&format!("{project}-worker-1")),
        "{}",
        ps.stdout
    );
    // One `up` line per start (run, start, restart): the log outlives restarts.
    let three = format!("{project}-worker-1 | up\n").repeat(3);
    wait_until(
        "the third start's line",
        std::time::Duration::from_secs(20),
        || by_name(&["logs", "worker"]).stdout == three,
    );
    by_name(&["logs", "worker"]).ok().stdout_is(&three);
    by_name(&["down", "-t", "1"])
        .ok()
        .stderr_has(&format!(" Container {project}-worker-1  Removed"));
    assert_eq!(compose_in(&dir, &["ps", "-a", "-q"]).ok().out(), "");
}

#[test]
fn up_in_the_foreground_follows_output_until_exit_and_ctrl_c_stops() {
    let project = uname("fg").replace('x', "-");
    let dir = unique_tmp_dir("fg").join("p");
    let image = &h().image;
    write(
        &dir.join("compose.yaml"),
        &format!(
            "name: {project}\nservices:\n  a:\n    image: {image}\n    command: [\"sh\", \"-c\", \"echo hello from a\"]\n  b:\n    image: {image}\n    command: [\"sh\", \"-c\", \"echo hi from b; exit 2\"]\n"
        ),
    );
    let _down = Down(dir.clone());
    // One-shot services: `up` shows their output and returns once all exited.
    let o = compose_in(&dir, &["up"]);
    o.ok();
    let (a, b) = (format!("{project}-a-1"), format!("{project}-b-1"));
    for want in [
        format!("Attaching to {a}, {b}\n"),
        format!("{a} | hello from a\n"),
        format!("{b} | hi from b\n"),
        format!("{a} exited with code 0\n"),
        format!("{b} exited with code 2\n"),
    ] {
        assert!(
            o.stdout.contains(&want),
            "missing {want:?} in:\n{}",
            o.stdout
        );
    }

    // A server: Ctrl+C (SIGINT) stops it and `up` exits with 130.
    write(
        &dir.join("compose.yaml"),
        &format!(
            "name: {project}\nservices:\n  srv:\n    image: {image}\n    command: [\"sh\", \"-c\", \"echo ready; exec sleep 100000\"]\n    stop_grace_period: 1s\n"
        ),
    );
    let mut child = Command::new(berth_exe())
        .current_dir(&dir)
        .args(["-H", h().host.as_str(), "compose", "up"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn compose up");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let srv = format!("{project}-srv-1");
    let want = format!("{srv} | ready");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line == want => break,
            Ok(_) => continue,
            Err(e) => {
                let _ = child.kill();
                panic!("no {want:?} from `compose up`: {e}");
            }
        }
    }
    let pid = child.id().to_string();
    run_cmd(Path::new("kill"), &["-INT", &pid], &[], None, CMD_TIMEOUT).ok();
    let code = wait_timeout(&mut child, std::time::Duration::from_secs(60));
    assert_eq!(code, Some(130));
    assert_eq!(inspect(&srv, "{{.State.Status}}"), "exited");
}
