//! `medchain ledger verify|export|checkpoint|pubkey|prove|consistency|check-proof`:
//! machine-readable results on stdout, messages on stderr. `check-proof` and `pubkey`
//! need no database.

use crate::{
    cli::{Common, LedgerCommand},
    config::Paths,
    database::{Database, Purpose},
};
use commands::{
    SystemClock,
    keys::LedgerKey,
    ledger::{self, LedgerProblem, read_checkpoint},
};
use std::io::BufWriter;

/// Runs one ledger command; returns the process exit code.
pub async fn run(common: &Common, command: LedgerCommand) -> anyhow::Result<i32> {
    let paths = Paths::of(common);
    if let LedgerCommand::Pubkey = command {
        println!(
            "{}",
            LedgerKey::load_or_create(&paths.ledger_key_file)?.public_hex()
        );
        return Ok(0);
    }
    if let LedgerCommand::CheckProof { file, pubkey } = &command {
        return check_proof(file, pubkey);
    }
    let db = Database::open(common, Purpose::Command, 4).await?;
    let result = run_with_db(&db, &paths, command).await;
    db.close().await;
    result
}

async fn run_with_db(db: &Database, paths: &Paths, command: LedgerCommand) -> anyhow::Result<i32> {
    match command {
        LedgerCommand::Verify { checkpoint } => {
            // A checkpoint must be signed by this ledger's key, not merely by some key; an
            // auditor's machine may not hold the key, and is told what was not checked.
            let key = LedgerKey::load(&paths.ledger_key_file)
                .ok()
                .map(|k| k.public());
            if key.is_none() {
                eprintln!(
                    "no ledger key at {}: checkpoint signatures are checked, but not whose key made them",
                    paths.ledger_key_file.display()
                );
            }
            let check = match checkpoint {
                // One named file: held to it alone.
                Some(path) => {
                    let signed = read_checkpoint(&path)?;
                    if let Some(key) = &key {
                        signed.require_key(key)?;
                    }
                    let verification =
                        ledger::verify_ledger(&db.pool, Some(signed.checkpoint)).await?;
                    ledger::LedgerCheck {
                        checked: verification.checked,
                        checkpoint: Some(signed.checkpoint),
                        outcome: verification.outcome.map_err(LedgerProblem::Chain),
                    }
                }
                None => {
                    let store = paths.checkpoint_store()?;
                    ledger::verify_against_checkpoints(&db.pool, &store, key.as_ref()).await?
                }
            };
            match &check.checkpoint {
                Some(c) => eprintln!("held to the signed checkpoint of seq {}", c.seq),
                None => eprintln!("no checkpoint yet: only the chain itself is checked"),
            }
            match check.outcome {
                Ok(chain) => {
                    println!("OK: {} events, head {}", chain.events, chain.head);
                    Ok(0)
                }
                Err(LedgerProblem::Chain(broken)) => {
                    println!("FAILED at seq {}: {broken}", broken.seq);
                    eprintln!("{} events verified before the break", check.checked);
                    Ok(1)
                }
                Err(LedgerProblem::Checkpoint(problem)) => {
                    println!("FAILED: {problem}");
                    Ok(1)
                }
            }
        }
        LedgerCommand::Export { out } => {
            let file = std::fs::File::create(&out)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
            let count = ledger::export_jsonl(&db.pool, &mut BufWriter::new(file)).await?;
            eprintln!("exported {count} events to {}", out.display());
            Ok(0)
        }
        LedgerCommand::Checkpoint => {
            let key = LedgerKey::load_or_create(&paths.ledger_key_file)?;
            let store = paths.checkpoint_store()?;
            let tree = tree_at_head(&db.pool).await?;
            let (signed, location) = store
                .write(&db.pool, &key, &SystemClock, Some(tree))
                .await?;
            eprintln!(
                "signed seq {} hash {} root {}",
                signed.checkpoint.seq, signed.checkpoint.hash, tree.1
            );
            println!("{location}");
            Ok(0)
        }
        LedgerCommand::Prove { seq, size } => {
            let store = paths.checkpoint_store()?;
            let size = match size {
                Some(size) => size,
                None => newest_head_size(&store).await?,
            };
            let head = signed_head(&store, size).await?;
            anyhow::ensure!(
                (1..=size).contains(&seq),
                "--seq must be from 1 to the tree size {size}"
            );
            let tree = caught_up_tree(&db.pool, size).await?;
            let mut conn = db.pool.acquire().await?;
            let (_, path) =
                projections::merkle::inclusion(&mut conn, &Default::default(), seq, size).await?;
            drop(tree);
            let line = event_line(&db.pool, seq).await?;
            let receipt = domain::ledger::receipt::receipt_json(&line, seq, size, &path, &head);
            println!("{receipt}");
            Ok(0)
        }
        LedgerCommand::Consistency { from, to } => {
            let store = paths.checkpoint_store()?;
            let to = match to {
                Some(to) => to,
                None => newest_head_size(&store).await?,
            };
            anyhow::ensure!(
                from >= 1 && from <= to,
                "--from must be from 1 to --to ({to})"
            );
            let (from_head, to_head) = (
                signed_head(&store, from).await?,
                signed_head(&store, to).await?,
            );
            let tree = caught_up_tree(&db.pool, to).await?;
            let mut conn = db.pool.acquire().await?;
            let path =
                projections::merkle::consistency(&mut conn, &Default::default(), from, to).await?;
            drop(tree);
            let file = domain::ledger::receipt::consistency_json(&from_head, &to_head, &path);
            println!("{file}");
            Ok(0)
        }
        LedgerCommand::Pubkey | LedgerCommand::CheckProof { .. } => {
            unreachable!("handled without a database")
        }
    }
}

