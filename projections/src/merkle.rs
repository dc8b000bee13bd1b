//! The transparency log's tree (DESIGN.md §9) as a projector: every event, in seq order,
//! becomes a leaf of the RFC 6962 tree over the events' hashes, and the subtrees of at
//! least 16 events its arrival completes are stored in `merkle_nodes` (migration 0017;
//! 0018 for why not the smaller ones). A batch reads the tree's right edge once (at most
//! 60 nodes and 15 event hashes, in one query), computes in memory, and writes all its
//! nodes in one statement. It is derived data like any view: rebuilt from the ledger,
//! and compared with a replay by `projections check`.
//!
//! Subtrees of fewer than 16 events are computed when asked, from the hashes the events
//! table holds anyway (at most 16 adjacent rows per proof): storing them was two rows
//! written per event appended, fifteen sixteenths of the table, and measured with
//! `bench ledger` it held appends with the tree beside at 0.78–0.90 of those without;
//! without them, 0.96–1.0.
//!
//! The reads answer roots and proofs for any size the tree has reached, each from the
//! O(log n) subtrees `domain::ledger::merkle` says it needs: the upper ones from a
//! [`NodeCache`] kept by the process (a stored subtree never changes: it is a function of
//! events that never change), the rest read in one query.

use crate::{ProjectionError, Projector};
use commands::RecordedEvent;
use domain::ledger::{
    Hash,
    merkle::{self, Node},
};
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgExecutor};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

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

    /// Like a log's sequencer interval (Trillian's, a CT log's merge delay in small):
    /// nobody reads the tree the instant an event commits (a receipt is a signed promise
    /// first, its proof comes with the next signed head), and a batch's cost is mostly
    /// its round trips, so batches of a few hundred events at a busy time rather than
    /// one per group commit kept appends with the tree beside within 10% of those
    /// without (`bench ledger`).
    fn gather(&self) -> std::time::Duration {
        std::time::Duration::from_millis(25)
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

/// Subtrees of `2^STORED_FROM` events and more are stored; smaller ones are computed
/// from the events' hashes.
const STORED_FROM: u32 = 4;

/// The tree's size: how many leaves it holds, which is where its projector stands (it
/// reads every event, and writes its nodes and its checkpoint in one transaction).
pub async fn size(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce((SELECT last_seq FROM projection_checkpoints WHERE name = $1), 0)",
    )
    .bind(NAME)
    .fetch_one(db)
    .await
}

/// The leaves (0-based) under a subtree.
fn leaves_of((level, idx): Node) -> std::ops::Range<u64> {
    idx << level..(idx + 1) << level
}

/// The complete subtrees on the right edge of a tree of `size` leaves: the left siblings
/// the next leaves may need.
fn right_edge(size: u64) -> Vec<Node> {
    (0..64u32)
        .filter(|level| (size >> level) & 1 == 1)
        .map(|level| (level, (size >> level) - 1))
        .collect()
}

/// The hashes of `nodes` that exist: the stored ones read, the smaller ones computed
/// from the hashes of the events under them, all in one query. A node is missing from
/// the answer when it is not stored, or an event under it is not on the ledger.
async fn read_nodes(
    db: &mut PgConnection,
    nodes: &[Node],
) -> Result<HashMap<Node, Hash>, sqlx::Error> {
    let (stored, computed): (Vec<Node>, Vec<Node>) =
        nodes.iter().partition(|(level, _)| *level >= STORED_FROM);
    let levels: Vec<i16> = stored.iter().map(|(l, _)| *l as i16).collect();
    let indexes: Vec<i64> = stored.iter().map(|(_, i)| *i as i64).collect();
    let mut seqs: Vec<i64> = computed
        .iter()
        .flat_map(|node| leaves_of(*node))
        .map(|leaf| leaf as i64 + 1)
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    // An event's hash comes back as level -1 at index seq.
    let rows: Vec<(i16, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT n.level, n.idx, n.hash FROM merkle_nodes n \
         JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) \
           ON n.level = w.level AND n.idx = w.idx \
         UNION ALL \
         SELECT -1::smallint, e.seq, e.hash FROM events e WHERE e.seq = ANY($3::bigint[])",
    )
    .bind(&levels)
    .bind(&indexes)
    .bind(&seqs)
    .fetch_all(&mut *db)
    .await?;
    let mut found = HashMap::with_capacity(nodes.len());
    let mut leaves = HashMap::with_capacity(seqs.len());
    for (level, idx, hash) in rows {
        let Ok(hash) = Hash::from_slice(&hash) else {
            continue;
        };
        if level < 0 {
            leaves.insert((idx - 1) as u64, merkle::leaf_hash(&hash));
        } else {
            found.insert((level as u32, idx as u64), hash);
        }
    }
    for node in computed {
        let under: Option<Vec<Hash>> = leaves_of(node).map(|i| leaves.get(&i).copied()).collect();
        if let Some(under) = under {
            found.insert(node, merkle::subtree_from_leaves(&under));
        }
    }
    Ok(found)
}

