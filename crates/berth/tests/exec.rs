//! Interactive containers through berth's daemon, driven by the real docker CLI (its
//! hijacked-stream client is the reference) and raw HTTP: `docker exec` (user, env, workdir,
//! exit codes, stdin, TTY), `docker run -i` / `-it` (through tmux), detach keys and
//! `docker attach`, `--init`, and the exec endpoints' JSON.
//!
//! Berth mode only (the docker CLI talks to the harness's berth daemon).
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn docker_exe() -> PathBuf {
    PathBuf::from(std::env::var("BERTH_E2E_DOCKER").unwrap_or_else(|_| "/usr/bin/docker".into()))
}

/// The docker CLI against berth's daemon.
fn docker(args: &[&str]) -> Out {
    run_cmd(
        &docker_exe(),
        args,
        &[("DOCKER_HOST", h().host.as_str())],
        None,
        CMD_TIMEOUT,
    )
}

/// The docker CLI against berth's daemon with `input` on stdin.
fn docker_stdin(args: &[&str], input: &str) -> Out {
    let dir = unique_tmp_dir("stdin");
    let f = dir.join("in");
    std::fs::write(&f, input).expect("write stdin");
    run_cmd(
        &docker_exe(),
        args,
        &[("DOCKER_HOST", h().host.as_str())],
        Some(&f),
        CMD_TIMEOUT,
    )
}

fn sock() -> PathBuf {
    sock_of(&h().host)
}

/// A raw API request; returns (status, body).
fn api(method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let req = match body {
        Some(b) => format!(
            "{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ),
        None => format!("{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"),
    };
    http(&sock(), &req).expect("http request")
}

/// A detached `sleep` container named `name` (removed by the returned guard).
fn sleeper(name: &str, opts: &[&str]) -> Guard {
    let mut g = h().guard(&[]);
    g.container(name);
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[h().image.as_str(), "sleep", "300"]);
    docker(&args).ok();
    g
}

/// A tmux session running a command, removed on drop. Each session has a tmux server of its
/// own (`-L <name>`): parallel tests sharing the default server race with its exit.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(cmd: &str) -> Tmux {
        let name = uname("tmux");
        let full = format!("DOCKER_HOST={} {cmd}; echo EXITED=$?; sleep 60", h().host);
        let st = std::process::Command::new("tmux")
            .args(["-L", &name])
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "100",
                "-y",
                "30",
                &full,
            ])
            .status()
            .expect("tmux");
        assert!(st.success(), "tmux new-session failed");
        Tmux { name }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend_from_slice(keys);
        let st = std::process::Command::new("tmux")
            .args(["-L", &self.name])
            .args(&args)
            .status()
            .expect("tmux send-keys");
        assert!(st.success());
    }

    fn screen(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.name, "capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Type `line` + Enter until `want` shows on screen: input typed before
    /// a fresh `attach` is connected may not reach the container, so the
    /// line is sent again every 2 s (20 s at most).
    #[track_caller]
    fn line_until(&self, line: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.keys(&["-l", line]);
            self.keys(&["Enter"]);
            let retry = Instant::now() + Duration::from_secs(2);
            while Instant::now() < retry {
                if self.screen().contains(want) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {want:?}; screen:\n{}",
                self.screen()
            );
        }
    }

    /// Wait (up to 20 s) until the screen satisfies `f`; returns it.
    #[track_caller]
    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.name, "kill-session", "-t", &self.name])
            .status();
    }
}

/// Fail loudly when tmux is missing: the TTY tests must not pass silently.
fn require_tmux() {
    assert!(
        Path::new("/usr/bin/tmux").exists(),
        "tmux is required for the TTY tests (apt-get install tmux / scripts/install-deps.sh)"
    );
}

