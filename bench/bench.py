#!/usr/bin/env python3
"""berth vs Docker benchmark driver (called by bench/run.sh).

Environment: BERTH_BIN (berth binary), BENCH_DOCKER_HOST (reference dockerd, optional),
BENCH_RUNS (default 30), BENCH_CONTAINERS (default 100), BENCH_NET_CONTAINERS (default 50), BENCH_SKIP_LOAD, BERTH_TEST_CACHE,
BENCH_BUILD_RUNS (default 10: samples of each build figure), BENCH_SKIP_BUILD,
BENCH_ONLY (comma list of run,exec,many,net,load,build: measure only these groups).
"""
import hashlib
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("BERTH_TEST_CACHE", "/var/cache/berth-test")
BERTH = os.environ["BERTH_BIN"]
DOCKER = os.environ.get("BENCH_DOCKER", "/usr/bin/docker")
DOCKER_HOST = os.environ.get("BENCH_DOCKER_HOST")
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
NCONT = int(os.environ.get("BENCH_CONTAINERS", "100"))
NET_CONT = int(os.environ.get("BENCH_NET_CONTAINERS", "50"))
BUILD_RUNS = int(os.environ.get("BENCH_BUILD_RUNS", "10"))
ONLY = {g for g in os.environ.get("BENCH_ONLY", "").split(",") if g}
WORK = "/tmp/berth-bench"
SOCK = f"{WORK}/berth.sock"
IMAGE = "bench/busybox:latest"
BIG = "bench/big:latest"
BIG_ARCHIVE = f"{CACHE}/bench-big-docker-archive.tar"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class Engine:
    def __init__(self, name, argv, env=None):
        self.name, self.argv, self.env = name, argv, env or {}

    def cmd(self, *args, check=True, stdin=None, quiet=True):
        env = dict(os.environ, **self.env)
        r = subprocess.run(
            self.argv + list(args),
            env=env,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(args)} -> {r.returncode}: {r.stderr.strip()[:500]}")
        return r

    def timed(self, *args):
        t = time.perf_counter()
        self.cmd(*args)
        return time.perf_counter() - t


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def procs():
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        out.append((int(p), ppid, cmd))
    return out


def start_berth():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(f"{WORK}/data")
    os.makedirs(f"{WORK}/exec")
    logf = open(f"{WORK}/daemon.log", "ab")
    p = subprocess.Popen(
        [BERTH, "daemon", "--data-root", f"{WORK}/data", "--exec-root", f"{WORK}/exec", "-H", f"unix://{SOCK}"],
        stdin=subprocess.DEVNULL,
        stdout=logf,
        stderr=logf,
        start_new_session=True,
    )
    eng = Engine("berth", [BERTH, "-H", f"unix://{SOCK}"])
    for _ in range(500):
        if p.poll() is not None:
            raise RuntimeError(f"berth daemon exited {p.returncode}; see {WORK}/daemon.log")
        if os.path.exists(SOCK) and eng.cmd("version", check=False).returncode == 0:
            return p, eng
        time.sleep(0.02)
    raise RuntimeError("berth daemon did not answer within 10 s")


def stats(xs):
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, max(0, int(round(0.95 * len(xs) + 0.5)) - 1))]
    return {"mean": statistics.mean(xs), "p50": statistics.median(xs), "p95": p95, "n": len(xs)}


def bench_run(eng, extra=()):
    # warm-up
    for _ in range(3):
        eng.cmd("run", "--rm", *extra, IMAGE, "true")
    return stats([eng.timed("run", "--rm", *extra, IMAGE, "true") for _ in range(RUNS)])


def bench_exec(eng, extra=()):
    """`exec CONTAINER true` latency in one running container."""
    name = f"bench-exec-{eng.name}"
    eng.cmd("rm", "-f", name, check=False)
    eng.cmd("run", "-d", *extra, "--name", name, IMAGE, "sleep", "1000")
    try:
        for _ in range(3):
            eng.cmd("exec", name, "true")
        return stats([eng.timed("exec", name, "true") for _ in range(RUNS)])
    finally:
        eng.cmd("rm", "-f", name, check=False)


def bench_many(eng, extra=()):
    names = [f"bench-{eng.name}-{i}" for i in range(NCONT)]
    eng.cmd("rm", "-f", *names, check=False)
    t = time.perf_counter()
    for n in names:
        eng.cmd("run", "-d", *extra, "--name", n, IMAGE, "sleep", "1000")
    start = time.perf_counter() - t
    shim_rss = shim_rss_kb(eng)
    t = time.perf_counter()
    eng.cmd("rm", "-f", *names)
    rm = time.perf_counter() - t
    return start, rm, shim_rss



