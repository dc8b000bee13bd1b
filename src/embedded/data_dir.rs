//! The layout of a data directory and the URL of the cluster inside it:
//! `<dir>/pg` holds the cluster, `<dir>/run` its Unix socket, `<dir>/medchain.lock`
//! says who owns it. Everything else in `<dir>` (keys, blobs, the outbox) belongs to
//! the rest of MedChain and stays private to our user.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::ClusterError;

/// The port in the socket's file name; nothing listens on TCP.
pub(crate) const PORT: u16 = 5432;
/// The superuser role `initdb` creates, whoever runs it.
pub(crate) const SUPERUSER: &str = "postgres";
/// A socket path must fit `sun_path` (108 bytes) with its terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// A data directory, made absolute and created if missing.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Creates `dir` (private to our user) if missing, and checks that its socket path
    /// fits a Unix socket.
    pub fn open(dir: &Path) -> Result<DataDir, ClusterError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| ClusterError::io("create the data directory", dir, e))?;
        let root = dir
            .canonicalize()
            .map_err(|e| ClusterError::io("resolve the data directory", dir, e))?;
        let data = DataDir { root };
        let socket = data.socket_file();
        let len = socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(ClusterError::SocketPathTooLong {
                path: socket,
                len,
                max: MAX_SOCKET_PATH,
            });
        }
        Ok(data)
    }

    /// The data directory itself (absolute, symlinks resolved).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The PostgreSQL cluster (`PGDATA`).
    pub fn cluster(&self) -> PathBuf {
        self.root.join("pg")
    }

    /// Where a cluster is built before it is moved into place, so a crash during
    /// `initdb` never leaves a half-made cluster at [`DataDir::cluster`].
    pub(crate) fn cluster_in_progress(&self) -> PathBuf {
        self.root.join("pg.init")
    }

    /// The directory of the server's Unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    fn socket_file(&self) -> PathBuf {
        self.socket_dir().join(format!(".s.PGSQL.{PORT}"))
    }

    /// The lock saying which process owns the cluster.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("medchain.lock")
    }

    /// A connection URL for `database` over the Unix socket, as the superuser (the socket
    /// directory is reachable only by our user and the server's).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{PORT}/{database}?host={}",
            percent_encode(&self.socket_dir().to_string_lossy())
        )
    }
}

/// Encodes everything but unreserved characters and `/`, so any path survives a URL
/// query (where `+` would otherwise read as a space).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::PgConnectOptions;

    #[test]
    fn the_url_names_the_socket_directory_and_sqlx_reads_it_back() {
        let parent = tempfile::tempdir().unwrap();
        let odd = parent.path().join("my data+1 %é");
        let data = DataDir::open(&odd).unwrap();
        let options: PgConnectOptions = data.url("medchain").parse().unwrap();
        assert_eq!(options.get_socket(), Some(&data.socket_dir()));
        assert_eq!(options.get_database(), Some("medchain"));
        assert_eq!(options.get_username(), SUPERUSER);
        assert_eq!(options.get_port(), PORT);
    }

    #[test]
    fn a_socket_path_too_long_for_unix_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let deep = parent.path().join("d".repeat(100));
        assert!(matches!(
            DataDir::open(&deep),
            Err(ClusterError::SocketPathTooLong { .. })
        ));
    }
}
