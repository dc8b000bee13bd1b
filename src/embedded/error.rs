//! The one error type of the embedded cluster. Every failure to find, create, start,
//! share or stop a private PostgreSQL cluster ends up here, worded for the person who
//! runs `medchain`: what went wrong, and with which file or program.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the data directory {} is in use by another medchain process{}", dir.display(), by_pid(*pid))]
    InUse { dir: PathBuf, pid: Option<u32> },

    #[error(
        "the Unix socket path {} is {len} bytes, longer than the {max} a socket allows: choose a data directory with a shorter path",
        path.display()
    )]
    SocketPathTooLong {
        path: PathBuf,
        len: usize,
        max: usize,
    },

    #[error(
        "PostgreSQL refuses to run as root, and neither a `postgres` nor a `nobody` user exists in /etc/passwd to run it as"
    )]
    NoUnprivilegedUser,

    #[error(
        "PostgreSQL runs as user `{user}`, who cannot reach {}: {} is not searchable by it; choose a data directory outside it",
        path.display(),
        blocked_at.display()
    )]
    Unreachable {
        path: PathBuf,
        user: String,
        blocked_at: PathBuf,
    },

    #[error("{} holds files but is not a PostgreSQL cluster (it has no PG_VERSION)", path.display())]
    NotACluster { path: PathBuf },

    #[error(
        "the cluster in {} was created by PostgreSQL {cluster}, but the binaries in {} are PostgreSQL {binaries}: use matching binaries or a new data directory",
        path.display(),
        bin_dir.display()
    )]
    VersionMismatch {
        path: PathBuf,
        cluster: String,
        binaries: String,
        bin_dir: PathBuf,
    },

    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("could not run {}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{tool} failed ({status}){}", detail_suffix(detail))]
    Tool {
        tool: &'static str,
        status: ExitStatus,
        detail: String,
    },

    #[error("gave up after {secs} s waiting for {what}")]
    Timeout { what: &'static str, secs: u64 },

    #[error("the shared test cluster failed: {detail}")]
    TestCluster { detail: String },
}

impl ClusterError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ClusterError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

fn by_pid(pid: Option<u32>) -> String {
    pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(":\n{detail}")
    }
}
