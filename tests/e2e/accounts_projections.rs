//! The projection runner end to end, through the users view: a rebuild gives the same
//! bytes, and a projector that fails on an event stops there (checkpoint unmoved,
//! `/health` 503 naming it) and catches up after the cause is fixed and the server
//! restarts.

use crate::common;

use common::app::{Cred, STRONG, TestApp, eventually};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A hash of every row of the users view, in id order.
async fn users_hash(app: &TestApp) -> (i64, String) {
    sqlx::query_as(
        "SELECT count(*), coalesce(md5(string_agg(u::text, ',' ORDER BY id)), '') FROM users u",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn checkpoint(app: &TestApp) -> (i64, Option<i64>, Option<String>) {
    sqlx::query_as(
        "SELECT last_seq, failed_seq, failure FROM projection_checkpoints WHERE name = 'users'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn head(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Runs the binary on the test's database, with a data directory of its own.
async fn medchain(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    common::cli::medchain(app, &dir.path().join("data"), args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_gives_byte_identical_tables() {
    let app = TestApp::start().await;
    for (i, role) in ["PATIENT", "DOCTOR", "PATIENT", "DOCTOR", "PATIENT"]
        .into_iter()
        .enumerate()
    {
        let registered = app
            .try_register(
                &format!("person{i}@example.org"),
                &format!("Person Number{i}"),
                role,
                STRONG,
                (i % 2 == 0).then_some("+1 202 555 0147"),
            )
            .await;
        registered.ok();
        app.clock.advance(Duration::from_secs(90));
        if role == "PATIENT" {
            app.login(&format!("person{i}@example.org"), STRONG).await;
        }
    }
    let (rows, before) = users_hash(&app).await;
    assert_eq!(rows, 5);
    // The last events are logins, which the view has no use for: its row follows them
    // a moment later.
    app.view_settled("users").await;
    assert_eq!(checkpoint(&app).await.0, head(&app).await);

    // Spoil the view, so that only a replay of the ledger can give the same bytes back.
    sqlx::query("DELETE FROM users WHERE role = 'DOCTOR'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET status = 'SUSPENDED', updated_seq = 0")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_ne!(users_hash(&app).await.1, before);

    let rebuilt = projections::rebuild(&app.pool, &projections::users::UsersProjector)
        .await
        .unwrap();
    assert_eq!(rebuilt.last_seq, head(&app).await);
    assert_eq!(rebuilt.events, head(&app).await);
    assert_eq!(users_hash(&app).await, (5, before.clone()));
    assert_eq!(checkpoint(&app).await, (head(&app).await, None, None));

    // The same through the command line, on the running server's database.
    sqlx::query("DELETE FROM users")
        .execute(&app.pool)
        .await
        .unwrap();
    let (code, out, err) = medchain(&app, &["projections", "rebuild", "users"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("rebuilt users"), "{err}");
    assert_eq!(users_hash(&app).await, (5, before));

    // The server carries on from the swapped-in tables: the next registration is seen.
    let after = app
        .register("late.comer@example.org", "Late Comer", "PATIENT", STRONG)
        .await;
    assert_eq!(after["email"], "late.comer@example.org");
    assert_eq!(users_hash(&app).await.0, 6);
    assert_eq!(checkpoint(&app).await.0, head(&app).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_projector_stops_says_so_and_catches_up_after_a_restart() {
    let mut app = TestApp::start().await;
    app.register("patient.one@example.org", "Patient One", "PATIENT", STRONG)
        .await;
    let (status, body) = app.health().await;
    assert_eq!(status, 200, "{body}");

    // As the database's owner: a constraint the next doctor's row breaks.
    sqlx::query("ALTER TABLE users ADD CONSTRAINT no_doctors_t CHECK (role <> 'DOCTOR')")
        .execute(&app.pool)
        .await
        .unwrap();
    let before = checkpoint(&app).await;
    assert_eq!(before, (head(&app).await, None, None));

    // The registration is recorded, but its view cannot be written: the mutation errs
    // (it waited for the view), without internal detail.
    let refused = app
        .try_register(
            "doctor.two@example.org",
            "Doctor Two",
            "DOCTOR",
            STRONG,
            None,
        )
        .await;
    let code = refused.code();
    assert_eq!(code, "INTERNAL", "{}", refused.body);
    assert!(
        !refused.message().contains("no_doctors_t"),
        "{}",
        refused.body
    );
    let doctor_seq: i64 =
        sqlx::query_scalar("SELECT max(seq) FROM events WHERE type = 'UserRegistered'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(doctor_seq, head(&app).await);

    let (last_seq, failed_seq, failure) = eventually(WAIT, "failed_seq set", || async {
        let row = checkpoint(&app).await;
        row.1.is_some().then_some(row)
    })
    .await;
    assert_eq!(failed_seq, Some(doctor_seq));
    assert_eq!(last_seq, before.0, "the checkpoint did not move");
    assert!(last_seq < doctor_seq);
    assert!(
        failure.as_deref().is_some_and(|f| !f.is_empty()),
        "{failure:?}"
    );
    let doctors: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'DOCTOR'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(doctors, 0);

    let (status, body) = app.health().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    let problems = body["problems"].to_string();
    assert!(
        problems.contains(&format!(
            "projector users has stopped at event {doctor_seq}"
        )),
        "{body}"
    );
    let (code, out, err) = medchain(&app, &["projections", "check"]).await;
    assert_eq!(code, 1, "{out}{err}");
    let check: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(check[0]["name"], "users");
    assert_eq!(check[0]["failedSeq"], doctor_seq);

    // It stays stopped: a later event is not applied past the failed one.
    let later = app
        .try_register(
            "patient.three@example.org",
            "Patient Three",
            "PATIENT",
            STRONG,
            None,
        )
        .await;
    assert_eq!(later.code(), "INTERNAL", "{}", later.body);
    assert_eq!(checkpoint(&app).await.0, before.0);

    // Fixed and restarted: it catches up from where it stopped.
    sqlx::query("ALTER TABLE users DROP CONSTRAINT no_doctors_t")
        .execute(&app.pool)
        .await
        .unwrap();
    app.restart().await;
    let head = head(&app).await;
    eventually(WAIT, "the users view catches up", || async {
        let row = checkpoint(&app).await;
        (row.0 == head).then_some(())
    })
    .await;
    assert_eq!(checkpoint(&app).await, (head, None, None));
    let roles: Vec<(String, String)> =
        sqlx::query_as("SELECT role, status FROM users ORDER BY created_at, role")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(roles.len(), 3, "{roles:?}");
    assert!(roles.contains(&("DOCTOR".to_owned(), "PENDING".to_owned())));
    let (status, body) = app.health().await;
    assert_eq!(status, 200, "{body}");
    let token = app.login("patient.three@example.org", STRONG).await;
    assert_eq!(
        app.me(Cred::Bearer(&token)).await.ok()["me"]["email"],
        "patient.three@example.org"
    );
    app.try_login("doctor.two@example.org", STRONG)
        .await
        .expect_code("FORBIDDEN");
}
