//! `berth-fuzz`: run one fuzz target for a while.
//!
//! `berth-fuzz run TARGET --secs N --corpus DIR --findings DIR [--seed S]
//! [--timeout SECS] [--mem-mb MB] [--sandbox]` starts a worker process
//! (`berth-fuzz worker ...`) and watches it. The worker mutates the corpus
//! and runs each input under `catch_unwind`, saving panicking inputs
//! itself; before each input it writes the input and its execution count
//! to a state file in /dev/shm, so that when it dies (abort, out of
//! memory under the `ulimit -v` cap) or stops counting for `--timeout`
//! seconds (a hang), the watcher saves the input it was running and
//! starts a new worker. With `--sandbox` the worker runs in a private
//! mount namespace whose `/` is read-only (scratch files go to a tmpfs
//! under /dev/shm), so an extraction bug cannot write to the host.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_fuzz::mutate::Mutator;

/// Where the panic hook leaves the location and message of the last panic.
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("worker") => worker(&args[1..]),
        _ => Err(usage()),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-fuzz: {e}");
            ExitCode::from(2)
        }
    }
}

fn usage() -> String {
    let names: Vec<&str> = berth_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    format!(
        "usage: berth-fuzz run TARGET --secs N --corpus DIR --findings DIR [--seed S] \
         [--timeout SECS] [--mem-mb MB] [--sandbox]\ntargets: {}",
        names.join(" ")
    )
}

/// `--name value` options and bare flags.
struct Opts {
    target: String,
    vals: HashMap<String, String>,
    flags: Vec<String>,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let target = args.first().ok_or_else(usage)?.clone();
        let mut vals = HashMap::new();
        let mut flags = Vec::new();
        let mut it = args[1..].iter();
        while let Some(a) = it.next() {
            let name = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a:?}"))?;
            if name == "sandbox" {
                flags.push(name.to_string());
                continue;
            }
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            vals.insert(name.to_string(), v.clone());
        }
        Ok(Opts {
            target,
            vals,
            flags,
        })
    }

    fn get(&self, name: &str) -> Result<&str, String> {
        self.vals
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required"))
    }

    fn num(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.vals.get(name) {
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: not a number: {v:?}")),
            None => Ok(default),
        }
    }
}

fn hash_of(data: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}

/// Read every file of `dir` (missing directory: none).
fn read_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths.iter().filter_map(|p| fs::read(p).ok()).collect()
}

/// State file layout: execution count (u64 LE), input length (u64 LE), input.
fn read_state(path: &Path) -> (u64, Vec<u8>) {
    let Ok(buf) = fs::read(path) else {
        return (0, Vec::new());
    };
    if buf.len() < 16 {
        return (0, Vec::new());
    }
    let execs = u64::from_le_bytes(buf[0..8].try_into().unwrap_or([0; 8]));
    let len = u64::from_le_bytes(buf[8..16].try_into().unwrap_or([0; 8])) as usize;
    let data = buf.get(16..16 + len).unwrap_or(&buf[16..]).to_vec();
    (execs, data)
}

