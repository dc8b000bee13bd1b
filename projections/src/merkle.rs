//! The transparency log's tree (DESIGN.md §9) as a projector: every event, in seq order,
//! becomes a leaf of the RFC 6962 tree over the events' hashes, and the subtrees its
//! arrival completes are stored in `merkle_nodes` (migration 0017). A batch reads the
//! tree's right edge once (at most 64 rows), computes in memory, and writes all its
//! nodes in one statement. It is derived data like any view: rebuilt from the ledger,
//! and compared with a replay by `projections check`.
//!
//! The reads answer roots and proofs for any size the tree has reached, each from the
//! O(log n) subtrees `domain::ledger::merkle` says it needs, read in one query.

use crate::{ProjectionError, Projector};
use commands::RecordedEvent;
use domain::ledger::{
    Hash,
    merkle::{self, Node},
};
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgExecutor};
use std::collections::HashMap;
use std::sync::LazyLock;

pub const NAME: &str = "merkle";

pub struct MerkleProjector;

/// Every event type of this version (what it lists; it reads every event whatever its
/// type, `reads`, since the tree must hold every event of the ledger).
static EVERY_TYPE: LazyLock<Vec<&'static str>> =
    LazyLock::new(domain::domain_event::all_event_types);

impl Projector for MerkleProjector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["merkle_nodes"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        EVERY_TYPE.as_slice()
    }

    fn reads(&self, _event_type: &str) -> bool {
        true
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let one = [event];
            append(tx, &one).await.map_err(|(_, e)| e)
        })
    }

    fn apply_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a RecordedEvent],
    ) -> BoxFuture<'a, Result<(), (usize, ProjectionError)>> {
        Box::pin(append(tx, events))
    }
}

/// The tree's size: how many leaves it holds.
pub async fn size(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT coalesce(max(idx) + 1, 0) FROM merkle_nodes WHERE level = 0")
        .fetch_one(db)
        .await
}

/// The complete subtrees on the right edge of a tree of `size` leaves: the left siblings
/// the next leaves may need.
fn right_edge(size: u64) -> Vec<Node> {
    (0..64u32)
        .filter(|level| (size >> level) & 1 == 1)
        .map(|level| (level, (size >> level) - 1))
        .collect()
}

async fn read_nodes(
    db: &mut PgConnection,
    nodes: &[Node],
) -> Result<HashMap<Node, Hash>, sqlx::Error> {
    let levels: Vec<i16> = nodes.iter().map(|(l, _)| *l as i16).collect();
    let indexes: Vec<i64> = nodes.iter().map(|(_, i)| *i as i64).collect();
    let rows: Vec<(i16, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT n.level, n.idx, n.hash FROM merkle_nodes n \
         JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) \
           ON n.level = w.level AND n.idx = w.idx",
    )
    .bind(&levels)
    .bind(&indexes)
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(level, idx, hash)| {
            Some(((level as u32, idx as u64), Hash::from_slice(&hash).ok()?))
        })
        .collect())
}

