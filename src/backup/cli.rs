//! `medchain backup --out DIR [--follow]` and `medchain restore --from DIR`.
//!
//! A backup directory holds `database/` (the tar base backup), `wal/` (the WAL archived
//! after it), `blobs/` (a file blob store's tree), `key-epochs/` (a directory epoch
//! store's keys, wrapped by the master key, which is never in a backup), `checkpoint.json`
//! (the newest signed tree head) and `manifest.json` (every file's SHA-256).
//!
//! A restore checks the manifest, recovers the embedded cluster of `--data-dir` to the
//! archive's end, copies the blobs, keys and head into the data directory, verifies the
//! chain against the signed head and every kept blob against its hash, re-applies the
//! erasure journal (the blobs of erased records and people are deleted again, the keys
//! of retired epochs destroyed again: the backup may predate them), and only then says
//! the restore is good.

use super::database::{Layout, archive_wal, base_backup, create_slot};
use super::manifest;
use crate::cli::Common;
use crate::config::Paths;
use crate::database::{Database, Purpose};
use crate::embedded::PgBinaries;
use anyhow::Context as _;
use std::path::Path;
use std::time::Duration;

/// How long a stopped archive may take to receive what the primary had flushed.
const CATCH_UP: Duration = Duration::from_secs(60);

pub async fn backup(
    common: &Common,
    out: &Path,
    blob_store: Option<&str>,
    follow: bool,
) -> anyhow::Result<i32> {
    if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        anyhow::bail!(
            "{} is not empty: a backup goes into a directory of its own",
            out.display()
        );
    }
    let layout = Layout {
        root: out.to_owned(),
    };
    std::fs::create_dir_all(layout.wal()).with_context(|| format!("creating {}", out.display()))?;
    let blobs = blob_directory(common, blob_store)?;
    let epochs = match crate::config::epoch_store(common)? {
        commands::keys::EpochStore::Directory(d) => d.dir().to_owned(),
        commands::keys::EpochStore::S3(_) => anyhow::bail!(
            "the key epochs are in S3: back them up with the bucket's own tools (not yet done here)"
        ),
    };
    let db = Database::open(common, Purpose::Command, 2).await?;
    let result = async {
        let bins = PgBinaries::find()?;
        let (url, at) = (db.url.clone(), layout.root.clone());
        tokio::task::spawn_blocking(move || {
            let layout = Layout { root: at };
            base_backup(&bins, &url, &layout)?;
            create_slot(&bins, &url, &layout)
        })
        .await??;
        eprintln!("base backup taken");
        // The files as they stand after the base backup, and again at the end (only what
        // is new): a blob or key deleted meanwhile (an erasure) stays in the backup, and
        // the restore deletes it again from the journal on the ledger.
        copy_tree(&blobs, &out.join("blobs"))?;
        copy_tree(&epochs, &out.join("key-epochs"))?;
        let bins = PgBinaries::find()?;
        if follow {
            let mut archiver = archive_wal(&bins, &db.url, &layout, None)?;
            eprintln!(
                "archiving WAL into {} as it is written; stop with Ctrl-C or SIGTERM",
                layout.wal().display()
            );
            stopped().await?;
            caught_up(&db.pool).await?;
            archiver.kill().await?;
        } else {
            let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_flush_lsn()::text")
                .fetch_one(&db.pool)
                .await?;
            let status = archive_wal(&bins, &db.url, &layout, Some(&lsn))?
                .wait()
                .await?;
            anyhow::ensure!(status.success(), "pg_receivewal failed: {status}");
        }
        copy_tree(&blobs, &out.join("blobs"))?;
        copy_tree(&epochs, &out.join("key-epochs"))?;
        let paths = Paths::of(common);
        match paths.checkpoint_store()?.newest_tree_head().await? {
            Some(head) => {
                std::fs::write(out.join("checkpoint.json"), head.to_json())?;
                eprintln!("the newest signed head: seq {}", head.checkpoint.seq);
            }
            None => eprintln!("no signed head yet: the restore can check the chain only"),
        }
        let files = manifest::write(out)?;
        println!("backup written to {}: {files} files", out.display());
        anyhow::Ok(0)
    }
    .await;
    db.close().await;
    result
}

