//! The signed tree head an export is proven against: one covering the export's own
//! event. The newest head already does when the checkpointer has just signed; otherwise
//! one is signed now, under the checkpoint writer's lock (`WRITER_LOCK`), so no two
//! processes sign the same stretch twice. A head signed now carries no cosignatures yet:
//! witnesses cosign it as they cosign any other.

use crate::api::transparency::{head_of_size, newest_head};
use crate::context::Services;
use crate::error::{Code, error};
use crate::types::transparency::TreeHead;
use commands::ledger::checkpoint::WRITER_LOCK;
use projections::merkle;

pub async fn head_covering(s: &Services, seq: i64) -> async_graphql::Result<TreeHead> {
    s.caught_up(&[merkle::NAME], seq).await?;
    if let Some(head) = newest_head(s).await?
        && head.signed.checkpoint.seq >= seq
    {
        return Ok(head);
    }
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "signing a tree head for an export failed");
        error(Code::Internal, "internal error")
    };
    let mut tx = s.pool.begin().await.map_err(|e| internal(&e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(WRITER_LOCK.0)
        .bind(WRITER_LOCK.1)
        .execute(&mut *tx)
        .await
        .map_err(|e| internal(&e))?;
    // Signed by another process while this one waited for the lock?
    if let Some(head) = newest_head(s).await?
        && head.signed.checkpoint.seq >= seq
    {
        return Ok(head);
    }
    let ledger = commands::ledger::ledger_head(&s.pool)
        .await
        .map_err(|e| internal(&e))?;
    s.caught_up(&[merkle::NAME], ledger.seq).await?;
    let tree = merkle::head(&s.pool, &s.tree_nodes, ledger.seq)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(|| internal(&"the tree is empty"))?;
    let (signed, location) = s
        .checkpoints
        .write(&s.pool, &s.ledger_key, s.clock.as_ref(), Some(tree))
        .await
        .map_err(|e| internal(&e))?;
    tx.commit().await.map_err(|e| internal(&e))?;
    tracing::info!(seq = signed.checkpoint.seq, %location, "tree head signed for an export");
    head_of_size(s, signed.checkpoint.seq)
        .await?
        .ok_or_else(|| internal(&"the head just signed is not in the store"))
}

/// When `head` has no cosignatures (signed for the export a moment ago): the newest head
/// witnesses did cosign, and the consistency file (DESIGN.md §9) proving `head` extends
/// it, so the export is tied to the history the witnesses hold. `None` when `head` is
/// cosigned itself, or no witness has cosigned anything yet.
pub async fn witnessed_before(
    s: &Services,
    head: &TreeHead,
) -> async_graphql::Result<Option<serde_json::Value>> {
    if !head.cosignatures.is_empty() {
        return Ok(None);
    }
    let size = head.signed.checkpoint.seq;
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "reading the witnessed head for an export failed");
        error(Code::Internal, "internal error")
    };
    let cosigned = s
        .checkpoints
        .latest_cosignatures()
        .await
        .map_err(|e| internal(&e))?
        .into_iter()
        .map(|c| c.seq)
        .filter(|seq| *seq < size)
        .max();
    let Some(from) = cosigned else {
        return Ok(None);
    };
    let Some(witnessed) = head_of_size(s, from).await? else {
        return Ok(None);
    };
    if witnessed.cosignatures.is_empty() {
        return Ok(None);
    }
    let mut conn = s.pool.acquire().await.map_err(|e| internal(&e))?;
    let path = merkle::consistency(&mut conn, &s.tree_nodes, from, size)
        .await
        .map_err(|e| internal(&e))?;
    Ok(Some(domain::ledger::receipt::consistency_json(
        &crate::http::log::head_json(&witnessed),
        &crate::http::log::head_json(head),
        &path,
    )))
}