async fn append(
    tx: &mut PgConnection,
    events: &[&RecordedEvent],
) -> Result<(), (usize, ProjectionError)> {
    if events.is_empty() {
        return Ok(());
    }
    let at = |i: usize| move |e: sqlx::Error| (i, ProjectionError::Database(e));
    let size = size(&mut *tx).await.map_err(at(0))?;
    let mut known = read_nodes(tx, &right_edge(size as u64))
        .await
        .map_err(at(0))?;
    let (mut levels, mut indexes, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    for (i, event) in events.iter().enumerate() {
        let expected = size + 1 + i as i64;
        if event.seq != expected {
            return Err((
                i,
                ProjectionError::malformed(
                    event,
                    format!(
                        "the tree holds every event in order: seq {expected} was expected \
                         (the tree has {size} leaves)"
                    ),
                ),
            ));
        }
        let mut missing = None;
        let completed = merkle::completed_by(
            (expected - 1) as u64,
            merkle::leaf_hash(&event.hash),
            |node| {
                known.get(&node).copied().unwrap_or_else(|| {
                    missing = Some(node);
                    Hash::ZERO
                })
            },
        );
        if let Some((level, idx)) = missing {
            return Err((
                i,
                ProjectionError::malformed(
                    event,
                    format!("merkle_nodes lacks the subtree ({level}, {idx}): rebuild the view"),
                ),
            ));
        }
        for (node, hash) in completed {
            known.insert(node, hash);
            levels.push(node.0 as i16);
            indexes.push(node.1 as i64);
            hashes.push(hash.as_bytes().to_vec());
        }
    }
    sqlx::query(
        "INSERT INTO merkle_nodes (level, idx, hash) \
         SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
    )
    .bind(&levels)
    .bind(&indexes)
    .bind(&hashes)
    .execute(&mut *tx)
    .await
    .map_err(at(0))?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("the tree has {tree} leaves so far; size {asked} is beyond it")]
    BeyondTree { asked: i64, tree: i64 },
    #[error("{0}")]
    Invalid(&'static str),
    #[error("merkle_nodes lacks the subtree ({0}, {1}): rebuild the merkle view")]
    Missing(u32, u64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Runs `answer` over the subtrees it needs, read in one query, from a tree that has at
/// least `size` leaves (else `BeyondTree`).
async fn over_tree<T>(
    db: &mut PgConnection,
    size: i64,
    answer: impl Fn(&mut dyn FnMut(Node) -> Hash) -> T,
) -> Result<T, TreeError> {
    let wanted = merkle::needed(&answer);
    let nodes = read_nodes(db, &wanted).await?;
    // One query when the tree has the size asked (the callers wait for it); only when a
    // node is missing is the tree's size read, to say why.
    if let Some((level, idx)) = wanted.iter().find(|n| !nodes.contains_key(n)) {
        let tree = self::size(&mut *db).await?;
        if size > tree {
            return Err(TreeError::BeyondTree { asked: size, tree });
        }
        return Err(TreeError::Missing(*level, *idx));
    }
    Ok(answer(&mut |node| nodes[&node]))
}

/// What a signed tree head signs: the tree's newest size (at most `upto`) and its root;
/// `None` while the tree is empty.
pub async fn head(pool: &sqlx::PgPool, upto: i64) -> Result<Option<(i64, Hash)>, TreeError> {
    let mut conn = pool.acquire().await?;
    let size = self::size(&mut *conn).await?.min(upto);
    if size <= 0 {
        return Ok(None);
    }
    Ok(Some((size, root(&mut conn, size).await?)))
}

/// The root of the tree of the first `size` events.
pub async fn root(db: &mut PgConnection, size: i64) -> Result<Hash, TreeError> {
    if size < 0 {
        return Err(TreeError::Invalid("a tree size is not negative"));
    }
    over_tree(db, size, |nodes| merkle::root(size as u64, nodes)).await
}

/// The leaf hash of event `seq` and its audit path in the tree of `size`.
pub async fn inclusion(
    db: &mut PgConnection,
    seq: i64,
    size: i64,
) -> Result<(Hash, Vec<Hash>), TreeError> {
    if seq < 1 || seq > size {
        return Err(TreeError::Invalid(
            "an inclusion proof is for a seq from 1 to the tree's size",
        ));
    }
    let index = (seq - 1) as u64;
    let (leaf, path) = over_tree(db, size, |nodes| {
        let leaf = nodes((0, index));
        (leaf, merkle::inclusion_path(index, size as u64, nodes))
    })
    .await?;
    let path = path.ok_or(TreeError::Invalid("the seq is beyond the size"))?;
    Ok((leaf, path))
}

/// The consistency proof from the tree of `from` events to that of `to`.
pub async fn consistency(
    db: &mut PgConnection,
    from: i64,
    to: i64,
) -> Result<Vec<Hash>, TreeError> {
    if from < 1 || from > to {
        return Err(TreeError::Invalid(
            "a consistency proof goes from a size of at least 1 to one at least as large",
        ));
    }
    over_tree(db, to, |nodes| {
        merkle::consistency_path(from as u64, to as u64, nodes)
    })
    .await?
    .ok_or(TreeError::Invalid("the sizes are not in order"))
}

#[cfg(test)]
mod tests {
    use super::right_edge;

    #[test]
    fn the_right_edge_is_the_binary_decomposition_of_the_size() {
        assert_eq!(right_edge(0), vec![]);
        assert_eq!(right_edge(1), vec![(0, 0)]);
        assert_eq!(right_edge(6), vec![(1, 2), (2, 0)]);
        assert_eq!(right_edge(8), vec![(3, 0)]);
        assert_eq!(right_edge(11), vec![(0, 10), (1, 4), (3, 0)]);
    }
}
