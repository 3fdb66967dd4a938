//! One daemon per socket and per data root, and the record the CLI restarts it from.
//!
//! A daemon holds two exclusive locks for its whole life: `<socket>.lock` (so two daemons
//! started at once for the same socket, by hand or by two CLI calls that found it dead, never
//! both serve it: the second stops with a clear message) and `<data-root>/daemon.lock` (so two
//! daemons never share images and containers). The socket lock file also records the
//! arguments the daemon was started with: a CLI that finds the socket dead restarts the daemon
//! with that same configuration (its data root, exec root, registries...), not the defaults.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use nix::fcntl::{Flock, FlockArg};

/// The locks a running daemon holds (released when dropped, or when the process dies).
#[derive(Debug)]
pub struct DaemonLocks {
    _socket: Flock<File>,
    _data_root: Flock<File>,
}

/// What the socket lock file records.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Eq)]
pub struct Record {
    /// The daemon's pid.
    pub pid: u32,
    /// The arguments after `berth` (`daemon -H ... --data-root ...`).
    pub args: Vec<String>,
    /// The directory they were given in (relative paths among them are relative to it).
    pub cwd: PathBuf,
}

/// The lock file of the daemon serving `socket`.
pub fn socket_lock_path(socket: &Path) -> PathBuf {
    let mut p = socket.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

fn try_lock(path: &Path) -> anyhow::Result<Result<Flock<File>, File>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(f, _)| f))
}

/// Takes both locks and records `args`, or says which daemon holds them.
pub fn acquire(socket: &Path, data_root: &Path, args: &[String]) -> anyhow::Result<DaemonLocks> {
    let lock_path = socket_lock_path(socket);
    let mut socket_lock = match try_lock(&lock_path)? {
        Ok(l) => l,
        Err(mut held) => {
            let pid = read_record_from(&mut held).map(|r| r.pid);
            bail!(
                "a berth daemon{} is already running on {}",
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
                socket.display()
            );
        }
    };
    let data_lock = match try_lock(&data_root.join("daemon.lock"))? {
        Ok(l) => l,
        Err(_) => bail!(
            "another berth daemon is using the data root {}: stop it first, or give this one its own --data-root",
            data_root.display()
        ),
    };
    let record = Record {
        pid: std::process::id(),
        args: args.to_vec(),
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    let text = serde_json::to_vec(&record).context("encoding the daemon record")?;
    socket_lock
        .set_len(0)
        .context("truncating the daemon record")?;
    socket_lock
        .rewind()
        .context("rewinding the daemon record")?;
    socket_lock
        .write_all(&text)
        .with_context(|| format!("writing {}", lock_path.display()))?;
    Ok(DaemonLocks {
        _socket: socket_lock,
        _data_root: data_lock,
    })
}

fn read_record_from(f: &mut File) -> Option<Record> {
    let mut text = String::new();
    f.rewind().ok()?;
    f.take(64 * 1024).read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// How the last daemon on `socket` was started, if it left a record.
pub fn recorded(socket: &Path) -> Option<Record> {
    let mut f = File::open(socket_lock_path(socket)).ok()?;
    let r = read_record_from(&mut f)?;
    (r.args.first().map(String::as_str) == Some("daemon")).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_daemon_per_socket_and_data_root_and_the_record_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("run/berth.sock");
        let data = dir.path().join("data");
        let args: Vec<String> = ["daemon", "--data-root", "/x"].map(String::from).to_vec();
        let locks = acquire(&sock, &data, &args).unwrap();
        assert_eq!(recorded(&sock).map(|r| r.args), Some(args.clone()));
        let e = acquire(&sock, &data, &args).unwrap_err().to_string();
        assert!(
            e.contains("already running") && e.contains(&std::process::id().to_string()),
            "{e}"
        );
        let other = dir.path().join("run/other.sock");
        let e = acquire(&other, &data, &args).unwrap_err().to_string();
        assert!(e.contains("using the data root"), "{e}");
        drop(locks);
        assert!(acquire(&other, &data, &args).is_ok());
    }
}
