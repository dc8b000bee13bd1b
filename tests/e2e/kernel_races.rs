//! The command kernel after a lost race: the decision is made again on the new state (also
//! when the first was made on a state it did not read again: `execute_new`, `execute_on`), and
//! the effect that must precede the append (closing sessions) runs again before the new
//! try, so whatever won the race is covered too. Real PostgreSQL; the racing writer is a
//! second append made from inside the first try.

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
        user::{LoginSucceeded, UserEvent},
    },
};
use sqlx::PgPool;
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use uuid::Uuid;

fn sign_in(n: u128) -> UserEvent {
    LoginSucceeded {
        session: Uuid::from_u128(n),
        expires_at: Timestamp::from_micros(2_000_000_000 * 1_000_000),
        factor: None,
    }
    .into()
}

/// A kernel on a fresh database, with its event store.
async fn kernel() -> (common::TestDb, EventStore, Kernel) {
    let db = common::test_db().await;
    let pool = PgPool::connect(&db.url).await.expect("connect");
    commands::db::MIGRATOR.run(&pool).await.expect("migrate");
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_micros(1)));
    let store = EventStore::start(pool, clock);
    let kernel = Kernel::new(
        store.clone(),
        KeyRing::new(
            &MasterKey::from_bytes([7; 32]),
            EpochStore::directory("/nonexistent"),
        ),
    );
    (db, store, kernel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_race_is_decided_again_and_its_effect_runs_again_first() {
    let (_db, store, kernel) = kernel().await;
    let user = UserId::from_uuid(Uuid::new_v4());

    // Given a stream of one sign-in ...
    let first = new_events(&[sign_in(1)], None).unwrap();
    store
        .append(&User::stream(user), ExpectedVersion::Exact(0), first)
        .await
        .unwrap();

    // ... when a command's effect runs, and another sign-in lands before its append ...
    let (effects, decisions) = (&AtomicUsize::new(0), &AtomicUsize::new(0));
    let racer = &store;
    let racing = move || async move {
        if effects.fetch_add(1, Ordering::SeqCst) == 0 {
            let other = new_events(&[sign_in(2)], None).unwrap();
            racer
                .append(&User::stream(user), ExpectedVersion::Exact(1), other)
                .await
                .unwrap();
        }
        Ok(())
    };
    let done = kernel
        .execute_then(
            user,
            Some(user),
            |state: &User| {
                decisions.fetch_add(1, Ordering::SeqCst);
                let open = state.open_session_count();
                Ok(Decision::new(vec![sign_in(10 + open as u128)], open))
            },
            racing,
        )
        .await
        .unwrap();

    // ... then the command decided again on the state with both sign-ins, its effect ran
    // again before the append that stood, and that append followed the racing one.
    assert_eq!(decisions.load(Ordering::SeqCst), 2);
    assert_eq!(effects.load(Ordering::SeqCst), 2);
    assert_eq!(done.outcome, 2, "decided on the state the race left");
    assert!(done.appended);
    let after = kernel.load::<User>(user).await.unwrap();
    assert_eq!((after.version, after.state.open_session_count()), (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_made_without_reading_the_stream_is_made_again_when_the_stream_moved() {
    let (_db, store, kernel) = kernel().await;
    let user = UserId::from_uuid(Uuid::new_v4());
    let decisions = &AtomicUsize::new(0);
    let decide = |state: &User| {
        decisions.fetch_add(1, Ordering::SeqCst);
        let open = state.open_session_count();
        Ok(Decision::new(vec![sign_in(10 + open as u128)], open))
    };

    // Given a stream of one sign-in, loaded ...
    let first = new_events(&[sign_in(1)], None).unwrap();
    store
        .append(&User::stream(user), ExpectedVersion::Exact(0), first)
        .await
        .unwrap();
    let loaded = kernel.load::<User>(user).await.unwrap();

    // ... when a command takes the stream for new (an id it wrongly believed it had just
    // made), it decides once on the empty state, loses the append, and decides again on
    // the stream as it is.
    let done = kernel.execute_new(user, Some(user), decide).await.unwrap();
    assert_eq!(decisions.swap(0, Ordering::SeqCst), 2);
    assert_eq!(done.outcome, 1, "decided on the stream's one sign-in");

    // ... and a command given the state loaded before that append decides on it, loses
    // the append, and decides again on the stream as it is now.
    assert_eq!(loaded.version, 1);
    let done = kernel
        .execute_on(user, Some(user), loaded, decide)
        .await
        .unwrap();
    assert_eq!(decisions.swap(0, Ordering::SeqCst), 2);
    assert_eq!(done.outcome, 2, "decided on both sign-ins before it");
    let after = kernel.load::<User>(user).await.unwrap();
    assert_eq!((after.version, after.state.open_session_count()), (3, 3));

    // Given a state that is current, one decision is enough.
    let current = kernel.load::<User>(user).await.unwrap();
    kernel
        .execute_on(user, Some(user), current, decide)
        .await
        .unwrap();
    assert_eq!(decisions.load(Ordering::SeqCst), 1);
}
