//! The PostgreSQL server the integration tests of one checkout share, when
//! `TEST_DATABASE_URL` names none. Under `cargo nextest` every test is its own process,
//! so the server belongs to none of them: the first test to need it starts a detached
//! supervisor (`medchain dev test-cluster --dir D`) that creates a throwaway cluster in
//! `D` (default `<target dir>/medchain-test-pg`) and stops it once no test has used it
//! for a few seconds. Each test process holds a shared lock on `D/users.lock` while it
//! lives; `D/start.lock` orders starting against stopping.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::server::{Server, Settings};
use super::{ClusterError, DataDir, PgBinaries, account, process};

/// Seconds without any test holding `users.lock` before the supervisor stops.
const IDLE_SECS: u32 = 5;
/// How long a test waits for a new supervisor to report its server ready.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// The admin database every cluster has.
const ADMIN_DATABASE: &str = "postgres";

/// What this test process joined: the URL, and the shared lock that keeps the server
/// up while the process lives.
struct Joined {
    admin_url: String,
    _users: File,
}

static JOINED: Mutex<Option<Joined>> = Mutex::new(None);

/// Returns a connection URL to the admin database (`postgres`) of the test server:
/// `TEST_DATABASE_URL` as is when set; otherwise the shared cluster of this checkout,
/// started on first use. `medchain_bin` is the `medchain` binary
/// (`env!("CARGO_BIN_EXE_medchain")`), which runs the supervisor. Blocking.
pub fn test_server_admin_url(medchain_bin: &Path) -> Result<String, ClusterError> {
    if let Some(url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        return Ok(url);
    }
    let mut joined = JOINED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(joined) = &*joined {
        return Ok(joined.admin_url.clone());
    }
    let new = join(medchain_bin)?;
    let url = new.admin_url.clone();
    *joined = Some(new);
    Ok(url)
}

fn join(medchain_bin: &Path) -> Result<Joined, ClusterError> {
    let data = test_data_dir(medchain_bin)?;
    let start = open_lock(&data.root().join("start.lock"))?;
    start
        .lock()
        .map_err(|e| ClusterError::io("lock", data.root().join("start.lock"), e))?;
    if !supervisor_running(&data) {
        spawn_supervisor(medchain_bin, &data)?;
    }
    // Taken before `start.lock` is released, so the supervisor never sees the server
    // unused between our check and our use.
    let users_path = data.root().join("users.lock");
    let users = open_lock(&users_path)?;
    users
        .lock_shared()
        .map_err(|e| ClusterError::io("lock", &users_path, e))?;
    drop(start);
    Ok(Joined {
        admin_url: data.url(ADMIN_DATABASE),
        _users: users,
    })
}

/// `<target dir>/medchain-test-pg` (the binary is `<target dir>/<profile>/medchain`),
/// or a directory under the system's temp dir named after it when that path is too
/// long for a socket or out of reach of the user PostgreSQL runs as.
fn test_data_dir(medchain_bin: &Path) -> Result<DataDir, ClusterError> {
    let preferred = medchain_bin
        .parent()
        .and_then(Path::parent)
        .map(|target| target.join("medchain-test-pg"));
    if let Some(preferred) = &preferred {
        let reachable = match (account::server_user()?, preferred.parent()) {
            (Some(user), Some(parent)) => account::check_reachable(parent, &user).is_ok(),
            _ => true,
        };
        if reachable {
            match DataDir::open(preferred) {
                Err(ClusterError::SocketPathTooLong { .. }) => {}
                other => return other,
            }
        }
    }
    let key = preferred.unwrap_or_else(|| medchain_bin.to_path_buf());
    let fallback = std::env::temp_dir().join(format!(
        "medchain-test-pg-{:016x}",
        fnv1a(key.as_os_str().as_encoded_bytes())
    ));
    DataDir::open(&fallback)
}

/// A stable hash (std's `DefaultHasher` may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn open_lock(path: &Path) -> Result<File, ClusterError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| ClusterError::io("open the lock file", path, e))
}

fn ready_file(data: &DataDir) -> PathBuf {
    data.root().join("ready")
}

