#!/usr/bin/env python3
"""Write the seed corpora of the berth-fuzz targets (crates/fuzz/corpus/<target>/).

Every seed is written here by hand (valid inputs, near-misses and known
attack shapes); run again to regenerate: `python3 crates/fuzz/gen_corpus.py`.
Files already in a corpus directory that this script does not write (inputs
found by fuzzing) are kept.
"""
import hashlib, io, json, os, tarfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def many(target, items):
    for i, s in enumerate(items):
        put(target, "seed-%02d" % i, s)


H = "0123456789abcdef" * 4

many("reference", [
    "busybox", "busybox:latest", "library/busybox:1.36", "docker.io/library/busybox",
    "index.docker.io/busybox", "localhost:5000/a/b:c", "localhost/x", "example.com:443/org/app:v1.2.3",
    "busybox@sha256:" + H, "a/b/c:d@sha256:" + H, "a__b/c-d.e:tag_1", "Uppercase", H, "",
    ":tag", "a:", "a@", "a@sha256:", "a@sha512:" + H, "a" * 300, "a/" * 100 + "a", "-a", "a..b",
    "[::1]:5000/x:y", "a:" + "t" * 129, "x/y:z@sha256:" + H.upper(),
])

many("digest", [
    "sha256:" + H, "sha256:" + H.upper(), "sha256:" + H[:63], "sha256:" + H + "0", "sha512:" + H,
    "sha256", ":" + H, "sha256::" + H, "", "sha256:" + "g" * 64, "sha256:" + H + "\n", H,
    "SHA256:" + H, " sha256:" + H, "sha256:" + H[:32], "sha256:" + H * 2, "sha256:\u00e9" + H[1:],
    "sha384:" + H + H[:32], "sha256:" + H[:-1] + "G", ":", "sha256:" + "0" * 64, "a:b:c",
])

many("dockerfile", [
    "FROM busybox\nRUN echo hi\n",
    "# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox\nRUN echo `\n  hi\n",
    "ARG BASE=busybox\nFROM ${BASE} AS build\nARG X\nENV A=1 B=\"two words\" C=${A:-x}\nWORKDIR /app\n"
    "COPY --from=build --chown=1:1 a b /dst/\nADD x.tar /\nCMD [\"sh\", \"-c\", \"echo $A\"]\n",
    "FROM busybox\nRUN <<EOF\necho a\necho b\nEOF\nCOPY <<-EOT /f\n\tcontent\n\tEOT\n",
    "FROM scratch\nLABEL a=b \"c d\"=e\nEXPOSE 80/tcp 53/udp 8000-8010\nVOLUME [\"/data\", \"/x\"]\n"
    "USER 1000:1000\nSTOPSIGNAL SIGTERM\nSHELL [\"/bin/sh\", \"-c\"]\n",
    "FROM busybox\nHEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=3 CMD true\n"
    "ONBUILD RUN echo x\nMAINTAINER me\nENTRYPOINT [\"/bin/sh\"]\n",
    "FROM busybox\nRUN [\"unterminated\nCMD [not json]\n",
    "FROM busybox\nENV\nARG\nLABEL\nHEALTHCHECK NONE\nHEALTHCHECK --interval=xx CMD a\n",
    "FROM busybox\\\n\n\nRUN a \\\n  # comment\n  b\n",
    "from busybox as B\nrun echo ${A:+set} ${A:?unset} ${A#a} ${A%%b} ${A/x/y}\n",
    "FROM --platform=linux/amd64 busybox\nCOPY --chmod=755 --link a b\nADD --checksum=sha256:" + H + " http://x /y\n",
    "\ufeffFROM busybox\r\nRUN echo crlf\r\n",
    "# escape=\\\n\n# directive=after\nFROM busybox\n",
    "FROM busybox\nRUN <<A <<B cat\nx\nA\ny\nB\n",
    "",
    "FROM\n",
    "FROM busybox\nUNKNOWN thing\n",
    "FROM busybox\nEXPOSE 99999\nEXPOSE -1\nEXPOSE a-b\n",
    "FROM busybox\nCOPY --from= a b\nCOPY a\n",
])

many("shell_words", [
    "plain", "$A", "${A}", "${A:-default}", "${UNSET-x}", "${A:+alt}", "${A+alt}", "${UNSET:?boom}",
    "${A?x}", "${A#a}", "${A##*}", "${A%b}", "${A%%*}", "${A/a/z}", "${A//a/z}", "'single $A'",
    "\"double $A\"", "esc\\$A", "`$A", "${", "${A", "${A:", "${A:-${B:-${C}}}", "$", "\"unterminated",
    "'unterminated", "a\\", "${A/", "${A/[/x}", "${A##[}", "${A#**********}", "$$$$", "${!A}", "${#A}",
])

