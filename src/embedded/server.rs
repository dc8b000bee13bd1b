//! Driving one PostgreSQL server in a data directory with the machine's own tools:
//! `initdb` to create it, `pg_ctl` to start and stop it, `psql` to create a database,
//! and the clean-up of what a crash leaves behind (`postmaster.pid`, socket lock files,
//! a server orphaned by a killed `medchain`). Callers decide when; this file knows how.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use tracing::{debug, info, warn};

use super::account::{self, ServerUser};
use super::data_dir::{PORT, SUPERUSER};
use super::{ClusterError, DataDir, PgBinaries, process};

/// How long `pg_ctl` may wait for the server to start or stop.
const PG_CTL_TIMEOUT_SECS: &str = "60";
/// Our settings file inside the cluster, rewritten at every start and included last
/// from `postgresql.conf`, so moving the data directory moves the socket with it.
const SETTINGS_FILE: &str = "medchain.conf";
/// Lines of a tool's output or log quoted in an error.
const TAIL_LINES: usize = 12;

/// What kind of cluster: a durable one for data, or a throwaway one for tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub max_connections: u32,
    /// `false` turns off fsync and friends: fast, and lost on a machine crash.
    pub durable: bool,
}

impl Settings {
    pub(crate) const DATA: Settings = Settings {
        max_connections: 300,
        durable: true,
    };
    pub(crate) const TEST: Settings = Settings {
        max_connections: 500,
        durable: false,
    };
}

/// One cluster in one data directory, and the user its programs run as.
#[derive(Debug)]
pub(crate) struct Server {
    bins: PgBinaries,
    user: Option<ServerUser>,
    data: DataDir,
    settings: Settings,
}

impl Server {
    pub(crate) fn new(
        bins: &PgBinaries,
        data: &DataDir,
        settings: Settings,
    ) -> Result<Server, ClusterError> {
        Ok(Server {
            bins: bins.clone(),
            user: account::server_user()?,
            data: data.clone(),
            settings,
        })
    }

    /// Makes the directories the server needs, owned by the user it runs as.
    pub(crate) fn prepare(&self) -> Result<(), ClusterError> {
        let root = self.data.root();
        if let Some(user) = &self.user {
            // The server's user must pass through the data directory to reach its own
            // subdirectories, without being able to list or read the rest. The directory
            // is given to that user's group with search only (0710): never widened to
            // others, whose search bit would let anyone reach the keys and the outbox.
            let meta = std::fs::metadata(root).map_err(|e| ClusterError::io("inspect", root, e))?;
            let mode = meta.permissions().mode() & 0o7777;
            if meta.gid() != user.gid {
                std::os::unix::fs::chown(root, None, Some(user.gid))
                    .map_err(|e| ClusterError::io("give the server's group", root, e))?;
            }
            let wanted = (mode & !0o067) | 0o010;
            if mode != wanted {
                std::fs::set_permissions(root, std::fs::Permissions::from_mode(wanted))
                    .map_err(|e| ClusterError::io("change the permissions of", root, e))?;
            }
            account::check_reachable(root, user)?;
        }
        self.make_private_dir(&self.data.socket_dir())
    }

