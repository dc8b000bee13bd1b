//! `medchain restore --from DIR --data-dir NEW`, in order: the manifest checked (a
//! changed, missing or added file refused, naming it); what the world already holds of
//! the log read from the checkpoint store (its newest signed head, each witness's newest
//! cosignature, the erasure journal), before anything is written there; the embedded
//! cluster recovered to the end of the backup's WAL; the blobs and epoch keys put back
//! into the configured stores (a directory or S3); the chain verified against the
//! backup's signed head; every erasure on the ledger or in the journal applied again
//! (`commands::shredding`, as the erase commands do it: the backup may predate it), and
//! the keys of retired epochs destroyed again; every kept record's blob checked against
//! its hash on the ledger. Then either "restore good" (exit 0) or, when the restored
//! ledger falls short of (or disagrees with) a head that was signed or witnessed, the
//! ledger is frozen and the restore says so (exit 2): the server starts read-only,
//! because writing on would fork the log witnesses hold.

use super::database::Layout;
use super::files::{Blobs, copy_epochs};
use super::manifest;
use super::reach::{self, Claim};
use crate::cli::Common;
use crate::config::Paths;
use crate::database::{Database, Purpose};
use crate::embedded::PgBinaries;
use anyhow::Context as _;
use commands::keys::{EpochStore, LedgerKey};
use commands::ledger::JournalEntry;
use commands::shredding::{photo_blob, record_blob, shred_person, shred_record};
use domain::erasure::ErasureSubject;
use domain::ledger::SignedCheckpoint;
use domain::ledger::cosignature::WitnessKeys;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use uuid::Uuid;

/// The exit code of a restore that came back read-only.
pub const READ_ONLY: i32 = 2;

pub async fn restore(
    common: &Common,
    from: &Path,
    blob_store: Option<&str>,
    witnesses: Option<&WitnessKeys>,
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
    let paths = Paths::of(common);
    let head_file = from.join("checkpoint.json");
    let backup_head = match head_file.exists() {
        true => Some(commands::ledger::read_checkpoint(&head_file)?),
        false => None,
    };
    let log_key = log_key(&paths.ledger_key_file, backup_head.as_ref())?;
    // What the world holds of the log, read before the backup's head is kept there.
    let store = paths.checkpoint_store()?;
    let (mut claims, journal) = match &log_key {
        Some(key) => (
            reach::claims_in_store(&store, key, witnesses).await?,
            commands::ledger::journal_entries(&store, key).await?,
        ),
        None => {
            anyhow::ensure!(
                store.newest().await?.is_none(),
                "{} holds signed heads: bring the ledger's key to {} first (it is kept apart \
                 from backups, like the master key)",
                store.place,
                paths.ledger_key_file.display()
            );
            (Vec::new(), Vec::new())
        }
    };
    claims.extend(reach::journal_claims(&journal));
    if let Some(head) = &backup_head {
        claims.push(reach::head_claim(head, "the backup's signed head".into()));
    }

    let layout = Layout {
        root: from.to_owned(),
    };
    let (dir, base, wal) = (common.data_dir.clone(), layout.base(), layout.wal());
    let bins = PgBinaries::find()?;
    tokio::task::spawn_blocking(move || crate::embedded::restore_cluster(&dir, &bins, &base, &wal))
        .await??;
    eprintln!("the database is recovered to the end of the backup's WAL");
    let blobs = Blobs::configured(&common.data_dir, blob_store)?;
    blobs.copy_in(&from.join("blobs")).await?;
    let (source, target) = (
        EpochStore::directory(from.join("key-epochs")),
        crate::config::epoch_store(common)?,
    );
    tokio::task::spawn_blocking(move || copy_epochs(&source, &target)).await??;
    let db = Database::open(common, Purpose::Command, 2).await?;
    let result = finish(common, &db.pool, backup_head, &claims, &journal, &blobs).await;
    db.close().await;
    result
}