many("dockerignore", [
    "*.log\n!important.log\n", "node_modules\n.git\n**/*.tmp\n", "# comment\n\n/abs\n./rel\n../up\n",
    "[a-z]*\n[^x]\n[!y]?\n", "[\n", "\\\n", "a/**/b\n**\n!**/keep\n", "*/*/*/*/*/*/*/*/*/*/*/*/*\n",
    "**/**/**/**/**/**/**/**/a\n", "a\\*b\n[a-\n[]]\n", "!\n!!\n", "Dockerfile\n.dockerignore\n",
    "?" * 40 + "\n", "*" * 40 + "x\n",
    "\ufeff*.md\n", "  spaced  \n\t*.tmp\n", "a/b/c\n!a/b/c/d\n", "/\n", "!a\n", "**/.git\n!**/.git/keep\n",
    "[a-]\n", "[z-a]\n", "\\*\n\\?\n", "a/./b/../c\n",
])

many("spec_strings", [
    "/host:/ctr\n/host:/ctr:ro\nname:/data:rw,z\n/anon\n", "1h2m3.5s\n-1ns\n300ms\n1.5µs\n2562047h\n9999999999h\n",
    "ctrl-p,ctrl-q\nctrl-@\nctrl-_\nDEL\na,b\nctrl-\n", "my_volume\na\n-x\n" + "v" * 300 + "\n",
    "web\n/web\n-web\nweb.1_2-3\n", "ctr:ro\nctr:rw\nctr:zz\n:ro\n", "/a/../../b\n//x//y/.\n\n.\n..\n",
    "/tmp:size=10m,mode=1777\n/x:\n", "c:\\\\x:/y\n/a:/b:ro:extra\n:/b\n/a:\n", "1e9s\n.s\n1..2s\n+5m\n",
    "\u0000\n\u00ff\n",
    "vol:/data:nocopy\nvol:/data:ro,nocopy\n/h:/c:rslave\n/h:/c:shared,ro\n/h:/c:Z,z\n",
    "/h:/c:ro,rw\n/h:/\n/:/c\n/h:/c/../..\n", "ctrl-a,ctrl-b,ctrl-c,ctrl-[,ctrl-\\\\,ctrl-]\nctrl-A\n,\n,,\n",
    "1h\n1m\n1s\n1ms\n1us\n1ns\n1.5h\n0\n-0\n+0\n0.000000001s\n",
    "9223372036854775807ns\n9223372036854775808ns\n-9223372036854775808ns\n2562048h\n",
    "a" * 64 + "\n" + "_" * 3 + "\nvolume-name.1\n", "c:\nc::\n:\n::ro\n", "/t:size=1g,uid=1000\n/t:exec,noexec\n",
    "\\\\?\\c:\\x:/y\n", "named:/data:ro\n/dev/null:/dev/null\n",
])

many("api_json", [
    json.dumps({"Image": "busybox", "Cmd": ["sh"], "Env": ["A=1"], "Labels": {"a": "b"},
                "HostConfig": {"Binds": ["/h:/c:ro", "vol:/d"], "Memory": 1048576,
                               "PortBindings": {"80/tcp": [{"HostPort": "8080"}]},
                               "Mounts": [{"Type": "bind", "Source": "/h", "Target": "/c"},
                                          {"Type": "volume", "Source": "v", "Target": "/v"},
                                          {"Type": "tmpfs", "Target": "/t"}],
                               "Tmpfs": {"/run": "size=1m"}, "VolumesFrom": ["c:ro"],
                               "RestartPolicy": {"Name": "always"}}}),
    json.dumps({"Image": "x", "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000},
                "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/v": {}}, "Entrypoint": "sh",
                "NetworkingConfig": {"EndpointsConfig": {"net": {"Aliases": ["a"]}}}}),
    json.dumps({"Name": "net", "Driver": "bridge", "Internal": True, "Labels": {"x": "y"},
                "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]},
                "Options": {"com.docker.network.bridge.name": "br0"}}),
    json.dumps({"Container": "c", "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.1.0.5"}}}),
    json.dumps({"Name": "vol", "Driver": "local", "DriverOpts": {"type": "tmpfs", "device": "tmpfs"},
                "Labels": {}}),
    "{}", "[]", "null", "{\"Image\": 1}", "{\"HostConfig\": {\"Memory\": -1}}",
    "{\"HostConfig\": {\"Memory\": 18446744073709551616}}", "{\"Cmd\": \"string not list\"}",
    "{\"Image\":\"a\",\"Image\":\"b\"}", "{\"Env\":[\"\\u0000\"]}", "{" * 200, "{\"a\":" * 200 + "1" + "}" * 200,
    "{\"HostConfig\":{\"Binds\":[\"\",\":\",\"::\",\"/a:/b:ro,ro\"]}}",
    "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"nope\"},{\"Type\":\"bind\"},{\"Type\":\"volume\",\"Target\":\"rel\"}]}}",
    "{\"HostConfig\":{\"Tmpfs\":{\"rel\":\"\",\"/a\":\"size=-1\"}}}",
])