#[test]
fn exec_user_env_workdir_and_exit_codes() {
    if h().berth_only("exec_user_env_workdir_and_exit_codes") {
        return;
    }
    let name = uname("exec");
    let _g = sleeper(&name, &["-e", "A=1", "-e", "KEEP=k"]);
    docker(&["exec", &name, "sh", "-c", "echo $A $KEEP; id -u; pwd"])
        .ok()
        .stdout_is("1 k\n0\n/\n");
    docker(&[
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "A=2",
        "-e",
        "B=3",
        &name,
        "sh",
        "-c",
        "id -u; pwd; echo $A $B $KEEP",
    ])
    .ok()
    .stdout_is("65534\n/tmp\n2 3 k\n");
    docker(&["exec", &name, "sh", "-c", "echo out; echo err >&2; exit 3"])
        .code(3)
        .stdout_is("out\n")
        .stderr_has("err");
    // dockerd writes the start error into the stream (as stdout).
    docker(&["exec", &name, "nosuch"])
        .code(126)
        .stdout_has("OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH: unknown");
    docker(&["exec", "-w", "/nonexistent", &name, "true"])
        .code(126)
        .stdout_has("chdir to cwd (\"/nonexistent\")");
    docker_stdin(
        &["exec", "-i", &name, "sh", "-c", "cat; echo end"],
        "a\nb\n",
    )
    .ok()
    .stdout_is("a\nb\nend\n");
    docker(&["exec", "-t", &name, "tty"])
        .ok()
        .stdout_has("/dev/pts/");
    // Detached: runs on after the call returns.
    docker(&[
        "exec",
        "-d",
        &name,
        "sh",
        "-c",
        "sleep 0.2; touch /tmp/done",
    ])
    .ok();
    h().wait_until("detached exec", Duration::from_secs(10), || {
        docker(&["exec", &name, "test", "-e", "/tmp/done"]).code == 0
    });
}

