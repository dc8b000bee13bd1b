//! Checkpoints: the signed head, kept outside the database (DESIGN.md §7, §8) as
//! `<seq, zero-padded to 20 digits>.json` in a directory (`MEDCHAIN_CHECKPOINT_DIR`) or
//! under an object-store prefix (`s3://bucket/prefix`), through the same `object_store`
//! layer as the blobs. A put is atomic in both, so a reader never sees half a file.

use super::head::{hash_of, ledger_head};
use crate::{
    blobs::{BlobError, BlobStore},
    clock::Clock,
    keys::LedgerKey,
};
use domain::ledger::{
    Checkpoint, CheckpointError, Hash, SignedCheckpoint, cosignature::Cosignature,
};
use sqlx::PgPool;
use std::path::{Path, PathBuf};

/// The advisory lock `(class, key)` of whoever signs a checkpoint (the automatic
/// checkpointer, an export that needs a head covering its own event): apart from the
/// ledger's one-key lock and the projectors' `(0x6d63, hashtext(name))`, so no two
/// processes sign the same stretch twice.
pub const WRITER_LOCK: (i32, i32) = (0x6370, 1);

#[derive(Debug, thiserror::Error)]
pub enum CheckpointStoreError {
    #[error("reading the ledger head: {0}")]
    Database(#[from] sqlx::Error),
    #[error("checkpoint store {place}: {source}")]
    Store { place: String, source: BlobError },
    #[error("checkpoint file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{place}: {source}")]
    Invalid {
        place: String,
        source: CheckpointError,
    },
    #[error("the ledger is empty: there is nothing to checkpoint")]
    EmptyLedger,
    /// Signing a head of a frozen ledger would sign the fork itself.
    #[error("no head is signed: {0}")]
    Frozen(String),
}

/// Where checkpoints are kept.
#[derive(Clone)]
pub struct CheckpointStore {
    objects: BlobStore,
    /// The directory, when it is one (so a written checkpoint can be named by its path).
    dir: Option<PathBuf>,
    /// Where, for people: a directory or an `s3://` URL.
    pub place: String,
}

fn file_name(seq: i64) -> String {
    format!("{seq:020}.json")
}

/// Where cosignatures are kept, beside the heads: `cosignatures/<seq>/<witness>.json`.
const COSIGNATURES: &str = "cosignatures";

fn cosignature_name(seq: i64, witness: &ed25519_dalek::VerifyingKey) -> String {
    format!(
        "{COSIGNATURES}/{seq:020}/{}.json",
        hex::encode(witness.as_bytes())
    )
}

fn seq_of(name: &str) -> Option<i64> {
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl CheckpointStore {
    /// `spec`: a directory, or `s3://bucket[/prefix]` (with the usual `AWS_*` variables).
    pub fn open(spec: &str) -> Result<Self, CheckpointStoreError> {
        let store_error = |source| CheckpointStoreError::Store {
            place: spec.to_owned(),
            source,
        };
        if spec.starts_with("s3://") {
            return Ok(Self {
                objects: BlobStore::open(Some(spec), Path::new(".")).map_err(store_error)?,
                dir: None,
                place: spec.trim_end_matches('/').to_owned(),
            });
        }
        let dir = std::path::absolute(spec).map_err(|source| CheckpointStoreError::Io {
            path: spec.into(),
            source,
        })?;
        Ok(Self {
            objects: BlobStore::open(None, &dir).map_err(store_error)?,
            place: dir.display().to_string(),
            dir: Some(dir),
        })
    }

    fn store_error(&self, source: BlobError) -> CheckpointStoreError {
        CheckpointStoreError::Store {
            place: self.place.clone(),
            source,
        }
    }

    /// Where the checkpoint of `seq` is: its file's path, or its object's URL.
    pub fn location(&self, seq: i64) -> String {
        match &self.dir {
            Some(dir) => dir.join(file_name(seq)).display().to_string(),
            None => format!("{}/{}", self.place, file_name(seq)),
        }
    }

    /// Signs and stores a checkpoint; returns it with its location. With `tree`
    /// (`(size, root)`: the transparency log's root over the first `size` events, from
    /// the `merkle` view) it is a signed tree head at `size`; without, the ledger's
    /// current head, as before the tree existed.
    pub async fn write(
        &self,
        pool: &PgPool,
        key: &LedgerKey,
        clock: &dyn Clock,
        tree: Option<(i64, Hash)>,
    ) -> Result<(SignedCheckpoint, String), CheckpointStoreError> {
        if let Some(reason) = super::frozen(pool).await? {
            return Err(CheckpointStoreError::Frozen(format!(
                "the ledger is read-only: {reason}"
            )));
        }
        let (seq, hash, root) = match tree {
            Some((size, root)) => {
                let hash = hash_of(pool, size)
                    .await?
                    .ok_or(CheckpointStoreError::EmptyLedger)?;
                (size, hash, Some(root))
            }
            None => {
                let head = ledger_head(pool).await?;
                (head.seq, head.hash, None)
            }
        };
        if seq == 0 {
            return Err(CheckpointStoreError::EmptyLedger);
        }
        let signed = Checkpoint {
            seq,
            hash,
            root,
            at: clock.now(),
        }
        .sign(key.signing_key());
        self.objects
            .put(&file_name(seq), (signed.to_json() + "\n").into_bytes())
            .await
            .map_err(|e| self.store_error(e))?;
        Ok((signed, self.location(seq)))
    }

    /// The seqs of every checkpoint kept, ascending.
    pub async fn seqs(&self) -> Result<Vec<i64>, CheckpointStoreError> {
        let mut seqs: Vec<i64> = self
            .objects
            .list("")
            .await
            .map_err(|e| self.store_error(e))?
            .iter()
            .filter_map(|(path, _)| seq_of(path.rsplit('/').next().unwrap_or(path)))
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// The checkpoint with the highest seq, if any; its signature is checked (a file that
    /// does not verify is an error, never skipped).
    pub async fn newest(&self) -> Result<Option<SignedCheckpoint>, CheckpointStoreError> {
        let Some(seq) = self.seqs().await?.last().copied() else {
            return Ok(None);
        };
        self.read(seq).await
    }

    /// The newest signed tree head (a checkpoint with a root), if any.
    pub async fn newest_tree_head(&self) -> Result<Option<SignedCheckpoint>, CheckpointStoreError> {
        for seq in self.seqs().await?.into_iter().rev() {
            if let Some(head) = self.read(seq).await?
                && head.checkpoint.root.is_some()
            {
                return Ok(Some(head));
            }
        }
        Ok(None)
    }

    /// Keeps another signed document beside the checkpoints (the erasure journal).
    pub async fn put_object(&self, name: &str, bytes: Vec<u8>) -> Result<(), CheckpointStoreError> {
        self.objects
            .put(name, bytes)
            .await
            .map_err(|e| self.store_error(e))
    }

    /// Every object under `prefix`, by name, with its bytes.
    pub async fn objects_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, CheckpointStoreError> {
        let mut names: Vec<String> = self
            .objects
            .list(prefix)
            .await
            .map_err(|e| self.store_error(e))?
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if let Some(bytes) = self
                .objects
                .get(&name)
                .await
                .map_err(|e| self.store_error(e))?
            {
                out.push((name, bytes));
            }
        }
        Ok(out)
    }

    /// Keeps a witness's cosignature beside the head it cosigns (one per witness and
    /// head; a witness cosigning again replaces its own). The caller has checked it.
    pub async fn put_cosignature(&self, cosig: &Cosignature) -> Result<(), CheckpointStoreError> {
        self.objects
            .put(
                &cosignature_name(cosig.seq, &cosig.witness),
                (cosig.to_json().to_string() + "\n").into_bytes(),
            )
            .await
            .map_err(|e| self.store_error(e))
    }

    /// The cosignatures kept beside the head at `seq`, by witness key. A file that does
    /// not read is left out with a warning (it proves nothing either way).
    pub async fn cosignatures(&self, seq: i64) -> Result<Vec<Cosignature>, CheckpointStoreError> {
        let prefix = format!("{COSIGNATURES}/{seq:020}");
        let mut names: Vec<String> = self
            .objects
            .list(&prefix)
            .await
            .map_err(|e| self.store_error(e))?
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        names.sort();
        let mut found = Vec::new();
        for name in names {
            let Some(bytes) = self
                .objects
                .get(&name)
                .await
                .map_err(|e| self.store_error(e))?
            else {
                continue;
            };
            let read = serde_json::from_slice(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|doc| Cosignature::parse(&doc).map_err(|e| e.to_string()));
            match read {
                Ok(cosig) => found.push(cosig),
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "an unreadable cosignature file")
                }
            }
        }
        Ok(found)
    }