many("go_template", [
    "{{.Name}}", "{{.State.Status}} {{.ID}}", "{{json .}}", "{{json .Labels}}", "{{range .Names}}{{.}},{{end}}",
    "{{range $k, $v := .Labels}}{{$k}}={{$v}}\n{{end}}", "{{if .State.Running}}up{{else}}down{{end}}",
    "{{index .Labels \"a\"}}", "{{join .Names \", \"}}", "{{split .Name \"/\"}}", "{{upper .Name}} {{lower .Name}} {{title .Name}}",
    "{{len .Names}}", "{{truncate .ID 4}}", "{{pad .Name 2 3}}", "{{printf \"%s-%d-%q-%v\" .Name .Size .Name .Ratio}}",
    "{{println .Name}}", "{{- .Name -}}", "{{.Missing}}", "{{.Null.X}}", "{{", "}}", "{{end}}", "{{if}}",
    "{{range .Names}}", "{{(index .Labels \"a\").X}}", "{{.Name | upper | lower}}", "{{$x := .Name}}{{$x}}",
    "{{index .Names 5}}", "{{index .Names -1}}", "{{truncate .ID -1}}", "{{printf \"%\"}}",
    "{{.}}\u0000[1,2,3]", "{{range .}}{{.}}{{end}}\u0000{\"a\":1,\"b\":[true,null]}",
    "{{.Ports}} {{.Map}} {{.List}} {{.Empty}}",
])


# --- tar archives ---------------------------------------------------------

def tar_bytes(entries, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = e.get("type", tarfile.REGTYPE)
            ti.mode = e.get("mode", 0o644)
            ti.uid, ti.gid = e.get("uid", 0), e.get("gid", 0)
            ti.mtime = e.get("mtime", 1700000000)
            ti.linkname = e.get("link", "")
            ti.devmajor, ti.devminor = e.get("dev", (0, 0))
            if "pax" in e:
                ti.pax_headers = e["pax"]
            data = e.get("data", b"")
            if isinstance(data, str):
                data = data.encode()
            ti.size = len(data) if ti.type == tarfile.REGTYPE else 0
            t.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)
    return buf.getvalue()


D, F, L, S = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE
layers = [
    [{"name": "etc/", "type": D, "mode": 0o755}, {"name": "etc/hosts", "data": "127.0.0.1 x\n"}],
    [{"name": "a/", "type": D}, {"name": "a/.wh.b", "data": ""}, {"name": "a/.wh..wh..opq"}],
    [{"name": "f", "data": "x"}, {"name": "h", "type": L, "link": "f"}],
    [{"name": "../outside/keep", "data": "pwned"}],
    [{"name": "/abs/file", "data": "x"}],
    [{"name": "s", "type": S, "link": "../outside"}, {"name": "s/keep", "data": "pwned"}],
    [{"name": "s", "type": S, "link": "/"}, {"name": "s/tmp/escaped", "data": "pwned"}],
    [{"name": "h", "type": L, "link": "../outside/keep"}],
    [{"name": "d", "type": S, "link": "."}, {"name": "d/d/d/d/f", "data": "x"}],
    [{"name": "dev/null", "type": tarfile.CHRTYPE, "dev": (1, 3)},
     {"name": "fifo", "type": tarfile.FIFOTYPE}, {"name": "blk", "type": tarfile.BLKTYPE, "dev": (7, 0)}],
    [{"name": "p" * 200 + "/long", "data": "x"}],
    [{"name": "x", "data": "y", "pax": {"path": "../outside/pax", "SCHILY.xattr.user.a": "b"}}],
    [{"name": "x", "type": S, "link": "y", "pax": {"linkpath": "../../../etc"}}, {"name": "x/passwd", "data": "x"}],
    [{"name": "f", "data": "1"}, {"name": "f", "type": D}, {"name": "f/g", "data": "2"}],
    [{"name": ".wh.f", "data": ""}, {"name": ".wh...", "data": ""}, {"name": "a/.wh.", "data": ""}],
    [{"name": "ro/", "type": D, "mode": 0o000}, {"name": "ro/f", "data": "x", "mode": 0o4755, "uid": 65534}],
    [{"name": "a", "type": S, "link": "b"}, {"name": "b", "type": S, "link": "a"}, {"name": "a/x", "data": "loop"}],
    [{"name": "h1", "type": L, "link": "missing"}],
    [{"name": "", "data": "empty name"}, {"name": ".", "type": D}, {"name": "./", "type": D}],
    [{"name": "big", "data": "z" * 5000, "mtime": 0}],
]
for i, entries in enumerate(layers):
    fmt = tarfile.PAX_FORMAT if any("pax" in e for e in entries) else tarfile.GNU_FORMAT if i == 10 else tarfile.USTAR_FORMAT
    put("layer_tar", "seed-%02d.tar" % i, tar_bytes(entries, fmt))
