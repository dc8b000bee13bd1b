//! Each projector's filter says exactly what its `apply` handles (issue: a test fails when
//! a projector asks for a type that does not exist or ignores one it handles). The runner
//! never calls `apply` with a type the filter leaves out, so a type `apply` handles but the
//! filter forgot is silently never projected. Here every projector is given the domain's
//! sample story (`domain::samples`, every event type): the types it lists build its
//! tables, then each type it leaves out is applied too and must change none of them.
//! Real PostgreSQL, one database; nothing is committed. The story is written to the
//! events table first (in the same transaction), as the runner only ever hands a
//! projector events on the ledger, and one may read the ledger itself (the tree reads the
//! hashes under its small subtrees).

use crate::common;
use commands::RecordedEvent;
use domain::{StreamName, account::UserEvent, ledger::Hash, record::RecordEvent, samples};
use projections::{ProjectionError, Projector};
use sqlx::{Acquire, PgConnection, PgPool};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A fresh, migrated database and the sample ledger (not written yet).
pub(crate) async fn story_database() -> (common::TestDb, PgPool, Vec<RecordedEvent>) {
    let db = common::test_db().await;
    let pool = PgPool::connect(&db.url).await.expect("connect");
    commands::db::MIGRATOR.run(&pool).await.expect("migrate");
    (db, pool, ledger())
}

/// The story as a ledger that began with it would hold it: seqs from 1, versions counted
/// per stream, each hash distinct and linked to the one before (`apply` checks no
/// chain, so any distinct values do).
pub(crate) fn ledger() -> Vec<RecordedEvent> {
    let mut versions: BTreeMap<String, i32> = BTreeMap::new();
    let hash_of = |seq: i64| -> Hash {
        use sha2::Digest as _;
        Hash::from_bytes(sha2::Sha256::digest(seq.to_be_bytes()).into())
    };
    samples::story()
        .iter()
        .zip(1_i64..)
        .map(|(sample, seq)| {
            let stream = sample.stream().as_str().to_owned();
            let version = versions.entry(stream.clone()).or_default();
            *version += 1;
            RecordedEvent {
                seq,
                id: Uuid::from_u128(seq as u128),
                stream,
                version: *version,
                event_type: sample.event_type().to_owned(),
                actor: sample.actor.map(|a| a.as_uuid()),
                at: sample.at,
                payload: sample.payload(),
                prev_hash: if seq == 1 {
                    Hash::ZERO
                } else {
                    hash_of(seq - 1)
                },
                hash: hash_of(seq),
            }
        })
        .collect()
}

/// Writes `ledger` to the events table, inside the caller's transaction.
pub(crate) async fn write_ledger(conn: &mut PgConnection, ledger: &[RecordedEvent]) {
    for e in ledger {
        sqlx::query(
            "INSERT INTO events (seq, id, stream, version, type, actor, recorded_at, payload, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9, $10)",
        )
        .bind(e.seq)
        .bind(e.id)
        .bind(&e.stream)
        .bind(e.version)
        .bind(&e.event_type)
        .bind(e.actor)
        .bind(e.at.to_datetime())
        .bind(e.payload.to_string())
        .bind(e.prev_hash.as_bytes().as_slice())
        .bind(e.hash.as_bytes().as_slice())
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|err| panic!("writing seq {} to the ledger: {err}", e.seq));
    }
}

/// Every row of each of the projector's tables, as text, in a stable order.
pub(crate) async fn rows(
    conn: &mut PgConnection,
    projector: &dyn Projector,
) -> BTreeMap<&'static str, String> {
    let mut all = BTreeMap::new();
    for &table in projector.tables() {
        let dump: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM {table} t"
        )))
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{}: reading {table}: {e}", projector.name()));
        all.insert(table, dump);
    }
    all
}

/// Whether the projector lists any type of the aggregate whose stream `event` is on: one
/// that lists none may refuse that aggregate's events as unreadable (it parses what it
/// is given as its own aggregate's), since the runner never hands them to it.
fn reads_aggregate_of(projector: &dyn Projector, event: &RecordedEvent) -> bool {
    let stream = StreamName::parse(&event.stream).expect("a sample's stream");
    let types = match stream.category() {
        "user" => UserEvent::TYPES,
        "record" => RecordEvent::TYPES,
        "key_epoch" => domain::erasure::KeyEpochEvent::TYPES,
        "user_erasure" | "record_erasure" => domain::erasure::ErasureEvent::TYPES,
        "legal_hold" => domain::erasure::LegalHoldEvent::TYPES,
        "emergency" => domain::emergency::EmergencyEvent::TYPES,
        "share_link" => domain::link::ShareLinkEvent::TYPES,
        "proxies" => domain::proxy::ProxyEvent::TYPES,
        other => panic!("a sample on a stream of no aggregate: {other}"),
    };
    projector.event_types().iter().any(|t| types.contains(t))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_projector_handles_a_type_its_filter_leaves_out() {
    let (_db, pool, ledger) = story_database().await;

    // Each projector writes only its own tables and reads only them (none reads another's
    // rows), so each is tried alone, in a transaction of its own, rolled back after.
    for projector in projections::all() {
        let (name, filter) = (projector.name(), projector.event_types());
        let listed = |e: &&RecordedEvent| filter.contains(&e.event_type.as_str());
        let mut tx = pool.begin().await.expect("begin");
        write_ledger(&mut tx, &ledger).await;

        // Given: every event of a type it lists, in the story's order.
        for event in ledger.iter().filter(listed) {
            projector.apply(&mut tx, event).await.unwrap_or_else(|e| {
                panic!("{name}: seq {} ({}): {e}", event.seq, event.event_type)
            });
        }
        let before = rows(&mut tx, projector.as_ref()).await;
        for (table, dump) in &before {
            assert!(!dump.is_empty(), "{name}: the story left {table} empty");
        }

        // When: each event of a type it leaves out is applied after all, alone (in a
        // savepoint, rolled back, so each is tried against the same rows);
        // then: nothing of the projector's changed.
        for event in ledger.iter().filter(|e| !listed(e)) {
            let what = format!("{name}: seq {} ({})", event.seq, event.event_type);
            let mut savepoint = tx.begin().await.expect("savepoint");
            match projector.apply(&mut savepoint, event).await {
                Ok(()) => {}
                Err(ProjectionError::Malformed { .. })
                    if !reads_aggregate_of(projector.as_ref(), event) => {}
                Err(e) => panic!("{what} is not in the filter, yet apply refused it: {e}"),
            }
            let after = rows(&mut savepoint, projector.as_ref()).await;
            for (table, dump) in &before {
                assert_eq!(
                    &after[table], dump,
                    "{what} is not in the filter, yet apply changed {table}"
                );
            }
            savepoint.rollback().await.expect("rollback to savepoint");
        }
        tx.rollback().await.expect("rollback");
    }
}