fn save_finding(dir: &Path, kind: &str, data: &[u8], note: &str) -> Result<PathBuf, String> {
    fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join(format!("{kind}-{:016x}", hash_of(data)));
    fs::write(&path, data).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let mut notes = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("NOTES.txt"))
        .map_err(|e| format!("writing notes in {}: {e}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = writeln!(notes, "{name}: {note}");
    Ok(path)
}

fn run(args: &[String]) -> Result<(), String> {
    let o = Opts::parse(args)?;
    if berth_fuzz::target(&o.target).is_none() {
        return Err(format!("unknown target {:?}\n{}", o.target, usage()));
    }
    let secs = o.num("secs", 60)?;
    let timeout = o.num("timeout", 10)?;
    let mem_mb = o.num("mem-mb", 2048)?;
    let mut seed = o.num("seed", hash_of(&std::process::id().to_le_bytes()))?;
    let corpus = fs::canonicalize(o.get("corpus")?).map_err(|e| format!("corpus: {e}"))?;
    let findings = PathBuf::from(o.get("findings")?);
    let sandbox = o.flags.iter().any(|f| f == "sandbox");
    let exe = std::env::current_exe().map_err(|e| format!("locating myself: {e}"))?;

    let work = PathBuf::from(format!(
        "/dev/shm/berth-fuzz-{}-{}",
        o.target,
        std::process::id()
    ));
    let scratch = work.join("tmp");
    let panics = work.join("panics");
    fs::create_dir_all(&scratch).map_err(|e| format!("creating {}: {e}", scratch.display()))?;
    let state = work.join("state");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut total, mut crashes, mut hangs, mut restarts) = (0u64, 0u64, 0u64, 0u64);

    loop {
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        if left == 0 {
            break;
        }
        let _ = fs::remove_file(&state);
        let mut child = spawn_worker(
            &exe, &o.target, &corpus, &state, &panics, &scratch, seed, left, mem_mb, sandbox,
        )?;
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let (mut last, mut since) = (0u64, Instant::now());
        let outcome = loop {
            std::thread::sleep(Duration::from_millis(200));
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for the worker: {e}")),
            }
            let (execs, _) = read_state(&state);
            if execs != last {
                (last, since) = (execs, Instant::now());
            } else if since.elapsed() > Duration::from_secs(timeout) {
                break None;
            }
        };
        let (execs, input) = read_state(&state);
        total += execs;
        match outcome {
            Some(status) if status.success() => {}
            Some(status) => {
                crashes += 1;
                let p = save_finding(
                    &findings,
                    "crash",
                    &input,
                    &format!("worker died: {status}"),
                )?;
                eprintln!(
                    "[{}] crash ({status}), input saved to {}",
                    o.target,
                    p.display()
                );
            }
            None => {
                hangs += 1;
                let _ = child.kill();
                let _ = child.wait();
                let note = format!("no progress for {timeout}s");
                let p = save_finding(&findings, "hang", &input, &note)?;
                eprintln!("[{}] hang, input saved to {}", o.target, p.display());
            }
        }
        restarts += 1;
    }
    // Panics the workers caught themselves.
    let mut panic_count = 0;
    if let Ok(rd) = fs::read_dir(&panics) {
        for e in rd.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".bin") else {
                continue;
            };
            let data = fs::read(e.path()).unwrap_or_default();
            let note = fs::read_to_string(panics.join(format!("{stem}.txt"))).unwrap_or_default();
            save_finding(&findings, "panic", &data, note.trim())?;
            panic_count += 1;
        }
    }
    let _ = fs::remove_dir_all(&work);
    println!(
        "{}: {total} executions in {secs}s ({} worker restarts), findings: {panic_count} panic, {crashes} crash, {hangs} hang",
        o.target,
        restarts.saturating_sub(1)
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn spawn_worker(
    exe: &Path,
    target: &str,
    corpus: &Path,
    state: &Path,
    panics: &Path,
    scratch: &Path,
    seed: u64,
    secs: u64,
    mem_mb: u64,
    sandbox: bool,
) -> Result<Child, String> {
    // The shell applies the memory cap (and, sandboxed, makes `/` read-only
    // in the new mount namespace) before becoming the worker.
    let setup = if sandbox {
        "mount -o remount,bind,ro / && ulimit -v \"$1\" && shift && exec \"$@\""
    } else {
        "ulimit -v \"$1\" && shift && exec \"$@\""
    };
    let mut cmd = if sandbox {
        let mut c = Command::new("unshare");
        c.args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            setup,
            "sh",
        ]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", setup, "sh"]);
        c
    };
    cmd.arg((mem_mb * 1024).to_string())
        .arg(exe)
        .arg("worker")
        .arg(target)
        .arg("--corpus")
        .arg(corpus)
        .arg("--state")
        .arg(state)
        .arg("--panics")
        .arg(panics)
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--secs")
        .arg(secs.to_string())
        .env("TMPDIR", scratch)
        .env("RUST_BACKTRACE", "0");
    cmd.spawn().map_err(|e| format!("starting the worker: {e}"))
}

fn worker(args: &[String]) -> Result<(), String> {
    let o = Opts::parse(args)?;
    let target = berth_fuzz::target(&o.target).ok_or_else(usage)?;
    let seeds = read_corpus(Path::new(o.get("corpus")?));
    let state_path = PathBuf::from(o.get("state")?);
    let panics = PathBuf::from(o.get("panics")?);
    fs::create_dir_all(&panics).map_err(|e| format!("creating {}: {e}", panics.display()))?;
    let deadline = Instant::now() + Duration::from_secs(o.num("secs", 60)?);
    let mut m = Mutator::new(
        o.num("seed", 1)?,
        berth_fuzz::dictionary(&o.target),
        berth_fuzz::is_tar_target(&o.target),
    );
    let state = fs::File::create(&state_path).map_err(|e| format!("creating state file: {e}"))?;
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        if let Ok(mut g) = LAST_PANIC.lock() {
            *g = Some((at, msg));
        }
    }));
    // Inputs that got mutated once may be mutated again (a coverage-less
    // stand-in for corpus growth): the seeds plus up to 256 descendants.
    let mut pool = seeds.clone();
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let mut seen_at: HashMap<String, u32> = HashMap::new();
    let mut execs: u64 = 0;
    let mut buf = Vec::new();
    while Instant::now() < deadline {
        let parent = &pool[m.below(pool.len())];
        let input = if m.below(32) == 0 {
            parent.clone()
        } else {
            m.mutate(parent, &seeds)
        };
        execs += 1;
        buf.clear();
        buf.extend_from_slice(&execs.to_le_bytes());
        buf.extend_from_slice(&(input.len() as u64).to_le_bytes());
        buf.extend_from_slice(&input);
        state
            .write_all_at(&buf, 0)
            .map_err(|e| format!("writing state: {e}"))?;
        let res = std::panic::catch_unwind(|| target(&input));
        if res.is_err() {
            let (at, msg) = LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut g| g.take())
                .unwrap_or_default();
            let n = seen_at.entry(at.clone()).or_insert(0);
            *n += 1;
            if *n <= 3 {
                let name = format!("{:016x}", hash_of(&input));
                let _ = fs::write(panics.join(format!("{name}.bin")), &input);
                let _ = fs::write(
                    panics.join(format!("{name}.txt")),
                    format!("panicked at {at}: {msg}"),
                );
                eprintln!(
                    "[{}] panic at {at}: {}",
                    o.target,
                    msg.chars().take(300).collect::<String>()
                );
            }
            continue;
        }
        if m.below(64) == 0 {
            if pool.len() < seeds.len() + 256 {
                pool.push(input);
            } else {
                let i = seeds.len() + m.below(256);
                pool[i] = input;
            }
        }
    }
    Ok(())
}
