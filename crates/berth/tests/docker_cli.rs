//! The real docker CLI (Debian's docker.io 20.10 client, API 1.41) against berth's socket gives
//! the same output as against the reference dockerd (`../shared/tools/docker-oracle start`), after
//! normalising IDs (runs of hex digits) and relative times ("2 seconds ago", "Up 1 second").
//!
//! Runs only in berth mode; fails when the reference dockerd is not reachable (CI starts it).
mod common;
use common::*;
use std::path::{Path, PathBuf};

fn docker_exe() -> PathBuf {
    PathBuf::from(std::env::var("BERTH_E2E_DOCKER").unwrap_or_else(|_| "/usr/bin/docker".into()))
}

fn oracle_host() -> String {
    std::env::var("BERTH_E2E_ORACLE").unwrap_or_else(|_| "unix:///run/docker-oracle.sock".into())
}

/// Runs the docker CLI against `host`.
fn docker(host: &str, args: &[&str]) -> Out {
    run_cmd(
        &docker_exe(),
        args,
        &[("DOCKER_HOST", host)],
        None,
        CMD_TIMEOUT,
    )
}

/// Replaces Docker's relative times ("Less than a second ago", "2 seconds ago", "About a minute",
/// "Up 3 seconds", "3 years ago") with `<T>`. This also hides one legitimate difference: berth
/// dates an import by its newest file (so that the same tarball gives the same image ID, as issue 2
/// requires) where dockerd dates it by the import time, so CREATED says "3 years ago" on berth and
/// "2 seconds ago" on dockerd.
fn norm_time(s: &str) -> String {
    let mut s = s.to_string();
    for p in ["Less than a second", "About a minute", "About an hour"] {
        s = s.replace(p, "<T>");
    }
    let words: Vec<&str> = s.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let unit = words
            .get(i + 1)
            .map(|u| u.trim_end_matches(|c: char| !c.is_alphabetic()));
        if !w.is_empty()
            && w.bytes().all(|b| b.is_ascii_digit())
            && matches!(
                unit,
                Some(
                    "second"
                        | "seconds"
                        | "minute"
                        | "minutes"
                        | "hour"
                        | "hours"
                        | "day"
                        | "days"
                        | "week"
                        | "weeks"
                        | "month"
                        | "months"
                        | "year"
                        | "years"
                )
            )
        {
            out.push("<T>".into());
            i += 2;
            continue;
        }
        out.push(w.to_string());
        i += 1;
    }
    out.join(" ")
}

/// A table or text output as normalised rows of cells (cells split on runs of 2+ spaces, so
/// column widths that depend on the normalised parts do not matter).
fn norm(s: &str) -> Vec<Vec<String>> {
    s.lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| norm_time(&norm_ids(c)))
                .collect()
        })
        .collect()
}

struct Pair {
    berth: String,
    oracle: String,
}

impl Pair {
    /// Runs the same docker command on both; asserts the same exit code only.
    #[track_caller]
    fn same_code(&self, args: &[&str]) -> (Out, Out) {
        let b = docker(&self.berth, args);
        let o = docker(&self.oracle, args);
        assert_eq!(
            b.code,
            o.code,
            "exit codes differ for `docker {}`:\nberth: {b:?}\ndockerd: {o:?}",
            args.join(" ")
        );
        (b, o)
    }

    /// Runs the same docker command on both; asserts same exit code and same normalised stdout
    /// and stderr. Returns (berth, oracle) outputs.
    #[track_caller]
    fn same(&self, args: &[&str]) -> (Out, Out) {
        let (b, o) = self.same_code(args);
        assert_eq!(
            norm(&b.stdout),
            norm(&o.stdout),
            "stdout differs for `docker {}`:\n--- berth ---\n{}\n--- dockerd ---\n{}",
            args.join(" "),
            b.stdout,
            o.stdout
        );
        assert_eq!(
            norm(&b.stderr),
            norm(&o.stderr),
            "stderr differs for `docker {}`:\n--- berth ---\n{}\n--- dockerd ---\n{}",
            args.join(" "),
            b.stderr,
            o.stderr
        );
        (b, o)
    }
}