    /// Whether the cluster has been created.
    pub(crate) fn exists(&self) -> Result<bool, ClusterError> {
        let cluster = self.data.cluster();
        if cluster.join("PG_VERSION").is_file() {
            return Ok(true);
        }
        let empty = match std::fs::read_dir(&cluster) {
            Ok(mut entries) => entries.next().is_none(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(ClusterError::io("read", &cluster, e)),
        };
        if !empty {
            return Err(ClusterError::NotACluster { path: cluster });
        }
        std::fs::remove_dir(&cluster)
            .map(|()| false)
            .map_err(|e| ClusterError::io("remove the empty directory", &cluster, e))
    }

    /// Deletes the cluster (the test cluster starts from nothing each time).
    pub(crate) fn remove(&self) -> Result<(), ClusterError> {
        for dir in [self.data.cluster(), self.data.cluster_in_progress()] {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    return Err(ClusterError::io("remove", &dir, e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Creates the cluster: `initdb` in a scratch directory, then moved into place.
    /// Only the superuser exists; it is trusted over the Unix socket and refused over
    /// TCP (where nothing listens anyway).
    pub(crate) fn init(&self) -> Result<(), ClusterError> {
        let scratch = self.data.cluster_in_progress();
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .map_err(|e| ClusterError::io("remove an unfinished cluster", &scratch, e))?;
        }
        self.make_private_dir(&scratch)?;
        let mut initdb = account::command(&self.bins.initdb(), self.user.as_ref());
        initdb.arg("--pgdata").arg(&scratch).args([
            "--username",
            SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=reject",
        ]);
        if !self.settings.durable {
            initdb.arg("--no-sync");
        }
        info!(data_dir = %self.data.root().display(), "creating PostgreSQL cluster");
        let out = run(&mut initdb, &self.bins.initdb())?;
        check("initdb", &out, "")?;

        let conf = scratch.join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| {
                writeln!(f, "\n# medchain: its settings, rewritten at every start")?;
                writeln!(f, "include_if_exists = '{SETTINGS_FILE}'")
            })
            .map_err(|e| ClusterError::io("write", &conf, e))?;
        self.make_private_dir(&scratch.join("log"))?;

        let cluster = self.data.cluster();
        std::fs::rename(&scratch, &cluster)
            .map_err(|e| ClusterError::io("move the new cluster into", &cluster, e))?;
        if self.settings.durable {
            std::fs::File::open(self.data.root())
                .and_then(|dir| dir.sync_all())
                .map_err(|e| ClusterError::io("sync", self.data.root(), e))?;
        }
        Ok(())
    }

    /// Refuses a cluster made by another major version, which `postgres` would refuse
    /// with a message buried in its log.
    pub(crate) fn check_version(&self) -> Result<(), ClusterError> {
        let path = self.data.cluster().join("PG_VERSION");
        let cluster = std::fs::read_to_string(&path)
            .map_err(|e| ClusterError::io("read", &path, e))?
            .trim()
            .to_owned();
        let binaries = self.bins.major_version()?;
        if cluster == binaries {
            Ok(())
        } else {
            Err(ClusterError::VersionMismatch {
                path: self.data.cluster(),
                cluster,
                binaries,
                bin_dir: self.bins.bin_dir().to_path_buf(),
            })
        }
    }

    /// Clears what a crash left: a server still serving this cluster (its `medchain`
    /// was killed) is stopped; a `postmaster.pid` naming a dead process, or one reused
    /// by another program, is removed, as are stale socket lock files. Call it only
    /// while holding the data directory, so no live owner is disturbed.
    pub(crate) fn clear_leftovers(&self) -> Result<(), ClusterError> {
        let pid_file = self.data.cluster().join("postmaster.pid");
        match std::fs::read_to_string(&pid_file) {
            Ok(text) => {
                let pid = text.lines().next().and_then(|l| l.trim().parse().ok());
                match pid {
                    Some(pid) if process::is_alive(pid) && self.serves_this_cluster(pid) => {
                        warn!(
                            pid,
                            data_dir = %self.data.root().display(),
                            "stopping a PostgreSQL server left running by an earlier medchain"
                        );
                        if let Err(e) = self.stop() {
                            // It may have been stopping already: its pid file can go between
                            // our read and pg_ctl's. Then it is enough that it ends.
                            if self.is_running() || !wait_until_gone(pid) {
                                return Err(e);
                            }
                        }
                    }
                    _ => {
                        info!(
                            pid,
                            data_dir = %self.data.root().display(),
                            "removing a stale postmaster.pid"
                        );
                        std::fs::remove_file(&pid_file)
                            .map_err(|e| ClusterError::io("remove", &pid_file, e))?;
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(ClusterError::io("read", &pid_file, e)),
        }
        let socket_dir = self.data.socket_dir();
        let entries = match std::fs::read_dir(&socket_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ClusterError::io("read", &socket_dir, e)),
        };
        for entry in entries.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
                let path = entry.path();
                debug!(path = %path.display(), "removing a stale socket file");
                std::fs::remove_file(&path).map_err(|e| ClusterError::io("remove", &path, e))?;
            }
        }
        Ok(())
    }

    /// Whether `pid` is a postmaster of this cluster (it runs in its data directory),
    /// rather than an unrelated process that reused the pid.
    fn serves_this_cluster(&self, pid: u32) -> bool {
        let cluster = self.data.cluster();
        let Some(args) = process::cmdline(pid) else {
            return false;
        };
        let is_postgres = args.first().is_some_and(|arg0| {
            let name = Path::new(arg0).file_name().unwrap_or_default();
            name == "postgres" || name == "postmaster"
        });
        let in_cluster = process::cwd(pid).is_some_and(|cwd| cwd == cluster)
            || args.iter().any(|arg| Path::new(arg) == cluster);
        is_postgres && in_cluster
    }

    /// Starts the server and waits until it accepts connections. Its output goes to
    /// `pg/log/`, never to our terminal.
    pub(crate) fn start(&self) -> Result<(), ClusterError> {
        let cluster = self.data.cluster();
        let log_dir = cluster.join("log");
        if !log_dir.is_dir() {
            self.make_private_dir(&log_dir)?;
        }
        self.write_settings()?;
        let startup_log = log_dir.join("startup.log");
        let mut pg_ctl = account::command(&self.bins.pg_ctl(), self.user.as_ref());
        pg_ctl
            .arg("start")
            .arg("-D")
            .arg(&cluster)
            .arg("-l")
            .arg(&startup_log)
            .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-s"])
            .stdin(Stdio::null());
        let out = run(&mut pg_ctl, &self.bins.pg_ctl())?;
        let log_tail = std::fs::read_to_string(&startup_log)
            .map(|log| tail(&log))
            .unwrap_or_default();
        check("pg_ctl start", &out, &log_tail)?;
        info!(data_dir = %self.data.root().display(), "PostgreSQL server started");
        Ok(())
    }

    /// Stops the server (fast: open sessions are ended, work in flight rolled back);
    /// a server that is not running is already stopped.
    pub(crate) fn stop(&self) -> Result<(), ClusterError> {
        if !self.is_running() {
            return Ok(());
        }
        let mut pg_ctl = account::command(&self.bins.pg_ctl(), self.user.as_ref());
        pg_ctl
            .arg("stop")
            .arg("-D")
            .arg(self.data.cluster())
            .args(["-m", "fast", "-w", "-t", PG_CTL_TIMEOUT_SECS, "-s"])
            .stdin(Stdio::null());
        let out = run(&mut pg_ctl, &self.bins.pg_ctl())?;
        check("pg_ctl stop", &out, "")?;
        info!(data_dir = %self.data.root().display(), "PostgreSQL server stopped");
        Ok(())
    }

    /// `pg_ctl restart -m immediate`: the server is killed without a checkpoint (as by
    /// a crash) and started again, recovering from its WAL.
    pub(crate) fn restart_immediate(&self) -> Result<(), ClusterError> {
        let cluster = self.data.cluster();
        let startup_log = cluster.join("log").join("startup.log");
        let mut pg_ctl = account::command(&self.bins.pg_ctl(), self.user.as_ref());
        pg_ctl
            .arg("restart")
            .arg("-D")
            .arg(&cluster)
            .arg("-l")
            .arg(&startup_log)
            .args(["-m", "immediate", "-w", "-t", PG_CTL_TIMEOUT_SECS, "-s"])
            .stdin(Stdio::null());
        let out = run(&mut pg_ctl, &self.bins.pg_ctl())?;
        check("pg_ctl restart", &out, "")?;
        info!(data_dir = %self.data.root().display(), "PostgreSQL server restarted (immediate)");
        Ok(())
    }

    /// Fills this (not yet created) cluster with a base backup of the server in
    /// `primary`, set up to follow it as a streaming replica (`-R`: `standby.signal`
    /// and `primary_conninfo` over the primary's socket).
    pub(crate) fn base_backup_of(&self, primary: &DataDir) -> Result<(), ClusterError> {
        let cluster = self.data.cluster();
        self.make_private_dir(&cluster)?;
        let mut backup = account::command(&self.bins.pg_basebackup(), self.user.as_ref());
        backup
            .arg("--pgdata")
            .arg(&cluster)
            .arg("--host")
            .arg(primary.socket_dir())
            .args(["--port", &PORT.to_string(), "--username", SUPERUSER])
            .args([
                "--write-recovery-conf",
                "--wal-method=stream",
                "--checkpoint=fast",
            ])
            .args(["--no-password", "--progress"])
            .stdin(Stdio::null());
        let out = run(&mut backup, &self.bins.pg_basebackup())?;
        check("pg_basebackup", &out, "")?;
        info!(data_dir = %self.data.root().display(), "base backup taken for a replica");
        Ok(())
    }

    /// Makes this (not yet created) cluster from a tar-format base backup in `base`
    /// (`base.tar`, `pg_wal.tar`) set to recover from the WAL archive `wal` to its end:
    /// the archive is copied beside the cluster (the server's user may not read the
    /// backup), `recovery.signal` and a `restore_command` that takes a segment still
    /// being written (`.partial`) too. The cluster is moved into place only when whole.
    pub(crate) fn restore_from(&self, base: &Path, wal: &Path) -> Result<(), ClusterError> {
        let scratch = self.data.cluster_in_progress();
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .map_err(|e| ClusterError::io("remove an unfinished cluster", &scratch, e))?;
        }
        std::fs::create_dir_all(scratch.join("pg_wal"))
            .map_err(|e| ClusterError::io("create", &scratch, e))?;
        for (tar, into) in [
            (base.join("base.tar"), scratch.clone()),
            (base.join("pg_wal.tar"), scratch.join("pg_wal")),
        ] {
            let mut untar = std::process::Command::new("tar");
            untar.arg("-xf").arg(&tar).arg("-C").arg(&into);
            let out = run(&mut untar, Path::new("tar"))?;
            check("tar", &out, "")?;
        }
        let archive = self.data.root().join("restore-wal");
        self.make_private_dir(&archive)?;
        for entry in std::fs::read_dir(wal).map_err(|e| ClusterError::io("read", wal, e))? {
            let entry = entry.map_err(|e| ClusterError::io("read", wal, e))?;
            let to = archive.join(entry.file_name());
            std::fs::copy(entry.path(), &to).map_err(|e| ClusterError::io("copy", &to, e))?;
            account::hand_over(&to, self.user.as_ref())?;
        }
        let signal = scratch.join("recovery.signal");
        std::fs::write(&signal, "").map_err(|e| ClusterError::io("write", &signal, e))?;
        let auto = scratch.join("postgresql.auto.conf");
        let archive_text = quote_setting(&archive.to_string_lossy());
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(&auto)
            .and_then(|mut f| {
                writeln!(
                    f,
                    "\n# medchain restore: replay the archived WAL to its end, then promote\n\
                     restore_command = 'cp \"{archive_text}/%f\" \"%p\" 2>/dev/null || cp \"{archive_text}/%f.partial\" \"%p\"'"
                )
            })
            .map_err(|e| ClusterError::io("write", &auto, e))?;
        let conf = scratch.join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| writeln!(f, "\ninclude_if_exists = '{SETTINGS_FILE}'"))
            .map_err(|e| ClusterError::io("write", &conf, e))?;
        hand_over_tree(&scratch, self.user.as_ref())?;
        let cluster = self.data.cluster();
        std::fs::rename(&scratch, &cluster)
            .map_err(|e| ClusterError::io("move the restored cluster into", &cluster, e))
    }

    /// Whether the postmaster named in `postmaster.pid` is alive.
    pub(crate) fn is_running(&self) -> bool {
        std::fs::read_to_string(self.data.cluster().join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse().ok())
            .is_some_and(process::is_alive)
    }

    /// Waits until the server has finished recovery and been promoted (a restored
    /// cluster replays its archive first), asking it with `psql` every 100 ms.
    pub(crate) fn wait_recovered(&self) -> Result<(), ClusterError> {
        loop {
            let mut psql = account::command(self.bins.psql(), None);
            psql.args(["--no-psqlrc", "--quiet", "--tuples-only", "--no-align"])
                .arg("--host")
                .arg(self.data.socket_dir())
                .args(["--port", &PORT.to_string(), "--username", SUPERUSER])
                .args([
                    "--dbname",
                    "postgres",
                    "--command",
                    "SELECT pg_is_in_recovery()",
                ]);
            let out = run(&mut psql, self.bins.psql())?;
            check("psql (recovery)", &out, "")?;
            if String::from_utf8_lossy(&out.stdout).trim() == "f" {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Creates database `name` (a plain lower-case identifier) unless it exists.
    pub(crate) fn ensure_database(&self, name: &str) -> Result<(), ClusterError> {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "database names here are plain identifiers"
        );
        let sql = format!(
            "SELECT 'CREATE DATABASE {name}' WHERE NOT EXISTS \
             (SELECT FROM pg_database WHERE datname = '{name}')\\gexec\n"
        );
        let psql = self.bins.psql();
        let mut cmd = account::command(psql, None);
        cmd.args(["--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1"])
            .arg("--host")
            .arg(self.data.socket_dir())
            .args(["--port", &PORT.to_string(), "--username", SUPERUSER])
            .args(["--dbname", "postgres"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawn_error = |source| ClusterError::Spawn {
            program: psql.to_path_buf(),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn_error)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(sql.as_bytes()).map_err(spawn_error)?;
        }
        let out = child.wait_with_output().map_err(spawn_error)?;
        check("psql (create database)", &out, "")?;
        debug!(database = name, "database present");
        Ok(())
    }

    /// Writes our settings file for this start.
    fn write_settings(&self) -> Result<(), ClusterError> {
        let path = self.data.cluster().join(SETTINGS_FILE);
        let socket_dir = self.data.socket_dir().to_string_lossy().into_owned();
        let mut text = format!(
            "# Written by medchain at every start: edits here are lost (use ALTER SYSTEM).\n\
             listen_addresses = ''\n\
             port = {PORT}\n\
             unix_socket_directories = '{}'\n\
             max_connections = {}\n\
             logging_collector = on\n\
             log_directory = 'log'\n\
             log_filename = 'postgresql-%a.log'\n\
             log_rotation_age = 1d\n\
             log_rotation_size = 0\n\
             log_truncate_on_rotation = on\n\
             # The projectors commit asynchronously; the WAL writer flushes those commits\n\
             # (and so ships them to replicas) within this, not the default 200ms.\n\
             wal_writer_delay = 10ms\n",
            quote_setting(&socket_dir),
            self.settings.max_connections,
        );
        if !self.settings.durable {
            text.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| ClusterError::io("write", &path, e))?;
        account::hand_over(&path, self.user.as_ref())
    }

    /// A directory only the server's user may enter.
    fn make_private_dir(&self, dir: &Path) -> Result<(), ClusterError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| ClusterError::io("create", dir, e))?;
        account::hand_over(dir, self.user.as_ref())
    }
}

/// Gives `dir` and everything below it to `user`, with the modes PostgreSQL wants of
/// its data directory (0700 directories, 0600 files).
fn hand_over_tree(dir: &Path, user: Option<&ServerUser>) -> Result<(), ClusterError> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| ClusterError::io("change the permissions of", dir, e))?;
    account::hand_over(dir, user)?;
    for entry in std::fs::read_dir(dir).map_err(|e| ClusterError::io("read", dir, e))? {
        let entry = entry.map_err(|e| ClusterError::io("read", dir, e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| ClusterError::io("inspect", &path, e))?;
        if kind.is_dir() {
            hand_over_tree(&path, user)?;
        } else if kind.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| ClusterError::io("change the permissions of", &path, e))?;
            account::hand_over(&path, user)?;
        }
    }
    Ok(())
}

