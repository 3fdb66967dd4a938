//! Loader tests on real files in temporary directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_compose::{load, to_json_string, to_yaml_string, Options, Project};

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(name: &str) -> Dir {
        let t = tempfile::Builder::new().prefix("cl").tempdir().unwrap();
        std::fs::create_dir_all(t.path().join(name)).unwrap();
        Dir(t)
    }
    fn write(&self, rel: &str, text: &str) -> &Dir {
        let p = self.0.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.path().join(rel)
    }
}

fn opts(dir: &Path) -> Options {
    Options {
        working_dir: dir.to_path_buf(),
        environment: [("HOME", "/home/u")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        ..Options::default()
    }
}

fn load_in(dir: &Path) -> Result<Project, String> {
    load(&opts(dir)).map_err(|e| e.to_string())
}

fn err_in(dir: &Path) -> String {
    load_in(dir).unwrap_err()
}

const BOOK: &str = r#"
services:
  this_jupyter:
    build: docker/jupyter
    ports: ["8888:8888"]
    volumes: [".:/home/jovyan"]
    env_file: [config/jupyter.env]
  this_postgres:
    build: docker/postgres
    volumes: ["postgres_data:/var/lib/postgresql/data"]
  this_redis:
    image: redis
    volumes: ["redis_data:/data"]
  this_worker:
    build: docker/jupyter
    volumes: [".:/home/jovyan"]
    entrypoint: ["tini", "--", "rqworker", "-u", "redis://this_redis:6379"]
volumes: {postgres_data: {}, redis_data: {}}
"#;

#[test]
fn the_book_stack() {
    let d = Dir::new("Data-Project");
    d.write("Data-Project/compose.yaml", BOOK).write(
        "Data-Project/config/jupyter.env",
        "JUPYTER_TOKEN=abc\n# c\nexport MODE=lab\n",
    );
    let p = load_in(&d.path("Data-Project")).unwrap();
    let root = d.path("Data-Project");
    assert_eq!(p.name, "data-project");
    let j = &p.services["this_jupyter"];
    assert_eq!(
        j.build.as_ref().unwrap().context,
        root.join("docker/jupyter").to_str().unwrap()
    );
    assert_eq!(j.ports[0].published.as_deref(), Some("8888"));
    assert_eq!(j.volumes[0].kind, "bind");
    assert_eq!(j.volumes[0].source.as_deref(), root.to_str());
    assert_eq!(j.environment["JUPYTER_TOKEN"].as_deref(), Some("abc"));
    assert_eq!(j.environment["MODE"].as_deref(), Some("lab"));
    assert_eq!(p.volumes["redis_data"].name, "data-project_redis_data");
    assert_eq!(p.networks["default"].name, "data-project_default");
    assert!(p.services["this_redis"].networks.contains_key("default"));
    assert_eq!(
        p.services["this_worker"].entrypoint.as_ref().unwrap()[2],
        "rqworker"
    );
}

#[test]
fn output_round_trips() {
    let d = Dir::new("p");
    d.write("p/compose.yaml", BOOK).write("p/config/jupyter.env", "A=1\n").write(
        "p/compose.override.yaml",
        "services:\n  this_redis:\n    healthcheck: {test: redis-cli ping, interval: 90s}\n    deploy: {resources: {limits: {memory: 512m, cpus: '0.5'}}}\n    command: redis-server --appendonly yes\n    labels: [a=b]\n    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}\n    stop_grace_period: 1m30s\n    shm_size: 1g\n    extra_hosts: ['h:10.0.0.1']\n    x-note: kept\nx-top: {a: 1}\n",
    );
    let p = load_in(&d.path("p")).unwrap();
    let yaml = to_yaml_string(&p);
    assert!(yaml.starts_with("name: p\nservices:\n"), "{yaml}");
    assert!(yaml.contains("interval: 1m30s"), "{yaml}");
    d.write("again/compose.yaml", &yaml);
    let again = load_in(&d.path("again")).unwrap();
    assert_eq!(to_yaml_string(&again), yaml);
    let json = to_json_string(&p);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["services"]["this_redis"]["deploy"]["resources"]["limits"]["memory"],
        512 << 20
    );
    assert_eq!(
        v["services"]["this_redis"]["command"],
        serde_json::json!(["redis-server", "--appendonly", "yes"])
    );
    assert_eq!(v["x-top"]["a"], 1);
    d.write("json/compose.json", &json);
    let mut o = opts(&d.path("json"));
    o.files = vec![PathBuf::from("compose.json")];
    assert_eq!(to_yaml_string(&load(&o).unwrap()), yaml);
}

