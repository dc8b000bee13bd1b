//! The command kernel folds long streams from snapshots: a command in a fresh process
//! costs the same after 100 000 sign-ins as after 10 (issue: streams that stay cheap).
//! Real PostgreSQL; the events are appended through the event store as sign-ins would.

use crate::common;
use commands::{
    Decision, EventStore, ExpectedVersion, Kernel, ManualClock,
    event_store::new_events,
    keys::{EpochStore, KeyRing, MasterKey},
};
use domain::{
    Aggregate, Timestamp,
    account::{
        User, UserId,
        user::{FORGET_SESSIONS_AFTER_MICROS, LoginSucceeded, UserEvent},
    },
};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

const HOUR: i64 = 3_600_000_000;

async fn ledger() -> (common::TestDb, PgPool, EventStore) {
    let db = common::test_db().await;
    let pool = PgPool::connect(&db.url).await.expect("connect");
    commands::db::MIGRATOR.run(&pool).await.expect("migrate");
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_micros(
        1_800_000_000 * 1_000_000,
    )));
    let store = EventStore::start(pool.clone(), clock);
    (db, pool, store)
}

/// `n` sign-ins of one person, an hour apart and long over, none signed out of.
fn sign_ins(n: i64) -> Vec<UserEvent> {
    let now = 1_800_000_000 * 1_000_000;
    (0..n)
        .map(|i| {
            LoginSucceeded {
                session: Uuid::from_u128(i as u128 + 1),
                expires_at: Timestamp::from_micros(now - (n - i) * HOUR),
                factor: None,
            }
            .into()
        })
        .collect()
}

/// A fresh kernel: what another process would have, with the same master key.
fn kernel(store: &EventStore) -> Kernel {
    Kernel::new(
        store.clone(),
        KeyRing::new(
            &MasterKey::from_bytes([7; 32]),
            EpochStore::directory("/nonexistent"),
        ),
    )
}

async fn append_all(store: &EventStore, user: UserId, events: &[UserEvent]) {
    let stream = User::stream(user);
    let mut version = 0;
    for chunk in events.chunks(2_000) {
        let new = new_events(chunk, Some(user.as_uuid())).expect("events");
        let appended = store
            .append(&stream, ExpectedVersion::Exact(version), new)
            .await
            .expect("append");
        version = appended.version;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_process_folds_a_long_stream_from_its_snapshot() {
    let (_db, pool, store) = ledger().await;
    let (long, short) = (
        UserId::from_uuid(Uuid::new_v4()),
        UserId::from_uuid(Uuid::new_v4()),
    );
    let (many, few) = (sign_ins(100_000), sign_ins(10));
    append_all(&store, long, &many).await;
    append_all(&store, short, &few).await;

    // The first process to load the long stream reads it whole, and leaves a snapshot.
    let first = kernel(&store).load::<User>(long).await.unwrap();
    assert_eq!(first.read, 100_000);
    assert_eq!(
        first.state,
        User::from_history(long, &many),
        "the fold is the fold"
    );
    // The state keeps only the sessions that may not have ended: a month of sign-ins.
    let month = (FORGET_SESSIONS_AFTER_MICROS / HOUR) as usize;
    assert!(
        first.state.open_session_count() <= month + 1,
        "{} sessions kept",
        first.state.open_session_count()
    );

    // Another process (a fresh kernel: nothing kept in memory) reads no event of it, as
    // for the stream of ten; after one more sign-in, one event.
    let fresh = kernel(&store).load::<User>(long).await.unwrap();
    assert_eq!((fresh.read, fresh.version), (0, 100_000));
    assert_eq!(fresh.state, first.state);
    let short_loaded = kernel(&store).load::<User>(short).await.unwrap();
    assert_eq!(
        short_loaded.read, 10,
        "a short stream is read whole: no snapshot needed"
    );
    append_more(&store, long, 100_000).await;
    let after = kernel(&store).load::<User>(long).await.unwrap();
    assert_eq!((after.read, after.version), (1, 100_001));

    // A snapshot is only a shortcut: one written by anyone but the kernel (here, a state
    // edited in the table, so its MAC no longer holds) is ignored, and the stream is
    // folded from its first event to the same state. So is one under another master key.
    let other_key = Kernel::new(
        store.clone(),
        KeyRing::new(
            &MasterKey::from_bytes([8; 32]),
            EpochStore::directory("/nonexistent"),
        ),
    );
    assert_eq!(other_key.load::<User>(long).await.unwrap().read, 100_001);
    let forged = serde_json::to_string(&User::new(long)).unwrap();
    sqlx::query("UPDATE snapshots SET state = $1")
        .bind(forged)
        .execute(&pool)
        .await
        .unwrap();
    let refolded = kernel(&store).load::<User>(long).await.unwrap();
    assert_eq!(refolded.read, 100_001);
    assert_eq!(refolded.state, after.state);
}

async fn append_more(store: &EventStore, user: UserId, version: i32) {
    let event: UserEvent = LoginSucceeded {
        session: Uuid::new_v4(),
        expires_at: Timestamp::from_micros(1_800_000_000 * 1_000_000 + HOUR),
        factor: None,
    }
    .into();
    let new = new_events(&[event], Some(user.as_uuid())).expect("events");
    store
        .append(&User::stream(user), ExpectedVersion::Exact(version), new)
        .await
        .expect("append");
}

/// A stream grown one command at a time in one process (each command reads only what it
/// has not seen) still leaves snapshots behind, so a restart does not read it whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_grown_command_by_command_leaves_snapshots_for_the_next_process() {
    let (_db, _pool, store) = ledger().await;
    let user = UserId::from_uuid(Uuid::new_v4());
    let one = kernel(&store);
    for (i, event) in sign_ins(200).into_iter().enumerate() {
        let done = one
            .execute(user, Some(user), |_: &User| {
                Ok(Decision::events(vec![event.clone()]))
            })
            .await
            .unwrap();
        assert!(done.appended, "sign-in {i}");
    }
    let next = kernel(&store).load::<User>(user).await.unwrap();
    assert_eq!(next.version, 200);
    assert_eq!(next.read, 200 - 192, "read past the snapshot at 192 only");
}
