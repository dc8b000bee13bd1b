//! Notifications by e-mail: through a real SMTP server process (aiosmtpd) that refuses
//! the first attempt, each notification arrives once; a kind whose mail is turned off is
//! not mailed; mails carry no medical content.

use crate::common;

use common::app::{Cred, TestApp, eventually};
use common::records::{cast, pdf, share, upload_ok};
use common::smtp::SmtpSink;
use serde_json::json;
use std::time::Duration;

async fn outbox(app: &TestApp) -> Vec<(String, String, i32)> {
    sqlx::query_as("SELECT kind, status, attempts FROM mail_outbox ORDER BY seq")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_is_mailed_once_even_when_the_first_attempt_fails() {
    let sink = SmtpSink::refusing_first(1);
    let mut app = TestApp::start().await;
    app.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    app.restart().await;
    let _second = app.another_server().await;
    let c = cast(&app).await;

    // The doctor's registration is mailed to the admin (refused once, then delivered),
    // the approval to the doctor.
    let mails = eventually(Duration::from_secs(20), "two mails", || {
        let found = sink.mails();
        async move { (found.len() >= 2).then_some(found) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.mails().len(), 2, "each mailed once");
    assert!(
        mails
            .iter()
            .any(|m| m.contains("To: root@example.org") && m.contains("A doctor awaits approval"))
    );
    assert!(
        mails
            .iter()
            .any(|m| m.contains("To: dana@example.org") && m.contains("Your account was approved"))
    );
    let rows = outbox(&app).await;
    assert!(
        rows.iter().all(|(_, status, _)| status == "SENT"),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|(_, _, attempts)| *attempts == 2),
        "{rows:?}"
    );

    // The doctor turns RECORD_SHARED mail off (and in-app): no mail, no notification.
    app.gql(
        Cred::Bearer(&c.doctor.token),
        "mutation { setNotificationPreferences(input: [{kind: RECORD_SHARED, inApp: false, email: false}]) { kind } }",
        json!({}),
    )
    .await
    .ok();
    let first = upload_ok(&app, &c.patient.token, "Secret title", pdf("x", 1_000)).await;
    share(&app, &c.patient.token, &first, &c.doctor.id, None)
        .await
        .ok();
    // The patient, with defaults, shares again after the doctor turns mail back on.
    app.gql(
        Cred::Bearer(&c.doctor.token),
        "mutation { setNotificationPreferences(input: [{kind: RECORD_SHARED, inApp: true, email: true}]) { kind } }",
        json!({}),
    )
    .await
    .ok();
    let second = upload_ok(&app, &c.patient.token, "Another secret", pdf("y", 1_000)).await;
    share(&app, &c.patient.token, &second, &c.doctor.id, None)
        .await
        .ok();
    let mails = eventually(Duration::from_secs(20), "the share's mail", || {
        let found = sink.mails();
        async move { (found.len() >= 3).then_some(found) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.mails().len(), 3, "one share mailed, the muted one not");
    let shared: Vec<_> = mails
        .iter()
        .filter(|m| m.contains("A record was shared with you"))
        .collect();
    assert_eq!(shared.len(), 1);
    for mail in &mails {
        assert!(
            !mail.contains("secret") && !mail.contains("Secret"),
            "{mail}"
        );
        assert!(mail.contains("http://medchain.test/"), "{mail}");
    }
    let notes = app
        .gql(
            Cred::Bearer(&c.doctor.token),
            "{ notifications { edges { node { kind recordId } } } }",
            json!({}),
        )
        .await;
    let shared_in_app: Vec<_> = notes.ok()["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == "RECORD_SHARED")
        .map(|e| e["node"]["recordId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shared_in_app, [second]);
}
