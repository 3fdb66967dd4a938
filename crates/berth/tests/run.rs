//! `run`: exit codes, output, and the run flags of issue 2.
mod common;
use common::*;
use std::time::Duration;

#[test]
fn run_rm_echo_prints_output() {
    let h = h();
    h.run(&["run", "--rm", &h.image, "echo", "hi"])
        .ok()
        .stdout_is("hi\n");
}

#[test]
fn run_rm_exit_code_is_the_containers() {
    let h = h();
    h.run(&["run", "--rm", &h.image, "sh", "-c", "exit 3"])
        .code(3);
    h.run(&["run", "--rm", &h.image, "sh", "-c", "exit 255"])
        .code(255);
    // stderr of the container reaches the CLI's stderr
    let o = h.run(&[
        "run",
        "--rm",
        &h.image,
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    o.ok().stdout_is("out\n").stderr_has("err\n");
}

#[test]
fn run_missing_command_is_127() {
    let h = h();
    h.run(&["run", "--rm", &h.image, "nosuchcmd"])
        .code(127)
        .stderr_has("executable file not found");
}

#[test]
fn run_non_executable_is_126() {
    let h = h();
    h.run(&["run", "--rm", &h.image, "/etc/passwd"])
        .code(126)
        .stderr_has("permission denied");
}

#[test]
fn run_unknown_image_is_125_with_dockers_message() {
    let h = h();
    h.run(&["run", "--rm", "e2e-no-such-image:v1", "true"])
        .code(125)
        .stderr_has("Unable to find image 'e2e-no-such-image:v1' locally");
}

#[test]
fn run_unknown_flag_is_125() {
    let h = h();
    h.run(&["run", "--rm", "--bogus-flag", &h.image, "true"])
        .code(125)
        .stderr_has("unknown flag: --bogus-flag");
}

#[test]
fn run_rm_leaves_no_container() {
    let h = h();
    let name = uname("rmgone");
    let _g = h.guard(&[&name]);
    h.run(&["run", "--rm", "--name", &name, &h.image, "true"])
        .ok();
    // --rm removal may finish just after the CLI returns: allow a moment
    h.wait_until(
        "container removed after --rm",
        Duration::from_secs(10),
        || {
            h.run(&["ps", "-aq", "--filter", &format!("name=^/{name}$")])
                .ok()
                .out()
                .is_empty()
        },
    );
    h.run(&["inspect", &name]).code(1).stderr_has("No such");
}

#[test]
fn run_hostname_defaults_to_short_id_and_h_sets_it() {
    let h = h();
    let name = uname("host");
    let _g = h.guard(&[&name]);
    let id = h.run_d(&name, &[], &["sleep", "100"]).ok().out();
    assert!(is_full_id(&id), "run -d printed {id:?}");
    let o = h.run(&["run", "--rm", &h.image, "hostname"]);
    let hn = o.ok().out();
    assert_eq!(hn.len(), 12, "hostname {hn:?} is not a 12-char short id");
    assert!(hn.bytes().all(|b| b.is_ascii_hexdigit()), "hostname {hn:?}");
    // the hostname of a named container is its own short id
    assert_eq!(h.inspect_f(&name, "{{.Config.Hostname}}"), id[..12]);
    h.run(&["run", "--rm", "-h", "jupyter-1", &h.image, "hostname"])
        .ok()
        .stdout_is("jupyter-1\n");
    h.run(&[
        "run",
        "--rm",
        "-h",
        "jupyter-1",
        &h.image,
        "cat",
        "/etc/hostname",
    ])
    .ok()
    .stdout_is("jupyter-1\n");
    h.run(&[
        "run",
        "--rm",
        "--hostname",
        "nb",
        &h.image,
        "sh",
        "-c",
        "echo $HOSTNAME",
    ])
    .ok()
    .stdout_is("nb\n");
}

#[test]
fn run_env_and_env_file() {
    let h = h();
    h.run(&[
        "run",
        "--rm",
        "-e",
        "FOO=bar baz",
        "--env",
        "EMPTY=",
        &h.image,
        "sh",
        "-c",
        "echo \"$FOO|$EMPTY|$PATH\"",
    ])
    .ok()
    .stdout_is("bar baz||/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    let dir = unique_tmp_dir("envfile");
    let f = dir.join("env.list");
    std::fs::write(&f, "# a comment\nA=1\nB=\"quoted\"\n\nC=x=y\n").expect("write env file");
    h.run(&[
        "run",
        "--rm",
        "--env-file",
        path_str(&f),
        "-e",
        "A=override",
        &h.image,
        "sh",
        "-c",
        "echo \"$A|$B|$C\"",
    ])
    .ok()
    .stdout_is("override|\"quoted\"|x=y\n");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn run_workdir_and_user() {
    let h = h();
    h.run(&["run", "--rm", "-w", "/tmp", &h.image, "pwd"])
        .ok()
        .stdout_is("/tmp\n");
    // a missing workdir is created, as docker does
    h.run(&["run", "--rm", "-w", "/new/dir", &h.image, "pwd"])
        .ok()
        .stdout_is("/new/dir\n");
    h.run(&["run", "--rm", "-u", "1000", &h.image, "id", "-u"])
        .ok()
        .stdout_is("1000\n");
    h.run(&[
        "run",
        "--rm",
        "-u",
        "jovyan",
        &h.image,
        "sh",
        "-c",
        "id -un; echo $HOME",
    ])
    .ok()
    .stdout_is("jovyan\n/home/jovyan\n");
    h.run(&[
        "run",
        "--rm",
        "-u",
        "1000:1000",
        &h.image,
        "sh",
        "-c",
        "id -u; id -g",
    ])
    .ok()
    .stdout_is("1000\n1000\n");
    h.run(&["run", "--rm", &h.image, "id", "-u"])
        .ok()
        .stdout_is("0\n");
    h.run(&["run", "--rm", "-u", "nosuchuser", &h.image, "true"])
        .fails()
        .stderr_has("unable to find user nosuchuser");
}

#[test]
fn run_entrypoint_and_trailing_command() {
    let h = h();
    let img = uname("ep").to_lowercase();
    let mut g = h.guard(&[]);
    g.image(&img);
    let bb = fixture("busybox.tar");
    h.run(&[
        "import",
        "-c",
        "ENTRYPOINT [\"echo\", \"ep\"]",
        "-c",
        "CMD [\"default-cmd\"]",
        path_str(&bb),
        &img,
    ])
    .ok();
    h.run(&["run", "--rm", &img])
        .ok()
        .stdout_is("ep default-cmd\n");
    // a trailing command replaces CMD and keeps ENTRYPOINT
    h.run(&["run", "--rm", &img, "a", "b"])
        .ok()
        .stdout_is("ep a b\n");
    // --entrypoint replaces the entrypoint (and drops the image CMD)
    h.run(&[
        "run",
        "--rm",
        "--entrypoint",
        "hostname",
        "-h",
        "epbox",
        &img,
    ])
    .ok()
    .stdout_is("epbox\n");
    h.run(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        &img,
        "-c",
        "echo via sh",
    ])
    .ok()
    .stdout_is("via sh\n");
}

#[test]
fn run_read_only_rootfs() {
    let h = h();
    h.run(&["run", "--rm", "--read-only", &h.image, "touch", "/x"])
        .code(1)
        .stderr_has("Read-only file system");
    // /tmp is not special for docker either: also read-only
    h.run(&["run", "--rm", "--read-only", &h.image, "touch", "/tmp/x"])
        .code(1);
    // /dev/shm stays writable
    h.run(&[
        "run",
        "--rm",
        "--read-only",
        &h.image,
        "touch",
        "/dev/shm/x",
    ])
    .ok();
    h.run(&["run", "--rm", &h.image, "touch", "/x"]).ok();
}

#[test]
fn run_network_none_has_only_lo() {
    let h = h();
    let o = h.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        &h.image,
        "ls",
        "/sys/class/net",
    ]);
    o.ok().stdout_is("lo\n");
    // lo is up
    h.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        &h.image,
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "127.0.0.1",
    ])
    .ok();
}

