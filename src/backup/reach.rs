//! Whether a restored ledger reaches what the world already holds of the log: the newest
//! head that was signed (in the backup, and in the checkpoint store, which lives outside
//! the database and may have outlived it), each witness's newest cosignature kept there,
//! and every erasure journalled (each entry is signed with the seq and hash of its
//! event). A restore short of any of them, or disagreeing with one, must not write on:
//! the next event would fork the log the witnesses cosigned and the patients' receipts
//! name.

use commands::ledger::{CheckpointStore, JournalEntry, hash_of};
use domain::ledger::{
    Hash, SignedCheckpoint,
    cosignature::{Cosignature, WitnessKeys},
    merkle,
};
use ed25519_dalek::VerifyingKey;
use sqlx::PgPool;

/// A point the log is known to have reached, and who says so.
#[derive(Debug, Clone)]
pub struct Claim {
    pub seq: i64,
    pub what: Evidence,
    pub source: String,
}

#[derive(Debug, Clone)]
pub enum Evidence {
    /// The event at `seq` has this hash (a signed head, a journal entry).
    Hash(Hash),
    /// The tree of the first `seq` events has this root (a witness's cosignature).
    Root(Hash),
}

/// What the checkpoint store holds: its newest signed head and each witness's newest
/// cosignature, checked against the log's key (and the configured witnesses' keys, when
/// given); anything that does not check is left out with a warning, since it proves
/// nothing either way.
pub async fn claims_in_store(
    store: &CheckpointStore,
    log: &VerifyingKey,
    witnesses: Option<&WitnessKeys>,
) -> anyhow::Result<Vec<Claim>> {
    let mut claims = Vec::new();
    if let Some(head) = store.newest().await? {
        match checked_head(&head, log) {
            Ok(()) => claims.push(head_claim(
                &head,
                format!("the signed head in {}", store.place),
            )),
            Err(e) => eprintln!(
                "warning: the newest head in {} does not check: {e}",
                store.place
            ),
        }
    }
    for cosig in store.latest_cosignatures().await? {
        if let Err(e) = checked_cosignature(&cosig, log, witnesses) {
            eprintln!(
                "warning: a cosignature by {:?} does not check: {e}",
                cosig.name
            );
            continue;
        }
        claims.push(Claim {
            seq: cosig.seq,
            what: Evidence::Root(cosig.root),
            source: format!("the head witness {:?} cosigned", cosig.name),
        });
    }
    Ok(claims)
}

/// The claim of a signed head.
pub fn head_claim(head: &SignedCheckpoint, source: String) -> Claim {
    Claim {
        seq: head.checkpoint.seq,
        what: Evidence::Hash(head.checkpoint.hash),
        source,
    }
}

/// The claims of the erasure journal's entries.
pub fn journal_claims(entries: &[JournalEntry]) -> Vec<Claim> {
    entries
        .iter()
        .map(|e| Claim {
            seq: e.seq,
            what: Evidence::Hash(e.hash),
            source: format!("the erasure journal's entry for {}", e.subject),
        })
        .collect()
}

pub fn checked_head(head: &SignedCheckpoint, log: &VerifyingKey) -> anyhow::Result<()> {
    head.verify_signature()?;
    head.require_key(log)?;
    Ok(())
}

fn checked_cosignature(
    cosig: &Cosignature,
    log: &VerifyingKey,
    witnesses: Option<&WitnessKeys>,
) -> anyhow::Result<()> {
    cosig.verify(log)?;
    if let Some(keys) = witnesses {
        anyhow::ensure!(
            keys.name_of(&cosig.witness).is_some(),
            "its key is not among MEDCHAIN_WITNESS_KEYS"
        );
    }
    Ok(())
}

/// The claims the restored ledger does not meet, each said in words.
pub async fn unmet(pool: &PgPool, claims: &[Claim]) -> anyhow::Result<Vec<String>> {
    let head: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events")
        .fetch_one(pool)
        .await?;
    let mut leaves: Option<Vec<Hash>> = None;
    let mut problems = Vec::new();
    for claim in claims {
        if claim.seq > head {
            problems.push(format!(
                "{} is at seq {}, beyond the restored ledger's last event, seq {head}",
                claim.source, claim.seq
            ));
            continue;
        }
        let agrees = match &claim.what {
            Evidence::Hash(expected) => hash_of(pool, claim.seq).await?.as_ref() == Some(expected),
            Evidence::Root(expected) => {
                if leaves.as_ref().is_none_or(|l| (l.len() as i64) < claim.seq) {
                    leaves = Some(event_hashes(pool, claim.seq).await?);
                }
                let leaves = leaves.as_deref().unwrap_or_default();
                root_of(&leaves[..claim.seq as usize]) == *expected
            }
        };
        if !agrees {
            problems.push(format!(
                "{} disagrees with the restored ledger at seq {}",
                claim.source, claim.seq
            ));
        }
    }
    Ok(problems)
}

/// The hashes of the first `n` events, in order (the tree's leaf inputs).
async fn event_hashes(pool: &PgPool, n: i64) -> anyhow::Result<Vec<Hash>> {
    let rows: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT hash FROM events WHERE seq <= $1 ORDER BY seq")
            .bind(n)
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|h| {
            let bytes: [u8; 32] = h
                .try_into()
                .map_err(|_| anyhow::anyhow!("an event hash is not 32 bytes"))?;
            Ok(Hash::from_bytes(bytes))
        })
        .collect()
}

/// The RFC 6962 root over `events` (each leaf the event's hash), computed from the
/// events alone, not from the restored `merkle` view: the restore checks with its own
/// tools.
fn root_of(events: &[Hash]) -> Hash {
    let leaves: Vec<Hash> = events.iter().map(merkle::leaf_hash).collect();
    merkle::root(leaves.len() as u64, |(level, index)| {
        let width = 1usize << level;
        let start = index as usize * width;
        merkle::subtree_from_leaves(&leaves[start..start + width])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_from_events_is_the_rfc_6962_root() {
        // RFC 6962 by hand for three leaves: node(node(l0, l1), l2).
        let events: Vec<Hash> = (1..=3u8).map(|b| Hash::from_bytes([b; 32])).collect();
        let l: Vec<Hash> = events.iter().map(merkle::leaf_hash).collect();
        let expected = merkle::node_hash(&merkle::node_hash(&l[0], &l[1]), &l[2]);
        assert_eq!(root_of(&events), expected);
        assert_eq!(root_of(&events[..1]), l[0]);
        assert_eq!(root_of(&[]), merkle::empty_root());
    }
}