/// The pid in the ready file, if the file is there.
fn ready_pid(data: &DataDir) -> Option<u32> {
    std::fs::read_to_string(ready_file(data))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn supervisor_running(data: &DataDir) -> bool {
    ready_pid(data).is_some_and(|pid| {
        process::is_alive(pid)
            && process::cmdline(pid).is_some_and(|args| args.iter().any(|a| a == "test-cluster"))
    })
}

fn spawn_supervisor(medchain_bin: &Path, data: &DataDir) -> Result<(), ClusterError> {
    remove_if_present(&ready_file(data))?;
    let log_path = data.root().join("supervisor.log");
    let log = File::create(&log_path).map_err(|e| ClusterError::io("create", &log_path, e))?;
    let mut child = Command::new(medchain_bin)
        .args(["dev", "test-cluster", "--dir"])
        .arg(data.root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        // Its own process group: a Ctrl-C meant for the test run does not reach it;
        // it stops by itself once no test uses the server.
        .process_group(0)
        .spawn()
        .map_err(|source| ClusterError::Spawn {
            program: medchain_bin.to_path_buf(),
            source,
        })?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if ready_pid(data) == Some(child.id()) {
            return Ok(());
        }
        let exited = child
            .try_wait()
            .map_err(|e| ClusterError::io("wait for the supervisor of", data.root(), e))?;
        if let Some(status) = exited {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(ClusterError::TestCluster {
                detail: format!(
                    "`{} dev test-cluster` exited ({status}) before the server was ready; its log ({}):\n{}",
                    medchain_bin.display(),
                    log_path.display(),
                    log.trim()
                ),
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ClusterError::Timeout {
                what: "the test cluster to start",
                secs: READY_TIMEOUT.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The hidden CLI subcommand's body, `medchain dev test-cluster --dir D`: creates a new
/// cluster in `D` (deleting the one there), starts it tuned for speed over durability,
/// reports it ready, and stops it once no test process has held `D/users.lock` for
/// five seconds in a row.
pub fn supervise_test_cluster(dir: &Path, bins: &PgBinaries) -> Result<(), ClusterError> {
    let data = DataDir::open(dir)?;
    remove_if_present(&ready_file(&data))?;
    let server = Server::new(bins, &data, Settings::TEST)?;
    server.prepare()?;
    // A server left by a supervisor that was killed is stopped before its files go.
    server.clear_leftovers()?;
    server.remove()?;
    server.init()?;
    server.start()?;
    let start_path = data.root().join("start.lock");
    let start = open_lock(&start_path)?;
    let outcome = announce_and_wait(&data, &server, &start);
    if outcome.is_err() {
        // Cleaned up under `start.lock` too, so no test joins what is going away. The
        // lock may be held already: taking it again on the same file is a no-op.
        if let Err(e) = start.lock() {
            warn!(error = %e, "could not take the start lock to stop the test cluster");
        }
        if let Err(e) = remove_if_present(&ready_file(&data)) {
            warn!(error = %e, "could not remove the ready file");
        }
        if let Err(e) = server.stop() {
            warn!(error = %e, "could not stop the test cluster");
        }
    }
    outcome
}

/// Reports the server ready, then waits until no test has used it for `IDLE_SECS` and
/// stops it, holding both locks until it is down: a test that comes meanwhile waits on
/// `start.lock`, then finds no supervisor and starts a new one on a quiet directory.
fn announce_and_wait(data: &DataDir, server: &Server, start: &File) -> Result<(), ClusterError> {
    let ready = ready_file(data);
    let scratch = data.root().join("ready.tmp");
    std::fs::write(&scratch, format!("{}\n", std::process::id()))
        .and_then(|()| std::fs::rename(&scratch, &ready))
        .map_err(|e| ClusterError::io("write", &ready, e))?;
    info!(dir = %data.root().display(), "test cluster ready");

    let start_path = data.root().join("start.lock");
    let users_path = data.root().join("users.lock");
    let users = open_lock(&users_path)?;
    let mut idle_secs = 0;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        if !server.is_running() {
            return Err(ClusterError::TestCluster {
                detail: format!(
                    "the server in {} stopped unexpectedly",
                    data.cluster().display()
                ),
            });
        }
        // While a test is starting up it holds `start.lock`: the server is in use.
        if !try_lock(start, &start_path)? {
            idle_secs = 0;
            continue;
        }
        if try_lock(&users, &users_path)? {
            idle_secs += 1;
            if idle_secs >= IDLE_SECS {
                // Both locks are held (they are released when their files close,
                // after this returns) until `ready` is gone and the server is down,
                // so no test joins a server that is stopping, and no new supervisor
                // finds it half stopped.
                info!(idle_secs, "no test uses the test cluster; stopping it");
                remove_if_present(&ready)?;
                return server.stop();
            }
            unlock(&users, &users_path)?;
        } else {
            idle_secs = 0;
        }
        unlock(start, &start_path)?;
    }
}

fn try_lock(file: &File, path: &Path) -> Result<bool, ClusterError> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(ClusterError::io("lock", path, e)),
    }
}

fn unlock(file: &File, path: &Path) -> Result<(), ClusterError> {
    file.unlock()
        .map_err(|e| ClusterError::io("unlock", path, e))
}

fn remove_if_present(path: &Path) -> Result<(), ClusterError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(ClusterError::io("remove", path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_name_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
