//! The build cache after a `kill -9` of the daemon in the middle of a build: every step that
//! finished is a usable image (its layers present), the rebuild reuses them, and nothing of the
//! interrupted step is recorded.
mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `f` every 100 ms until it is true, or panics with the daemon's log after `timeout`.
fn wait_for(d: &Daemon, what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "timed out waiting for {what}; daemon log:\n{}",
        d.log_text()
    );
}

fn write_dockerfile(dir: &std::path::Path, last_run: &str) {
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM busybox:e2e\nCOPY data.txt /data.txt\nRUN echo one > /one\nRUN {last_run}\n"),
    )
    .expect("write Dockerfile");
}

#[test]
fn daemon_kill9_during_a_build_leaves_a_consistent_cache() {
    let h = h();
    if h.berth_only("build_kill9") {
        return;
    }
    let d = Daemon::new(&unique_tmp_dir("build-kill9"));
    d.start();
    d.run(&["import", path_str(&fixture("busybox.tar")), "busybox:e2e"])
        .ok();

    let ctx = unique_tmp_dir("build-kill9-ctx");
    std::fs::write(ctx.join("data.txt"), "payload\n").expect("write data.txt");
    write_dockerfile(&ctx, "sleep 300");

    // The build runs in the background until its last RUN step is under way.
    let mut client = Command::new(berth_exe())
        .args(["-H", &d.host])
        .args(["build", "-t", "crash:1", path_str(&ctx)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn berth build");
    wait_for(
        &d,
        "the sleeping RUN step to start",
        Duration::from_secs(60),
        || {
            d.run(&["ps", "--no-trunc", "--format", "{{.Command}}"])
                .out()
                .contains("sleep 300")
        },
    );

    d.kill9();
    let _ = client.kill();
    let _ = client.wait();
    d.start();

    // The interrupted step recorded nothing: no image is tagged and no image's history ends
    // in the sleeping step.
    d.run(&["image", "inspect", "crash:1"]).fails();
    let all = d.run(&["images", "-a", "-q", "--no-trunc"]).ok().lines();
    for id in &all {
        let history = d
            .run(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", id])
            .ok()
            .out();
        assert!(
            !history.contains("sleep 300"),
            "image {id} records the interrupted step:\n{history}"
        );
    }

    // The leftover RUN container (still running under its shim, as in Docker) is removed by
    // the user; then the finished steps are reused and are complete images.
    let leftovers = d.run(&["ps", "-aq"]).ok().lines();
    let mut rm = vec!["rm", "-f"];
    rm.extend(leftovers.iter().map(String::as_str));
    if !leftovers.is_empty() {
        d.run(&rm).ok();
    }

    write_dockerfile(&ctx, "echo two > /two");
    let rebuild = d.run(&["build", "-t", "crash:1", path_str(&ctx)]);
    let out = rebuild.ok().out();
    let cached = out.matches(" ---> Using cache").count();
    assert_eq!(
        cached, 2,
        "the COPY and the first RUN should come from the cache:\n{out}"
    );
    let files = d.run(&["run", "--rm", "crash:1", "cat", "/data.txt", "/one", "/two"]);
    assert_eq!(files.ok().out(), "payload\none\ntwo", "{files:?}");
}
