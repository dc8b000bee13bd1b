//! Two writers of one projector: another process's batch commits while this one's is
//! still applying the same events. Exactly one of them may count: the later commit must
//! come back Busy and leave nothing behind, or the events would be applied twice
//! (duplicate notifications, mails).

mod common;

use commands::{EventStore, ExpectedVersion, NewEvent, RecordedEvent, SystemClock};
use domain::{EventType, StreamName};
use futures::future::BoxFuture;
use projections::{ProjectionError, Projections, Projector};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};
use uuid::Uuid;

/// Writes each event's seq into `race_seen`. The first time it is called, it first
/// commits, on a connection of its own, what another process's finished batch would: the
/// checkpoint moved to `head`, the rows written. Its own batch then overlaps that one.
struct Racing {
    pool: PgPool,
    head: i64,
    raced: AtomicBool,
    applied: AtomicUsize,
}

impl Projector for Racing {
    fn name(&self) -> &'static str {
        "racing"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["race_seen"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        &["Raced"]
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            if !self.raced.swap(true, Ordering::SeqCst) {
                let mut other = self.pool.begin().await?;
                sqlx::query("INSERT INTO race_seen (seq) SELECT generate_series(1, $1::bigint)")
                    .bind(self.head)
                    .execute(&mut *other)
                    .await?;
                sqlx::query(
                    "UPDATE projection_checkpoints SET last_seq = $1 WHERE name = 'racing'",
                )
                .bind(self.head)
                .execute(&mut *other)
                .await?;
                other.commit().await?;
            }
            self.applied.fetch_add(1, Ordering::SeqCst);
            // Not `ON CONFLICT`: a second application must show, not be absorbed.
            sqlx::query("INSERT INTO race_seen_again (seq) VALUES ($1)")
                .bind(event.seq)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_overtaken_by_another_writer_leaves_nothing() {
    let db = common::test_db().await;
    let pool = commands::db::connect_and_migrate(&db.url, 8).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE race_seen (seq bigint PRIMARY KEY); \
         CREATE TABLE race_seen_again (seq bigint PRIMARY KEY);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let store = EventStore::start(pool.clone(), Arc::new(SystemClock));
    let stream = StreamName::new("test", Uuid::new_v4()).unwrap();
    let mut head = 0;
    for n in 0..3 {
        let event =
            NewEvent::new(EventType::parse("Raced").unwrap(), None, &json!({"n": n})).unwrap();
        head = store
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .unwrap()
            .last_seq;
    }

    let racing = Arc::new(Racing {
        pool: pool.clone(),
        head,
        raced: AtomicBool::new(false),
        applied: AtomicUsize::new(0),
    });
    let projections = Projections::start(pool.clone(), vec![racing.clone()])
        .await
        .unwrap();
    // It learns of the other writer's progress from the row, and stands there.
    projections
        .wait_for(&["racing"], head, Duration::from_secs(20))
        .await
        .unwrap();

    assert!(racing.raced.load(Ordering::SeqCst), "the batch ran");
    assert!(
        racing.applied.load(Ordering::SeqCst) > 0,
        "and applied events"
    );
    let again: i64 = sqlx::query_scalar("SELECT count(*) FROM race_seen_again")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(again, 0, "the overtaken batch left rows behind");
    let (last_seq, seen): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT last_seq FROM projection_checkpoints WHERE name = 'racing'), \
                (SELECT count(*) FROM race_seen)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((last_seq, seen), (head, head));
}