#[test]
fn docker_cli_against_berth_matches_dockerd() {
    let h = h();
    if h.berth_only("docker_cli_comparison") {
        return;
    }
    let oracle = oracle_host();
    let ping = docker(&oracle, &["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(
        ping.code, 0,
        "the reference dockerd is not reachable at {oracle}: start it with `eval \"$(../shared/tools/docker-oracle start)\"` (CI does): {ping:?}"
    );
    let v = docker(&h.host, &["version", "--format", "{{.Client.APIVersion}}"]);
    assert_eq!(
        v.out(),
        "1.41",
        "the comparison needs Debian's docker.io 20.10 client: {v:?}"
    );
    let p = Pair {
        berth: h.host.clone(),
        oracle,
    };
    let img = format!("{}:v1", uname("cmp"));
    let name = uname("cmpc");
    let bb = fixture("busybox.tar");
    let dir = unique_tmp_dir("cmp");
    let cleanup = |host: &str| {
        let _ = docker(host, &["rm", "-f", &name]);
        let _ = docker(host, &["rmi", "-f", &img]);
    };
    cleanup(&p.berth);
    cleanup(&p.oracle);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // the docker CLI imports into both (docker import is not deterministic: IDs differ)
        p.same(&["import", "-c", "CMD [\"sh\"]", path_str(&bb), &img]);
        p.same(&["images", &img]);
        p.same(&["images", "-q", &img]);
        p.same(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Cmd}} {{.Os}} {{.Architecture}} {{len .RootFS.Layers}}",
            &img,
        ]);
        p.same(&["run", "--rm", "--network", "none", &img, "echo", "hi"]);
        p.same(&[
            "run",
            "--rm",
            "--network",
            "none",
            &img,
            "sh",
            "-c",
            "exit 3",
        ]);
        // the runtime's wording legitimately differs (runc vs libcontainer): compare the code,
        // the part the CLI maps to 127, and that nothing else is printed
        let (b, o) = p.same_code(&["run", "--rm", "--network", "none", &img, "nosuchcmd"]);
        b.code(127);
        for out in [&b, &o] {
            out.stderr_has("exec: \"nosuchcmd\": executable file not found in $PATH");
        }
        // The docker CLI races its own wait against the failed start and sometimes adds
        // `error waiting for container: context canceled`, against dockerd as well: that line
        // is the client's, so it is left out of the count.
        let own_lines = |s: &str| {
            s.lines()
                .filter(|l| !l.contains("error waiting for container: context canceled"))
                .count()
        };
        assert_eq!(
            own_lines(&b.stderr),
            own_lines(&o.stderr),
            "berth: {b:?}\ndockerd: {o:?}"
        );
        p.same(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &name,
            &img,
            "sh",
            "-c",
            "echo started; sleep 1000",
        ]);
        wait_logs(&p.berth, &name);
        wait_logs(&p.oracle, &name);
        p.same(&["ps", "--filter", &format!("name={name}")]);
        p.same(&["ps", "-q", "--filter", &format!("name={name}")]);
        p.same(&["logs", &name]);
        p.same(&["inspect", "-f", "{{.State.Status}} {{.State.Running}} {{json .Config.Cmd}} {{.Name}} {{.RestartCount}} {{.HostConfig.NetworkMode}}", &name]);
        p.same(&["stop", "-t", "1", &name]);
        p.same(&["ps", "-a", "--filter", &format!("name={name}")]);
        p.same(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &name,
        ]);
        p.same(&["rm", &name]);
        p.same(&["rm", &name]);
        let b_arch = dir.join("berth.tar");
        let o_arch = dir.join("dockerd.tar");
        docker(&p.berth, &["save", "-o", path_str(&b_arch), &img]).ok();
        docker(&p.oracle, &["save", "-o", path_str(&o_arch), &img]).ok();
        same_archive_shape(&b_arch, &o_arch);
        p.same(&["rmi", &img]);
        let b = docker(&p.berth, &["load", "-i", path_str(&b_arch)]);
        let o = docker(&p.oracle, &["load", "-i", path_str(&o_arch)]);
        assert_eq!(
            norm(&b.stdout),
            norm(&o.stdout),
            "load output: berth {b:?} dockerd {o:?}"
        );
        b.ok();
        p.same(&["images", &img]);
        p.same(&[
            "run",
            "--rm",
            "--network",
            "none",
            &img,
            "echo",
            "after load",
        ]);
        // each engine loads the other's archive
        p.same(&["rmi", &img]);
        let b = docker(&p.berth, &["load", "-i", path_str(&o_arch)]);
        let o = docker(&p.oracle, &["load", "-i", path_str(&b_arch)]);
        assert_eq!(
            norm(&b.stdout),
            norm(&o.stdout),
            "cross load: berth {b:?} dockerd {o:?}"
        );
        b.ok();
        p.same(&["run", "--rm", "--network", "none", &img, "echo", "cross"]);
        p.same(&["inspect", "e2e-no-such-thing"]);
        p.same(&["rmi", "e2e-no-such-thing"]);
    }));
    cleanup(&p.berth);
    cleanup(&p.oracle);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn wait_logs(host: &str, name: &str) {
    for _ in 0..100 {
        if docker(host, &["logs", name]).stdout == "started\n" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("container {name} on {host} never logged 'started'");
}

/// Both archives are docker-archives with the same entry layout (after normalising digests).
fn same_archive_shape(berth: &Path, dockerd: &Path) {
    let b = std::fs::read(berth).expect("berth archive");
    let o = std::fs::read(dockerd).expect("dockerd archive");
    let mut bn: Vec<String> = tar_names(&b).iter().map(|n| norm_ids(n)).collect();
    let mut on: Vec<String> = tar_names(&o).iter().map(|n| norm_ids(n)).collect();
    bn.sort();
    on.sort();
    assert!(
        bn.contains(&"manifest.json".to_string()),
        "berth archive lacks manifest.json: {bn:?}"
    );
    // the layer tar must be byte-identical: same diff_id
    let bm: serde_json::Value =
        serde_json::from_slice(&tar_file(&b, "manifest.json").expect("manifest")).expect("json");
    let om: serde_json::Value =
        serde_json::from_slice(&tar_file(&o, "manifest.json").expect("manifest")).expect("json");
    assert_eq!(bm[0]["RepoTags"], om[0]["RepoTags"]);
    let layers = |a: &[u8], m: &serde_json::Value| -> Vec<String> {
        m[0]["Layers"]
            .as_array()
            .expect("Layers")
            .iter()
            .map(|l| {
                let bytes = tar_file(a, l.as_str().expect("layer path")).expect("layer in archive");
                sha256_hex(&bytes)
            })
            .collect()
    };
    assert_eq!(
        layers(&b, &bm),
        layers(&o, &om),
        "saved layer contents differ (diff_ids)"
    );
}

fn sha256_hex(b: &[u8]) -> String {
    let dir = unique_tmp_dir("sha");
    let f = dir.join("x");
    std::fs::write(&f, b).expect("write");
    let o = run_cmd(
        Path::new("sha256sum"),
        &[path_str(&f)],
        &[],
        None,
        CMD_TIMEOUT,
    );
    let _ = std::fs::remove_dir_all(dir);
    o.ok()
        .out()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
