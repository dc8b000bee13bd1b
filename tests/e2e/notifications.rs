//! In-app notifications through the API: who is told what, messages composed from what
//! the reader may see now, preferences (security notices cannot be muted), and read marks
//! that mark, never delete.

use crate::common;

use common::app::{Cred, STRONG, TestApp};
use common::records::{cast, content, pdf, person, records_view_settled, share, upload_ok};
use serde_json::{Value, json};

const LIST: &str = "query($u: Boolean) { notifications(unreadOnly: $u, first: 50) { unreadCount \
    edges { node { id kind message read recordId seq } } } }";

/// The caller's notifications once the views have caught up: `(kind, message)`, newest
/// first, and the unread count.
async fn notes(app: &TestApp, token: &str) -> (Vec<(String, String)>, i64, Vec<Value>) {
    records_view_settled(app).await;
    app.view_settled("notifications").await;
    let answer = app.gql(Cred::Bearer(token), LIST, json!({})).await;
    let list = &answer.ok()["notifications"];
    let nodes: Vec<Value> = list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    (
        nodes
            .iter()
            .map(|n| {
                (
                    n["kind"].as_str().unwrap().to_owned(),
                    n["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
        list["unreadCount"].as_i64().unwrap(),
        nodes,
    )
}

fn kinds(list: &[(String, String)]) -> Vec<&str> {
    list.iter().map(|(k, _)| k.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharing_reading_and_decisions_notify_the_right_people() {
    let app = TestApp::start().await;
    let c = cast(&app).await;

    // The administrator heard of the doctor waiting; the doctor of the approval.
    let (admin, _, _) = notes(&app, &c.admin.token).await;
    assert_eq!(kinds(&admin), ["USER_AWAITING_APPROVAL"]);
    assert_eq!(
        admin[0].1,
        "Dana Doc registered as a doctor and awaits approval"
    );
    let (doctor, _, _) = notes(&app, &c.doctor.token).await;
    assert_eq!(kinds(&doctor), ["ACCOUNT_APPROVED"]);

    // Shared: the doctor is told, with the title they may now read.
    let id = upload_ok(&app, &c.patient.token, "Blood test", pdf("x", 1_000)).await;
    let share_id = share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok()["shareRecord"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (doctor, unread, nodes) = notes(&app, &c.doctor.token).await;
    assert_eq!(kinds(&doctor), ["RECORD_SHARED", "ACCOUNT_APPROVED"]);
    assert_eq!(
        doctor[0].1,
        "Pat Lee shared \u{201c}Blood test\u{201d} with you"
    );
    assert_eq!(nodes[0]["recordId"], id.as_str());
    assert_eq!(unread, 2);

    // The doctor reads: the owner is told; the owner's own reads tell nobody.
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );
    assert_eq!(
        content(&app, Some(&c.patient.token), &id, false).await.0,
        200
    );
    let (patient, _, _) = notes(&app, &c.patient.token).await;
    assert_eq!(kinds(&patient), ["RECORD_ACCESSED"]);
    assert_eq!(patient[0].1, "Dana Doc read \u{201c}Blood test\u{201d}");

    // Revoked: the doctor is told, and the earlier message no longer shows the title.
    app.gql(
        Cred::Bearer(&c.patient.token),
        "mutation($s: UUID!) { revokeShare(shareId: $s) { id } }",
        json!({"s": share_id}),
    )
    .await
    .ok();
    let (doctor, _, _) = notes(&app, &c.doctor.token).await;
    assert_eq!(
        kinds(&doctor),
        ["SHARE_REVOKED", "RECORD_SHARED", "ACCOUNT_APPROVED"]
    );
    assert_eq!(doctor[0].1, "Pat Lee stopped sharing a record with you");
    assert!(!doctor[1].1.contains("Blood test"), "{}", doctor[1].1);

    // A password change is a security notice.
    app.gql(
        Cred::Bearer(&c.patient.token),
        "mutation($c: String!, $n: String!) { changePassword(current: $c, new: $n) }",
        json!({"c": STRONG, "n": common::app::STRONG_2}),
    )
    .await
    .ok();
    let (patient, _, _) = notes(&app, &c.patient.token).await;
    assert_eq!(kinds(&patient), ["PASSWORD_CHANGED", "RECORD_ACCESSED"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_mute_in_app_but_not_security_notices_and_read_marks_never_delete() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let set = "mutation($i: [NotificationPreferenceInput!]!) { setNotificationPreferences(input: $i) \
               { kind inApp email } }";

    // Defaults, as the contract writes them.
    let prefs = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "{ notificationPreferences { kind inApp email } }",
            json!({}),
        )
        .await;
    let all = prefs.ok()["notificationPreferences"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(all.len(), 20);
    assert!(all.iter().all(|p| p["inApp"] == true));
    let mailed: Vec<_> = all
        .iter()
        .filter(|p| p["email"] == true)
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        mailed,
        [
            "RECORD_SHARED",
            "ACCOUNT_APPROVED",
            "ACCOUNT_REJECTED",
            "PASSWORD_CHANGED",
            "USER_AWAITING_APPROVAL",
            "SECURITY_CHANGED",
            "RECORD_ADDED",
            "REFERRAL_REQUESTED",
            "EMERGENCY_ACCESS",
            "LINK_LOCKED",
            "PROXY_GRANTED",
        ]
    );

    // Security notices cannot be muted in-app; nothing changes.
    app.gql(
        Cred::Bearer(&c.patient.token),
        set,
        json!({"i": [{"kind": "RECORD_ACCESSED", "inApp": false, "email": false},
                     {"kind": "PASSWORD_CHANGED", "inApp": false, "email": false}]}),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    // SECURITY_CHANGED and EMERGENCY_ACCESS cannot be muted at all: not by mail either.
    for kind in ["SECURITY_CHANGED", "EMERGENCY_ACCESS"] {
        app.gql(
            Cred::Bearer(&c.patient.token),
            set,
            json!({"i": [{"kind": kind, "inApp": true, "email": false}]}),
        )
        .await
        .expect_code("BAD_USER_INPUT");
    }
    let muted = app
        .gql(
            Cred::Bearer(&c.patient.token),
            set,
            json!({"i": [{"kind": "RECORD_ACCESSED", "inApp": false, "email": false}]}),
        )
        .await;
    let after = muted.ok()["setNotificationPreferences"]
        .as_array()
        .unwrap()
        .clone();
    let accessed = after
        .iter()
        .find(|p| p["kind"] == "RECORD_ACCESSED")
        .unwrap();
    assert_eq!(
        (&accessed["inApp"], &accessed["email"]),
        (&json!(false), &json!(false))
    );

    // Muted: the doctor's read tells the patient nothing.
    let id = upload_ok(&app, &c.patient.token, "Scan", pdf("x", 1_000)).await;
    share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok();
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );
    let (patient, _, _) = notes(&app, &c.patient.token).await;
    assert!(kinds(&patient).is_empty(), "{patient:?}");

    // Read marks: by id, then all; marked, never deleted.
    let other = person(&app, &c.admin, "olga@example.org", "Olga Other", "DOCTOR").await;
    let _ = other;
    let (doctor, unread, nodes) = notes(&app, &c.doctor.token).await;
    assert_eq!(unread, 2);
    let first = nodes[0]["id"].as_str().unwrap().to_owned();
    let mark = "mutation($ids: [UUID!]) { markNotificationsRead(ids: $ids) }";
    let marked = app
        .gql(Cred::Bearer(&c.doctor.token), mark, json!({"ids": [first]}))
        .await;
    assert_eq!(marked.ok()["markNotificationsRead"], 1);
    let (_, unread, _) = notes(&app, &c.doctor.token).await;
    assert_eq!(unread, 1);
    let unread_only = app
        .gql(Cred::Bearer(&c.doctor.token), LIST, json!({"u": true}))
        .await;
    assert_eq!(
        unread_only.ok()["notifications"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let marked = app
        .gql(Cred::Bearer(&c.doctor.token), mark, json!({"ids": null}))
        .await;
    assert_eq!(marked.ok()["markNotificationsRead"], 1);
    let (still, unread, nodes) = notes(&app, &c.doctor.token).await;
    assert_eq!((still.len(), unread), (doctor.len(), 0));
    assert!(nodes.iter().all(|n| n["read"] == true));

    // A rebuild gives the same notifications, read marks included.
    projections::rebuild(
        &app.pool,
        &projections::notifications::NotificationsProjector,
    )
    .await
    .unwrap();
    let (rebuilt, unread, _) = notes(&app, &c.doctor.token).await;
    assert_eq!((rebuilt, unread), (still, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_hear_once_that_a_share_ends_within_a_day() {
    use commands::Clock as _;
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "X-ray", pdf("x", 1_000)).await;
    let expires = app.clock.now().plus_micros(30 * 3_600_000_000);
    share(
        &app,
        &c.patient.token,
        &id,
        &c.doctor.id,
        Some(&expires.to_string()),
    )
    .await
    .ok();
    // More than a day before: nothing yet.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(app.count_events("ShareExpiring").await, 0);

    app.clock.advance(std::time::Duration::from_secs(7 * 3600));
    common::app::eventually(
        std::time::Duration::from_secs(10),
        "ShareExpiring",
        || async { (app.count_events("ShareExpiring").await > 0).then_some(()) },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(app.count_events("ShareExpiring").await, 1);
    // Seven hours on, the sessions have ended: sign in again.
    let doctor_token = app.login("dana@example.org", STRONG).await;
    let patient_token = app.login("pat@example.org", STRONG).await;
    let (doctor, _, _) = notes(&app, &doctor_token).await;
    assert_eq!(doctor[0].0, "SHARE_EXPIRING");
    assert_eq!(
        doctor[0].1,
        "The share of \u{201c}X-ray\u{201d} with Pat Lee ends within 24 hours"
    );
    let (patient, _, _) = notes(&app, &patient_token).await;
    assert_eq!(patient[0].0, "SHARE_EXPIRING");
    assert_eq!(
        patient[0].1,
        "The share of \u{201c}X-ray\u{201d} with Dana Doc ends within 24 hours"
    );
}
