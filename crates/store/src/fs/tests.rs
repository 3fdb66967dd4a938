//! Tests of the fs helpers, hostile tarballs in particular.

use super::*;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};

/// A raw tar entry with any name (the tar builder refuses `..`).
pub(crate) fn raw_entry(name: &str, typ: u8, link: &str, data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::new(typ));
    {
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len() + (512 - data.len() % 512) % 512, 0);
    out
}

/// A tar from raw entries.
pub(crate) fn tar_of(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut v: Vec<u8> = entries.concat();
    v.extend_from_slice(&[0u8; 1024]);
    v
}

fn dev_entry(name: &str, typ: u8, major: u32, minor: u32) -> Vec<u8> {
    let mut e = raw_entry(name, typ, "", b"");
    let mut h = tar::Header::new_gnu();
    h.as_mut_bytes().copy_from_slice(&e[..512]);
    h.set_device_major(major).unwrap();
    h.set_device_minor(minor).unwrap();
    h.set_cksum();
    e[..512].copy_from_slice(h.as_bytes());
    e
}

/// Everything under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            if p.symlink_metadata().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

struct Sandbox {
    _t: tempfile::TempDir,
    outside: PathBuf,
    dest: PathBuf,
}

/// `<tmp>/outside` (must stay empty) and `<tmp>/a/b/dest`.
fn sandbox() -> Sandbox {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    let dest = t.path().join("a/b/dest");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    Sandbox {
        _t: t,
        outside,
        dest,
    }
}

#[test]
fn dotdot_entry_is_refused() {
    let s = sandbox();
    let tar = tar_of(&[raw_entry("../../../outside/x", b'0', "", b"evil")]);
    let err = extract_layer(&tar[..], &s.dest).unwrap_err().to_string();
    assert!(err.contains("escapes the layer directory"), "{err}");
    assert!(err.contains("../../../outside/x"), "{err}");
    assert!(listing(&s.outside).is_empty());
    let tar = tar_of(&[raw_entry("a/../../x", b'0', "", b"evil")]);
    assert!(extract_layer(&tar[..], &s.dest).is_err());
    assert!(!s.dest.parent().unwrap().join("x").exists());
}

#[test]
fn absolute_names_land_inside() {
    let s = sandbox();
    let tar = tar_of(&[raw_entry("/etc/passwd", b'0', "", b"root::0:0")]);
    extract_layer(&tar[..], &s.dest).unwrap();
    assert_eq!(
        std::fs::read(s.dest.join("etc/passwd")).unwrap(),
        b"root::0:0"
    );
}

#[test]
fn writing_through_symlinks_stays_inside() {
    let s = sandbox();
    let out = s.outside.to_string_lossy().into_owned();
    let tar = tar_of(&[
        raw_entry("abs", b'2', &out, b""),
        raw_entry("abs/evil", b'0', "", b"evil"),
        raw_entry("rel", b'2', "../../../outside", b""),
        raw_entry("rel/evil2", b'0', "", b"evil"),
        raw_entry("deep/x", b'2', "../../../../../../../..", b""),
        raw_entry("deep/x/tmp/evil3", b'0', "", b"evil"),
    ]);
    extract_layer(&tar[..], &s.dest).unwrap();
    assert!(listing(&s.outside).is_empty(), "{:?}", listing(&s.outside));
    // Chroot semantics: the writes went to the same names inside the layer.
    assert_eq!(
        std::fs::read(s.dest.join(&out[1..]).join("evil")).unwrap(),
        b"evil"
    );
    assert_eq!(
        std::fs::read(s.dest.join("outside/evil2")).unwrap(),
        b"evil"
    );
    assert_eq!(std::fs::read(s.dest.join("tmp/evil3")).unwrap(), b"evil");
    // The symlinks themselves are kept as they were.
    assert_eq!(std::fs::read_link(s.dest.join("abs")).unwrap(), s.outside);
}

#[test]
fn final_symlink_is_replaced_not_followed() {
    let s = sandbox();
    let victim = s.outside.join("victim");
    std::fs::write(&victim, b"safe").unwrap();
    let tar = tar_of(&[
        raw_entry("f", b'2', &victim.to_string_lossy(), b""),
        raw_entry("f", b'0', "", b"evil"),
    ]);
    extract_layer(&tar[..], &s.dest).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"safe");
    assert_eq!(std::fs::read(s.dest.join("f")).unwrap(), b"evil");
}