/// The ledger's public key, from the key file the operator brought (kept apart from
/// backups, like the master key); it must be the key that signed the backup's head.
fn log_key(
    file: &Path,
    head: Option<&SignedCheckpoint>,
) -> anyhow::Result<Option<ed25519_dalek::VerifyingKey>> {
    let key = match file.exists() {
        true => Some(
            LedgerKey::load(file)
                .with_context(|| format!("reading the ledger key {}", file.display()))?
                .public(),
        ),
        false => None,
    };
    if let Some(head) = head {
        head.verify_signature()
            .context("the backup's checkpoint.json")?;
        match &key {
            None => anyhow::bail!(
                "bring the ledger's key to {} first: it is kept apart from backups, like the \
                 master key, and a new one would sign heads no witness accepts",
                file.display()
            ),
            Some(key) => head
                .require_key(key)
                .with_context(|| format!("the ledger key {}", file.display()))?,
        }
    }
    Ok(key)
}

async fn finish(
    common: &Common,
    pool: &sqlx::PgPool,
    backup_head: Option<SignedCheckpoint>,
    claims: &[Claim],
    journal: &[JournalEntry],
    blobs: &Blobs,
) -> anyhow::Result<i32> {
    let last: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events")
        .fetch_one(pool)
        .await?;
    // Held to the backup's head where the ledger reaches it; where it does not, the
    // chain alone, and the unmet head makes the restore read-only below.
    let held_to = backup_head
        .as_ref()
        .filter(|h| h.checkpoint.seq <= last)
        .map(|h| h.checkpoint);
    let verification = commands::ledger::verify_ledger(pool, held_to).await?;
    if let Err(broken) = verification.outcome {
        println!("FAILED: the restored ledger: {broken}");
        return Ok(1);
    }
    if let Some(head) = &backup_head {
        Paths::of(common).checkpoint_store()?.keep(head).await?;
    }
    let unmet = reach::unmet(pool, claims).await?;
    let store = blobs.store()?;
    let erased = reapply_erasures(common, pool, journal, &store).await?;
    // Every record's blob that is kept must be there and be what the ledger names.
    let live: Vec<(String,)> = sqlx::query_as(
        "SELECT u.payload->>'sha256' FROM events u \
          WHERE u.type = 'RecordUploaded' \
            AND NOT EXISTS (SELECT 1 FROM key_erasures x \
                             WHERE x.kind = 'record' AND x.subject_id = substr(u.stream, 8)::uuid) \
            AND NOT EXISTS (SELECT 1 FROM key_erasures x \
                             WHERE x.kind = 'user' AND x.subject_id = (u.payload->>'owner')::uuid)",
    )
    .fetch_all(pool)
    .await?;
    for (sha,) in &live {
        let Some(bytes) = store.get(&record_blob(sha)).await? else {
            println!("FAILED: blobs/records/{sha}: named on the ledger, missing");
            return Ok(1);
        };
        use sha2::Digest as _;
        if hex::encode(sha2::Sha256::digest(&bytes)) != *sha {
            println!("FAILED: blobs/records/{sha}: its SHA-256 is not the ledger's");
            return Ok(1);
        }
    }
    let summary = format!(
        "{} events verified{}; {} blobs checked against the ledger; the erasure journal re-applied: {} erasure(s), {} blob(s) of erased records or people deleted again, {} retired epoch key(s) destroyed again",
        verification.checked,
        held_to.map_or_else(String::new, |h| format!(
            " up to and past the signed head at seq {}",
            h.seq
        )),
        live.len(),
        erased.subjects,
        erased.blobs_deleted,
        erased.epochs_destroyed,
    );
    if unmet.is_empty() {
        println!("restore good: {summary}");
        return Ok(0);
    }
    let reason = format!(
        "restored from a backup that does not reach the newest signed head: {}; writing on \
         would fork the log its witnesses hold",
        unmet.join("; ")
    );
    commands::ledger::freeze(pool, &reason).await?;
    println!("RESTORED READ-ONLY: {reason}. {summary}");
    Ok(READ_ONLY)
}

