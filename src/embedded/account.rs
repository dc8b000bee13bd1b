//! Which operating-system user runs PostgreSQL. `initdb` and `postgres` refuse root, so
//! when `medchain` runs as root the cluster's programs run as `postgres` (or, lacking
//! it, `nobody`): its directories are handed to that user, and every path on the way to
//! them must be searchable by it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ClusterError, process};

/// Environment variables that would redirect a PostgreSQL program from the cluster we
/// name on its command line.
const PG_ENV: &[&str] = &[
    "PGDATA",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGPASSFILE",
    "PGSSLMODE",
    "PGTZ",
];

/// The unprivileged account PostgreSQL runs as when we are root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Who runs the PostgreSQL programs: `None` means this process's own user.
pub(crate) fn server_user() -> Result<Option<ServerUser>, ClusterError> {
    if process::effective_uid() != Some(0) {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| ClusterError::io("read", "/etc/passwd", e))?;
    ["postgres", "nobody"]
        .iter()
        .find_map(|name| lookup(&passwd, name))
        .map(Some)
        .ok_or(ClusterError::NoUnprivilegedUser)
}

fn lookup(passwd: &str, name: &str) -> Option<ServerUser> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(ServerUser {
            name: name.to_owned(),
            uid,
            gid,
        })
    })
}

/// A command for one of the PostgreSQL programs: run as `user` when given, from `/`
/// (the user may not be allowed into our working directory), without `PG*` variables.
pub(crate) fn command(program: &Path, user: Option<&ServerUser>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir("/");
    for var in PG_ENV {
        cmd.env_remove(var);
    }
    if let Some(user) = user {
        // std drops supplementary groups when a root process changes uid.
        cmd.uid(user.uid).gid(user.gid);
    }
    cmd
}

/// Gives `path` to `user` (a no-op for our own user).
pub(crate) fn hand_over(path: &Path, user: Option<&ServerUser>) -> Result<(), ClusterError> {
    match user {
        Some(user) => std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
            .map_err(|e| ClusterError::io("change the owner of", path, e)),
        None => Ok(()),
    }
}

/// Fails unless `user` can search every directory from `/` down to `dir` (inclusive).
pub(crate) fn check_reachable(dir: &Path, user: &ServerUser) -> Result<(), ClusterError> {
    for step in dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
        let meta = std::fs::metadata(step).map_err(|e| ClusterError::io("inspect", step, e))?;
        if !can_search(&meta, user) {
            return Err(ClusterError::Unreachable {
                path: dir.to_path_buf(),
                user: user.name.clone(),
                blocked_at: PathBuf::from(step),
            });
        }
    }
    Ok(())
}

fn can_search(meta: &std::fs::Metadata, user: &ServerUser) -> bool {
    let mode = meta.permissions().mode();
    let bit = if meta.uid() == user.uid {
        0o100
    } else if meta.gid() == user.gid {
        0o010
    } else {
        0o001
    };
    mode & bit != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
        postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";

    #[test]
    fn users_are_found_by_exact_name() {
        let pg = lookup(PASSWD, "postgres").unwrap();
        assert_eq!((pg.uid, pg.gid), (101, 104));
        assert_eq!(lookup(PASSWD, "postgre"), None);
        assert_eq!(lookup(PASSWD, "nobody").unwrap().uid, 65534);
    }
}