def bench_net(eng):
    """Create a user network and start NET_CONT detached containers on it (sequential `run -d`)."""
    net = f"bench-net-{eng.name}"
    names = [f"bench-net-{eng.name}-{i}" for i in range(NET_CONT)]
    eng.cmd("rm", "-f", *names, check=False)
    eng.cmd("network", "rm", net, check=False)
    eng.cmd("network", "create", net)
    try:
        t = time.perf_counter()
        for n in names:
            eng.cmd("run", "-d", "--network", net, "--name", n, IMAGE, "sleep", "1000")
        start = time.perf_counter() - t
        t = time.perf_counter()
        eng.cmd("rm", "-f", *names)
        rm = time.perf_counter() - t
        return start, rm
    finally:
        eng.cmd("rm", "-f", *names, check=False)
        eng.cmd("network", "rm", net, check=False)


def shim_rss_kb(eng):
    if eng.name == "berth":
        sel = [p for p, _, c in procs() if " shim " in f" {c} " and WORK in c]
    else:
        sel = [p for p, _, c in procs() if "containerd-shim" in c and "docker-oracle" in c]
    vals = [rss_kb(p) for p in sel]
    return (statistics.mean(vals), len(vals)) if vals else (0, 0)


def docker_rss_kb():
    try:
        with open("/run/docker-oracle.pid") as f:
            dpid = int(f.read().strip())
    except (OSError, ValueError):
        return 0
    total = rss_kb(dpid)
    for p, ppid, c in procs():
        if ppid == dpid and c.startswith("containerd "):
            total += rss_kb(p)
    return total


def big_archive(docker):
    """~700 MB docker-archive: the Debian rootfs plus ~600 MB of random data in 3 layers."""
    if os.path.exists(BIG_ARCHIVE):
        return BIG_ARCHIVE
    log("making the ~700 MB docker-archive (once)")
    tmp = BIG_ARCHIVE + ".tmp"
    layers = []
    with open(f"{CACHE}/debian-bookworm.tar", "rb") as f:
        layers.append(f.read())
    for i in range(3):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            for j in range(4):
                data = os.urandom(45 << 20)
                ti = tarfile.TarInfo(f"data/layer{i}/blob{j}.bin")
                ti.size, ti.mtime, ti.mode = len(data), 1700000000, 0o644
                t.addfile(ti, io.BytesIO(data))
        layers.append(buf.getvalue())
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2023-11-14T22:13:20Z",
            "config": {"Cmd": ["bash"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"bench layer {i}"} for i in range(len(layers))],
        },
        separators=(",", ":"),
    ).encode()
    cfg = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"{d[7:]}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": cfg, "RepoTags": [BIG], "Layers": names}]).encode()
    with tarfile.open(tmp, "w") as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 1700000000, 0o644
            t.addfile(ti, io.BytesIO(data))
        add(cfg, config)
        for n, b in zip(names, layers):
            add(n, b)
        add("manifest.json", manifest)
    if docker:
        # the cached archive is what `docker save` writes
        docker.cmd("rmi", "-f", BIG, check=False)
        with open(tmp, "rb") as f:
            docker.cmd("load", stdin=f)
        docker.cmd("save", "-o", BIG_ARCHIVE + ".saved", BIG)
        docker.cmd("rmi", "-f", BIG, check=False)
        os.replace(BIG_ARCHIVE + ".saved", BIG_ARCHIVE)
        os.remove(tmp)
    else:
        os.replace(tmp, BIG_ARCHIVE)
    return BIG_ARCHIVE


def bench_load_save(eng, archive):
    eng.cmd("rmi", "-f", BIG, check=False)
    if eng.name == "docker":
        eng.cmd("image", "prune", "-f", check=False)
    subprocess.run(["sync"])
    load = eng.timed("load", "-i", archive)
    out = f"{WORK}-{eng.name}-save.tar"
    save = eng.timed("save", "-o", out, BIG)
    os.remove(out)
    eng.cmd("rmi", "-f", BIG, check=False)
    return load, save


def wanted(group):
    return not ONLY or group in ONLY


BUILD_IMAGE = "bench/build:latest"
BUILD_FILES = 1000


def build_context():
    """A 10-step Dockerfile whose context holds ~1,000 small files, and a 10-step Dockerfile of
    small RUN steps (for the cold build)."""
    ctx = f"{WORK}-build/ctx"
    shutil.rmtree(f"{WORK}-build", ignore_errors=True)
    for i in range(BUILD_FILES):
        d = f"{ctx}/data/d{i // 100:02d}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/f{i:04d}.txt", "w") as f:
            f.write(f"file {i}\n" * 8)
    with open(f"{ctx}/last.txt", "w") as f:
        f.write("last 0\n")
    with open(f"{ctx}/Dockerfile", "w") as f:
        f.write(
            f"FROM {IMAGE}\n"
            "ENV APP=/app LANG=C.UTF-8\n"
            "WORKDIR /app\n"
            "COPY data /app/data\n"
            "RUN echo one > /one\n"
            "RUN ls /app/data | wc -l > /count\n"
            "LABEL org.example.stage=bench\n"
            "RUN echo two > /two\n"
            "ENV B=2\n"
            "COPY last.txt /app/last.txt\n"
        )
    cold = f"{WORK}-build/cold"
    os.makedirs(cold)
    with open(f"{cold}/Dockerfile", "w") as f:
        f.write(f"FROM {IMAGE}\n" + "".join(f"RUN echo step {i} > /s{i}\n" for i in range(1, 10)))
    return ctx, cold


