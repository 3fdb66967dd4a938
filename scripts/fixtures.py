#!/usr/bin/env python3
"""Test fixtures for berth: deterministic rootfs and hostile tarballs.

  fixtures.py busybox OUT.tar [BUSYBOX]   busybox rootfs (one symlink per applet in /bin,
                                           /etc/passwd with root and jovyan (1000), /etc/group,
                                           /tmp 1777, /root, /home/jovyan owned by 1000)
  fixtures.py hostile OUTDIR               one hostile tarball per case (see HOSTILE below)
  fixtures.py oci BUSYBOX.tar OUT.tar      the busybox rootfs as an OCI image layout tarball

Everything is deterministic: sorted entries, fixed mtimes and owners, so the same busybox binary
always gives a byte-identical tarball (and therefore the same image ID when imported).
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

MTIME = 1700000000  # fixed: 2023-11-14T22:13:20Z

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "jovyan:x:1000:100:Jupyter user:/home/jovyan:/bin/sh\n"
)
GROUP = (
    "root:x:0:\n"
    "daemon:x:1:\n"
    "users:x:100:jovyan\n"
    "jovyan:x:1000:\n"
    "nogroup:x:65534:\n"
)


def _info(name, kind=tarfile.REGTYPE, mode=0o644, uid=0, gid=0, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.uname = ti.gname = ""
    ti.mtime = MTIME
    ti.size = size
    ti.linkname = linkname
    return ti


def busybox(out, binary="/bin/busybox"):
    applets = subprocess.run([binary, "--list"], check=True, capture_output=True, text=True).stdout.split()
    with open(binary, "rb") as f:
        bb = f.read()
    entries = []  # (name, TarInfo, data or None)

    def add_dir(name, mode=0o755, uid=0, gid=0):
        entries.append((name, _info(name, tarfile.DIRTYPE, mode, uid, gid), None))

    def add_file(name, data, mode=0o644):
        entries.append((name, _info(name, mode=mode, size=len(data)), data))

    for d in ["bin", "dev", "etc", "home", "proc", "root", "sys", "usr", "usr/bin", "usr/sbin", "sbin", "var"]:
        add_dir(d, 0o700 if d == "root" else 0o755)
    add_dir("tmp", 0o1777)
    add_dir("home/jovyan", 0o755, 1000, 100)
    add_file("bin/busybox", bb, 0o755)
    for a in sorted(set(applets)):
        if a != "busybox" and "/" not in a:
            entries.append((f"bin/{a}", _info(f"bin/{a}", tarfile.SYMTYPE, 0o777, linkname="busybox"), None))
    add_file("etc/passwd", PASSWD.encode())
    add_file("etc/group", GROUP.encode())
    add_file("etc/os-release", b'NAME="BusyBox"\nID=busybox\nPRETTY_NAME="BusyBox (berth test image)"\n')

    entries.sort(key=lambda e: e[0])
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as t:
        for _, ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    os.replace(tmp, out)


# Hostile tarballs. Each targets a host path under /tmp with a distinctive name, so a test can check
# that nothing was written there: HOSTILE_MARKERS lists those paths.
HOSTILE_MARKERS = [
    "/tmp/berth-hostile-dotdot",
    "/tmp/berth-hostile-abs",
    "/tmp/berth-hostile-symlink",
    "/tmp/berth-hostile-symlink-rel",
    "/tmp/berth-hostile-hardlink",
    "/tmp/berth-hostile-load",
]


def _write(path, members):
    """members: list of (TarInfo, bytes|None). Written raw so that tarfile keeps hostile names."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)


def _basic():
    return [(_info("bin", tarfile.DIRTYPE, 0o755), None), (_info("etc", tarfile.DIRTYPE, 0o755), None)]


