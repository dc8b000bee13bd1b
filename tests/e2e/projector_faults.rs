//! A projector tries transient errors again (issue 27, one part): a batch whose statement
//! is cancelled, again and again (as a lock timeout, a deadlock's victim or an operator's
//! cancel would be), is tried again after a growing pause, never stopped on; once the
//! database lets it, the view catches up. An event the projector cannot apply still
//! stops it (`accounts_projections`).

use crate::common;

use common::app::{TestApp, eventually};
use common::records::{access_log, cast, content, pdf, upload_ok};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_batch_is_tried_again_and_the_view_catches_up() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "Scan", pdf("scan", 1_000)).await;
    app.view_settled("records").await;

    // Hold the access log, so the records projector's next batch waits on it.
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE access_log IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();
    // A read is on the ledger when the route answers; its view waits behind the lock.
    assert_eq!(
        content(&app, Some(&c.patient.token), &id, false).await.0,
        200
    );

    // Cancel the waiting statement several times: each try fails the same way.
    for attempt in 1..=4 {
        let pid: i32 = eventually(
            Duration::from_secs(20),
            "the projector waits on the lock",
            || async {
                sqlx::query_scalar(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() LIMIT 1",
                )
                .fetch_optional(&app.pool)
                .await
                .unwrap()
            },
        )
        .await;
        let cancelled: bool = sqlx::query_scalar("SELECT pg_cancel_backend($1)")
            .bind(pid)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(cancelled, "attempt {attempt}");
    }
    holder.rollback().await.unwrap();

    // Nothing stopped: the view catches up with the read.
    app.view_settled("records").await;
    let log = access_log(&app, &c.patient.token, &id).await;
    assert_eq!(log[0].0, "DOWNLOADED");
    let failed: Option<i64> =
        sqlx::query_scalar("SELECT failed_seq FROM projection_checkpoints WHERE name = 'records'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(failed, None);
}
