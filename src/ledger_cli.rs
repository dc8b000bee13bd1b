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
    ledger::{self, checkpoint::read_checkpoint},
};
use std::io::BufWriter;

/// Runs one ledger command; returns the process exit code.
pub async fn run(common: &Common, command: LedgerCommand) -> anyhow::Result<i32> {
    let paths = Paths::resolve(
        common.data_dir.clone(),
        common.checkpoint_dir.clone(),
        common.ledger_key_file.clone(),
    );
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
            let checkpoint = match checkpoint {
                Some(path) => {
                    let signed = read_checkpoint(&path)?;
                    // The checkpoint must be signed by this ledger's key, not merely by some key.
                    if let Ok(key) = LedgerKey::load(&paths.ledger_key_file) {
                        signed.require_key(&key.public())?;
                    }
                    Some(signed.checkpoint)
                }
                None => None,
            };
            let verification = ledger::verify_ledger(&db.pool, checkpoint).await?;
            match verification.outcome {
                Ok(chain) => {
                    println!("OK: {} events, head {}", chain.events, chain.head);
                    Ok(0)
                }
                Err(broken) => {
                    println!("FAILED at seq {}: {broken}", broken.seq);
                    eprintln!("{} events verified before the break", verification.checked);
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
            let (signed, path) =
                ledger::write_checkpoint(&db.pool, &key, &paths.checkpoint_dir, &SystemClock)
                    .await?;
            eprintln!(
                "signed seq {} hash {}",
                signed.checkpoint.seq, signed.checkpoint.hash
            );
            println!("{}", path.display());
            Ok(0)
        }
        LedgerCommand::Pubkey => unreachable!("handled without a database"),
    }
}
