//! A projector's rows do not depend on how the runner cuts the ledger into batches: the
//! domain's sample story (every event type) applied one event at a time, as one batch,
//! and in batches of a few events leaves the same rows in every table, so a set-based
//! projector folds a batch exactly as one-at-a-time statements would. And a batch with an
//! event the view cannot take stops at that event. Real PostgreSQL; nothing committed.

use crate::projector_filters::{rows, story_database, write_ledger};
use commands::RecordedEvent;
use projections::ProjectionError;
use sqlx::Acquire;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_projector_leaves_the_same_rows_however_the_story_is_batched() {
    let (_db, pool, ledger) = story_database().await;
    let mut tx = pool.begin().await.expect("begin");
    write_ledger(&mut tx, &ledger).await;

    for projector in projections::all() {
        let name = projector.name();
        let listed = read_by(projector.as_ref(), &ledger);
        let mut dumps = Vec::new();
        for size in [1, 2, 3, 7, listed.len()] {
            let mut savepoint = tx.begin().await.expect("savepoint");
            for batch in listed.chunks(size) {
                projector
                    .apply_many(&mut savepoint, batch)
                    .await
                    .unwrap_or_else(|(i, e)| {
                        panic!("{name}, batches of {size}: seq {}: {e}", batch[i].seq)
                    });
            }
            dumps.push((size, rows(&mut savepoint, projector.as_ref()).await));
            savepoint.rollback().await.expect("rollback");
        }
        let (_, one_by_one) = &dumps[0];
        for (size, dump) in &dumps[1..] {
            for (table, rows) in one_by_one {
                assert_eq!(
                    &dump[table], rows,
                    "{name}: {table} differs in batches of {size}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stops_at_the_event_the_view_cannot_take_a_record_uploaded_twice() {
    let (_db, pool, ledger) = story_database().await;
    let mut tx = pool.begin().await.expect("begin");
    write_ledger(&mut tx, &ledger).await;

    for projector in [
        projections::by_name("records").unwrap(),
        projections::by_name("notifications").unwrap(),
    ] {
        let name = projector.name();
        let listed = read_by(projector.as_ref(), &ledger);
        // The record's first event again, after the rest: a record uploaded twice.
        let upload = listed
            .iter()
            .position(|e| e.event_type == "RecordUploaded")
            .expect("the story uploads");
        let mut twice = listed.clone();
        twice.insert(listed.len() - 1, listed[upload]);
        let mut savepoint = tx.begin().await.expect("savepoint");
        match projector.apply_many(&mut savepoint, &twice).await {
            Err((index, ProjectionError::Malformed { seq, .. })) => {
                assert_eq!(index, listed.len() - 1, "{name}");
                assert_eq!(seq, listed[upload].seq, "{name}");
            }
            other => panic!("{name}: {:?}", other.map_err(|(i, e)| (i, e.to_string()))),
        }
        savepoint.rollback().await.expect("rollback");

        // And in a later batch than the story's (a batch of uploads reads nothing of the
        // records it makes): the view's key, or the fold, will not take the record twice.
        let mut savepoint = tx.begin().await.expect("savepoint");
        projector
            .apply_many(&mut savepoint, &listed)
            .await
            .unwrap_or_else(|(i, e)| panic!("{name}: seq {}: {e}", listed[i].seq));
        match projector
            .apply_many(&mut savepoint, &[listed[upload]])
            .await
        {
            Err((0, ProjectionError::Database(_) | ProjectionError::Malformed { .. })) => {}
            other => panic!(
                "{name}, a later batch: {:?}",
                other.map_err(|(i, e)| (i, e.to_string()))
            ),
        }
        savepoint.rollback().await.expect("rollback");
    }
}

/// The events of `ledger` that `projector` reads, in order.
fn read_by<'a>(
    projector: &dyn projections::Projector,
    ledger: &'a [RecordedEvent],
) -> Vec<&'a RecordedEvent> {
    ledger
        .iter()
        .filter(|e| projector.reads(&e.event_type))
        .collect()
}
