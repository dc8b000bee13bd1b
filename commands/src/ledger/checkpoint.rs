//! Checkpoint files: the signed head, written outside the database as
//! `<dir>/<seq, zero-padded to 20 digits>.json` (DESIGN.md §7, §8).

use super::head::ledger_head;
use crate::{clock::Clock, keys::LedgerKey};
use domain::ledger::{Checkpoint, CheckpointError, SignedCheckpoint};
use sqlx::PgPool;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CheckpointStoreError {
    #[error("reading the ledger head: {0}")]
    Database(#[from] sqlx::Error),
    #[error("checkpoint directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Invalid {
        path: PathBuf,
        source: CheckpointError,
    },
    #[error("the ledger is empty: there is nothing to checkpoint")]
    EmptyLedger,
}

pub fn checkpoint_path(dir: &Path, seq: i64) -> PathBuf {
    dir.join(format!("{seq:020}.json"))
}

/// Signs the current head and writes it; returns the checkpoint and its file.
pub async fn write_checkpoint(
    pool: &PgPool,
    key: &LedgerKey,
    dir: &Path,
    clock: &dyn Clock,
) -> Result<(SignedCheckpoint, PathBuf), CheckpointStoreError> {
    let head = ledger_head(pool).await?;
    if head.seq == 0 {
        return Err(CheckpointStoreError::EmptyLedger);
    }
    let signed = Checkpoint {
        seq: head.seq,
        hash: head.hash,
        at: clock.now(),
    }
    .sign(key.signing_key());
    let path = checkpoint_path(dir, head.seq);
    let io = |source| CheckpointStoreError::Io {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    // Written beside, then renamed: a reader never sees half a checkpoint.
    let partial = dir.join(format!(".{seq:020}.json.partial", seq = head.seq));
    std::fs::write(&partial, signed.to_json() + "\n").map_err(io)?;
    std::fs::rename(&partial, &path).map_err(io)?;
    Ok((signed, path))
}

pub fn read_checkpoint(path: &Path) -> Result<SignedCheckpoint, CheckpointStoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckpointStoreError::Io {
        path: path.to_owned(),
        source,
    })?;
    SignedCheckpoint::parse(&text).map_err(|source| CheckpointStoreError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// The checkpoint with the highest seq in `dir`, if any.
pub fn newest_checkpoint(
    dir: &Path,
) -> Result<Option<(SignedCheckpoint, PathBuf)>, CheckpointStoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CheckpointStoreError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let newest = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.len() == 25 && n.ends_with(".json") && n[..20].bytes().all(|b| b.is_ascii_digit())
            })
        })
        .max();
    newest
        .map(|path| read_checkpoint(&path).map(|c| (c, path)))
        .transpose()
}
