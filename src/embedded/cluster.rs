//! Who runs the embedded cluster of a data directory. `medchain serve` owns it for its
//! whole life and lets other commands use it; any other command either uses the
//! cluster of a running `serve` or owns the cluster for its own run. Ownership is the
//! data-directory lock; the owner stops the cluster when done (or, as a safety net,
//! when dropped).

use std::path::Path;
use std::time::Duration;

use tracing::{error, info, warn};

use super::lock::{Attempt, DirLock, Holder, Phase, Role};
use super::server::{Server, Settings};
use super::{ClusterError, DataDir, PgBinaries};

/// The database MedChain keeps its data in.
pub const DATABASE: &str = "medchain";
/// How often a command waiting for the data directory looks again.
const POLL: Duration = Duration::from_millis(100);

/// A running cluster this process owns; stopped by [`EmbeddedCluster::stop`] or on drop.
#[derive(Debug)]
pub struct EmbeddedCluster {
    server: Server,
    data: DataDir,
    role: Role,
    running: bool,
    // Declared last so that it is released only after the server has stopped.
    lock: DirLock,
}

/// What a process gets when it asks for the embedded database.
#[derive(Debug)]
pub enum Attached {
    /// This process started the cluster and must stop it.
    Owned(EmbeddedCluster),
    /// A running `medchain serve` owns the cluster; this process only connects.
    Borrowed { url: String },
}

impl Attached {
    /// The connection URL of the `medchain` database.
    pub fn url(&self) -> String {
        match self {
            Attached::Owned(cluster) => cluster.url(),
            Attached::Borrowed { url } => url.clone(),
        }
    }
}

/// For `medchain serve`: owns the data directory (or fails with
/// [`ClusterError::InUse`]), creates the cluster on first run, clears what a crash left,
/// starts the server and creates the `medchain` database if missing.
pub fn attach_for_serve(dir: &Path, bins: &PgBinaries) -> Result<EmbeddedCluster, ClusterError> {
    let data = DataDir::open(dir)?;
    match DirLock::try_acquire(&data.lock_file())? {
        Attempt::Acquired(lock) => EmbeddedCluster::start(data, bins, lock, Role::Serve),
        Attempt::Held(holder) => Err(ClusterError::InUse {
            dir: data.root().to_path_buf(),
            pid: holder.map(|h| h.pid),
        }),
    }
}

/// For the other commands: the cluster of a running `serve` when there is one
/// ([`Attached::Borrowed`]); otherwise this command owns and starts the cluster
/// ([`Attached::Owned`]). While another command owns it, or a `serve` is starting or
/// stopping, this waits.
pub fn attach_for_command(dir: &Path, bins: &PgBinaries) -> Result<Attached, ClusterError> {
    let data = DataDir::open(dir)?;
    let mut told_waiting = false;
    loop {
        match DirLock::try_acquire(&data.lock_file())? {
            Attempt::Acquired(lock) => {
                return EmbeddedCluster::start(data, bins, lock, Role::Command)
                    .map(Attached::Owned);
            }
            Attempt::Held(Some(Holder {
                pid,
                role: Role::Serve,
                phase: Phase::Ready,
            })) => {
                info!(pid, data_dir = %data.root().display(), "using the cluster of a running medchain serve");
                return Ok(Attached::Borrowed {
                    url: data.url(DATABASE),
                });
            }
            Attempt::Held(holder) => {
                if !told_waiting && let Some(holder) = holder {
                    info!(
                        pid = holder.pid,
                        data_dir = %data.root().display(),
                        "waiting for another medchain process to finish with the data directory"
                    );
                    told_waiting = true;
                }
                std::thread::sleep(POLL);
            }
        }
    }
}

impl EmbeddedCluster {
    fn start(
        data: DataDir,
        bins: &PgBinaries,
        lock: DirLock,
        role: Role,
    ) -> Result<EmbeddedCluster, ClusterError> {
        lock.record(role, Phase::Starting)?;
        let server = Server::new(bins, &data, Settings::DATA)?;
        server.prepare()?;
        if server.exists()? {
            server.check_version()?;
        } else {
            server.init()?;
        }
        server.clear_leftovers()?;
        server.start()?;
        // From here on, dropping `cluster` (on an error too) stops the server.
        let cluster = EmbeddedCluster {
            server,
            data,
            role,
            running: true,
            lock,
        };
        cluster.server.ensure_database(DATABASE)?;
        cluster.lock.record(role, Phase::Ready)?;
        info!(data_dir = %cluster.data.root().display(), "embedded PostgreSQL ready");
        Ok(cluster)
    }

    /// The connection URL of the `medchain` database over the Unix socket.
    pub fn url(&self) -> String {
        self.data.url(DATABASE)
    }

    /// The data directory this cluster lives in.
    pub fn data_dir(&self) -> &DataDir {
        &self.data
    }

    /// Stops the server (`pg_ctl stop -m fast`) and releases the data directory.
    pub fn stop(mut self) -> Result<(), ClusterError> {
        self.stop_server()
    }

    fn stop_server(&mut self) -> Result<(), ClusterError> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        // Commands that see "stopping" wait for the directory instead of using it.
        if let Err(e) = self.lock.record(self.role, Phase::Stopping) {
            warn!(error = %e, "could not record the stop in the lock file");
        }
        self.server.stop()
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop_server() {
            error!(
                error = %e,
                data_dir = %self.data.root().display(),
                "could not stop the embedded PostgreSQL server"
            );
        }
    }
}

/// Makes the cluster of data directory `dir` (which must hold none) from a tar base
/// backup in `base` and the WAL archived after it in `wal`, recovers it to the
/// archive's end and stops it: the next command or `serve` starts it as usual.
pub fn restore_cluster(
    dir: &Path,
    bins: &PgBinaries,
    base: &Path,
    wal: &Path,
) -> Result<(), ClusterError> {
    let data = DataDir::open(dir)?;
    let lock = match DirLock::try_acquire(&data.lock_file())? {
        Attempt::Acquired(lock) => lock,
        Attempt::Held(holder) => {
            return Err(ClusterError::InUse {
                dir: data.root().to_owned(),
                pid: holder.map(|h| h.pid),
            });
        }
    };
    let server = Server::new(bins, &data, Settings::DATA)?;
    server.prepare()?;
    server.restore_from(base, wal)?;
    server.start()?;
    let recovered = server.wait_recovered();
    let stopped = server.stop();
    drop(lock);
    recovered.and(stopped)
}