#[test]
fn interpolation_from_env_and_dotenv() {
    let d = Dir::new("p");
    d.write("p/.env", "TAG=7\nexport PORT=5433 # comment\nPASSWORD='s3cr$t'\n").write(
        "p/compose.yaml",
        "services:\n  db:\n    image: postgres:${TAG}\n    ports: ['${PORT}:5432']\n    environment:\n      PASSWORD: $PASSWORD\n      LITERAL: $$HOME\n      FROM_ENV: ${HOME}\n      DEFAULTED: ${NOPE:-fallback}\n",
    );
    let p = load_in(&d.path("p")).unwrap();
    let db = &p.services["db"];
    assert_eq!(db.image.as_deref(), Some("postgres:7"));
    assert_eq!(db.ports[0].published.as_deref(), Some("5433"));
    assert_eq!(db.environment["PASSWORD"].as_deref(), Some("s3cr$t"));
    assert_eq!(db.environment["LITERAL"].as_deref(), Some("$HOME"));
    assert_eq!(db.environment["FROM_ENV"].as_deref(), Some("/home/u"));
    assert_eq!(db.environment["DEFAULTED"].as_deref(), Some("fallback"));
    // The process environment wins over .env; --env-file replaces .env.
    let mut o = opts(&d.path("p"));
    o.environment.insert("TAG".into(), "8".into());
    assert_eq!(
        load(&o).unwrap().services["db"].image.as_deref(),
        Some("postgres:8")
    );
    d.write("other.env", "TAG=9\nPORT=1\nPASSWORD=x\n");
    let mut o = opts(&d.path("p"));
    o.env_files = vec![d.path("other.env")];
    assert_eq!(
        load(&o).unwrap().services["db"].image.as_deref(),
        Some("postgres:9")
    );
}

#[test]
fn missing_required_variable_names_line() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "services:\n  db:\n    image: pg\n    environment:\n      PW: ${PW:?set a password}\n",
    );
    assert_eq!(
        err_in(&d.path("p")),
        "compose.yaml:5: services.db.environment.PW: required variable PW is missing a value: set a password"
    );
}

#[test]
fn interpolation_is_per_file_before_merge() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "services:\n  a:\n    image: x\n    labels: {l: '$$NOT'}\n",
    )
    .write(
        "p/compose.override.yaml",
        "services:\n  a:\n    image: y:${T:-1}\n",
    );
    let p = load_in(&d.path("p")).unwrap();
    assert_eq!(p.services["a"].labels["l"], "$NOT");
    assert_eq!(p.services["a"].image.as_deref(), Some("y:1"));
}

