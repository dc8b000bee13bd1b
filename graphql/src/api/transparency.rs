//! The transparency log in `Query` (API.graphql, DESIGN.md §9): the newest signed tree
//! head and proofs against any size the ledger has reached. Anyone may ask: the answers
//! are hashes and signatures only. The HTTP routes under `/api/log` answer the same
//! through the functions here.

use crate::{
    context::{Services, admin, services},
    error::{Code, ToGql as _, error},
    scalars::DateTime,
    scalars::Long,
    types::transparency::{
        ConsistencyProof, Cosignature, InclusionProof, TreeHead, WitnessStatus, hex_path,
    },
};
use async_graphql::{Context, Object, Result};
use domain::ledger::SignedCheckpoint;
use projections::merkle;

/// The newest signed tree head, if one was signed.
pub(crate) async fn newest_head(s: &Services) -> Result<Option<TreeHead>> {
    let signed = s
        .checkpoints
        .newest_tree_head()
        .await
        .map_err(|e| e.gql())?;
    with_cosignatures(s, signed).await
}

/// The signed head of exactly `size`, if one was signed.
pub(crate) async fn head_of_size(s: &Services, size: i64) -> Result<Option<TreeHead>> {
    let signed = s.checkpoints.read(size).await.map_err(|e| e.gql())?;
    with_cosignatures(s, signed).await
}

/// A head with the cosignatures kept beside it that still hold: from a configured
/// witness, over this head's root, under this log's key.
async fn with_cosignatures(
    s: &Services,
    signed: Option<SignedCheckpoint>,
) -> Result<Option<TreeHead>> {
    let Some(signed) = signed else {
        return Ok(None);
    };
    let Some(root) = signed.checkpoint.root else {
        return Ok(None);
    };
    let log = s.ledger_key.public();
    let kept = s
        .checkpoints
        .cosignatures(signed.checkpoint.seq)
        .await
        .map_err(|e| e.gql())?;
    let cosignatures = kept
        .into_iter()
        .filter(|c| {
            s.witnesses.name_of(&c.witness).is_some() && c.root == root && c.verify(&log).is_ok()
        })
        .map(|c| Cosignature {
            witness: hex::encode(c.witness.as_bytes()),
            name: c.name,
            at: DateTime(c.at),
            sig: hex::encode(c.sig.to_bytes()),
        })
        .collect();
    Ok(TreeHead::of(signed, cosignatures))
}

/// Why a posted cosignature is refused.
pub(crate) enum CosignatureRefused {
    UnknownWitness,
    UnsignedHead,
    BadSignature,
}

/// Keeps a witness's cosignature (API.graphql: `POST /api/log/cosignature`): only from a
/// configured witness key, only over a head this log signed (same size, same root), and
/// only if the witness's signature holds.
pub(crate) async fn accept_cosignature(
    s: &Services,
    cosig: domain::ledger::cosignature::Cosignature,
) -> Result<std::result::Result<(), CosignatureRefused>> {
    if s.witnesses.name_of(&cosig.witness).is_none() {
        return Ok(Err(CosignatureRefused::UnknownWitness));
    }
    let head = s.checkpoints.read(cosig.seq).await.map_err(|e| e.gql())?;
    if head.and_then(|h| h.checkpoint.root) != Some(cosig.root) {
        return Ok(Err(CosignatureRefused::UnsignedHead));
    }
    if cosig.verify(&s.ledger_key.public()).is_err() {
        return Ok(Err(CosignatureRefused::BadSignature));
    }
    s.checkpoints
        .put_cosignature(&cosig)
        .await
        .map_err(|e| e.gql())?;
    tracing::info!(seq = cosig.seq, witness = %cosig.name, "cosignature kept");
    Ok(Ok(()))
}

/// A size asked for, or the newest signed head's (else the ledger's head); checked
/// against the ledger, and waited for until the tree has reached it.
async fn resolve_size(s: &Services, asked: Option<i64>, what: &str) -> Result<i64> {
    // A size the tree has reached is on the ledger and needs no wait: answered without
    // a query, as most proofs are asked (against a head the client holds).
    if let Some(size) = asked
        && size >= 1
        && s.projections
            .progress(merkle::NAME)
            .is_some_and(|p| p.seq >= size)
    {
        return Ok(size);
    }
    let head = commands::ledger::ledger_head(&s.pool)
        .await
        .map_err(|e| e.gql())?;
    let size = match asked {
        Some(size) => size,
        None => match newest_head(s).await? {
            Some(head) => head.signed.checkpoint.seq,
            None => head.seq,
        },
    };
    if size < 1 {
        return Err(error(
            Code::BadUserInput,
            format!("{what} must be at least 1"),
        ));
    }
    if size > head.seq {
        return Err(error(
            Code::BadUserInput,
            format!(
                "{what} {size} is beyond the ledger, which holds {} events",
                head.seq
            ),
        ));
    }
    s.caught_up(&[merkle::NAME], size).await?;
    Ok(size)
}