pub async fn restore(
    common: &Common,
    from: &Path,
    blob_store: Option<&str>,
) -> anyhow::Result<i32> {
    match manifest::check(from) {
        Ok(files) => eprintln!("the backup's {files} files match its manifest"),
        Err(e) => {
            println!("REFUSED: {e}");
            return Ok(1);
        }
    }
    anyhow::ensure!(
        common.database_url.is_none(),
        "a restore makes the embedded cluster of --data-dir: unset DATABASE_URL"
    );
    anyhow::ensure!(
        !common.data_dir.join("pg").exists(),
        "{} already holds a cluster: restore into a new data directory",
        common.data_dir.display()
    );
    let layout = Layout {
        root: from.to_owned(),
    };
    let (dir, base, wal) = (common.data_dir.clone(), layout.base(), layout.wal());
    let bins = PgBinaries::find()?;
    tokio::task::spawn_blocking(move || crate::embedded::restore_cluster(&dir, &bins, &base, &wal))
        .await??;
    eprintln!("the database is recovered to the end of the backup's WAL");
    let blobs = blob_directory(common, blob_store)?;
    copy_tree(&from.join("blobs"), &blobs)?;
    if let commands::keys::EpochStore::Directory(d) = crate::config::epoch_store(common)? {
        copy_tree(&from.join("key-epochs"), d.dir())?;
    }
    let db = Database::open(common, Purpose::Command, 2).await?;
    let result = verify_restored(common, from, &db.pool, &blobs).await;
    db.close().await;
    result
}

async fn verify_restored(
    common: &Common,
    from: &Path,
    pool: &sqlx::PgPool,
    blobs: &Path,
) -> anyhow::Result<i32> {
    let head_file = from.join("checkpoint.json");
    let signed = if head_file.exists() {
        let signed = commands::ledger::read_checkpoint(&head_file)?;
        signed.verify_signature()?;
        let store = Paths::of(common).checkpoint_store()?;
        store.keep(&signed).await?;
        Some(signed)
    } else {
        None
    };
    let verification =
        commands::ledger::verify_ledger(pool, signed.as_ref().map(|s| s.checkpoint)).await?;
    if let Err(broken) = verification.outcome {
        println!("FAILED: the restored ledger: {broken}");
        return Ok(1);
    }
    let journal = erasure_journal(pool).await?;
    let (mut blobs_erased, mut keys_destroyed) = (0, 0);
    for path in &journal.blobs {
        match std::fs::remove_file(blobs.join(path)) {
            Ok(()) => blobs_erased += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("deleting the erased blob {path}")),
        }
    }
    // Destroyed the way a rotation destroys them (overwritten, synced, unlinked).
    let epochs = crate::config::epoch_store(common)?;
    let present = epochs.list()?;
    for epoch in journal
        .retired_epochs
        .iter()
        .filter(|e| present.contains(e))
    {
        epochs
            .destroy(*epoch)
            .with_context(|| format!("destroying the retired epoch {epoch}'s key"))?;
        keys_destroyed += 1;
    }
    // Every record's blob that is kept must be there and be what the ledger names.
    let live: Vec<(String,)> = sqlx::query_as(
        "SELECT u.payload->>'sha256' FROM events u \
          WHERE u.type = 'RecordUploaded' \
            AND NOT EXISTS (SELECT 1 FROM events e WHERE e.stream = u.stream AND e.type = 'RecordErased') \
            AND NOT EXISTS (SELECT 1 FROM events e WHERE e.type = 'UserErased' \
                             AND e.stream = 'user-' || (u.payload->>'owner'))",
    )
    .fetch_all(pool)
    .await?;
    for (sha,) in &live {
        let path = blobs.join("records").join(sha);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(_) => {
                println!("FAILED: blobs/records/{sha}: named on the ledger, missing");
                return Ok(1);
            }
        };
        use sha2::Digest as _;
        if hex::encode(sha2::Sha256::digest(&bytes)) != *sha {
            println!("FAILED: blobs/records/{sha}: its SHA-256 is not the ledger's");
            return Ok(1);
        }
    }
    println!(
        "restore good: {} events verified{}; {} blobs checked against the ledger; the erasure journal re-applied: {blobs_erased} blob(s) of erased records or people deleted again, {keys_destroyed} retired epoch key(s) destroyed again",
        verification.checked,
        signed.map_or_else(String::new, |s| format!(
            " up to and past the signed head at seq {}",
            s.checkpoint.seq
        )),
        live.len()
    );
    Ok(0)
}