#[test]
fn hardlinks_to_the_outside_are_refused() {
    let s = sandbox();
    let victim = s.outside.join("victim");
    std::fs::write(&victim, b"safe").unwrap();
    // Lexical escape.
    let tar = tar_of(&[raw_entry("h", b'1', "../../../outside/victim", b"")]);
    let err = extract_layer(&tar[..], &s.dest).unwrap_err().to_string();
    assert!(err.contains("escapes"), "{err}");
    // Absolute target: means the layer's own /etc/passwd, which is absent.
    let tar = tar_of(&[raw_entry("h2", b'1', "/etc/passwd", b"")]);
    assert!(extract_layer(&tar[..], &s.dest).is_err());
    // Through a symlink to the outside: resolved inside, so absent.
    let tar = tar_of(&[
        raw_entry("l", b'2', &s.outside.to_string_lossy(), b""),
        raw_entry("h3", b'1', "l/victim", b""),
    ]);
    assert!(extract_layer(&tar[..], &s.dest).is_err());
    assert_eq!(std::fs::metadata(&victim).unwrap().nlink(), 1);
    // A hardlink to a symlink pointing outside is just another symlink.
    let tar = tar_of(&[
        raw_entry("ok", b'0', "", b"data"),
        raw_entry("ok2", b'1', "ok", b""),
    ]);
    extract_layer(&tar[..], &s.dest).unwrap();
    assert_eq!(std::fs::metadata(s.dest.join("ok2")).unwrap().nlink(), 2);
}

#[test]
fn device_nodes() {
    let s = sandbox();
    let tar = tar_of(&[dev_entry("sda", b'4', 8, 0)]);
    let err = extract_layer(&tar[..], &s.dest).unwrap_err().to_string();
    assert!(err.contains("device node"), "{err}");
    assert!(!s.dest.join("sda").exists());
    let tar = tar_of(&[dev_entry("mem", b'3', 1, 1)]);
    assert!(extract_layer(&tar[..], &s.dest).is_err());
    // Under dev/ they are skipped (the container gets its own /dev).
    let tar = tar_of(&[
        raw_entry("dev/", b'5', "", b""),
        dev_entry("dev/null", b'3', 1, 3),
    ]);
    extract_layer(&tar[..], &s.dest).unwrap();
    assert!(s.dest.join("dev").is_dir());
    assert!(!s.dest.join("dev/null").exists());
}