    /// Each witness's newest cosignature kept (by the size of the head it cosigned), read
    /// from the names alone but the newest file of each.
    pub async fn latest_cosignatures(&self) -> Result<Vec<Cosignature>, CheckpointStoreError> {
        let mut newest: std::collections::BTreeMap<String, (i64, String)> = Default::default();
        for (path, _) in self
            .objects
            .list(COSIGNATURES)
            .await
            .map_err(|e| self.store_error(e))?
        {
            let mut parts = path.rsplit('/');
            let (Some(file), Some(dir)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Some(witness), Ok(seq)) = (file.strip_suffix(".json"), dir.parse::<i64>()) else {
                continue;
            };
            let entry = newest
                .entry(witness.to_owned())
                .or_insert((seq, path.clone()));
            if seq > entry.0 {
                *entry = (seq, path);
            }
        }
        let mut found = Vec::new();
        for (_, (_, path)) in newest {
            let Some(bytes) = self
                .objects
                .get(&path)
                .await
                .map_err(|e| self.store_error(e))?
            else {
                continue;
            };
            if let Ok(cosig) = serde_json::from_slice(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|doc| Cosignature::parse(&doc).map_err(|e| e.to_string()))
            {
                found.push(cosig);
            }
        }
        Ok(found)
    }

    /// Keeps a checkpoint signed elsewhere (a restore's, from its backup) where this
    /// store keeps the ones it signs.
    pub async fn keep(&self, signed: &SignedCheckpoint) -> Result<(), CheckpointStoreError> {
        self.put_object(
            &file_name(signed.checkpoint.seq),
            signed.to_json().into_bytes(),
        )
        .await
    }

    /// The checkpoint at `seq`, if one was written; its signature is checked.
    pub async fn read(&self, seq: i64) -> Result<Option<SignedCheckpoint>, CheckpointStoreError> {
        let Some(bytes) = self
            .objects
            .get(&file_name(seq))
            .await
            .map_err(|e| self.store_error(e))?
        else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        SignedCheckpoint::parse(&text)
            .map(Some)
            .map_err(|source| CheckpointStoreError::Invalid {
                place: self.location(seq),
                source,
            })
    }
}

/// Reads one checkpoint file named on the command line.
pub fn read_checkpoint(path: &Path) -> Result<SignedCheckpoint, CheckpointStoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckpointStoreError::Io {
        path: path.to_owned(),
        source,
    })?;
    SignedCheckpoint::parse(&text).map_err(|source| CheckpointStoreError::Invalid {
        place: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::seq_of;

    #[test]
    fn only_checkpoint_names_count() {
        assert_eq!(seq_of("00000000000000000042.json"), Some(42));
        assert_eq!(seq_of("42.json"), None);
        assert_eq!(seq_of("0000000000000000004x.json"), None);
        assert_eq!(seq_of("00000000000000000042.json.partial"), None);
    }
}