/// What erasures the ledger holds, as the restore must apply them again.
struct Journal {
    /// Blob paths (relative to the store) of erased records and people.
    blobs: Vec<String>,
    retired_epochs: Vec<domain::erasure::EpochNumber>,
}

async fn erasure_journal(pool: &sqlx::PgPool) -> anyhow::Result<Journal> {
    let records: Vec<(String,)> = sqlx::query_as(
        "SELECT 'records/' || (u.payload->>'sha256') FROM events u \
          WHERE u.type = 'RecordUploaded' \
            AND (EXISTS (SELECT 1 FROM events e WHERE e.stream = u.stream AND e.type = 'RecordErased') \
              OR EXISTS (SELECT 1 FROM events e WHERE e.type = 'UserErased' \
                          AND e.stream = 'user-' || (u.payload->>'owner')))",
    )
    .fetch_all(pool)
    .await?;
    let photos: Vec<(String,)> = sqlx::query_as(
        "SELECT 'photos/' || substr(stream, 6) || '.sealed' FROM events WHERE type = 'UserErased'",
    )
    .fetch_all(pool)
    .await?;
    let retired: Vec<(i64,)> = sqlx::query_as(
        "SELECT (payload->>'epoch')::bigint FROM events WHERE type = 'KeyEpochRetired'",
    )
    .fetch_all(pool)
    .await?;
    let retired = retired
        .into_iter()
        .map(|(n,)| domain::erasure::EpochNumber::try_from(n))
        .collect::<Result<Vec<_>, _>>()
        .context("a retired epoch's number")?;
    Ok(Journal {
        blobs: records.into_iter().chain(photos).map(|(p,)| p).collect(),
        retired_epochs: retired,
    })
}

/// The blob store's directory; a backup of an S3 store is the bucket's own.
fn blob_directory(common: &Common, blob_store: Option<&str>) -> anyhow::Result<std::path::PathBuf> {
    match blob_store {
        None => Ok(common.data_dir.join("blobs")),
        Some(url) => match url.strip_prefix("file://") {
            Some(path) => Ok(path.into()),
            None => anyhow::bail!(
                "the blobs are in {url}: back them up with the bucket's versioning and replication (not yet done here)"
            ),
        },
    }
}

/// Copies the tree at `from` (if there is one) into `to`, leaving what `to` already
/// holds (blobs and keys never change under their names).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    if !from.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if !target.exists() {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Ctrl-C (SIGINT) or SIGTERM.
async fn stopped() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

/// Waits until the archiver has flushed what the primary had flushed when asked.
async fn caught_up(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    loop {
        let done: bool = sqlx::query_scalar(
            "SELECT coalesce((SELECT flush_lsn >= pg_current_wal_flush_lsn() \
               FROM pg_stat_replication WHERE application_name = 'pg_receivewal'), false)",
        )
        .fetch_one(pool)
        .await?;
        if done {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the WAL archive did not catch up within {CATCH_UP:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