#[test]
fn run_network_host_sees_host_interfaces() {
    let h = h();
    // veth* come and go with other containers (other tests, other engines): compare the rest
    let host_ifs: Vec<String> = std::fs::read_dir("/sys/class/net")
        .expect("read /sys/class/net")
        .map(|e| {
            e.expect("dirent")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| !n.starts_with("veth"))
        .collect();
    assert!(host_ifs.len() > 1, "the host has only lo? {host_ifs:?}");
    let o = h.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        &h.image,
        "ls",
        "/sys/class/net",
    ]);
    let seen = o.ok().lines();
    for i in &host_ifs {
        assert!(
            seen.contains(i),
            "container on the host network lacks host interface {i}: {seen:?}"
        );
    }
    // and the host's hostname
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    h.run(&["run", "--rm", "--network", "host", &h.image, "hostname"])
        .ok()
        .stdout_is(&host_name);
}

#[test]
fn run_network_unknown_is_an_error() {
    let h = h();
    h.run(&[
        "run",
        "--rm",
        "--network",
        "e2e-no-such-net",
        &h.image,
        "true",
    ])
    .code(125)
    .stderr_has("network e2e-no-such-net not found");
}

#[test]
fn run_restart_with_rm_conflicts() {
    let h = h();
    h.run(&["run", "--rm", "--restart", "always", &h.image, "true"])
        .code(125)
        .stderr_has("Conflicting options: --restart and --rm");
}