#[test]
fn f_files_merge_in_order_and_project_directory() {
    let d = Dir::new("p");
    d.write(
        "p/base.yaml",
        "name: Fancy.Name\nservices:\n  w:\n    image: a\n    volumes: ['./src:/src']\n",
    )
    .write("p/sub/over.yaml", "services:\n  w:\n    image: b\n");
    let mut o = opts(&d.path("p"));
    o.files = vec!["base.yaml".into(), "sub/over.yaml".into()];
    let p = load(&o).unwrap();
    assert_eq!(p.name, "fancyname");
    assert_eq!(p.services["w"].image.as_deref(), Some("b"));
    assert_eq!(
        p.services["w"].volumes[0].source.as_deref(),
        d.path("p/src").to_str()
    );
    o.project_directory = Some("sub".into());
    let p = load(&o).unwrap();
    assert_eq!(
        p.services["w"].volumes[0].source.as_deref(),
        d.path("p/sub/src").to_str()
    );
    o.project_name = Some("explicit".into());
    assert_eq!(load(&o).unwrap().name, "explicit");
    o.project_name = Some("Bad".into());
    assert!(load(&o)
        .unwrap_err()
        .to_string()
        .starts_with("invalid project name \"Bad\""));
    o.project_name = None;
    o.environment
        .insert("COMPOSE_PROJECT_NAME".into(), "fromenv".into());
    assert_eq!(load(&o).unwrap().name, "fromenv");
}

#[test]
fn stdin_file() {
    let d = Dir::new("My Dir");
    let mut o = opts(&d.path("My Dir"));
    o.files = vec!["-".into()];
    o.stdin = Some("services:\n  a:\n    image: x\n".into());
    let p = load(&o).unwrap();
    assert_eq!(p.name, "mydir");
    assert!(p.config_files.is_empty());
}

#[test]
fn project_name_that_normalises_to_nothing_is_an_error() {
    let d = Dir::new("___");
    d.write("___/compose.yaml", "services:\n  a:\n    image: x\n");
    assert!(err_in(&d.path("___")).starts_with("project name must not be empty"));
}

#[test]
fn no_file() {
    let d = Dir::new("empty");
    // Only meaningful when no parent of the temp dir has a compose file.
    if !d
        .0
        .path()
        .ancestors()
        .any(|a| berth_compose::FILE_NAMES.iter().any(|f| a.join(f).exists()))
    {
        assert_eq!(
            err_in(&d.path("empty")),
            "no configuration file provided: not found"
        );
    }
}

#[test]
fn anchors_and_extension_fields() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "x-common: &common\n  restart: unless-stopped\n  environment:\n    TZ: UTC\nservices:\n  a:\n    <<: *common\n    image: x\n  b:\n    <<: *common\n    image: y\n    restart: always\n",
    );
    let p = load_in(&d.path("p")).unwrap();
    assert_eq!(p.services["a"].restart.as_deref(), Some("unless-stopped"));
    assert_eq!(p.services["b"].restart.as_deref(), Some("always"));
    assert_eq!(p.services["b"].environment["TZ"].as_deref(), Some("UTC"));
    assert!(p.extensions.contains_key("x-common"));
}

#[test]
fn extends_same_file_and_other_file() {
    let d = Dir::new("p");
    d.write("p/common/base.yaml", "services:\n  py:\n    build: ./img\n    environment: {A: '1'}\n    volumes: ['./data:/data']\n")
        .write(
            "p/compose.yaml",
            "services:\n  base:\n    image: b\n    command: [a]\n    environment: [X=1]\n  web:\n    extends: base\n    command: [b]\n    environment: {Y: '2'}\n  nb:\n    extends: {file: common/base.yaml, service: py}\n    environment: {B: '2'}\n",
        );
    let p = load_in(&d.path("p")).unwrap();
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("b"));
    assert_eq!(web.command, Some(vec!["b".to_string()]));
    assert_eq!(web.environment.len(), 2);
    let nb = &p.services["nb"];
    assert_eq!(
        nb.build.as_ref().unwrap().context,
        d.path("p/common/img").to_str().unwrap()
    );
    assert_eq!(
        nb.volumes[0].source.as_deref(),
        d.path("p/common/data").to_str()
    );
    assert_eq!(nb.environment["A"].as_deref(), Some("1"));
    assert_eq!(nb.environment["B"].as_deref(), Some("2"));
}