def hostile(outdir):
    os.makedirs(outdir, exist_ok=True)
    pw = b"pwned\n"
    cases = {
        # a path with .. components climbing out of the layer directory
        "dotdot.tar": _basic() + [(_info("../../../../../../../../tmp/berth-hostile-dotdot"), pw)],
        # an absolute path
        "abs.tar": _basic() + [(_info("/tmp/berth-hostile-abs"), pw)],
        # a symlink to / and then a file written through it
        "symlink.tar": _basic()
        + [
            (_info("evil", tarfile.SYMTYPE, 0o777, linkname="/"), None),
            (_info("evil/tmp/berth-hostile-symlink"), pw),
        ],
        # a relative symlink climbing out, then a file written through it
        "symlink-rel.tar": _basic()
        + [
            (_info("up", tarfile.SYMTYPE, 0o777, linkname="../../../../../../../../"), None),
            (_info("up/tmp/berth-hostile-symlink-rel"), pw),
        ],
        # hardlinks to a host file (absolute and climbing)
        "hardlink.tar": _basic()
        + [
            (_info("etc/passwd-abs", tarfile.LNKTYPE, 0o644, linkname="/etc/passwd"), None),
            (_info("etc/passwd-up", tarfile.LNKTYPE, 0o644, linkname="../../../../../../../../etc/passwd"), None),
            (_info("../../../../../../../../tmp/berth-hostile-hardlink", tarfile.LNKTYPE, 0o644, linkname="etc/passwd-abs"), None),
        ],
        # a character device (/dev/mem: 1,1) and a block device
        "chardev.tar": _basic()
        + [
            (_mkdev("mem", tarfile.CHRTYPE, 1, 1), None),
            (_mkdev("sda", tarfile.BLKTYPE, 8, 0), None),
        ],
    }
    for name, members in cases.items():
        _write(os.path.join(outdir, name), members)

    # a pax extended header of 64 MiB (a huge "comment" record) in front of a normal file
    with tarfile.open(os.path.join(outdir, "hugepax.tar"), "w", format=tarfile.PAX_FORMAT) as t:
        ti = _info("hello.txt", size=3)
        ti.pax_headers = {"comment": "x" * (64 << 20)}
        t.addfile(ti, io.BytesIO(b"hi\n"))

    # a header claiming a 1 TiB file in a tiny archive (truncated)
    ti = _info("huge.bin")
    ti.size = 1 << 40
    hdr = ti.tobuf(format=tarfile.GNU_FORMAT)
    with open(os.path.join(outdir, "truncated.tar"), "wb") as f:
        f.write(hdr + b"x" * 1024)

    # garbage (not a tar at all)
    with open(os.path.join(outdir, "garbage.tar"), "wb") as f:
        f.write(hashlib.sha256(b"berth").digest() * 512)

    # a docker-archive (for `load`) whose layer climbs out with .. and through a symlink, and a
    # manifest whose layer path points outside the archive
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in _basic() + [
            (_info("../../../../../../../../tmp/berth-hostile-load"), pw),
            (_info("evil", tarfile.SYMTYPE, 0o777, linkname="/"), None),
            (_info("evil/tmp/berth-hostile-load"), pw),
        ]:
            if data is not None:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    _docker_archive(os.path.join(outdir, "load-dotdot.tar"), layer.getvalue(), "layer.tar", "hostile/dotdot:latest")
    _docker_archive(os.path.join(outdir, "load-manifest-escape.tar"), layer.getvalue(), "../../../../../../etc/passwd", "hostile/manifest:latest")


def _mkdev(name, kind, major, minor):
    ti = _info(name, kind, 0o600)
    ti.devmajor, ti.devminor = major, minor
    return ti


def _docker_archive(path, layer_bytes, layer_path, tag):
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2023-11-14T22:13:20Z",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "hostile"}],
        },
        sort_keys=True,
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [layer_path]}]).encode()
    with tarfile.open(path, "w") as t:
        for name, data in [(config_name, config), ("layer.tar", layer_bytes), ("manifest.json", manifest)]:
            t.addfile(_info(name, size=len(data)), io.BytesIO(data))


def oci(busybox_tar, out, name="docker.io/berth-e2e/oci:v1"):
    """An OCI image layout tarball (index.json, oci-layout, blobs/sha256/...) of the busybox rootfs."""
    with open(busybox_tar, "rb") as f:
        layer = f.read()
    layer_digest = hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2023-11-14T22:13:20Z",
            "config": {"Cmd": ["echo", "from an OCI layout"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_digest]},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "berth fixtures.py"}],
        },
        sort_keys=True,
    ).encode()
    config_digest = hashlib.sha256(config).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + layer_digest, "size": len(layer)}],
        },
        sort_keys=True,
    ).encode()
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:" + manifest_digest,
                    "size": len(manifest),
                    "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]},
                }
            ],
        },
        sort_keys=True,
    ).encode()
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as t:
        for n, data in [
            ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
            ("index.json", index),
            ("blobs/sha256/" + config_digest, config),
            ("blobs/sha256/" + manifest_digest, manifest),
            ("blobs/sha256/" + layer_digest, layer),
        ]:
            t.addfile(_info(n, size=len(data)), io.BytesIO(data))
    os.replace(tmp, out)


def main(argv):
    if len(argv) >= 3 and argv[1] == "busybox":
        busybox(argv[2], argv[3] if len(argv) > 3 else "/bin/busybox")
    elif len(argv) == 4 and argv[1] == "oci":
        oci(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "hostile":
        hostile(argv[2])
    elif len(argv) == 2 and argv[1] == "markers":
        print("\n".join(HOSTILE_MARKERS))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
