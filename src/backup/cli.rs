//! `medchain backup --out DIR [--follow]`.
//!
//! A backup directory holds `database/` (the tar base backup), `wal/` (the WAL archived
//! after it), `blobs/` (every object of the blob store, a directory or S3), `key-epochs/`
//! (the epoch keys, wrapped by the master key, which is never in a backup, from a
//! directory or S3), `checkpoint.json` (the newest signed tree head) and `manifest.json`
//! (every file's SHA-256). `restore` reads it back.

use super::database::{Layout, archive_wal, base_backup, create_slot};
use super::files::{Blobs, copy_epochs};
use super::manifest;
use crate::cli::Common;
use crate::config::Paths;
use crate::database::{Database, Purpose};
use crate::embedded::PgBinaries;
use anyhow::Context as _;
use commands::keys::EpochStore;
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
    let blobs = Blobs::configured(&common.data_dir, blob_store)?;
    let epochs = crate::config::epoch_store(common)?;
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
        copy_files(&blobs, &epochs, out).await?;
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
        copy_files(&blobs, &epochs, out).await?;
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

/// The blobs and the epoch keys, copied into the backup (what it holds already stays).
async fn copy_files(blobs: &Blobs, epochs: &EpochStore, out: &Path) -> anyhow::Result<()> {
    blobs.copy_out(&out.join("blobs")).await?;
    let (from, to) = (
        epochs.clone(),
        EpochStore::directory(out.join("key-epochs")),
    );
    tokio::task::spawn_blocking(move || copy_epochs(&from, &to)).await??;
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