#[test]
fn extends_errors() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "services:\n  a:\n    image: x\n    extends: nope\n",
    );
    assert_eq!(
        err_in(&d.path("p")),
        "compose.yaml:4: services.a.extends: service \"a\" extends undefined service \"nope\""
    );
    d.write(
        "p/compose.yaml",
        "services:\n  a:\n    image: x\n    extends: b\n  b:\n    image: y\n    extends: a\n",
    );
    assert!(err_in(&d.path("p")).contains("circular reference with extends"));
}

#[test]
fn include_brings_a_sub_project() {
    let d = Dir::new("p");
    d.write("p/db/.env", "PGTAG=16\n")
        .write("p/db/compose.yaml", "services:\n  pg:\n    image: postgres:${PGTAG}\n    volumes: ['./init:/docker-entrypoint-initdb.d', 'pgdata:/var/lib/postgresql/data']\nvolumes:\n  pgdata: {}\n")
        .write("p/compose.yaml", "include:\n  - db/compose.yaml\nservices:\n  app:\n    image: app\n    depends_on: [pg]\n");
    let p = load_in(&d.path("p")).unwrap();
    assert_eq!(p.services["pg"].image.as_deref(), Some("postgres:16"));
    assert_eq!(
        p.services["pg"].volumes[0].source.as_deref(),
        d.path("p/db/init").to_str()
    );
    assert_eq!(p.volumes["pgdata"].name, "p_pgdata");
    d.write("p/compose.yaml", "include:\n  - path: db/compose.yaml\n    project_directory: .\n    env_file: db/.env\nservices:\n  pg:\n    image: other\n");
    assert_eq!(
        err_in(&d.path("p")),
        "compose.yaml:6: services.pg: conflicts with imported resource"
    );
}

#[test]
fn profiles() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "services:\n  app: {image: a}\n  debug: {image: d, profiles: [dev]}\n  admin: {image: m, profiles: [ops, dev], depends_on: [debug]}\n",
    );
    let names = |p: &Project| p.services.keys().cloned().collect::<Vec<_>>();
    let p = load_in(&d.path("p")).unwrap();
    assert_eq!(names(&p), ["app"]);
    assert_eq!(p.all_profiles, ["dev", "ops"]);
    let mut o = opts(&d.path("p"));
    o.profiles = vec!["dev".into()];
    assert_eq!(names(&load(&o).unwrap()), ["admin", "app", "debug"]);
    let mut o = opts(&d.path("p"));
    o.environment
        .insert("COMPOSE_PROFILES".into(), "ops".into());
    let e = load(&o).unwrap_err().to_string();
    assert!(
        e.contains("depends on service \"debug\" which is disabled"),
        "{e}"
    );
    // Naming a service activates it and its dependencies.
    let mut o = opts(&d.path("p"));
    o.services = vec!["admin".into()];
    assert_eq!(names(&load(&o).unwrap()), ["admin", "debug"]);
    let mut o = opts(&d.path("p"));
    o.profiles = vec!["*".into()];
    assert_eq!(names(&load(&o).unwrap()).len(), 3);
}

#[test]
fn version_is_ignored_with_a_warning() {
    let d = Dir::new("p");
    d.write(
        "p/compose.yaml",
        "version: '3.8'\nservices:\n  a: {image: x}\n",
    );
    let p = load_in(&d.path("p")).unwrap();
    assert!(p
        .warnings
        .iter()
        .any(|w| w.contains("the attribute `version` is obsolete")));
}