#[test]
fn run_labels_are_visible_in_inspect() {
    let h = h();
    let name = uname("label");
    let _g = h.guard(&[&name]);
    h.run(&[
        "run",
        "--name",
        &name,
        "-l",
        "project=thesis",
        "--label",
        "owner=ada",
        &h.image,
        "true",
    ])
    .ok();
    assert_eq!(
        h.inspect_f(&name, "{{index .Config.Labels \"project\"}}"),
        "thesis"
    );
    assert_eq!(
        h.inspect_f(&name, "{{index .Config.Labels \"owner\"}}"),
        "ada"
    );
    let o = h.run(&[
        "ps",
        "-a",
        "--filter",
        "label=project=thesis",
        "--format",
        "{{.Names}}",
    ]);
    assert!(
        o.ok().lines().contains(&name),
        "ps --filter label= lacks {name}: {}",
        o.stdout
    );
}

#[test]
fn run_sandbox_looks_like_dockers() {
    let h = h();
    // Docker's default capability set: 0x00000000a80425fb
    h.run(&[
        "run",
        "--rm",
        &h.image,
        "sh",
        "-c",
        "grep CapEff /proc/self/status",
    ])
    .ok()
    .stdout_is("CapEff:\t00000000a80425fb\n");
    // masked /proc paths read as empty (/proc/timer_list is not empty on the host)
    let host = std::fs::read("/proc/timer_list")
        .map(|b| b.len())
        .unwrap_or(0);
    assert!(
        host > 0,
        "host /proc/timer_list is empty: pick another masked path for this test"
    );
    h.run(&[
        "run",
        "--rm",
        &h.image,
        "sh",
        "-c",
        "wc -c < /proc/timer_list",
    ])
    .ok()
    .stdout_is("0\n");
    // /proc/sys is read-only
    h.run(&[
        "run",
        "--rm",
        &h.image,
        "sh",
        "-c",
        "echo 1 > /proc/sys/kernel/domainname",
    ])
    .fails();
    // pid namespace: the command is pid 1
    h.run(&["run", "--rm", &h.image, "sh", "-c", "echo $$"])
        .ok()
        .stdout_is("1\n");
    // /dev/shm is a 64 MB tmpfs
    h.run(&[
        "run",
        "--rm",
        &h.image,
        "sh",
        "-c",
        "df -k /dev/shm | tail -1 | awk '{print $2}'",
    ])
    .ok()
    .stdout_is("65536\n");
    // mount is refused (no CAP_SYS_ADMIN, seccomp)
    h.run(&["run", "--rm", &h.image, "mount", "-t", "tmpfs", "t", "/mnt"])
        .fails();
}

#[test]
fn run_etc_files_are_the_containers() {
    let h = h();
    let o = h.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        &h.image,
        "sh",
        "-c",
        "cat /etc/hostname; cat /etc/hosts",
    ]);
    let out = o.ok().stdout.clone();
    let hostname = out.lines().next().unwrap_or_default().to_string();
    assert_eq!(
        hostname.len(),
        12,
        "/etc/hostname should hold the short id: {out}"
    );
    assert!(
        out.contains("127.0.0.1\tlocalhost"),
        "/etc/hosts lacks localhost: {out}"
    );
    // each container gets its own copies: writing one does not leak into the next container
    h.run(&[
        "run",
        "--rm",
        &h.image,
        "sh",
        "-c",
        "echo 10.9.9.9 leak >> /etc/hosts",
    ])
    .ok();
    let o = h.run(&["run", "--rm", &h.image, "cat", "/etc/hosts"]);
    assert!(
        !o.ok().stdout.contains("leak"),
        "/etc/hosts leaked between containers: {}",
        o.stdout
    );
}
