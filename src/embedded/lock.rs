//! The data-directory lock, `<dir>/medchain.lock`: one process at a time owns the
//! embedded cluster. The owner holds an exclusive `flock` (released by the kernel if it
//! dies, so a crash never leaves the directory locked) and records in the file who it is
//! and how far it got, so others can say who holds it, or use its cluster once ready.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{ClusterError, process};

/// Why the owner holds the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `medchain serve`: others may use its cluster while it is ready.
    Serve,
    /// Any other command: owns the cluster only for its own run.
    Command,
}

/// How far the owner's cluster is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Starting,
    Ready,
    Stopping,
}

/// What the lock file says about its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Holder {
    pub pid: u32,
    pub role: Role,
    pub phase: Phase,
}

/// The exclusive lock, held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
    path: PathBuf,
}

pub(crate) enum Attempt {
    Acquired(DirLock),
    /// Someone else holds it; what they recorded, if it names a live process yet.
    Held(Option<Holder>),
}

impl DirLock {
    pub(crate) fn try_acquire(path: &Path) -> Result<Attempt, ClusterError> {
        // No truncation on open: the current owner's record must survive our attempt.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| ClusterError::io("open the lock file", path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Attempt::Acquired(DirLock {
                file,
                path: path.to_path_buf(),
            })),
            Err(TryLockError::WouldBlock) => Ok(Attempt::Held(read_holder(path))),
            Err(TryLockError::Error(e)) => Err(ClusterError::io("lock", path, e)),
        }
    }

    /// Records this process as the owner, in `role`, at `phase`.
    pub(crate) fn record(&self, role: Role, phase: Phase) -> Result<(), ClusterError> {
        let text = format!(
            "pid={}\nrole={}\nphase={}\n",
            std::process::id(),
            match role {
                Role::Serve => "serve",
                Role::Command => "command",
            },
            match phase {
                Phase::Starting => "starting",
                Phase::Ready => "ready",
                Phase::Stopping => "stopping",
            }
        );
        self.file
            .set_len(0)
            .and_then(|()| self.file.write_all_at(text.as_bytes(), 0))
            .map_err(|e| ClusterError::io("write the lock file", &self.path, e))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // The kernel releases the lock when the file closes; the record would outlive
        // it and name a finished process, so it goes first.
        let _ = self.file.set_len(0);
    }
}

/// The recorded owner, if the record is complete and names a live process (a record
/// can be stale, or half-written by an owner that just took the lock).
fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
    };
    let holder = Holder {
        pid: field("pid")?.parse().ok()?,
        role: match field("role")? {
            "serve" => Role::Serve,
            "command" => Role::Command,
            _ => return None,
        },
        phase: match field("phase")? {
            "starting" => Phase::Starting,
            "ready" => Phase::Ready,
            "stopping" => Phase::Stopping,
            _ => return None,
        },
    };
    process::is_alive(holder.pid).then_some(holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_attempt_sees_the_first_holder_and_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("medchain.lock");
        let Attempt::Acquired(lock) = DirLock::try_acquire(&path).unwrap() else {
            panic!("the first attempt must get the lock");
        };
        assert!(matches!(
            DirLock::try_acquire(&path).unwrap(),
            Attempt::Held(None)
        ));
        lock.record(Role::Serve, Phase::Ready).unwrap();
        let Attempt::Held(Some(holder)) = DirLock::try_acquire(&path).unwrap() else {
            panic!("the record must be read");
        };
        assert_eq!(
            holder,
            Holder {
                pid: std::process::id(),
                role: Role::Serve,
                phase: Phase::Ready
            }
        );
        drop(lock);
        assert!(matches!(
            DirLock::try_acquire(&path).unwrap(),
            Attempt::Acquired(_)
        ));
    }
}
