//! Legal holds (API.graphql's erasure block), end to end: a hold keeps a record, or a
//! person with their records, from being erased (FORBIDDEN, reason LEGAL_HOLD) until
//! another administrator lifts it; the person sees that one stands, never why.

use crate::common::{
    app::{Cred, TestApp},
    records::{cast, pdf, share, upload_ok},
};
use serde_json::json;

const PLACE: &str = "mutation($s: String!, $r: String!) { placeLegalHold(subject: $s, reason: $r) { \
    id subject placedBy { id } placedAt liftedAt active } }";
const LIFT: &str = "mutation($id: UUID!) { liftLegalHold(id: $id) { id liftedAt active } }";
const ERASE_RECORD: &str =
    "mutation($id: UUID!) { eraseRecord(recordId: $id, reason: \"no longer needed\") { status } }";
const ERASE_USER: &str =
    "mutation($id: UUID!) { eraseUser(userId: $id, reason: \"asked\") { status } }";
const HELD: &str = "query($id: UUID!) { record(id: $id) { legalHold status } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_stops_erasure_until_another_administrator_lifts_it() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let (other_admin, other_token) = app.create_admin("second@example.org", "Bea Admin").await;
    let record = upload_ok(&app, &c.patient.token, "Biopsy", pdf("B", 2048)).await;
    share(&app, &c.patient.token, &record, &c.doctor.id, None)
        .await
        .ok();

    // Bad asks change nothing.
    let before = app.count_all_events().await;
    for (cred, subject, reason, code) in [
        (
            &c.patient.token,
            format!("record-{record}"),
            "x",
            "FORBIDDEN",
        ),
        (
            &c.admin.token,
            "record-nope".to_owned(),
            "x",
            "BAD_USER_INPUT",
        ),
        (
            &c.admin.token,
            format!("record-{}", uuid::Uuid::new_v4()),
            "x",
            "NOT_FOUND",
        ),
        (
            &c.admin.token,
            format!("record-{record}"),
            " ",
            "BAD_USER_INPUT",
        ),
    ] {
        app.gql(
            Cred::Bearer(cred),
            PLACE,
            json!({"s": subject, "r": reason}),
        )
        .await
        .expect_code(code);
    }
    assert_eq!(app.count_all_events().await, before);

    let placed = app
        .gql(
            Cred::Bearer(&c.admin.token),
            PLACE,
            json!({"s": format!("record-{record}"), "r": "MARKER-HOLD litigation 2026-114"}),
        )
        .await;
    let hold = placed.ok()["placeLegalHold"].clone();
    assert_eq!(hold["active"], true);
    assert_eq!(hold["placedBy"]["id"], c.admin.id.as_str());

    // The owner sees that it stands; the doctor it is shared with sees nothing of it.
    let mine = app
        .gql(Cred::Bearer(&c.patient.token), HELD, json!({"id": record}))
        .await;
    assert_eq!(mine.ok()["record"]["legalHold"], true);
    let theirs = app
        .gql(Cred::Bearer(&c.doctor.token), HELD, json!({"id": record}))
        .await;
    assert_eq!(theirs.ok()["record"]["legalHold"], serde_json::Value::Null);

    let refused = app
        .gql(
            Cred::Bearer(&c.patient.token),
            ERASE_RECORD,
            json!({"id": record}),
        )
        .await;
    refused.expect_code("FORBIDDEN");
    assert_eq!(refused.errors()[0]["extensions"]["reason"], "LEGAL_HOLD");
    let refused = app
        .gql(
            Cred::Bearer(&c.admin.token),
            ERASE_USER,
            json!({"id": c.patient.id}),
        )
        .await;
    assert_eq!(
        refused.errors()[0]["extensions"]["reason"],
        "LEGAL_HOLD",
        "the person's record is held"
    );

    // The one who placed it may not lift it; another administrator may, once.
    let id = hold["id"].as_str().unwrap();
    app.gql(Cred::Bearer(&c.admin.token), LIFT, json!({"id": id}))
        .await
        .expect_code("FORBIDDEN");
    let lifted = app
        .gql(Cred::Bearer(&other_token), LIFT, json!({"id": id}))
        .await;
    assert_eq!(lifted.ok()["liftLegalHold"]["active"], false);
    app.gql(Cred::Bearer(&other_token), LIFT, json!({"id": id}))
        .await
        .expect_code("CONFLICT");
    let standing = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "{ legalHolds(active: true) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(standing.ok()["legalHolds"], json!([]));
    let all = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "{ legalHolds { id subject liftedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(
        all.ok()["legalHolds"][0]["subject"],
        format!("record-{record}")
    );
    assert!(other_admin != c.admin.id);

    let erased = app
        .gql(
            Cred::Bearer(&c.patient.token),
            ERASE_RECORD,
            json!({"id": record}),
        )
        .await;
    assert_eq!(erased.ok()["eraseRecord"]["status"], "ERASED");

    // The reason is nowhere in clear.
    let clear: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE payload::text LIKE '%MARKER%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(clear, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_on_a_person_keeps_them_and_each_of_their_records() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let record = upload_ok(&app, &c.patient.token, "Scan", pdf("S", 2048)).await;
    app.gql(
        Cred::Bearer(&c.admin.token),
        PLACE,
        json!({"s": format!("user-{}", c.patient.id), "r": "retention: minor until 2030"}),
    )
    .await
    .ok();
    let mine = app
        .gql(Cred::Bearer(&c.patient.token), HELD, json!({"id": record}))
        .await;
    assert_eq!(mine.ok()["record"]["legalHold"], true);
    for (token, query, id) in [
        (&c.patient.token, ERASE_RECORD, &record),
        (&c.admin.token, ERASE_USER, &c.patient.id),
    ] {
        let refused = app.gql(Cred::Bearer(token), query, json!({"id": id})).await;
        assert_eq!(
            refused.errors()[0]["extensions"]["reason"],
            "LEGAL_HOLD",
            "{refused:?}"
        );
    }
    let me = app.me(Cred::Bearer(&c.patient.token)).await;
    assert_eq!(me.ok()["me"]["status"], "ACTIVE");
}
