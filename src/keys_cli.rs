//! `medchain keys status|rotate` and `medchain erasure certificate`: the operator's view
//! of key epochs (DESIGN.md §11), through the same service the API uses.

use crate::{
    cli::{Common, ErasureCommand, KeysCommand},
    database::{Database, Purpose},
};
use commands::{
    CommandError, EventStore, Kernel, SystemClock, key_epochs::KeyEpochs, keys::LedgerKey,
};
use domain::erasure::ErasureSubject;
use serde_json::json;
use std::sync::Arc;

/// Exit code when another process holds the rotation.
const BUSY: i32 = 3;

async fn service(common: &Common, db: &Database) -> anyhow::Result<KeyEpochs> {
    let keys = crate::config::key_ring(common)?;
    let clock = Arc::new(SystemClock);
    let store = EventStore::start(db.pool.clone(), clock.clone());
    Ok(KeyEpochs::new(
        Kernel::new(store, keys.clone()),
        keys,
        clock,
        common.key_epoch,
    ))
}

pub async fn keys(common: &Common, command: KeysCommand) -> anyhow::Result<i32> {
    let db = Database::open(common, Purpose::Command, 4).await?;
    let result = async {
        let epochs = service(common, &db).await?;
        match command {
            KeysCommand::Status => {
                let status = epochs.status().await.map_err(anyhow::Error::msg)?;
                let text = |t: Option<domain::Timestamp>| t.map(|t| t.to_string());
                let out = json!({
                    "store": status.store,
                    "nextRotation": text(status.next_rotation),
                    "keysBeforeEpochs": status.keys_before_epochs,
                    "epochs": status.epochs.iter().map(|e| json!({
                        "number": e.number,
                        "startedAt": e.started_at.to_string(),
                        "closedAt": text(e.closed_at),
                        "retiredAt": text(e.retired_at),
                        "keys": e.keys,
                    })).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                Ok(0)
            }
            KeysCommand::Rotate => match epochs.rotate().await {
                Ok(done) => {
                    println!(
                        "{}",
                        json!({
                            "epoch": done.current,
                            "retired": done.retired,
                            "keysMoved": done.keys_moved,
                            "erasuresCompleted": done.erasures_completed,
                        })
                    );
                    Ok(0)
                }
                Err(CommandError::Conflict(why)) => {
                    eprintln!("{why}");
                    Ok(BUSY)
                }
                Err(e) => Err(anyhow::Error::msg(e.to_string())),
            },
        }
    }
    .await;
    db.close().await;
    result
}

pub async fn erasure(common: &Common, command: ErasureCommand) -> anyhow::Result<i32> {
    let ErasureCommand::Certificate { subject } = command;
    let subject = ErasureSubject::parse(&subject)?;
    let db = Database::open(common, Purpose::Command, 4).await?;
    let result = async {
        let epochs = service(common, &db).await?;
        let paths = crate::config::Paths::of(common);
        let signer = LedgerKey::load_or_create(&paths.ledger_key_file)?;
        match epochs.certificate(None, subject, &signer).await {
            Ok(certificate) => {
                println!("{}", certificate.document);
                Ok(0)
            }
            Err(CommandError::NotFound(why)) => {
                eprintln!("{why}");
                Ok(1)
            }
            Err(e) => Err(anyhow::Error::msg(e.to_string())),
        }
    }
    .await;
    db.close().await;
    result
}