#[test]
fn exec_endpoints_answer_like_dockerd() {
    if h().berth_only("exec_endpoints_answer_like_dockerd") {
        return;
    }
    let name = uname("execapi");
    let _g = sleeper(&name, &[]);
    let id = h().inspect_f(&name, "{{.Id}}");
    let (st, body) = api(
        "POST",
        &format!("/v1.41/containers/{name}/exec"),
        Some(r#"{"Cmd":["sh","-c","echo hi; exit 3"],"AttachStdout":true,"User":"nobody"}"#),
    );
    assert_eq!(st, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let exec_id = v["Id"].as_str().expect("Id").to_string();
    assert!(is_full_id(&exec_id), "{exec_id}");
    let (st, body) = api("GET", &format!("/v1.41/exec/{exec_id}/json"), None);
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["Running"], false);
    assert!(v["ExitCode"].is_null());
    assert_eq!(v["ProcessConfig"]["entrypoint"], "sh");
    assert_eq!(v["ProcessConfig"]["arguments"][1], "echo hi; exit 3");
    assert_eq!(v["ProcessConfig"]["user"], "nobody");
    assert_eq!(v["OpenStdout"], true);
    assert_eq!(v["OpenStdin"], false);
    assert_eq!(v["ContainerID"], id.as_str());
    assert_eq!(v["Pid"], 0);
    // Detached start: 200, then the exit code shows in inspect.
    let (st, body) = api(
        "POST",
        &format!("/v1.41/exec/{exec_id}/start"),
        Some(r#"{"Detach":true}"#),
    );
    assert_eq!(st, 200, "{body}");
    h().wait_until("exec exit code", Duration::from_secs(10), || {
        let (_, b) = api("GET", &format!("/v1.41/exec/{exec_id}/json"), None);
        b.contains("\"ExitCode\":3")
    });
    let (st, body) = api(
        "POST",
        &format!("/v1.41/exec/{exec_id}/start"),
        Some(r#"{"Detach":true}"#),
    );
    assert_eq!(st, 409, "{body}");
    assert!(body.contains(&format!("Exec command {exec_id} has already run")));
    // A running exec is listed in the container's ExecIDs (null otherwise).
    assert_eq!(h().inspect_f(&name, "{{json .ExecIDs}}"), "null");
    let (st, body) = api(
        "POST",
        &format!("/v1.41/containers/{name}/exec"),
        Some(r#"{"Cmd":["sleep","30"]}"#),
    );
    assert_eq!(st, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let long_id = v["Id"].as_str().expect("Id").to_string();
    let (st, _) = api(
        "POST",
        &format!("/v1.41/exec/{long_id}/start"),
        Some(r#"{"Detach":true}"#),
    );
    assert_eq!(st, 200);
    assert_eq!(
        h().inspect_f(&name, "{{json .ExecIDs}}"),
        format!("[\"{long_id}\"]")
    );
    let (_, body) = api("GET", &format!("/v1.41/exec/{long_id}/json"), None);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["Running"], true);
    assert!(v["Pid"].as_i64().unwrap_or(0) > 0, "{body}");
    // Resize values are checked as dockerd checks them.
    let (st, body) = api(
        "POST",
        &format!("/v1.41/containers/{name}/resize?h=a&w=10"),
        None,
    );
    assert_eq!(
        (st, body.trim()),
        (
            400,
            r#"{"message":"strconv.Atoi: parsing \"a\": invalid syntax"}"#
        )
    );
    let (st, body) = api("GET", "/v1.41/exec/nosuch/json", None);
    assert_eq!(
        (st, body.trim()),
        (404, r#"{"message":"No such exec instance: nosuch"}"#)
    );
    let (st, body) = api(
        "POST",
        &format!("/v1.41/containers/{name}/exec"),
        Some("{}"),
    );
    assert_eq!(
        (st, body.trim()),
        (400, r#"{"message":"No exec command specified"}"#)
    );
    let (st, _) = api(
        "POST",
        "/v1.41/containers/e2e-nosuch-container/exec",
        Some(r#"{"Cmd":["true"]}"#),
    );
    assert_eq!(st, 404);
    // Not running: dockerd's 409.
    let stopped = uname("execstopped");
    let mut g = h().guard(&[]);
    g.container(&stopped);
    docker(&["create", "--name", &stopped, &h().image, "true"]).ok();
    let sid = h().inspect_f(&stopped, "{{.Id}}");
    let (st, body) = api(
        "POST",
        &format!("/v1.41/containers/{stopped}/exec"),
        Some(r#"{"Cmd":["true"]}"#),
    );
    assert_eq!(st, 409);
    assert_eq!(
        body.trim(),
        format!(r#"{{"message":"Container {sid} is not running"}}"#)
    );
}

#[test]
fn run_i_pipes_stdin_and_closes_it() {
    if h().berth_only("run_i_pipes_stdin_and_closes_it") {
        return;
    }
    docker_stdin(&["run", "-i", "--rm", &h().image, "cat"], "hi\n")
        .ok()
        .stdout_is("hi\n");
    docker_stdin(
        &[
            "run",
            "-i",
            "--rm",
            &h().image,
            "sh",
            "-c",
            "read x; echo got=$x; exit 4",
        ],
        "line\n",
    )
    .code(4)
    .stdout_is("got=line\n");
    // Without -i the container's stdin is empty.
    docker_stdin(&["run", "--rm", &h().image, "cat"], "ignored\n")
        .ok()
        .stdout_is("");
}

#[test]
fn run_it_prompt_echo_and_ctrl_d() {
    if h().berth_only("run_it_prompt_echo_and_ctrl_d") {
        return;
    }
    require_tmux();
    let name = uname("runit");
    let mut g = h().guard(&[]);
    g.container(&name);
    let t = Tmux::start(&format!("docker run -it --name {name} {} sh", h().image));
    t.wait_for("prompt", |s| s.contains("/ #"));
    t.keys(&["echo hi-$((6*7)); stty size", "Enter"]);
    t.wait_for("echo output", |s| {
        s.contains("hi-42") && s.contains("30 100")
    });
    t.keys(&["C-d"]);
    t.wait_for("exit", |s| s.contains("EXITED=0"));
    assert_eq!(h().inspect_f(&name, "{{.State.Status}}"), "exited");
}

#[test]
fn detach_keys_then_attach() {
    if h().berth_only("detach_keys_then_attach") {
        return;
    }
    require_tmux();
    let name = uname("detach");
    let mut g = h().guard(&[]);
    g.container(&name);
    let t = Tmux::start(&format!("docker run -it --name {name} {} sh", h().image));
    t.wait_for("prompt", |s| s.contains("/ #"));
    t.keys(&["echo one", "Enter"]);
    t.wait_for("echo", |s| s.contains("\none"));
    t.keys(&["C-p", "C-q"]);
    t.wait_for("detach", |s| s.contains("EXITED=0"));
    assert_eq!(h().inspect_f(&name, "{{.State.Status}}"), "running");
    drop(t);
    let t = Tmux::start(&format!("docker attach {name}"));
    // The shell does not redraw its prompt by itself: type a command.
    t.line_until("echo two-$((1+1))", "two-2");
    t.keys(&["exit 5", "Enter"]);
    t.wait_for("exit", |s| s.contains("EXITED=5"));
    assert_eq!(h().inspect_f(&name, "{{.State.ExitCode}}"), "5");
}

#[test]
fn exec_it_through_tmux() {
    if h().berth_only("exec_it_through_tmux") {
        return;
    }
    require_tmux();
    let name = uname("execit");
    let _g = sleeper(&name, &[]);
    let t = Tmux::start(&format!("docker exec -it {name} sh"));
    t.wait_for("prompt", |s| s.contains("/ #"));
    t.keys(&["echo in-$((2*21)); tty; stty size", "Enter"]);
    t.wait_for("output", |s| {
        s.contains("in-42") && s.contains("/dev/pts/") && s.contains("30 100")
    });
    t.keys(&["exit 6", "Enter"]);
    t.wait_for("exit", |s| s.contains("EXITED=6"));
    // The container goes on.
    assert_eq!(h().inspect_f(&name, "{{.State.Status}}"), "running");
}

#[test]
fn attach_before_start_gets_all_output() {
    if h().berth_only("attach_before_start_gets_all_output") {
        return;
    }
    let name = uname("startai");
    let mut g = h().guard(&[]);
    g.container(&name);
    docker(&[
        "create",
        "-i",
        "--name",
        &name,
        &h().image,
        "sh",
        "-c",
        "echo first; read x; echo got=$x",
    ])
    .ok();
    docker_stdin(&["start", "-ai", &name], "abc\n")
        .ok()
        .stdout_is("first\ngot=abc\n");
    // Resize of a container without a TTY is accepted; of a missing one, 404.
    let (st, _) = api(
        "POST",
        "/v1.41/containers/e2e-nosuch/resize?h=10&w=10",
        None,
    );
    assert_eq!(st, 404);
}

/// Whether a static init binary is installed for `--init` (see the engine's `init` module).
fn init_available() -> bool {
    [
        "/usr/libexec/berth/berth-init",
        "/usr/libexec/docker/docker-init",
        "/usr/sbin/docker-init",
        "/usr/bin/docker-init",
        "/usr/bin/tini-static",
    ]
    .iter()
    .any(|p| Path::new(p).is_file())
        || berth_exe().with_file_name("berth-init").is_file()
}

#[test]
fn init_forwards_stop_signal() {
    if h().berth_only("init_forwards_stop_signal") {
        return;
    }
    assert!(
        init_available(),
        "no static init installed (apt-get install tini provides /usr/bin/tini-static)"
    );
    let name = uname("init");
    let _g = sleeper(&name, &["--init"]);
    docker(&["exec", &name, "cat", "/proc/1/cmdline"])
        .ok()
        .stdout_is("/sbin/docker-init\0--\0sleep\x00300\0");
    assert_eq!(h().inspect_f(&name, "{{.HostConfig.Init}}"), "true");
    // sleep as PID 1 ignores SIGTERM (137 after the grace period); under the
    // init, the forwarded SIGTERM kills it: 143.
    docker(&["stop", "-t", "20", &name]).ok();
    assert_eq!(h().inspect_f(&name, "{{.State.ExitCode}}"), "143");
    let plain = uname("noinit");
    let _g2 = sleeper(&plain, &[]);
    docker(&["stop", "-t", "1", &plain]).ok();
    assert_eq!(h().inspect_f(&plain, "{{.State.ExitCode}}"), "137");
}
