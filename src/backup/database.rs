//! The database part of a backup: a base backup and the WAL after it, with PostgreSQL's
//! own programs (`pg_basebackup`, `pg_receivewal`), and a cluster recovered from them.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::embedded::PgBinaries;

/// The replication slot the WAL archiver streams from: the primary keeps every segment
/// the archive has not received yet, also while no `medchain backup` runs.
pub const SLOT: &str = "medchain_backup";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{tool} failed: {detail}")]
    Tool { tool: &'static str, detail: String },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not empty: a backup goes into a directory of its own")]
    NotEmpty(PathBuf),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the parts of a backup lie in its directory.
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn base(&self) -> PathBuf {
        self.root.join("database")
    }
    pub fn wal(&self) -> PathBuf {
        self.root.join("wal")
    }
}

/// `pg_basebackup` of the server at `url` into `layout.base()` (tar format: `base.tar`
/// and `pg_wal.tar`), checkpointing at once.
pub fn base_backup(bins: &PgBinaries, url: &str, layout: &Layout) -> Result<(), BackupError> {
    let mut cmd = command(&bins.pg_basebackup());
    cmd.arg("--dbname")
        .arg(url)
        .arg("--pgdata")
        .arg(layout.base())
        .args(["--format=tar", "--wal-method=stream", "--checkpoint=fast"])
        .args(["--no-password", "--label=medchain backup"]);
    run("pg_basebackup", &bins.pg_basebackup(), &mut cmd)
}

/// Creates the archiver's replication slot unless it exists.
pub fn create_slot(bins: &PgBinaries, url: &str, layout: &Layout) -> Result<(), BackupError> {
    let mut cmd = command(&bins.pg_receivewal());
    cmd.arg("--dbname")
        .arg(url)
        .arg("--directory")
        .arg(layout.wal())
        .args(["--slot", SLOT, "--create-slot", "--if-not-exists"])
        .arg("--no-password");
    run(
        "pg_receivewal --create-slot",
        &bins.pg_receivewal(),
        &mut cmd,
    )
}

/// The WAL archiver, started: it streams into `layout.wal()`, flushing each write, until
/// `end_at` (an LSN) when given, otherwise until it is stopped.
pub fn archive_wal(
    bins: &PgBinaries,
    url: &str,
    layout: &Layout,
    end_at: Option<&str>,
) -> Result<tokio::process::Child, BackupError> {
    let mut cmd = tokio::process::Command::new(bins.pg_receivewal());
    cmd.arg("--dbname")
        .arg(url)
        .arg("--directory")
        .arg(layout.wal())
        .args([
            "--slot",
            SLOT,
            "--synchronous",
            "--no-loop",
            "--no-password",
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(lsn) = end_at {
        cmd.arg("--endpos").arg(lsn);
    }
    cmd.spawn().map_err(|source| BackupError::Spawn {
        program: bins.pg_receivewal(),
        source,
    })
}

fn command(program: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.stdin(Stdio::null());
    for var in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd` (the program at `program`) to its end; its stderr is the error's detail.
fn run(
    tool: &'static str,
    program: &Path,
    cmd: &mut std::process::Command,
) -> Result<(), BackupError> {
    let out = cmd.output().map_err(|source| BackupError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(BackupError::Tool {
        tool,
        detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}
