//! The container sandbox: a non-privileged container cannot change its own cgroup limits, and
//! what a process sees of its sandbox (every line of `/proc/self/mountinfo` with its options,
//! capabilities, seccomp and no_new_privs, `/dev`, rlimits, network sysctls, masked and
//! read-only paths) is what dockerd 20.10 gives it, except for the differences documented in
//! [`KNOWN_DIFFERENCES`].
mod common;
use common::*;
use std::time::Duration;

/// Writes a new value into every limit file of the container's cgroups that exists (v1 and
/// v2 names), then prints `TRIED n`, one `WROTE file` line per write that went through, and
/// the memory limit as the container reads it afterwards.
const RAISE_LIMITS: &str = r#"
tried=0
try() { f=/sys/fs/cgroup/$1; [ -e "$f" ] || return 0; tried=$((tried+1));
  if echo "$2" > "$f" 2>/dev/null; then echo "WROTE $1"; fi; }
try memory/memory.memsw.limit_in_bytes 2147483648
try memory/memory.limit_in_bytes 2147483648
try memory/memory.soft_limit_in_bytes 2147483648
try cpu/cpu.cfs_quota_us -1
try cpu/cpu.shares 4096
try cpu,cpuacct/cpu.cfs_quota_us -1
try pids/pids.max max
try cpuset/cpuset.cpus 0-1
try blkio/blkio.weight 1000
try blkio/blkio.throttle.read_bps_device "254:0 0"
try memory.max max
try memory.swap.max max
try cpu.max max
try cpu.weight 10000
try pids.max max
try cpuset.cpus 0-1
try io.max "254:0 rbps=max"
mount -o remount,rw /sys/fs/cgroup/memory 2>/dev/null && echo "WROTE remount"
mount -o remount,rw /sys/fs/cgroup 2>/dev/null && mkdir /sys/fs/cgroup/x 2>/dev/null && echo "WROTE mkdir"
echo "TRIED $tried"
for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do
  [ -e $f ] && cat $f; done; true
"#;

#[test]
fn cgroup_limits_cannot_be_changed_from_inside() {
    let h = h();
    let out = h.run(&[
        "run",
        "--rm",
        "-m",
        "64m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "64",
        "--cpuset-cpus",
        "0",
        &h.image,
        "sh",
        "-c",
        RAISE_LIMITS,
    ]);
    out.ok();
    let wrote: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("WROTE"))
        .collect();
    assert!(
        wrote.is_empty(),
        "the container changed its limits: {wrote:?}\n{}",
        out.stdout
    );
    let tried: u32 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("TRIED "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no TRIED line in {:?}", out.stdout));
    // memory, memory+swap or swap, cpu quota, cpu weight, pids, cpuset at the least.
    assert!(
        tried >= 5,
        "only {tried} limit files were visible:\n{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.lines().last().map(str::trim),
        Some("67108864"),
        "memory limit after the attempts:\n{}",
        out.stdout
    );
}