#[test]
fn huge_extended_header_is_refused_by_the_splitter() {
    // Through the store's ingestion path (the splitter guards the parser).
    let t = tempfile::tempdir().unwrap();
    let store = crate::Store::open(t.path()).unwrap();
    let mut pax = raw_entry("PaxHeaders/x", b'x', "", b"");
    // Claim 2 GiB of PAX data without sending it.
    let mut h = tar::Header::new_gnu();
    h.as_mut_bytes().copy_from_slice(&pax[..512]);
    h.set_size(2 << 30);
    h.set_cksum();
    pax[..512].copy_from_slice(h.as_bytes());
    let mut tar = pax;
    tar.extend_from_slice(&[b'9'; 4096]);
    let err = store
        .import_rootfs(&tar[..], &crate::ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("too large"), "{err}");
    assert!(store.list(true).unwrap().is_empty());
    // The public extractors are guarded too.
    let s = sandbox();
    let err = extract_layer(&tar[..], &s.dest).unwrap_err().to_string();
    assert!(err.contains("too large"), "{err}");
    let err = extract_into(&tar[..], &s.dest, Path::new("/"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("too large"), "{err}");
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let s = sandbox();
    let tar = tar_of(&[
        raw_entry("d/", b'5', "", b""),
        raw_entry("d/.wh..wh..opq", b'0', "", b""),
        raw_entry("d/keep", b'0', "", b"k"),
        raw_entry(".wh.gone", b'0', "", b""),
        raw_entry("e/.wh.sub", b'0', "", b""),
    ]);
    extract_layer(&tar[..], &s.dest).unwrap();
    let m = std::fs::symlink_metadata(s.dest.join("gone")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), 0);
    assert!(std::fs::symlink_metadata(s.dest.join("e/sub"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(
        xattr::get(s.dest.join("d"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    assert!(!s.dest.join(".wh.gone").exists());
    assert!(!s.dest.join("d/.wh..wh..opq").exists());
}

#[test]
fn whiteouts_of_the_directory_itself_or_its_parent_are_refused() {
    // Found by fuzzing: `.wh...` removed the parent of the layer directory.
    for name in ["d/.wh...", "d/.wh..", "d/.wh.", ".wh...", ".wh.."] {
        let s = sandbox();
        std::fs::write(s.outside.join("keep"), b"k").unwrap();
        let tar = tar_of(&[
            raw_entry("d/", b'5', "", b""),
            raw_entry("d/f", b'0', "", b"x"),
            raw_entry(name, b'0', "", b""),
        ]);
        let err = extract_layer(&tar[..], &s.dest).unwrap_err().to_string();
        assert!(err.contains("invalid whiteout entry"), "{name}: {err}");
        assert!(
            s.dest.join("d/f").is_file(),
            "{name}: layer directory damaged"
        );
        assert_eq!(std::fs::read(s.outside.join("keep")).unwrap(), b"k");
    }
}

#[test]
fn layer_tar_round_trips_whiteouts() {
    let s = sandbox();
    let tar = tar_of(&[
        raw_entry("d/", b'5', "", b""),
        raw_entry("d/.wh..wh..opq", b'0', "", b""),
        raw_entry(".wh.gone", b'0', "", b""),
        raw_entry("f", b'0', "", b"hello"),
    ]);
    extract_layer(&tar[..], &s.dest).unwrap();
    let out = tar_layer(&s.dest, &[], Vec::new()).unwrap();
    let mut names: Vec<String> = tar::Archive::new(&out[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".wh.gone", "d/", "d/.wh..wh..opq", "f"]);
}

#[test]
fn metadata_is_kept() {
    let s = sandbox();
    let mut e = raw_entry("x", b'0', "", b"data");
    let mut h = tar::Header::new_gnu();
    h.as_mut_bytes().copy_from_slice(&e[..512]);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mode(0o4755);
    h.set_cksum();
    e[..512].copy_from_slice(h.as_bytes());
    extract_layer(&tar_of(&[e])[..], &s.dest).unwrap();
    let m = std::fs::metadata(s.dest.join("x")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 5678, 0o4755));
    assert_eq!(m.mtime(), 1_700_000_000);
}

#[test]
fn garbage_is_a_clear_error() {
    let s = sandbox();
    let err = extract_layer(&b"this is not a tar file at all"[..], &s.dest)
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer tar"), "{err}");
}

#[test]
fn cp_into_container_follows_container_symlinks_inside_root() {
    let s = sandbox();
    let root = &s.dest;
    std::fs::create_dir_all(root.join("real")).unwrap();
    symlink("/real", root.join("link")).unwrap();
    symlink(&s.outside, root.join("out")).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o600);
    b.append_data(&mut h, "file", &b"hi"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    extract_into(&tar[..], root, Path::new("/link")).unwrap();
    assert_eq!(std::fs::read(root.join("real/file")).unwrap(), b"hi");
    // A destination symlink to the host's outside is resolved in the root.
    std::fs::create_dir_all(root.join(s.outside.strip_prefix("/").unwrap())).unwrap();
    extract_into(&tar[..], root, Path::new("/out")).unwrap();
    assert!(listing(&s.outside).is_empty());
    assert!(extract_into(&tar[..], root, Path::new("/missing")).is_err());
}

#[test]
fn cp_out_resolves_in_root_and_stats() {
    let s = sandbox();
    let root = &s.dest;
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(root.join("bin/busybox"), b"elf").unwrap();
    symlink("busybox", root.join("bin/sh")).unwrap();
    symlink("/bin", root.join("b")).unwrap();
    let st = stat_in_root(root, Path::new("/b/sh")).unwrap();
    assert_eq!(st.name, "sh");
    assert_eq!(st.link_target, "/bin/busybox");
    assert_eq!(st.mode & (1 << 27), 1 << 27);
    let st = stat_in_root(root, Path::new("/bin")).unwrap();
    assert_eq!(st.mode & (1 << 31), 1 << 31);
    let mut out = Vec::new();
    tar_path(root, Path::new("/b/"), &mut out).unwrap();
    // "/b/" names the symlink itself (last component not followed).
    let mut out = Vec::new();
    tar_path(root, Path::new("/bin"), &mut out).unwrap();
    let names: Vec<String> = tar::Archive::new(&out[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["bin/", "bin/busybox", "bin/sh"]);
    assert!(matches!(
        stat_in_root(root, Path::new("/nope")),
        Err(StoreError::PathNotFound(_))
    ));
}

#[test]
fn changes_of_an_upper_dir() {
    let t = tempfile::tempdir().unwrap();
    let lower = t.path().join("lower");
    let upper = t.path().join("upper");
    std::fs::create_dir_all(lower.join("etc")).unwrap();
    std::fs::write(lower.join("etc/passwd"), b"x").unwrap();
    std::fs::write(lower.join("old"), b"x").unwrap();
    std::fs::create_dir_all(upper.join("etc")).unwrap();
    std::fs::write(upper.join("etc/passwd"), b"y").unwrap();
    std::fs::write(upper.join("etc/new"), b"y").unwrap();
    std::fs::create_dir_all(upper.join("tmp/a")).unwrap();
    super::extract::tests_mknod_whiteout(&upper.join("old"));
    let got: Vec<(String, u8)> = changes(&upper, &[lower])
        .unwrap()
        .into_iter()
        .map(|c| (c.path, c.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("/etc".to_string(), 0),
            ("/etc/new".to_string(), 1),
            ("/etc/passwd".to_string(), 0),
            ("/old".to_string(), 2),
            ("/tmp".to_string(), 1),
            ("/tmp/a".to_string(), 1),
        ]
    );
}

#[test]
fn tar_dir_is_deterministic() {
    let s = sandbox();
    for n in ["b", "a", "c/z", "c/y"] {
        let p = s.dest.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, n).unwrap();
    }
    let mut one = Vec::new();
    tar_dir(&s.dest, &mut one).unwrap();
    let mut two = Vec::new();
    tar_dir(&s.dest, &mut two).unwrap();
    assert_eq!(one, two);
    let names: Vec<String> = tar::Archive::new(&one[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a", "b", "c/", "c/y", "c/z"]);
}