#[test]
fn validation_errors_name_file_line_and_path() {
    let cases: BTreeMap<&str, &str> = [
        ("services:\n  web:\n    image: x\n    ports:\n      - 80:80:80\n", "compose.yaml:5: services.web.ports[0]: invalid port \"80:80:80\""),
        ("services:\n  web:\n    image: x\n    bogus: 1\n", "compose.yaml:4: services.web: additional property \"bogus\" is not allowed"),
        ("services:\n  web:\n    image: x\n    tty: maybe\n", "compose.yaml:4: services.web.tty: must be a boolean, not string"),
        ("services:\n  web:\n    image: x\n    ports: 80\n", "compose.yaml:4: services.web.ports: must be a list, not number"),
        ("services:\n  web:\n    image: x\n    depends_on: [db]\n", "compose.yaml:4: services.web.depends_on: service \"web\" depends on undefined service \"db\": invalid compose project"),
        ("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n    depends_on:\n      a: {condition: service_healthy}\n", "compose.yaml:4: services.a.depends_on: dependency cycle detected: a -> b -> a"),
        ("services:\n  web:\n    image: x\n    links: [db]\n", "compose.yaml:4: services.web.links[0]: service \"web\" links to undefined service \"db\": invalid compose project"),
        ("services:\n  web:\n    image: x\n    volumes_from: [db:ro]\n", "compose.yaml:4: services.web.volumes_from[0]: service \"web\" refers to undefined service \"db\" in volumes_from: invalid compose project"),
        ("services:\n  web:\n    image: x\n    network_mode: service:vpn\n", "compose.yaml:4: services.web.network_mode: service \"web\" uses the network stack of undefined service \"vpn\": invalid compose project"),
        ("services:\n  web:\n    image: x\n    volumes:\n      - data:/data\n", "compose.yaml:5: services.web.volumes[0]: service \"web\" refers to undefined volume data: invalid compose project"),
        ("services:\n  web:\n    image: x\n    networks: [front]\n", "compose.yaml:4: services.web.networks: service \"web\" refers to undefined network front: invalid compose project"),
        ("services:\n  web:\n    image: x\n    secrets: [pw]\n", "compose.yaml:4: services.web.secrets[0]: service \"web\" refers to undefined secret pw: invalid compose project"),
        ("services:\n  web:\n    image: x\n    configs:\n      - source: c\n", "compose.yaml:5: services.web.configs[0]: service \"web\" refers to undefined config c: invalid compose project"),
        ("services:\n  web:\n    restart: always\n", "compose.yaml:2: services.web: service \"web\" has neither an image nor a build context specified"),
        ("services:\n  web:\n    image: x\n    restart: sometimes\n", "compose.yaml:4: services.web.restart: invalid restart policy \"sometimes\""),
        ("services:\n  web:\n    image: x\n    stop_grace_period: 10\n", "compose.yaml:4: services.web.stop_grace_period: invalid duration \"10\""),
        ("services:\n  web:\n    image: x\n    mem_limit: lots\n", "compose.yaml:4: services.web.mem_limit: invalid size \"lots\""),
        ("services:\n  web:\n    image: x\n    depends_on:\n      db: {condition: started}\n  db: {image: y}\n", "compose.yaml:5: services.web.depends_on.db.condition: invalid condition \"started\""),
        ("services:\n  web:\n    image: x\n    volumes: ['a:b:c:d']\n", "compose.yaml:4: services.web.volumes[0]: invalid volume specification \"a:b:c:d\""),
        ("services:\n  web:\n    image: x\n    environment:\n      A: ${\n", "compose.yaml:5: services.web.environment.A: invalid interpolation format for services.web.environment.A: \"${\"; you may need to escape any $ with another $"),
        ("services:\n  web:\n    image: x\nbogus: {}\n", "compose.yaml:4: additional property \"bogus\" is not allowed"),
        ("services:\n  web:\n    image: x\n  web:\n    image: y\n", "compose.yaml:4: mapping key \"web\" already defined at line 2"),
        ("services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n", "compose.yaml:2: services.web: service \"web\" declares mutually exclusive `network_mode` and `networks`"),
        ("services:\n  web:\n    image: x\n    env_file: missing.env\n", "env file"),
        ("services:\n  web:\n    image: x\n    extends: {file: nope.yaml, service: b}\n", "compose.yaml:4: services.web.extends.file: cannot read nope.yaml: No such file or directory (os error 2)"),
        ("include:\n  - nope.yaml\nservices: {}\n", "compose.yaml:2: include[0]: cannot read nope.yaml: No such file or directory (os error 2)"),
        ("services:\n  a b:\n    image: x\n", "compose.yaml:2: services: invalid service name \"a b\": only [a-zA-Z0-9._-] are allowed"),
    ]
    .into_iter()
    .collect();
    for (text, want) in cases {
        let d = Dir::new("p");
        d.write("p/compose.yaml", text);
        let got = err_in(&d.path("p"));
        if want == "env file" {
            assert!(
                got.starts_with("compose.yaml:4: services.web.env_file: env file ")
                    && got.ends_with("missing.env not found"),
                "{got}"
            );
        } else {
            assert_eq!(got, want, "for:\n{text}");
        }
    }
}

