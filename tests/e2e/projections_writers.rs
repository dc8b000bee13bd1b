//! Two writers of one projector: another process's batch commits while this one's is
//! still applying the same events. Exactly one of them may count: the later commit must
//! come back Busy and leave nothing behind, or the events would be applied twice
//! (duplicate notifications, mails). And where the later one fails on the rows the
//! earlier one wrote, that failure is the race's: it must not stop the projector.

use crate::common;

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

/// Writes each event's seq into `race_seen_again`. The first time it is called, it first
/// commits, on a connection of its own, what another process's finished batch would: the
/// checkpoint moved to `head`, the rows written (into `race_seen`, or, when `clash`, into
/// the very table this batch writes). Its own batch then overlaps that one.
struct Racing {
    pool: PgPool,
    head: i64,
    clash: bool,
    raced: AtomicBool,
    applied: AtomicUsize,
}

impl Projector for Racing {
    fn name(&self) -> &'static str {
        "racing"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["race_seen", "race_seen_again"]
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
                let rows = if self.clash {
                    "INSERT INTO race_seen_again (seq) SELECT generate_series(1, $1::bigint)"
                } else {
                    "INSERT INTO race_seen (seq) SELECT generate_series(1, $1::bigint)"
                };
                sqlx::query(rows)
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

/// Three `Raced` events, and a projector whose first batch another writer overtakes.
struct Race {
    _db: common::TestDb,
    pool: PgPool,
    store: EventStore,
    stream: StreamName,
    head: i64,
    racing: Arc<Racing>,
    projections: Projections,
}

impl Race {
    async fn start(clash: bool) -> Self {
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
            head = append(&store, &stream, n).await;
        }
        let racing = Arc::new(Racing {
            pool: pool.clone(),
            head,
            clash,
            raced: AtomicBool::new(false),
            applied: AtomicUsize::new(0),
        });
        let projections = Projections::start(pool.clone(), vec![racing.clone()])
            .await
            .unwrap();
        Self {
            _db: db,
            pool,
            store,
            stream,
            head,
            racing,
            projections,
        }
    }

    /// The checkpoint and the rows of each table.
    async fn tables(&self) -> (i64, i64, i64) {
        sqlx::query_as(
            "SELECT (SELECT last_seq FROM projection_checkpoints WHERE name = 'racing'), \
                    (SELECT count(*) FROM race_seen), (SELECT count(*) FROM race_seen_again)",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }
}

async fn append(store: &EventStore, stream: &StreamName, n: i32) -> i64 {
    let event = NewEvent::new(EventType::parse("Raced").unwrap(), None, &json!({"n": n})).unwrap();
    store
        .append(stream, ExpectedVersion::Any, vec![event])
        .await
        .unwrap()
        .last_seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_overtaken_by_another_writer_leaves_nothing() {
    let race = Race::start(false).await;
    // It learns of the other writer's progress from the row, and stands there.
    race.projections
        .wait_for(&["racing"], race.head, Duration::from_secs(20))
        .await
        .unwrap();

    assert!(race.racing.raced.load(Ordering::SeqCst), "the batch ran");
    assert!(
        race.racing.applied.load(Ordering::SeqCst) > 0,
        "and applied events"
    );
    let (last_seq, seen, again) = race.tables().await;
    assert_eq!(again, 0, "the overtaken batch left rows behind");
    assert_eq!((last_seq, seen), (race.head, race.head));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_on_the_rows_of_a_writer_that_overtook_it_goes_on_from_there() {
    let race = Race::start(true).await;
    race.projections
        .wait_for(&["racing"], race.head, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(race.racing.raced.load(Ordering::SeqCst), "the batch ran");

    // The failure was the race's, not the event's: this process has not stopped, and
    // applies what comes next on its own.
    let next = append(&race.store, &race.stream, 3).await;
    race.projections
        .wait_for(&["racing"], next, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(race.projections.stopped(), vec![]);
    let (last_seq, seen, again) = race.tables().await;
    assert_eq!((last_seq, seen, again), (next, 0, race.head + 1));
    let failed: Option<i64> =
        sqlx::query_scalar("SELECT failed_seq FROM projection_checkpoints WHERE name = 'racing'")
            .fetch_one(&race.pool)
            .await
            .unwrap();
    assert_eq!(failed, None);
}
