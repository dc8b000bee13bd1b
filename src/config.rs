//! Settings resolved from flags and the environment (one list in the README).

use std::path::PathBuf;

/// Where things live; every path has a default under the data directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub data_dir: PathBuf,
    /// A directory or an `s3://` prefix.
    pub checkpoint_dir: String,
    pub ledger_key_file: PathBuf,
}

/// A duration with its unit, as the configuration writes them: `4s`, `30m`, `12h`.
pub fn parse_duration(raw: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{raw:?} is not a duration like 30m or 12h: {e}"))?;
    if d.is_zero() {
        return Err(format!("{raw:?}: a duration must be more than zero"));
    }
    Ok(d)
}

/// `MEDCHAIN_SESSION_MAX`: a duration, at most the longest a session may last
/// (`domain::account::user::MAX_SESSION_LIFETIME_MICROS`, 31 days): a user's state forgets
/// sessions older than that, so a longer one could no longer be closed by an event.
pub fn parse_session_max(raw: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(raw)?;
    let max = std::time::Duration::from_micros(
        domain::account::user::MAX_SESSION_LIFETIME_MICROS.unsigned_abs(),
    );
    if d > max {
        return Err(format!(
            "{raw:?}: a session may last {} at most",
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

/// The master key: the configured file, or on the embedded default one created in the
/// data directory (said once, loudly). With an external database every process must use
/// the same key, so it has to be configured.
pub fn master_key(common: &crate::cli::Common) -> anyhow::Result<commands::keys::MasterKey> {
    if let Some(uri) = &common.master_key {
        anyhow::ensure!(
            common.master_key_file.is_none(),
            "set MEDCHAIN_MASTER_KEY (an HSM) or MEDCHAIN_MASTER_KEY_FILE, not both"
        );
        let uri = commands::keys::hsm::HsmUri::parse(uri)?;
        let store = epoch_store(common)?;
        // The module and the store block: briefly, once, at start.
        return tokio::task::block_in_place(|| {
            let hsm = std::sync::Arc::new(commands::keys::hsm::Hsm::connect(&uri, true)?);
            anyhow::Ok(commands::keys::MasterKey::in_hsm(hsm, &store)?)
        });
    }
    file_master_key(common)
}

/// The master key file's key, whatever MEDCHAIN_MASTER_KEY says (moving it to an HSM).
pub fn file_master_key(common: &crate::cli::Common) -> anyhow::Result<commands::keys::MasterKey> {
    use anyhow::Context as _;
    match (&common.master_key_file, &common.database_url) {
        (Some(path), _) => commands::keys::MasterKey::load(path)
            .with_context(|| format!("reading the master key {}", path.display())),
        (None, Some(_)) => anyhow::bail!(
            "with DATABASE_URL set, MEDCHAIN_MASTER_KEY_FILE must name the master key file \
             (32 random bytes as hex) that every server process shares, or \
             MEDCHAIN_MASTER_KEY the key in an HSM"
        ),
        (None, None) => {
            std::fs::create_dir_all(&common.data_dir)?;
            let path = common.data_dir.join("master.key");
            // A new key is announced (once, with its path) by `load_or_create`.
            let (key, _created) = commands::keys::MasterKey::load_or_create(&path)?;
            Ok(key)
        }
    }
}

/// With DATABASE_URL: refuses a master key file or an epoch store inside the database
/// server's own data directory, where base backups and copies of the cluster would carry
/// them beside what they protect. Asked of the server; a server that does not say (no
/// privilege to read `data_directory`, or on another machine) is not checked.
pub async fn keys_outside_the_database(
    common: &crate::cli::Common,
    pool: &sqlx::PgPool,
) -> anyhow::Result<()> {
    if common.database_url.is_none() {
        return Ok(());
    }
    let Ok(data_dir) = sqlx::query_scalar::<_, String>("SHOW data_directory")
        .fetch_one(pool)
        .await
    else {
        return Ok(());
    };
    let Ok(data_dir) = std::path::Path::new(&data_dir).canonicalize() else {
        return Ok(());
    };
    let store = epoch_store(common)?
        .local_dir()
        .map(std::path::Path::to_path_buf);
    for (what, path) in [
        (
            "the master key file (MEDCHAIN_MASTER_KEY_FILE)",
            common.master_key_file.clone(),
        ),
        ("the key epoch store (MEDCHAIN_KEY_EPOCH_STORE)", store),
    ] {
        let Some(path) = path else { continue };
        let Ok(path) = path.canonicalize() else {
            continue;
        };
        anyhow::ensure!(
            !path.starts_with(&data_dir),
            "{what} {} is inside the database's own data directory {}: every backup and \
             copy of the database would carry the keys with what they protect. Keep it \
             elsewhere.",
            path.display(),
            data_dir.display()
        );
    }
    Ok(())
}

/// Where the key epochs' keys are kept: the configured directory or S3 prefix (a bucket
/// is checked for versioning here, blocking briefly), or a directory in the data
/// directory.
pub fn epoch_store(common: &crate::cli::Common) -> anyhow::Result<commands::keys::EpochStore> {
    Ok(match &common.key_epoch_store {
        Some(location) => commands::keys::EpochStore::open(location)?,
        None => commands::keys::EpochStore::directory(common.data_dir.join("key-epochs")),
    })
}

/// The key ring a command line tool uses: the master key and the epoch store.
pub fn key_ring(common: &crate::cli::Common) -> anyhow::Result<commands::keys::KeyRing> {
    Ok(commands::keys::KeyRing::new(
        &master_key(common)?,
        epoch_store(common)?,
    ))
}

impl Paths {
    pub fn of(common: &crate::cli::Common) -> Self {
        Self::resolve(
            common.data_dir.clone(),
            common.checkpoint_dir.clone(),
            common.ledger_key_file.clone(),
        )
    }

    pub fn checkpoint_store(&self) -> anyhow::Result<commands::ledger::CheckpointStore> {
        Ok(commands::ledger::CheckpointStore::open(
            &self.checkpoint_dir,
        )?)
    }

    pub fn resolve(
        data_dir: PathBuf,
        checkpoint_dir: Option<String>,
        ledger_key_file: Option<PathBuf>,
    ) -> Self {
        Self {
            checkpoint_dir: checkpoint_dir
                .unwrap_or_else(|| data_dir.join("checkpoints").display().to_string()),
            ledger_key_file: ledger_key_file.unwrap_or_else(|| data_dir.join("ledger.key")),
            data_dir,
        }
    }
}

/// A size such as `1GiB`, `200MiB`, `64KiB` or a plain number of bytes.
pub fn parse_size(raw: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = raw
        .trim()
        .parse()
        .map_err(|e| format!("{raw:?} is not a size such as 1GiB or 200MiB: {e}"))?;
    if size.as_u64() == 0 {
        return Err("the size must be more than 0 bytes".into());
    }
    Ok(size.as_u64())
}

/// The file kinds accepted for upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kinds(pub Vec<domain::record::ContentKind>);

/// A comma-separated list of MIME types (`application/pdf,image/png`), or of the short
/// names the earlier setting took (`pdf,png`).
pub fn parse_kinds(raw: &str) -> Result<Kinds, String> {
    use domain::record::ContentKind;
    let kinds = raw
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| {
            let mime = k.to_ascii_lowercase();
            ContentKind::ALL
                .into_iter()
                .find(|kind| kind.mime().split(';').next() == Some(mime.as_str()))
                .map_or_else(|| ContentKind::parse_name(k).map_err(|e| e.to_string()), Ok)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if kinds.is_empty() {
        return Err("name at least one kind of file to accept".into());
    }
    Ok(Kinds(kinds))
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, parse_kinds, parse_session_max, parse_size};

    #[test]
    fn sizes_and_kinds_parse() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("200MiB"), Ok(200 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("a lot").is_err());
        assert_eq!(parse_kinds("pdf, JPG").unwrap().0.len(), 2);
        assert_eq!(
            parse_kinds("application/pdf, image/png,text/plain")
                .unwrap()
                .0,
            vec![
                domain::record::ContentKind::Pdf,
                domain::record::ContentKind::Png,
                domain::record::ContentKind::Text
            ]
        );
        assert!(parse_kinds("application/x-msdownload").is_err());
        assert!(parse_kinds("pdf,exe").is_err());
        assert!(parse_kinds("").is_err());
    }
    use std::time::Duration;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("4s"), Ok(Duration::from_secs(4)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn a_session_lasts_a_month_at_most() {
        assert_eq!(
            parse_session_max("31d"),
            Ok(Duration::from_secs(31 * 86_400))
        );
        assert!(parse_session_max("32d").is_err());
        assert!(parse_session_max("0s").is_err());
    }
}

/// Variables read directly rather than through a flag.
const READ_DIRECTLY: &[&str] = &["MEDCHAIN_ADMIN_PASSWORD", "MEDCHAIN_PG_BIN"];
/// Earlier names, accepted for one release, and the names that replace them.
const RENAMED: &[(&str, &str)] = &[
    ("MEDCHAIN_UPLOAD_MAX", "MEDCHAIN_MAX_UPLOAD_BYTES"),
    ("MEDCHAIN_UPLOAD_TYPES", "MEDCHAIN_ALLOWED_TYPES"),
];

/// Warnings about the environment, said at start: a `MEDCHAIN_*` variable no setting
/// reads (a misspelt setting must never be silently ignored), and an earlier name.
/// `known` are the names the command line reads (from clap's definitions, so the list
/// cannot fall behind).
pub fn environment_warnings(
    known: &[String],
    present: impl Iterator<Item = String>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for name in present.filter(|n| n.starts_with("MEDCHAIN_")) {
        if let Some((_, new)) = RENAMED.iter().find(|(old, _)| *old == name) {
            warnings.push(format!(
                "{name} is now called {new}; the old name works for one more release"
            ));
        } else if !known.contains(&name) && !READ_DIRECTLY.contains(&name.as_str()) {
            warnings.push(format!(
                "{name} is not a MedChain setting and is ignored (misspelt?)"
            ));
        }
    }
    warnings.sort();
    warnings
}

/// Every environment variable the command line reads.
pub fn known_variables(command: &clap::Command) -> Vec<String> {
    let mut names: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    for sub in command.get_subcommands() {
        names.extend(known_variables(sub));
    }
    names
}

#[cfg(test)]
mod environment_tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn unknown_and_renamed_variables_are_named() {
        let known = known_variables(&crate::cli::Cli::command());
        assert!(known.iter().any(|k| k == "MEDCHAIN_QUOTA"), "{known:?}");
        let present = [
            "MEDCHAIN_QUOTA",
            "MEDCHAIN_QOUTA",
            "MEDCHAIN_UPLOAD_MAX",
            "MEDCHAIN_ADMIN_PASSWORD",
            "PATH",
        ]
        .map(String::from);
        let warnings = environment_warnings(&known, present.into_iter());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("MEDCHAIN_QOUTA is not a MedChain setting"));
        assert!(warnings[1].contains("now called MEDCHAIN_MAX_UPLOAD_BYTES"));
    }
}
