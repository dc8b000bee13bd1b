//! The event store against real PostgreSQL, each test in its own database.

use crate::common;

use commands::{
    AppendError, EventStore, ExpectedVersion, NewEvent, SystemClock,
    ledger::{export_jsonl, ledger_head, verify_ledger},
};
use domain::{EventType, StreamName};
use futures::future::join_all;
use serde_json::json;
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

fn event(n: i64) -> NewEvent {
    NewEvent::new(
        EventType::parse("Tested").unwrap(),
        Some(Uuid::new_v4()),
        &json!({"n": n, "note": "ü\n\"q\""}),
    )
    .unwrap()
}

async fn store(url: &str, connections: u32) -> EventStore {
    let pool = commands::db::connect_and_migrate(url, connections)
        .await
        .unwrap();
    EventStore::start(pool, Arc::new(SystemClock))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_on_two_stores_keep_one_gap_free_chain() {
    let db = common::test_db().await;
    let stores = [store(&db.url, 4).await, store(&db.url, 4).await];
    let streams: Vec<StreamName> = (0..500)
        .map(|_| StreamName::new("test", Uuid::new_v4()).unwrap())
        .collect();
    let streams = Arc::new(streams);
    // 256 writers, 20 000 events: writer w owns streams w, w+256 (when < 500) and appends
    // to them in turn, each at the version it last saw.
    let writers = (0..256usize).map(|w| {
        let store = stores[w % 2].clone();
        let streams = streams.clone();
        async move {
            let mine: Vec<usize> = (w..500).step_by(256).collect();
            let mut versions = vec![0; mine.len()];
            let count = 20_000 / 256 + usize::from(w < 20_000 % 256);
            for i in 0..count {
                let k = i % mine.len();
                let appended = store
                    .append(
                        &streams[mine[k]],
                        ExpectedVersion::Exact(versions[k]),
                        vec![event(i as i64)],
                    )
                    .await
                    .expect("no conflicts: each stream has one writer");
                versions[k] = appended.version;
            }
        }
    });
    join_all(writers).await;

    let pool = stores[0].pool();
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM events ORDER BY seq")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(seqs, (1..=20_000).collect::<Vec<i64>>());
    let versions: Vec<(String, Vec<i32>)> = sqlx::query_as(
        "SELECT stream, array_agg(version ORDER BY seq) FROM events GROUP BY stream",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(versions.len(), 500);
    for (stream, v) in versions {
        assert_eq!(v, (1..=v.len() as i32).collect::<Vec<_>>(), "{stream}");
    }
    let verification = verify_ledger(pool, None).await.unwrap();
    let chain = verification.outcome.expect("the chain verifies");
    assert_eq!(chain.events, 20_000);
    let head = ledger_head(pool).await.unwrap();
    assert_eq!(chain.head, head.hash);

    // The export recomputes to the same head with an independent tool.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    assert_eq!(export_jsonl(pool, &mut file).await.unwrap(), 20_000);
    drop(file);
    let out = common::python_verify_export(&path, None);
    assert_eq!(out, format!("OK: 20000 events, head {}", head.hash));
}

#[tokio::test]
async fn two_writers_at_the_same_version_one_wins() {
    let db = common::test_db().await;
    let store = store(&db.url, 4).await;
    let stream = StreamName::new("test", Uuid::new_v4()).unwrap();
    store
        .append(&stream, ExpectedVersion::Exact(0), vec![event(0)])
        .await
        .unwrap();
    let (a, b) = (event(1), event(2));
    let ids = [a.id, b.id];
    let (ra, rb) = tokio::join!(
        store.append(&stream, ExpectedVersion::Exact(1), vec![a]),
        store.append(&stream, ExpectedVersion::Exact(1), vec![b]),
    );
    let (won, lost) = match (ra, rb) {
        (Ok(_), Err(e)) => (ids[0], (ids[1], e)),
        (Err(e), Ok(_)) => (ids[1], (ids[0], e)),
        other => panic!("exactly one must win: {other:?}"),
    };
    assert!(
        matches!(
            lost.1,
            AppendError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{:?}",
        lost.1
    );
    let stored: Vec<Uuid> = store
        .read_stream(&stream)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1], won);
    assert!(!stored.contains(&lost.0));
}

#[tokio::test]
async fn a_stale_caller_fails_alone_while_its_batch_commits() {
    let db = common::test_db().await;
    let store = store(&db.url, 4).await;
    let contested = StreamName::new("test", Uuid::new_v4()).unwrap();
    store
        .append(&contested, ExpectedVersion::Exact(0), vec![event(0)])
        .await
        .unwrap();
    // Many callers at once, so they share rounds: all but the stale ones must commit.
    let calls = (0..64).map(|i| {
        let store = store.clone();
        let contested = contested.clone();
        async move {
            if i % 8 == 0 {
                store
                    .append(&contested, ExpectedVersion::Exact(0), vec![event(i)])
                    .await
            } else {
                let own = StreamName::new("test", Uuid::new_v4()).unwrap();
                store
                    .append(&own, ExpectedVersion::Exact(0), vec![event(i), event(i)])
                    .await
            }
        }
    });
    let results = join_all(calls).await;
    for (i, r) in results.iter().enumerate() {
        if i % 8 == 0 {
            assert!(
                r.as_ref().is_err_and(AppendError::is_conflict),
                "{i}: {r:?}"
            );
        } else {
            assert!(r.is_ok(), "{i}: {r:?}");
        }
    }
    let head = ledger_head(store.pool()).await.unwrap();
    assert_eq!(head.seq, 1 + 56 * 2);
    assert!(
        verify_ledger(store.pool(), None)
            .await
            .unwrap()
            .outcome
            .is_ok()
    );
}

#[tokio::test]
async fn appends_are_stored_in_the_ledger_format() {
    let db = common::test_db().await;
    let store = store(&db.url, 2).await;
    let stream = StreamName::new("user", Uuid::new_v4()).unwrap();
    let anonymous =
        NewEvent::new(EventType::parse("Tested").unwrap(), None, &json!({"a": 1})).unwrap();
    store
        .append(
            &stream,
            ExpectedVersion::Exact(0),
            vec![anonymous, event(2)],
        )
        .await
        .unwrap();
    let events = store.read_stream(&stream).await.unwrap();
    assert_eq!(events.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(events[0].actor, None);
    assert_eq!(events[1].prev_hash, events[0].hash);
    let mut out = Vec::new();
    export_jsonl(store.pool(), &mut out).await.unwrap();
    let first: serde_json::Value =
        serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first["actor"], serde_json::Value::Null);
    assert_eq!(first["v"], 1);
    assert_eq!(first["prev"], "0".repeat(64));
    let at = first["at"].as_str().unwrap();
    assert!(
        at.len() == 27 && at.ends_with('Z') && at.as_bytes()[19] == b'.',
        "{at}"
    );

    // Not I-JSON: refused before it reaches the ledger, with a clear message.
    let float = NewEvent::new(
        EventType::parse("Tested").unwrap(),
        None,
        &json!({"dose": 0.5}),
    );
    assert_eq!(
        float.unwrap_err().to_string(),
        "payload.dose: floating-point numbers are not allowed in the ledger; write the value as a string"
    );
    let big = NewEvent::new(
        EventType::parse("Tested").unwrap(),
        None,
        &json!({"n": 9_007_199_254_740_992_i64}),
    );
    assert!(big.unwrap_err().to_string().contains("2^53"));
}

#[tokio::test]
async fn reading_all_from_a_seq() {
    let db = common::test_db().await;
    let store = store(&db.url, 2).await;
    let mut last = HashMap::new();
    for i in 0..5 {
        let stream = StreamName::new("test", Uuid::new_v4()).unwrap();
        let a = store
            .append(&stream, ExpectedVersion::Any, vec![event(i)])
            .await
            .unwrap();
        last.insert(a.last_seq, stream);
    }
    let page = store.read_all(3, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(page[0].stream, last[&3].as_str());
    assert_eq!(page[0].payload["n"], 2);
}

#[tokio::test]
async fn each_commit_notifies_the_new_head() {
    let db = common::test_db().await;
    let store = store(&db.url, 2).await;
    let mut listener = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
    listener
        .listen(commands::event_store::LEDGER_CHANNEL)
        .await
        .unwrap();
    let stream = StreamName::new("test", Uuid::new_v4()).unwrap();
    let appended = store
        .append(&stream, ExpectedVersion::Exact(0), vec![event(1), event(2)])
        .await
        .unwrap();
    let note = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .unwrap()
        .unwrap();
    let head: serde_json::Value = serde_json::from_str(note.payload()).unwrap();
    assert_eq!(head, json!({"seq": 2, "hash": appended.last_hash.to_hex()}));
}

/// An appender hashes a round against what it wrote last; when another process has
/// written since, the database refuses that guess and the round is done under the lock,
/// with conflicts decided on the real versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_guess_is_refused_and_the_round_redone_under_the_lock() {
    let db = common::test_db().await;
    let (a, b) = (store(&db.url, 2).await, store(&db.url, 2).await);
    let shared = StreamName::new("test", Uuid::new_v4()).unwrap();
    let own = StreamName::new("test", Uuid::new_v4()).unwrap();

    a.append(&shared, ExpectedVersion::Exact(0), vec![event(1)])
        .await
        .unwrap();
    // B moves the head and the shared stream behind A's back.
    b.append(&shared, ExpectedVersion::Exact(1), vec![event(2)])
        .await
        .unwrap();
    let refused = a.appender_stats().guesses_refused;

    // A's next round guesses the old head: refused, then written under the lock.
    let appended = a
        .append(&own, ExpectedVersion::Exact(0), vec![event(3)])
        .await
        .unwrap();
    assert_eq!((appended.first_seq, appended.version), (3, 1));
    assert_eq!(a.appender_stats().guesses_refused, refused + 1);

    // A still believes `shared` is at version 1; the real version decides the conflict.
    let stale = a
        .append(&shared, ExpectedVersion::Exact(1), vec![event(4)])
        .await;
    assert!(
        matches!(
            stale,
            Err(AppendError::Conflict {
                expected: 1,
                actual: 2,
                ..
            })
        ),
        "{stale:?}"
    );
    let next = a
        .append(&shared, ExpectedVersion::Exact(2), vec![event(5)])
        .await
        .unwrap();
    assert_eq!((next.first_seq, next.version), (4, 3));

    let verification = verify_ledger(a.pool(), None).await.unwrap();
    assert_eq!(verification.outcome.unwrap().events, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_of_conflicts_only_lets_go_of_the_ledger_lock_at_once() {
    let db = common::test_db().await;
    let (first, second) = (store(&db.url, 2).await, store(&db.url, 2).await);
    let stream = StreamName::new("test", Uuid::new_v4()).unwrap();
    first
        .append(&stream, ExpectedVersion::Exact(0), vec![event(1)])
        .await
        .unwrap();
    // Given a second process whose first round holds a stale append only: decided under
    // the ledger's lock, it writes nothing ...
    let lost = second
        .append(&stream, ExpectedVersion::Exact(0), vec![event(2)])
        .await;
    assert!(
        matches!(lost, Err(AppendError::Conflict { .. })),
        "{lost:?}"
    );
    // ... then, while it appends nothing more, the first process's appends go on: the
    // lock went with the round (a dropped transaction only queued its rollback for the
    // connection's next use, and held the lock until then).
    let other = StreamName::new("test", Uuid::new_v4()).unwrap();
    let appended = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        first.append(&other, ExpectedVersion::Exact(0), vec![event(3)]),
    )
    .await
    .expect("the first process's append is not held up by the second's round")
    .unwrap();
    assert_eq!(appended.last_seq, 2);
}