#[test]
fn long_and_short_syntaxes_normalise() {
    let d = Dir::new("p");
    d.write("p/opt.env", "O=1\n").write(
        "p/compose.yaml",
        r#"
services:
  w:
    image: x
    env_file:
      - path: opt.env
      - path: absent.env
        required: false
    environment: [A=1, B, HOME]
    ports:
      - target: 80
        published: "8080"
        host_ip: 127.0.0.1
      - "9000-9001:90-91/udp"
    expose: [3000, "4000/udp"]
    volumes:
      - type: tmpfs
        target: /tmp
        tmpfs: {size: 64m}
      - type: volume
        source: v
        target: /v
        volume: {nocopy: true}
      - ~/src:/src:ro
    networks:
      front:
        aliases: [web]
        ipv4_address: 172.20.0.5
    depends_on:
      db:
        condition: service_healthy
        restart: true
    labels: {a: b}
    gpus: all
    devices: ["/dev/fuse"]
    secrets: [pw]
    healthcheck:
      test: ["CMD", "true"]
      interval: 5s
      retries: 3
  db:
    image: pg
    network_mode: none
volumes: {v: {external: true}}
networks: {front: {driver: bridge, name: shared}}
secrets: {pw: {file: ./pw.txt}}
"#,
    );
    let p = load_in(&d.path("p")).unwrap();
    let w = &p.services["w"];
    assert_eq!(w.environment["O"].as_deref(), Some("1"));
    assert_eq!(w.environment["B"], None);
    assert_eq!(w.environment["HOME"].as_deref(), Some("/home/u"));
    assert_eq!(w.ports.len(), 3);
    assert_eq!(w.ports[0].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        (w.ports[2].target, w.ports[2].protocol.as_str()),
        (91, "udp")
    );
    assert_eq!(w.expose, ["3000", "4000/udp"]);
    assert_eq!(w.volumes[0].tmpfs.as_ref().unwrap().size, Some(64 << 20));
    assert!(w.volumes[1].volume.as_ref().unwrap().nocopy);
    assert_eq!(w.volumes[2].source.as_deref(), Some("/home/u/src"));
    assert!(w.volumes[2].read_only);
    assert_eq!(w.networks["front"].as_ref().unwrap().aliases, ["web"]);
    assert!(w.depends_on["db"].restart);
    assert_eq!(w.gpus[0].count, Some(-1));
    assert_eq!(w.devices[0].target, "/dev/fuse");
    assert_eq!(
        w.healthcheck.as_ref().unwrap().interval.unwrap().nanos(),
        5_000_000_000
    );
    assert_eq!(p.volumes["v"].name, "v");
    assert_eq!(p.networks["front"].name, "shared");
    assert!(!p.networks.contains_key("default"));
    assert_eq!(p.secrets["pw"].file.as_deref(), d.path("p/pw.txt").to_str());
    assert_eq!(p.secrets["pw"].name, "p_pw");
}
