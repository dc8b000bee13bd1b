//! Finding the machine's own PostgreSQL programs. MedChain ships no server; it drives
//! `initdb`, `pg_ctl`, `postgres` and `psql` from one installation, found on `PATH` first,
//! else the highest version under `/usr/lib/postgresql/*/bin` (where Debian and Ubuntu
//! put them, off `PATH`).

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ClusterError;

/// Where Debian-style packages install each major version's programs.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// The server programs of one PostgreSQL installation, all from the same directory.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    bin_dir: PathBuf,
    psql: PathBuf,
}

/// No PostgreSQL installation was found; its message is the one line the CLI prints.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "PostgreSQL was not found (initdb, pg_ctl, postgres and psql, on PATH or under /usr/lib/postgresql/*/bin): install it (e.g. `apt-get install postgresql`) or set DATABASE_URL to use an existing server"
)]
pub struct NoPostgres;

impl PgBinaries {
    /// Finds initdb/pg_ctl/postgres: in `MEDCHAIN_PG_BIN` alone when that is set (an
    /// installation elsewhere, or none at all), else on PATH first, else the highest
    /// version under /usr/lib/postgresql/*/bin.
    pub fn find() -> Result<PgBinaries, NoPostgres> {
        match std::env::var_os("MEDCHAIN_PG_BIN").filter(|dir| !dir.is_empty()) {
            Some(dir) => Self::find_in(Some(dir), Path::new("/nonexistent")),
            None => Self::find_in(std::env::var_os("PATH"), Path::new(VERSIONED_ROOT)),
        }
    }

    fn find_in(path: Option<OsString>, versioned_root: &Path) -> Result<PgBinaries, NoPostgres> {
        let on_path: Vec<PathBuf> = path
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        let from_path = on_path
            .iter()
            .map(|dir| dir.join("initdb"))
            .filter(|initdb| is_executable(initdb))
            // A symlinked initdb (e.g. /usr/local/bin/initdb) belongs with the programs
            // next to its target, which is where pg_ctl looks for `postgres` too.
            .filter_map(|initdb| initdb.canonicalize().ok())
            .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
            .find(|dir| has_server_programs(dir));
        let bin_dir = from_path
            .or_else(|| highest_versioned(versioned_root))
            .ok_or(NoPostgres)?;
        let psql = std::iter::once(bin_dir.as_path())
            .chain(on_path.iter().map(PathBuf::as_path))
            .map(|dir| dir.join("psql"))
            .find(|psql| is_executable(psql))
            .ok_or(NoPostgres)?;
        Ok(PgBinaries { bin_dir, psql })
    }

    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    pub fn initdb(&self) -> PathBuf {
        self.bin_dir.join("initdb")
    }

    pub fn pg_ctl(&self) -> PathBuf {
        self.bin_dir.join("pg_ctl")
    }

    pub fn pg_basebackup(&self) -> PathBuf {
        self.bin_dir.join("pg_basebackup")
    }

    pub fn pg_receivewal(&self) -> PathBuf {
        self.bin_dir.join("pg_receivewal")
    }

    pub fn postgres(&self) -> PathBuf {
        self.bin_dir.join("postgres")
    }

    pub fn psql(&self) -> &Path {
        &self.psql
    }

    /// The major version of these binaries as `PG_VERSION` spells it ("15", "9.6"),
    /// from `postgres --version` (which, unlike the server itself, runs as root).
    pub(crate) fn major_version(&self) -> Result<String, ClusterError> {
        let program = self.postgres();
        let out = Command::new(&program)
            .arg("--version")
            .output()
            .map_err(|source| ClusterError::Spawn {
                program: program.clone(),
                source,
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        major_of(&text).ok_or_else(|| ClusterError::Tool {
            tool: "postgres --version",
            status: out.status,
            detail: format!("unexpected output: {}", text.trim()),
        })
    }
}

/// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" → "15"; "… 9.6.24" → "9.6".
fn major_of(version_output: &str) -> Option<String> {
    let number = version_output
        .split(')')
        .nth(1)?
        .split_whitespace()
        .next()?;
    let mut parts = number.split(|c: char| !c.is_ascii_digit());
    let first: u32 = parts.next()?.parse().ok()?;
    if first >= 10 {
        Some(first.to_string())
    } else {
        Some(format!("{first}.{}", parts.next()?))
    }
}

fn highest_versioned(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = version_key(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            has_server_programs(&bin).then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// "9.6" → [9, 6]; "15" → [15]; anything else is not a version directory.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn has_server_programs(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_install(dir: &Path, programs: &[&str]) {
        fs::create_dir_all(dir).unwrap();
        for name in programs {
            let path = dir.join(name);
            fs::write(&path, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    const ALL: &[&str] = &["initdb", "pg_ctl", "postgres", "psql"];

    #[test]
    fn the_highest_version_wins_numerically_not_alphabetically() {
        let root = tempfile::tempdir().unwrap();
        for version in ["9.6", "15", "100x", "17"] {
            fake_install(&root.path().join(version).join("bin"), ALL);
        }
        let found = PgBinaries::find_in(None, root.path()).unwrap();
        assert_eq!(found.bin_dir(), root.path().join("17/bin"));
    }

    #[test]
    fn path_comes_before_the_versioned_directories() {
        let root = tempfile::tempdir().unwrap();
        fake_install(&root.path().join("versions/17/bin"), ALL);
        let on_path = root.path().join("local/bin");
        fake_install(&on_path, ALL);
        let found = PgBinaries::find_in(
            Some(on_path.clone().into_os_string()),
            &root.path().join("versions"),
        )
        .unwrap();
        assert_eq!(found.bin_dir(), on_path.canonicalize().unwrap());
    }

    #[test]
    fn an_installation_without_the_server_is_not_enough() {
        let root = tempfile::tempdir().unwrap();
        fake_install(&root.path().join("16/bin"), &["psql", "initdb"]);
        assert!(PgBinaries::find_in(None, root.path()).is_err());
    }

    #[test]
    fn the_major_version_is_read_as_pg_version_spells_it() {
        assert_eq!(
            major_of("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").as_deref(),
            Some("15")
        );
        assert_eq!(
            major_of("postgres (PostgreSQL) 9.6.24\n").as_deref(),
            Some("9.6")
        );
        assert_eq!(
            major_of("postgres (PostgreSQL) 17beta1\n").as_deref(),
            Some("17")
        );
    }

    #[test]
    fn no_postgres_is_one_line() {
        assert!(!NoPostgres.to_string().contains('\n'));
    }
}
