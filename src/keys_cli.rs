//! `medchain keys status|rotate` and `medchain erasure certificate`: the operator's view
//! of key epochs (DESIGN.md §11), through the same service the API uses.

use crate::{
    cli::{Common, ErasureCommand, KeysCommand},
    database::{Database, Purpose},
};
use commands::{
    CommandError, EventStore, Kernel, SystemClock,
    key_epochs::KeyEpochs,
    keys::{KeyRing, LedgerKey, MasterKey},
};
use domain::erasure::ErasureSubject;
use serde_json::json;
use std::sync::Arc;

/// Exit code when another process holds the rotation.
const BUSY: i32 = 3;

/// The service over `master` (loaded once: a PKCS#11 module is initialised once per
/// process).
fn service(common: &Common, db: &Database, master: &MasterKey) -> anyhow::Result<KeyEpochs> {
    let keys = KeyRing::new(master, crate::config::epoch_store(common)?);
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
        if let KeysCommand::MoveToHsm { to } = &command {
            return move_to_hsm(common, &db, to).await;
        }
        let master = crate::config::master_key(common)?;
        let epochs = service(common, &db, &master)?;
        match command {
            KeysCommand::MoveToHsm { .. } => unreachable!("handled above"),
            KeysCommand::Status => {
                let status = epochs.status().await.map_err(anyhow::Error::msg)?;
                let text = |t: Option<domain::Timestamp>| t.map(|t| t.to_string());
                let master = match master.hsm() {
                    None => json!({"kind": "file"}),
                    Some(hsm) => {
                        let (sensitive, extractable) =
                            tokio::task::block_in_place(|| hsm.key_attributes())?;
                        json!({
                            "kind": "pkcs11",
                            "token": hsm.uri().token,
                            "object": hsm.uri().object,
                            "sensitive": sensitive,
                            "extractable": extractable,
                        })
                    }
                };
                let out = json!({
                    "masterKey": master,
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

/// Moves the master key into the HSM at `to`, holding the rotation lock meanwhile so no
/// epoch key is made under the file's key halfway.
async fn move_to_hsm(common: &Common, db: &Database, to: &str) -> anyhow::Result<i32> {
    use sqlx::{Connection as _, PgConnection};
    let file_key = crate::config::file_master_key(common)?;
    let uri = commands::keys::hsm::HsmUri::parse(to)?;
    let store = crate::config::epoch_store(common)?;
    let mut lock = PgConnection::connect_with(&db.pool.connect_options()).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(commands::keys::ROTATION_LOCK)
        .fetch_one(&mut lock)
        .await?;
    if !got {
        eprintln!("another process is rotating the key epochs; try again when it is done");
        return Ok(BUSY);
    }
    let moved = tokio::task::spawn_blocking(move || {
        let hsm = Arc::new(commands::keys::hsm::Hsm::connect(&uri, true)?);
        anyhow::Ok(commands::keys::hsm_move::move_to_hsm(
            &file_key, &hsm, &store,
        )?)
    })
    .await??;
    lock.close().await?;
    println!("{}", json!({"epochKeysMoved": moved}));
    eprintln!(
        "the master key is in the HSM: set MEDCHAIN_MASTER_KEY to that URI, unset \
         MEDCHAIN_MASTER_KEY_FILE, and destroy the key file once no backup needs it"
    );
    Ok(0)
}

pub async fn erasure(common: &Common, command: ErasureCommand) -> anyhow::Result<i32> {
    let ErasureCommand::Certificate { subject } = command;
    let subject = ErasureSubject::parse(&subject)?;
    let db = Database::open(common, Purpose::Command, 4).await?;
    let result = async {
        let master = crate::config::master_key(common)?;
        let epochs = service(common, &db, &master)?;
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