put("layer_tar", "seed-empty.tar", b"\0" * 1024)
put("layer_tar", "seed-not-a-tar", b"hello")


def docker_archive(layer_list, tags=("fuzz:latest",), extra=()):
    entries, diff_ids, names = [], [], []
    for i, lt in enumerate(layer_list):
        name = "l%d/layer.tar" % i
        entries.append({"name": name, "data": lt})
        diff_ids.append("sha256:" + hashlib.sha256(lt).hexdigest())
        names.append(name)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids},
                      "history": [{"created_by": "x"}] * len(layer_list)}).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    entries.append({"name": cid + ".json", "data": cfg})
    manifest = [{"Config": cid + ".json", "RepoTags": list(tags), "Layers": names}]
    entries.append({"name": "manifest.json", "data": json.dumps(manifest)})
    entries.extend(extra)
    return tar_bytes(entries)


def oci_layout(layer_list, ref="fuzz:1"):
    entries, descs, diff_ids = [{"name": "oci-layout", "data": '{"imageLayoutVersion":"1.0.0"}'}], [], []
    def blob(data):
        h = hashlib.sha256(data).hexdigest()
        entries.append({"name": "blobs/sha256/" + h, "data": data})
        return "sha256:" + h
    for lt in layer_list:
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob(lt), "size": len(lt)})
        diff_ids.append("sha256:" + hashlib.sha256(lt).hexdigest())
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(cfg), "size": len(cfg)},
                      "layers": descs}).encode()
    md = blob(man)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": md, "size": len(man), "annotations": {"org.opencontainers.image.ref.name": ref}}]}
    entries.append({"name": "index.json", "data": json.dumps(index)})
    return tar_bytes(entries)


l0 = tar_bytes(layers[0])
l1 = tar_bytes(layers[2])
bad = tar_bytes(layers[3])
loads = [
    docker_archive([l0]), docker_archive([l0, l1], tags=("a:1", "b/c:2")), docker_archive([], tags=()),
    docker_archive([bad]), docker_archive([l0], tags=("UPPER:x", "a:b:c")),
    oci_layout([l0]), oci_layout([l0, l1], ref="registry.example/x:y"), oci_layout([bad]),
    tar_bytes([{"name": "manifest.json", "data": "[{\"Config\":\"../../etc/passwd\",\"Layers\":[\"/etc/shadow\"]}]"}]),
    tar_bytes([{"name": "manifest.json", "data": "not json"}]),
    tar_bytes([{"name": "index.json", "data": "{\"manifests\":[{\"digest\":\"sha256:../../x\"}]}"},
               {"name": "oci-layout", "data": "{}"}]),
    tar_bytes([{"name": "repositories", "data": "{\"a\":{\"latest\":\"" + H + "\"}}"}]),
    docker_archive([l0], extra=[{"name": "../escape", "data": "x"}]),
    docker_archive([l0, l0], tags=("dup:1",)), docker_archive([l0], tags=("a:1",)) [:-1024],
    tar_bytes([{"name": "manifest.json", "data": "[]"}]), tar_bytes([{"name": "manifest.json", "data": "[{}]"}]),
    tar_bytes([{"name": "manifest.json", "data": "[{\"Config\":\"c.json\",\"Layers\":[]}]"},
               {"name": "c.json", "data": "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" + H + "\"]}}"}]),
    oci_layout([], ref=""), oci_layout([l1], ref="../../x"),
    tar_bytes([{"name": "oci-layout", "data": "{\"imageLayoutVersion\":\"9\"}"}, {"name": "index.json", "data": "{}"}]),
]
for i, t in enumerate(loads):
    put("load", "seed-%02d.tar" % i, t)