/// Runs the `merkle` projector in this process until the tree holds `size` events (with
/// a server running, whichever process holds its lock applies; this one waits for it).
/// The tree is kept while the value lives.
async fn caught_up_tree(
    pool: &sqlx::PgPool,
    size: i64,
) -> anyhow::Result<projections::Projections> {
    let merkle: std::sync::Arc<dyn projections::Projector> =
        std::sync::Arc::new(projections::merkle::MerkleProjector);
    let running = projections::Projections::start(pool.clone(), vec![merkle]).await?;
    running
        .wait_for(
            &[projections::merkle::NAME],
            size,
            std::time::Duration::from_secs(300),
        )
        .await
        .map_err(|e| anyhow::anyhow!("the transparency log's tree did not reach {size}: {e}"))?;
    Ok(running)
}

/// The transparency log's tree at the ledger's head, for a signed tree head.
async fn tree_at_head(pool: &sqlx::PgPool) -> anyhow::Result<(i64, domain::ledger::Hash)> {
    let head = commands::ledger::ledger_head(pool).await?;
    anyhow::ensure!(
        head.seq > 0,
        "the ledger is empty: there is nothing to checkpoint"
    );
    let _tree = caught_up_tree(pool, head.seq).await?;
    projections::merkle::head(pool, &Default::default(), head.seq)
        .await?
        .filter(|(size, _)| *size == head.seq)
        .ok_or_else(|| anyhow::anyhow!("the transparency log's tree is not at the head"))
}

async fn newest_head_size(store: &commands::ledger::CheckpointStore) -> anyhow::Result<i64> {
    let head = store.newest_tree_head().await?.ok_or_else(|| {
        anyhow::anyhow!("no tree head has been signed yet: run `medchain ledger checkpoint`")
    })?;
    Ok(head.checkpoint.seq)
}

/// The signed tree head of exactly `size`, as DESIGN.md §9 writes it.
async fn signed_head(
    store: &commands::ledger::CheckpointStore,
    size: i64,
) -> anyhow::Result<serde_json::Value> {
    let head = store
        .read(size)
        .await?
        .filter(|h| h.checkpoint.root.is_some())
        .ok_or_else(|| anyhow::anyhow!("no tree head of size {size} was signed"))?;
    let mut doc: serde_json::Value = serde_json::from_str(&head.to_json())?;
    doc["cosignatures"] = serde_json::json!([]);
    Ok(doc)
}

/// Event `seq`'s line of the export (DESIGN.md §8), as JSON.
async fn event_line(pool: &sqlx::PgPool, seq: i64) -> anyhow::Result<serde_json::Value> {
    use futures::StreamExt as _;
    let row = commands::event_store::row_stream(pool, seq)
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("there is no event {seq}"))??;
    anyhow::ensure!(row.seq == seq, "there is no event {seq}");
    Ok(serde_json::from_str(&row.export_line()?)?)
}

/// `ledger check-proof`: offline, no database.
fn check_proof(file: &std::path::Path, pubkey: &str) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(pubkey.trim(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("--pubkey is 32 bytes of hex (`medchain ledger pubkey`)"))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| anyhow::anyhow!("--pubkey is not an Ed25519 public key"))?;
    match domain::ledger::receipt::check_proof_file(&text, &key) {
        Ok(domain::ledger::receipt::Proven::Included {
            seq,
            event_type,
            size,
        }) => {
            println!("OK: event {seq} ({event_type}) is in the signed tree of {size} events");
            Ok(0)
        }
        Ok(domain::ledger::receipt::Proven::Consistent { from, to }) => {
            println!("OK: the signed tree of {from} events is a prefix of the signed tree of {to}");
            Ok(0)
        }
        Err(e) => {
            println!("FAILED: {e}");
            Ok(1)
        }
    }
}
