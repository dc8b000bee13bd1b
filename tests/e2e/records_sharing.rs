//! Shares that end: revoked at once, expired at their time (the injected clock), each
//! refused from that moment with the attempt on the ledger, and `ShareExpired` recorded
//! exactly once even with two server processes sweeping.

use crate::common;

use commands::Clock as _;
use common::app::{Cred, TestApp, eventually};
use common::records::{access_log, cast, content, pdf, share, upload_ok};
use serde_json::json;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

async fn shared_with_me(app: &TestApp, token: &str) -> i64 {
    app.gql(
        Cred::Bearer(token),
        "{ sharedWithMe { totalCount } }",
        json!({}),
    )
    .await
    .ok()["sharedWithMe"]["totalCount"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_share_is_refused_at_once_and_the_attempt_recorded() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "X-ray", pdf("x", 1_000)).await;
    let share_id = share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok()["shareRecord"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );

    // Only the owner revokes.
    app.gql(
        Cred::Bearer(&c.doctor.token),
        "mutation($s: UUID!) { revokeShare(shareId: $s) { id } }",
        json!({"s": share_id}),
    )
    .await
    .expect_code("FORBIDDEN");
    let revoked = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "mutation($s: UUID!) { revokeShare(shareId: $s) { id active revokedAt } }",
            json!({"s": share_id}),
        )
        .await;
    assert_eq!(revoked.ok()["revokeShare"]["active"], false);
    assert!(revoked.ok()["revokeShare"]["revokedAt"].is_string());

    let (status, _, body) = content(&app, Some(&c.doctor.token), &id, false).await;
    assert_eq!(status, 403);
    let body: serde_json::Value = serde_json::from_slice(&body.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    assert_eq!(shared_with_me(&app, &c.doctor.token).await, 0);
    app.gql(
        Cred::Bearer(&c.doctor.token),
        "query($id: UUID!) { record(id: $id) { title } }",
        json!({"id": id}),
    )
    .await
    .expect_code("NOT_FOUND");
    let log = access_log(&app, &c.patient.token, &id).await;
    let actions: Vec<_> = log.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["DENIED", "REVOKED", "DOWNLOADED", "SHARED", "UPLOADED"]
    );

    // Shared again: a new grant, read again.
    share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok();
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_share_is_refused_from_its_time_and_recorded_once_by_two_processes() {
    let app = TestApp::start().await;
    let second = app.another_server().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "MRI", pdf("x", 1_000)).await;
    let expires = app.clock.now().plus_micros(10 * 60_000_000);
    share(
        &app,
        &c.patient.token,
        &id,
        &c.doctor.id,
        Some(&expires.to_string()),
    )
    .await
    .ok();
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );
    assert_eq!(shared_with_me(&app, &c.doctor.token).await, 1);

    app.clock.advance(10 * MINUTE);
    // Refused from the moment itself, whatever the sweepers have done yet.
    let (status, _, _) = content(&app, Some(&c.doctor.token), &id, false).await;
    assert_eq!(status, 403);
    assert_eq!(shared_with_me(&app, &c.doctor.token).await, 0);

    // Both processes sweep every 100 ms; exactly one records the expiry.
    eventually(Duration::from_secs(10), "ShareExpired", || async {
        (app.count_events("ShareExpired").await > 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.count_events("ShareExpired").await, 1);
    let expired_by: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT actor FROM events WHERE type = 'ShareExpired'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(expired_by, None, "MedChain itself expires a share");
    let log = access_log(&app, &c.patient.token, &id).await;
    let actions: Vec<_> = log.iter().map(|(a, _, _)| a.as_str()).collect();
    assert!(
        actions.starts_with(&["EXPIRED", "DENIED"]) || actions.starts_with(&["DENIED", "EXPIRED"]),
        "{actions:?}"
    );
    drop(second);
}

/// A small PNG.
fn png() -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3])))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn photo_status(app: &TestApp, token: &str, user: &str) -> u16 {
    app.http
        .get(app.url(&format!("/api/users/{user}/photo")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_who_share_a_record_see_each_others_photo_while_the_share_lives() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    for token in [&c.patient.token, &c.doctor.token] {
        let put = app
            .http
            .put(app.url("/api/me/photo"))
            .bearer_auth(token)
            .body(png())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status().as_u16(), 200);
    }
    // Not yet: nothing is shared.
    assert_eq!(
        photo_status(&app, &c.doctor.token, &c.patient.id).await,
        404
    );
    let id = upload_ok(&app, &c.patient.token, "Skin", pdf("x", 1_000)).await;
    let share_id = share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok()["shareRecord"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        photo_status(&app, &c.doctor.token, &c.patient.id).await,
        200
    );
    assert_eq!(
        photo_status(&app, &c.patient.token, &c.doctor.id).await,
        200
    );
    app.gql(
        Cred::Bearer(&c.patient.token),
        "mutation($s: UUID!) { revokeShare(shareId: $s) { id } }",
        json!({"s": share_id}),
    )
    .await
    .ok();
    assert_eq!(
        photo_status(&app, &c.doctor.token, &c.patient.id).await,
        404
    );
    assert_eq!(
        photo_status(&app, &c.patient.token, &c.doctor.id).await,
        404
    );
}