/// Prints the sandbox as the container's process sees it, section by section.
const PROBE: &str = r###"
echo "## mountinfo"; cat /proc/self/mountinfo
echo "## status"; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status
echo "## dev"; for f in /dev/* /dev/pts/* /dev/shm/* /dev/mqueue/*; do
  [ -e "$f" ] && stat -c '%n %F %a %u:%g %t,%T' "$f"; done
echo "## ulimit"; ulimit -a
echo "## sysctl"; for f in net/ipv4/ip_unprivileged_port_start net/ipv4/ping_group_range \
  net/ipv4/ip_forward kernel/shmmax; do echo "$f=$(cat /proc/sys/$f)"; done
echo "## masked"; for p in /proc/asound /proc/acpi /proc/kcore /proc/keys /proc/latency_stats \
  /proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware; do
  if [ -e $p ]; then echo "$p $(ls -A $p 2>/dev/null | wc -l) $(head -c 64 $p 2>/dev/null | wc -c)";
  else echo "$p absent"; fi; done
echo "## readonly"; for p in /proc/bus /proc/fs /proc/irq /proc/sys /sys /sys/fs/cgroup/memory; do
  if touch $p/x 2>/dev/null; then echo "$p writable"; else echo "$p ro"; fi; done
for p in /proc/sysrq-trigger /proc/sys/kernel/hostname; do
  if echo x 2>/dev/null > $p; then echo "$p writable"; else echo "$p ro"; fi; done
echo "## id"; id
"###;

/// Differences between dockerd's and berth's sandbox on a cgroup v1/hybrid host, after
/// normalisation (see [`normalise`]): (what dockerd shows, what berth shows, why).
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[(
    "/ /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro",
    "/ /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs rw",
    "libcontainer makes /sys read-only per mount (the `ro` before ` - `), runc also marks \
     the superblock read-only; a write fails the same way in both",
)];

/// Mount IDs, device numbers, container IDs, data roots and the cgroup parent differ by
/// nature; optional propagation fields depend on the daemon's data root mount; overlay
/// superblock options name each engine's own layer paths.
fn normalise(section: &str, line: &str) -> String {
    let hex64 = |s: &str| {
        s.split('/')
            .map(|c| {
                if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) {
                    "ID"
                } else {
                    c
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    match section {
        "mountinfo" => {
            let Some((left, right)) = line.split_once(" - ") else {
                return line.to_string();
            };
            let f: Vec<&str> = left.split(' ').collect();
            if f.len() < 6 {
                return line.to_string();
            }
            let mut root = hex64(f[3]);
            for parent in ["/docker/", "/berth/"] {
                if let Some(rest) = root.strip_prefix(parent) {
                    root = format!("/PARENT/{rest}");
                }
            }
            if root.ends_with("/resolv.conf")
                || root.ends_with("/hosts")
                || root.ends_with("/hostname")
            {
                root = format!("DATA/{}", root.rsplit('/').next().unwrap_or_default());
            }
            let mut r: Vec<&str> = right.split(' ').collect();
            if r.first() == Some(&"overlay") && r.len() == 3 {
                r[2] = "LAYERS";
            }
            format!("{root} {} {} - {}", f[4], f[5], r.join(" "))
        }
        "sysctl" if line.starts_with("kernel/hostname") => "kernel/hostname=ID".into(),
        _ => line.to_string(),
    }
}

/// The probe's output as (section, normalised line) pairs.
fn sections(out: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut v = Vec::new();
    for line in out.lines() {
        if let Some(s) = line.strip_prefix("## ") {
            section = s.to_string();
            continue;
        }
        v.push((section.clone(), normalise(&section, line)));
    }
    v
}

fn oracle_host() -> String {
    std::env::var("BERTH_E2E_ORACLE").unwrap_or_else(|_| "unix:///run/docker-oracle.sock".into())
}

/// The berth CLI against `host` (berth's daemon or the reference dockerd).
fn cli_on(host: &str, args: &[&str]) -> Out {
    let mut full = vec!["-H", host];
    full.extend_from_slice(args);
    run_cmd(&berth_exe(), &full, &[], None, CMD_TIMEOUT)
}

#[test]
fn sandbox_matches_dockerd() {
    let h = h();
    if h.mode == Mode::Docker {
        eprintln!("sandbox_matches_dockerd: compares berth with dockerd; skipped in docker mode");
        return;
    }
    let oracle = oracle_host();
    let image = "berth-e2e-sandbox/busybox:1";
    cli_on(
        &oracle,
        &["import", path_str(&fixture("busybox.tar")), image],
    )
    .ok();
    let probe = |host: &str| {
        let out = cli_on(host, &["run", "--rm", image, "sh", "-c", PROBE]);
        out.ok();
        out.stdout
    };
    h.run(&["import", path_str(&fixture("busybox.tar")), image])
        .ok();
    let theirs = sections(&probe(&oracle));
    let ours = sections(&probe(&h.host));
    let _ = cli_on(&oracle, &["rmi", image]);
    let _ = h.run(&["rmi", image]);

    for s in [
        "mountinfo",
        "status",
        "dev",
        "ulimit",
        "sysctl",
        "masked",
        "readonly",
        "id",
    ] {
        let d: Vec<&String> = theirs
            .iter()
            .filter(|(k, _)| k == s)
            .map(|(_, l)| l)
            .collect();
        let b: Vec<&String> = ours
            .iter()
            .filter(|(k, _)| k == s)
            .map(|(_, l)| l)
            .collect();
        assert!(!d.is_empty(), "dockerd printed no {s} section");
        assert_eq!(
            d.len(),
            b.len(),
            "{s}: dockerd has {} lines, berth {}:\n{d:#?}\n{b:#?}",
            d.len(),
            b.len()
        );
        for (dl, bl) in d.iter().zip(&b) {
            if dl == bl {
                continue;
            }
            assert!(
                KNOWN_DIFFERENCES
                    .iter()
                    .any(|(kd, kb, _)| kd == dl && kb == bl),
                "{s} differs from dockerd:\n  dockerd: {dl}\n  berth:   {bl}"
            );
        }
    }
    // The cgroup hierarchies are there, each read-only.
    let cgroup_lines: Vec<&String> = ours
        .iter()
        .filter(|(k, l)| k == "mountinfo" && l.contains(" /sys/fs/cgroup/"))
        .map(|(_, l)| l)
        .collect();
    assert!(
        !cgroup_lines.is_empty()
            || std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
    );
    for l in cgroup_lines {
        assert!(
            l.split(' ').nth(2).is_some_and(|o| o.starts_with("ro,")),
            "{l}"
        );
    }
}

/// Descriptors the daemon inherited (from the shell that started it) reach neither a
/// container's processes nor exec'd ones (CVE-2024-21626 class): only 0, 1, 2 and the
/// descriptor `ls` itself opens are there.
#[test]
fn inherited_descriptors_reach_no_container() {
    if h().mode == Mode::Docker {
        eprintln!("inherited_descriptors_reach_no_container: starts its own berth daemon; skipped");
        return;
    }
    let d = Daemon::new(&unique_tmp_dir("fds"));
    d.start_through(Some("exec 7</etc/hostname 9>>/dev/null"));
    d.run(&["import", path_str(&fixture("busybox.tar")), "busybox:e2e"])
        .ok();
    let fds =
        |out: &Out| -> Vec<String> { out.stdout.split_whitespace().map(str::to_string).collect() };
    let run = d.run(&["run", "--rm", "busybox:e2e", "ls", "/proc/self/fd"]);
    run.ok();
    assert_eq!(fds(&run), ["0", "1", "2", "3"], "run: {}", run.stdout);
    d.run_d("fds", &[], &["sleep", "60"]).ok();
    for args in [
        vec!["exec", "fds", "ls", "/proc/self/fd"],
        vec!["exec", "-t", "fds", "ls", "-1", "/proc/self/fd"],
        vec!["exec", "fds", "ls", "/proc/1/fd"],
    ] {
        let out = d.run(&args);
        out.ok();
        let got = fds(&out);
        let want: &[&str] = if args.contains(&"/proc/1/fd") {
            &["0", "1", "2"]
        } else {
            &["0", "1", "2", "3"]
        };
        assert_eq!(got, want, "{args:?}: {}", out.stdout);
    }
    d.shutdown();
}

/// The berth binary cannot be overwritten through a shim's `/proc/PID/exe` (CVE-2019-5736):
/// shims run from a read-only bind of it, so the file behind that link lies on a read-only
/// mount (a write would fail with EROFS even once no berth process runs it).
#[test]
fn shim_executable_is_read_only() {
    let h = h();
    if h.mode == Mode::Docker {
        eprintln!("shim_executable_is_read_only: berth's shim only; skipped");
        return;
    }
    let name = uname("exe");
    let id = h
        .run(&["run", "-d", "--name", &name, &h.image, "sleep", "60"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let shim = std::fs::read_dir("/proc")
        .expect("list /proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains("\0shim\0") && c.contains(&id)
                })
                .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("no shim process for {id}"));
    let exe = format!("/proc/{shim}/exe");
    let flags = nix::sys::statvfs::statvfs(exe.as_str())
        .unwrap_or_else(|e| panic!("statvfs {exe}: {e}"))
        .flags();
    let _ = h.run(&["rm", "-f", &name]);
    assert!(
        flags.contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
        "the shim's executable {:?} is on a writable mount",
        std::fs::read_link(&exe)
    );
}

/// `cp` out of and into a running container whose processes keep swapping a directory of the
/// copied path for a symlink to `/` (CVE-2018-15664): the daemon never reads or writes the
/// host path the symlink would lead to.
#[test]
fn cp_is_not_fooled_by_symlink_swaps() {
    let h = h();
    let host_dir = unique_tmp_dir("race");
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    std::fs::write(host_dir.join("secret.txt"), "HOST SECRET\n").expect("write");
    let inner = path_str(&host_dir).trim_start_matches('/').to_string();
    let swapper = format!(
        "mkdir -p /race/real/{inner} && echo decoy > /race/real/{inner}/secret.txt && \
         ln -s / /race/sym && touch /race/ready && \
         while :; do mv /race/real /race/dir; mv /race/dir /race/real; \
         mv /race/sym /race/dir; mv /race/dir /race/sym; done"
    );
    let name = uname("race");
    h.run(&["run", "-d", "--name", &name, &h.image, "sh", "-c", &swapper])
        .ok();
    wait_until("swapper ready", Duration::from_secs(30), || {
        h.run(&["exec", &name, "test", "-e", "/race/ready"]).code == 0
    });
    let src = format!("{name}:/race/dir/{inner}/secret.txt");
    let upload = host_dir.join("upload.txt");
    std::fs::write(&upload, "from the host\n").expect("write");
    let dst = format!("{name}:/race/dir/{inner}/");
    let (mut reads, mut writes) = (0, 0);
    for _ in 0..80 {
        let out = h.run(&["cp", &src, "-"]);
        if out.code == 0 {
            reads += 1;
        }
        assert!(
            !out.stdout.contains("HOST SECRET"),
            "cp read the host's file through a swapped symlink"
        );
        if h.run(&["cp", path_str(&upload), &dst]).code == 0 {
            writes += 1;
        }
    }
    let leaked: Vec<String> = std::fs::read_dir(&host_dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "secret.txt" && n != "upload.txt")
        .collect();
    let _ = h.run(&["rm", "-f", &name]);
    let _ = std::fs::remove_dir_all(&host_dir);
    assert!(
        leaked.is_empty(),
        "cp wrote into the host directory: {leaked:?}"
    );
    // The copies themselves went on working on the container's side.
    eprintln!("cp race: {reads} reads and {writes} writes of 80 succeeded inside the container");
}