async fn append(
    tx: &mut PgConnection,
    events: &[&RecordedEvent],
) -> Result<(), (usize, ProjectionError)> {
    if events.is_empty() {
        return Ok(());
    }
    let at = |i: usize| move |e: sqlx::Error| (i, ProjectionError::Database(e));
    // The tree holds the events before this batch's first, and no more: its right edge
    // is there and the next leaf is not. Both read in the one query the batch needs.
    let size = events[0].seq - 1;
    // The stored subtree the next leaves go into: not complete yet, so never stored.
    let next = (STORED_FROM, size as u64 >> STORED_FROM);
    let edge = right_edge(size as u64);
    let mut known = read_nodes(tx, &[edge.as_slice(), &[next]].concat())
        .await
        .map_err(at(0))?;
    if known.remove(&next).is_some() || edge.iter().any(|n| !known.contains_key(n)) {
        return Err((
            0,
            ProjectionError::malformed(
                events[0],
                format!(
                    "merkle_nodes does not hold exactly the {size} events before this one: \
                     rebuild the view"
                ),
            ),
        ));
    }
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
                         (the batch began at {})",
                        size + 1
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
            if node.0 < STORED_FROM {
                continue;
            }
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

/// The upper subtrees of the tree, kept in memory once read: every proof at any size
/// passes through the same few thousand of them, so most of a proof's path comes from
/// here and only its lowest levels from the database. Safe to keep for the life of the
/// process because a stored subtree is a function of the events under it, which never
/// change (a rebuild writes the same hashes). Bounded: a subtree of fewer than
/// 2^`MIN_LEVEL` events is not kept (those are most of the tree and each is rarely
/// asked twice), and past `CAPACITY` entries nothing more is kept. Cloning shares it.
#[derive(Clone, Default)]
pub struct NodeCache {
    nodes: Arc<RwLock<HashMap<Node, Hash>>>,
}

impl NodeCache {
    /// Levels below this (subtrees of fewer than 64 events) are read each time.
    const MIN_LEVEL: u32 = 6;
    /// About 20 MB at most; at 1 000 000 events the kept levels are 31 000 subtrees.
    const CAPACITY: usize = 1 << 18;

    /// Moves the wanted subtrees that are kept into `into`; returns the others.
    fn take(&self, wanted: &[Node], into: &mut HashMap<Node, Hash>) -> Vec<Node> {
        let kept = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        wanted
            .iter()
            .filter(|node| match kept.get(node) {
                Some(hash) => {
                    into.insert(**node, *hash);
                    false
                }
                None => true,
            })
            .copied()
            .collect()
    }

    fn keep(&self, read: &HashMap<Node, Hash>) {
        let mut kept = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        for (node, hash) in read {
            if node.0 >= Self::MIN_LEVEL && kept.len() < Self::CAPACITY {
                kept.insert(*node, *hash);
            }
        }
    }
}

/// Runs `answer` over the subtrees it needs (those not in `cache` read in one query) from
/// a tree that has at least `size` leaves (else `BeyondTree`).
async fn over_tree<T>(
    db: &mut PgConnection,
    cache: &NodeCache,
    size: i64,
    answer: impl Fn(&mut dyn FnMut(Node) -> Hash) -> T,
) -> Result<T, TreeError> {
    let wanted = merkle::needed(&answer);
    let mut nodes = HashMap::with_capacity(wanted.len());
    let unread = cache.take(&wanted, &mut nodes);
    if !unread.is_empty() {
        let read = read_nodes(db, &unread).await?;
        cache.keep(&read);
        nodes.extend(read);
    }
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
pub async fn head(
    pool: &sqlx::PgPool,
    cache: &NodeCache,
    upto: i64,
) -> Result<Option<(i64, Hash)>, TreeError> {
    let mut conn = pool.acquire().await?;
    let size = self::size(&mut *conn).await?.min(upto);
    if size <= 0 {
        return Ok(None);
    }
    Ok(Some((size, root(&mut conn, cache, size).await?)))
}

/// The root of the tree of the first `size` events.
pub async fn root(db: &mut PgConnection, cache: &NodeCache, size: i64) -> Result<Hash, TreeError> {
    if size < 0 {
        return Err(TreeError::Invalid("a tree size is not negative"));
    }
    over_tree(db, cache, size, |nodes| merkle::root(size as u64, nodes)).await
}

/// The leaf hash of event `seq` and its audit path in the tree of `size`.
pub async fn inclusion(
    db: &mut PgConnection,
    cache: &NodeCache,
    seq: i64,
    size: i64,
) -> Result<(Hash, Vec<Hash>), TreeError> {
    if seq < 1 || seq > size {
        return Err(TreeError::Invalid(
            "an inclusion proof is for a seq from 1 to the tree's size",
        ));
    }
    let index = (seq - 1) as u64;
    let (leaf, path) = over_tree(db, cache, size, |nodes| {
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
    cache: &NodeCache,
    from: i64,
    to: i64,
) -> Result<Vec<Hash>, TreeError> {
    if from < 1 || from > to {
        return Err(TreeError::Invalid(
            "a consistency proof goes from a size of at least 1 to one at least as large",
        ));
    }
    over_tree(db, cache, to, |nodes| {
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