def bench_build(eng, ctx, cold):
    """(a) no-op rebuild, (b) rebuild after changing the file the last step copies, (c) cold
    `--no-cache` build of 9 small RUN steps. Returns three stats dicts."""
    eng.cmd("rmi", "-f", BUILD_IMAGE, "bench/cold:latest", check=False)
    with open(f"{ctx}/last.txt", "w") as f:
        f.write("last 0\n")
    eng.cmd("build", "-t", BUILD_IMAGE, ctx)  # fills the cache
    eng.cmd("build", "-t", BUILD_IMAGE, ctx)  # warm-up
    noop = []
    for _ in range(BUILD_RUNS):
        t = time.perf_counter()
        r = eng.cmd("build", "-t", BUILD_IMAGE, ctx)
        noop.append(time.perf_counter() - t)
        if "Running in" in r.stdout:
            raise RuntimeError(f"{eng.name}: a no-op rebuild ran a container")
    changed = []
    for i in range(BUILD_RUNS):
        with open(f"{ctx}/last.txt", "w") as f:
            f.write(f"last {eng.name} {i} {time.time()}\n")
        t = time.perf_counter()
        eng.cmd("build", "-t", BUILD_IMAGE, ctx)
        changed.append(time.perf_counter() - t)
    runs = max(3, BUILD_RUNS // 3)
    eng.cmd("build", "--no-cache", "-t", "bench/cold:latest", cold)  # warm-up
    coldt = []
    for _ in range(runs):
        t = time.perf_counter()
        eng.cmd("build", "--no-cache", "-t", "bench/cold:latest", cold)
        coldt.append(time.perf_counter() - t)
    eng.cmd("rmi", "-f", BUILD_IMAGE, "bench/cold:latest", check=False)
    if eng.name == "docker":
        eng.cmd("image", "prune", "-f", check=False)
    return stats(noop), stats(changed), stats(coldt)


def fmt_ms(s):
    return f"{s * 1000:.1f} ms"


def fmt_s(s):
    return f"{s:.2f} s"


def fmt_mb(kb):
    return f"{kb / 1024:.1f} MB"


def main():
    rows = []  # (metric, berth, docker, ratio docker/berth)

    def row(metric, b, d, fmt):
        bs = fmt(b) if isinstance(b, (int, float)) else (b or "-")
        ds = fmt(d) if isinstance(d, (int, float)) else (d or "-")
        ratio = f"{d / b:.1f}x" if isinstance(b, (int, float)) and isinstance(d, (int, float)) and b > 0 else "-"
        rows.append((metric, bs, ds, ratio))
        log(f"{metric}: berth {bs}, docker {ds}, {ratio}")

    daemon, berth = start_berth()
    docker = None
    if DOCKER_HOST:
        # DOCKER_BUILDKIT=0: the classic builder, the one berth implements and is compared with.
        docker = Engine("docker", [DOCKER], {"DOCKER_HOST": DOCKER_HOST, "DOCKER_BUILDKIT": "0"})
        if docker.cmd("version", check=False).returncode != 0:
            log(f"dockerd at {DOCKER_HOST} not answering: berth only")
            docker = None
    try:
        bb = f"{CACHE}/busybox.tar"
        for e in [berth] + ([docker] if docker else []):
            e.cmd("import", bb, IMAGE)
        time.sleep(1)
        idle_b = rss_kb(daemon.pid)
        idle_d = docker_rss_kb() if docker else None

        def guarded(fn, *a):
            try:
                return fn(*a)
            except Exception as ex:  # noqa: BLE001 - a failed figure is reported, not fatal
                log(f"FAILED: {ex}")
                return None

        if wanted("run"):
            # Both on their default bridge (a veth, an address and a route per container), then both without a network.
            rb = guarded(bench_run, berth)
            rd = guarded(bench_run, docker) if docker else None
            rbn = guarded(bench_run, berth, ("--network", "none"))
            rdn = guarded(bench_run, docker, ("--network", "none")) if docker else None
            for k in ["mean", "p50", "p95"]:
                row(f"`run --rm` {k} ({RUNS} runs), default bridge", rb and rb[k], rd and rd[k], fmt_ms)
            for k in ["mean", "p50", "p95"]:
                row(f"`run --rm` {k}, both `--network none`", rbn and rbn[k], rdn and rdn[k], fmt_ms)

        if wanted("exec"):
            eb = guarded(bench_exec, berth, ("--network", "none"))
            ed = guarded(bench_exec, docker, ("--network", "none")) if docker else None
            for k in ["mean", "p50", "p95"]:
                row(f"`exec CONTAINER true` {k} ({RUNS} runs)", eb and eb[k], ed and ed[k], fmt_ms)

        if wanted("many"):
            mb = guarded(bench_many, berth, ("--network", "none"))
            md = guarded(bench_many, docker, ("--network", "none")) if docker else None
            row(f"start {NCONT} detached `sleep` (sequential `run -d`, `--network none`)", mb and mb[0], md and md[0], fmt_s)
            row(f"remove them (`rm -f` of {NCONT})", mb and mb[1], md and md[1], fmt_s)
            row("daemon idle RSS (docker: dockerd + containerd)", idle_b, idle_d, fmt_mb)
            row(
                "shim RSS per running container (berth shim vs containerd-shim-runc-v2)",
                mb[2][0] if mb and mb[2][1] else None,
                md[2][0] if md and md[2][1] else None,
                fmt_mb,
            )
        if wanted("net"):
            nb = guarded(bench_net, berth)
            nd = guarded(bench_net, docker) if docker else None
            row(f"start {NET_CONT} detached containers on one user network (sequential `run -d`)", nb and nb[0], nd and nd[0], fmt_s)
            row(f"remove them (`rm -f` of {NET_CONT})", nb and nb[1], nd and nd[1], fmt_s)
        if wanted("build") and not os.environ.get("BENCH_SKIP_BUILD"):
            ctx, cold = build_context()
            bb_ = guarded(bench_build, berth, ctx, cold)
            bd_ = guarded(bench_build, docker, ctx, cold) if docker else None
            labels = [
                f"`build`: no-op rebuild, 10 steps, {BUILD_FILES}-file context (p50 of {BUILD_RUNS})",
                f"`build`: rebuild after changing the file the last step copies (p50 of {BUILD_RUNS})",
                "`build --no-cache`: 10 steps, 9 small RUNs (p50)",
            ]
            for i, label in enumerate(labels):
                row(label, bb_ and bb_[i]["p50"], bd_ and bd_[i]["p50"], fmt_ms)
            shutil.rmtree(f"{WORK}-build", ignore_errors=True)
        if wanted("load") and not os.environ.get("BENCH_SKIP_LOAD"):
            archive = big_archive(docker)
            size = os.path.getsize(archive)
            lb = guarded(bench_load_save, berth, archive)
            ld = guarded(bench_load_save, docker, archive) if docker else None
            row(f"`load` of a {size / 1e6:.0f} MB docker-archive", lb and lb[0], ld and ld[0], fmt_s)
            row(f"`save` of it", lb and lb[1], ld and ld[1], fmt_s)
    finally:
        try:
            os.killpg(daemon.pid, signal.SIGTERM)
        except OSError:
            pass
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)

    kernel = os.uname().release
    load1, load5, _ = os.getloadavg()
    dv = docker.cmd("version", "--format", "{{.Server.Version}}", check=False).stdout.strip() if docker else "n/a"
    bv = subprocess.run([BERTH, "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"# berth vs Docker ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Same run, same busybox image imported into both. Host: {os.cpu_count()} CPUs, kernel {kernel}. "
        f"Load average at the end: {load1:.1f} (1 min), {load5:.1f} (5 min). "
        f"berth: `{bv}`; Docker: {dv} (docker CLI {DOCKER}, classic builder: DOCKER_BUILDKIT=0). "
        "Ratio = docker / berth (higher is better for berth).",
        "",
        "| metric | berth | docker | ratio |",
        "|---|---:|---:|---:|",
    ]
    path = os.path.join(REPO, "bench", "results", "latest.md")
    if ONLY and os.path.exists(path):
        # A partial run (BENCH_ONLY) updates its own rows and keeps the others of the last run.
        with open(path) as f:
            old_rows = [l for l in f.read().splitlines() if l.startswith("| ") and not l.startswith("| metric")]
        new_rows = {m: f"| {m} | {b} | {d} | {r} |" for m, b, d, r in rows}
        merged = []
        for l in old_rows:
            metric = l[2:].split(" | ", 1)[0]
            merged.append(new_rows.pop(metric, l))
        merged += list(new_rows.values())
        lines[2] += f" Rows of {', '.join(sorted(ONLY))} measured in this run; the others kept from the previous run."
        lines += merged
    else:
        lines += [f"| {m} | {b} | {d} | {r} |" for m, b, d, r in rows]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