/// Waits for `pid` to end, as long as pg_ctl would wait for a stop; whether it did.
fn wait_until_gone(pid: u32) -> bool {
    let limit: u64 = PG_CTL_TIMEOUT_SECS.parse().expect("a number of seconds");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(limit);
    while process::is_alive(pid) {
        if std::time::Instant::now() > until {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    true
}

fn run(cmd: &mut std::process::Command, program: &Path) -> Result<Output, ClusterError> {
    debug!(program = %program.display(), "running");
    cmd.output().map_err(|source| ClusterError::Spawn {
        program: PathBuf::from(program),
        source,
    })
}

/// Turns a failed run into an error quoting its last output lines and `log_tail`.
fn check(tool: &'static str, out: &Output, log_tail: &str) -> Result<(), ClusterError> {
    if out.status.success() {
        return Ok(());
    }
    let mut detail = tail(&String::from_utf8_lossy(&out.stderr));
    if detail.is_empty() {
        detail = tail(&String::from_utf8_lossy(&out.stdout));
    }
    if !log_tail.is_empty() {
        detail = format!("{detail}\nserver log:\n{log_tail}");
    }
    Err(ClusterError::Tool {
        tool,
        status: out.status,
        detail: detail.trim().to_owned(),
    })
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// A value for a single-quoted `postgresql.conf` string.
fn quote_setting(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "''")
}
