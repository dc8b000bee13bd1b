//! `medchain ledger verify|export|checkpoint|pubkey`: machine-readable results on stdout,
//! messages on stderr.

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
            let (signed, location) = store.write(&db.pool, &key, &SystemClock).await?;
            eprintln!(
                "signed seq {} hash {}",
                signed.checkpoint.seq, signed.checkpoint.hash
            );
            println!("{location}");
            Ok(0)
        }
        LedgerCommand::Pubkey => unreachable!("handled without a database"),
    }
}