struct Reapplied {
    subjects: usize,
    blobs_deleted: usize,
    epochs_destroyed: usize,
}

/// Every erasure the restored ledger holds or the journal names, applied again as the
/// erase commands apply it (`commands::shredding`); the keys of retired epochs destroyed
/// again, as a rotation destroys them.
async fn reapply_erasures(
    common: &Common,
    pool: &sqlx::PgPool,
    journal: &[JournalEntry],
    store: &commands::blobs::BlobStore,
) -> anyhow::Result<Reapplied> {
    let mut records: BTreeSet<Uuid> = id_in_stream(pool, "RecordErased", "record-").await?;
    let mut people: BTreeSet<Uuid> = id_in_stream(pool, "UserErased", "user-").await?;
    for entry in journal {
        match entry.subject {
            ErasureSubject::Record(id) => records.insert(id.as_uuid()),
            ErasureSubject::User(id) => people.insert(id.as_uuid()),
        };
    }
    let keys = crate::config::key_ring(common)?;
    let mut present: HashSet<String> = HashSet::new();
    for prefix in ["records", "photos"] {
        present.extend(store.list(prefix).await?.into_iter().map(|(p, _)| p));
    }
    // A person's records go with them.
    let uploads: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT substr(stream, 8), payload->>'owner', payload->>'sha256' FROM events \
          WHERE type = 'RecordUploaded' \
            AND (substr(stream, 8) = ANY($1) OR payload->>'owner' = ANY($2))",
    )
    .bind(records.iter().map(Uuid::to_string).collect::<Vec<_>>())
    .bind(people.iter().map(Uuid::to_string).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    let mut blobs_deleted = 0;
    for (record, owner, sha) in &uploads {
        blobs_deleted += usize::from(present.contains(&record_blob(sha)));
        shred_record(pool, &keys, store, record.parse()?, owner.parse()?, sha).await?;
    }
    let now = chrono::Utc::now();
    for person in &people {
        blobs_deleted += usize::from(present.contains(&photo_blob(*person)));
        shred_person(pool, &keys, Some(store), *person, now).await?;
    }
    // Destroyed the way a rotation destroys them (overwritten, synced, unlinked).
    let retired: Vec<(i64,)> = sqlx::query_as(
        "SELECT (payload->>'epoch')::bigint FROM events WHERE type = 'KeyEpochRetired'",
    )
    .fetch_all(pool)
    .await?;
    let epochs = crate::config::epoch_store(common)?;
    let epochs_destroyed = tokio::task::spawn_blocking(move || {
        let present = epochs.list()?;
        let mut destroyed = 0;
        for (number,) in retired {
            let epoch = domain::erasure::EpochNumber::try_from(number)
                .context("a retired epoch's number")?;
            if present.contains(&epoch) {
                epochs
                    .destroy(epoch)
                    .with_context(|| format!("destroying the retired epoch {epoch}'s key"))?;
                destroyed += 1;
            }
        }
        anyhow::Ok(destroyed)
    })
    .await??;
    Ok(Reapplied {
        subjects: records.len() + people.len(),
        blobs_deleted,
        epochs_destroyed,
    })
}

/// The ids of the streams (`<prefix><uuid>`) holding an event of type `kind`.
async fn id_in_stream(
    pool: &sqlx::PgPool,
    kind: &str,
    prefix: &str,
) -> anyhow::Result<BTreeSet<Uuid>> {
    let streams: Vec<String> = sqlx::query_scalar("SELECT stream FROM events WHERE type = $1")
        .bind(kind)
        .fetch_all(pool)
        .await?;
    streams
        .iter()
        .map(|s| {
            s.strip_prefix(prefix)
                .and_then(|id| id.parse().ok())
                .with_context(|| format!("the stream {s} of a {kind}"))
        })
        .collect()
}
