//! One rollout at a time per inventory: `zdd apply` holds an exclusive `flock` on a lock
//! file named after the inventory's absolute path for as long as it runs. The kernel drops
//! the lock when the process dies, however it dies (SIGKILL included), so a stale lock
//! never blocks the next run. The file says who holds it, for the error of the second run.

use crate::error::{Diagnostic, Error};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Where lock files live: `$ZDD_LOCK_DIR`, else `zdd-locks` in the system's temporary
/// directory (shared by every run on the controller).
pub fn lock_dir() -> PathBuf {
    std::env::var_os("ZDD_LOCK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("zdd-locks"))
}

/// A held rollout lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RolloutLock {
    _file: File,
    pub path: PathBuf,
}

/// What names the fleet a rollout changes: the inventory sources' absolute paths (a host
/// list as written), or the implicit localhost inventory.
pub fn lock_key(inventory: &[String]) -> String {
    if inventory.is_empty() {
        return "implicit localhost".into();
    }
    inventory
        .iter()
        .map(|source| {
            std::fs::canonicalize(source)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| source.clone())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl RolloutLock {
    /// Take the lock for `key` in `dir`, or say which run holds it. `about` (the playbook,
    /// the start time) is written into the file for that message.
    pub fn acquire(dir: &Path, key: &str, about: &str) -> Result<RolloutLock, Error> {
        RolloutLock::try_acquire(dir, key, about)?.map_err(|holder| {
            Error::invalid(
                Diagnostic::new(format!(
                    "another rollout of the inventory {key} is running: {holder}"
                ))
                .hint("wait for it to finish (`zdd status` shows where it is), or stop it first; two rollouts at once would re-enable servers the other is upgrading"),
            )
        })
    }

    /// Take the lock, or `Ok(Err(holder))` when another process holds it (what its file
    /// says: pid, start, playbook). `Err` when the lock directory is unusable.
    pub fn try_acquire(dir: &Path, key: &str, about: &str) -> Result<Result<RolloutLock, String>, Error> {
        let cannot = |e: std::io::Error| {
            Error::invalid(
                Diagnostic::new(format!("cannot take the rollout lock in {}: {e}", dir.display()))
                    .hint("set ZDD_LOCK_DIR to a writable directory"),
            )
        };
        std::fs::create_dir_all(dir).map_err(cannot)?;
        let digest = Sha256::digest(key.as_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!("{name}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Ok(Err(holder.trim().to_owned()));
        }
        let holder = format!("zdd pid {}, {about}\n", std::process::id());
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(holder.as_bytes()));
        written.map_err(cannot)?;
        Ok(Ok(RolloutLock { _file: file, path }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_the_lock_frees_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first =
            RolloutLock::acquire(dir.path(), "/srv/hosts.ini", "started 2026-01-01T00:00:00Z").unwrap();
        let second = RolloutLock::acquire(dir.path(), "/srv/hosts.ini", "started later").unwrap_err();
        let text = second.render();
        assert!(
            text.contains(&format!(
                "another rollout of the inventory /srv/hosts.ini is running: zdd pid {}, started 2026-01-01T00:00:00Z",
                std::process::id()
            )),
            "{text}"
        );
        assert_eq!(second.exit_code(), crate::error::exit::INVALID);
        let other = RolloutLock::acquire(dir.path(), "/srv/other.ini", "x");
        assert!(other.is_ok(), "another inventory is another fleet");
        drop(first);
        assert!(RolloutLock::acquire(dir.path(), "/srv/hosts.ini", "y").is_ok());
    }
}