pub(crate) async fn inclusion(
    s: &Services,
    seq: i64,
    tree_size: Option<i64>,
) -> Result<InclusionProof> {
    let size = resolve_size(s, tree_size, "treeSize").await?;
    if seq < 1 || seq > size {
        return Err(error(
            Code::BadUserInput,
            format!("seq must be from 1 to the tree size {size}"),
        ));
    }
    let mut conn = s.pool.acquire().await.map_err(|e| e.gql())?;
    let (leaf, path) = merkle::inclusion(&mut conn, &s.tree_nodes, seq, size)
        .await
        .map_err(|e| e.gql())?;
    Ok(InclusionProof {
        seq: Long(seq),
        leaf_hash: leaf.to_hex(),
        tree_size: Long(size),
        path: hex_path(&path),
    })
}

pub(crate) async fn consistency(
    s: &Services,
    from_size: i64,
    to_size: Option<i64>,
) -> Result<ConsistencyProof> {
    let to = resolve_size(s, to_size, "toSize").await?;
    if from_size < 1 || from_size > to {
        return Err(error(
            Code::BadUserInput,
            format!("fromSize must be from 1 to toSize ({to})"),
        ));
    }
    let mut conn = s.pool.acquire().await.map_err(|e| e.gql())?;
    let path = merkle::consistency(&mut conn, &s.tree_nodes, from_size, to)
        .await
        .map_err(|e| e.gql())?;
    Ok(ConsistencyProof {
        from_size: Long(from_size),
        to_size: Long(to),
        path: hex_path(&path),
    })
}

/// The receipt file of DESIGN.md §9 for event `seq` in `head`.
pub(crate) async fn receipt(s: &Services, seq: i64, head: &TreeHead) -> Result<serde_json::Value> {
    let size = head.signed.checkpoint.seq;
    let mut conn = s.pool.acquire().await.map_err(|e| e.gql())?;
    let (_, path) = merkle::inclusion(&mut conn, &s.tree_nodes, seq, size)
        .await
        .map_err(|e| e.gql())?;
    drop(conn);
    let line = commands::ledger::export_line_of(&s.pool, seq)
        .await
        .map_err(|e| crate::error::internal(&e))?
        .ok_or_else(|| error(Code::NotFound, format!("there is no event {seq}")))?;
    let line: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| crate::error::internal(&e))?;
    Ok(domain::ledger::receipt::receipt_json(
        &line,
        seq,
        size,
        &path,
        &crate::http::log::head_json(head),
    ))
}

#[derive(Default)]
pub struct TransparencyQuery;

#[Object]
impl TransparencyQuery {
    /// The newest signed tree head; null before the first. Anyone may ask.
    async fn tree_head(&self, ctx: &Context<'_>) -> Result<Option<TreeHead>> {
        newest_head(services(ctx)).await
    }

    /// Administrators: each configured witness, when it last cosigned, and whether it has
    /// been silent for longer than the set time.
    async fn witnesses(&self, ctx: &Context<'_>) -> Result<Vec<WitnessStatus>> {
        admin(ctx)?;
        let s = services(ctx);
        let latest = s
            .checkpoints
            .latest_cosignatures()
            .await
            .map_err(|e| e.gql())?;
        let now = s.clock.now();
        let silence = i64::try_from(s.witness_silence.as_micros()).unwrap_or(i64::MAX);
        Ok(s.witnesses
            .iter()
            .map(|(name, key)| {
                let last = latest.iter().find(|c| &c.witness == key);
                WitnessStatus {
                    name: name.to_owned(),
                    key: hex::encode(key.as_bytes()),
                    last_cosigned_size: last.map(|c| Long(c.seq)),
                    last_cosigned_at: last.map(|c| DateTime(c.at)),
                    silent: last.is_none_or(|c| now.as_micros() - c.at.as_micros() > silence),
                }
            })
            .collect())
    }

    /// Event `seq` in the tree of `treeSize` events (default: the newest signed head's).
    async fn inclusion_proof(
        &self,
        ctx: &Context<'_>,
        seq: Long,
        tree_size: Option<Long>,
    ) -> Result<InclusionProof> {
        inclusion(services(ctx), seq.0, tree_size.map(|l| l.0)).await
    }

    /// The tree of `fromSize` events is a prefix of the tree of `toSize` (default: the
    /// newest signed head's).
    async fn consistency_proof(
        &self,
        ctx: &Context<'_>,
        from_size: Long,
        to_size: Option<Long>,
    ) -> Result<ConsistencyProof> {
        consistency(services(ctx), from_size.0, to_size.map(|l| l.0)).await
    }
}
