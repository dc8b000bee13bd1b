//! A PostgreSQL cluster of a test's or a bench's own, for what must not happen to the
//! shared test cluster: restarting it under load (`pg_ctl restart -m immediate`), and
//! streaming replicas made from it with `pg_basebackup -R`. Durable (fsync on), since
//! an immediate restart is a crash and only what was flushed may survive it.
//!
//! Blocking, like the rest of `embedded`. Dropping the value stops the server.

use std::path::Path;

use super::server::{Server, Settings};
use super::{ClusterError, DATABASE, DataDir, PgBinaries};

/// A running cluster in a directory of its own, with the `medchain` database.
#[derive(Debug)]
pub struct PrivateCluster {
    bins: PgBinaries,
    server: Server,
    data: DataDir,
}

/// Small enough for several clusters on one machine, enough for a few `serve`s.
const SETTINGS: Settings = Settings {
    max_connections: 200,
    durable: true,
};

impl PrivateCluster {
    /// Creates and starts a new cluster in `dir` (empty or missing).
    pub fn create(bins: &PgBinaries, dir: &Path) -> Result<PrivateCluster, ClusterError> {
        let (server, data) = Self::prepare(bins, dir)?;
        server.init()?;
        server.start()?;
        server.ensure_database(DATABASE)?;
        Ok(PrivateCluster {
            bins: bins.clone(),
            server,
            data,
        })
    }

    /// A streaming replica of this cluster in `dir` (empty or missing): a base backup
    /// taken with `pg_basebackup -R`, started as a hot standby on its own socket.
    pub fn replica(&self, dir: &Path) -> Result<PrivateCluster, ClusterError> {
        let (server, data) = Self::prepare(&self.bins, dir)?;
        server.base_backup_of(&self.data)?;
        server.start()?;
        Ok(PrivateCluster {
            bins: self.bins.clone(),
            server,
            data,
        })
    }

    /// A cluster in `dir` (empty or missing) restored from a tar-format base backup in
    /// `base` and the WAL archived after it in `wal`, recovered to the archive's end and
    /// promoted; returns once it accepts writes.
    pub fn restored(
        bins: &PgBinaries,
        dir: &Path,
        base: &Path,
        wal: &Path,
    ) -> Result<PrivateCluster, ClusterError> {
        let (server, data) = Self::prepare(bins, dir)?;
        server.restore_from(base, wal)?;
        server.start()?;
        Ok(PrivateCluster {
            bins: bins.clone(),
            server,
            data,
        })
    }

    fn prepare(bins: &PgBinaries, dir: &Path) -> Result<(Server, DataDir), ClusterError> {
        let data = DataDir::open(dir)?;
        let server = Server::new(bins, &data, SETTINGS)?;
        server.prepare()?;
        Ok((server, data))
    }

    /// The URL of the `medchain` database.
    pub fn url(&self) -> String {
        self.data.url(DATABASE)
    }

    /// A crash and a start: `pg_ctl restart -m immediate`. Every connection is cut,
    /// nothing is flushed but what a commit already flushed, and recovery replays WAL.
    pub fn restart_immediate(&self) -> Result<(), ClusterError> {
        self.server.restart_immediate()
    }

    /// Stops the server (fast).
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.server.stop()
    }

    /// Starts it again after [`PrivateCluster::stop`].
    pub fn start(&self) -> Result<(), ClusterError> {
        self.server.start()
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        if let Err(e) = self.server.stop() {
            tracing::warn!(error = %e, "stopping a private PostgreSQL cluster failed");
        }
    }
}
