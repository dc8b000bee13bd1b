//! Share links end to end (issue 25, the links half): a patient makes a link with a
//! passcode over records of their own; someone with no account opens it with the passcode
//! and downloads through the token it gives, which works only under that link and for 15
//! minutes; the fifth wrong passcode locks it; `maxOpens`, expiry (the injected clock) and
//! revocation hold at each use; the patient hears of each opening live, with where it
//! came from; every open and read is on the ledger, sealed where it names someone; and
//! replay says which links could read a record when.

use crate::common;

use commands::Clock as _;
use common::app::{Cred, Gql, TestApp};
use common::records::{access_log, cast, pdf, upload_ok};
use serde_json::{Value, json};
use std::time::Duration;

const CREATE: &str = "mutation($r: [UUID!]!, $e: DateTime!, $m: Int) { \
    createShareLink(recordIds: $r, expiresAt: $e, maxOpens: $m) { passcode qrSvg \
      link { id url opens maxOpens active expiresAt records { id title } } } }";

async fn create(app: &TestApp, token: &str, records: &[&str], hours: i64, max: Option<i32>) -> Gql {
    let expires = app
        .clock
        .now()
        .plus_micros(hours * 3_600_000_000)
        .to_string();
    app.gql(
        Cred::Bearer(token),
        CREATE,
        json!({"r": records, "e": expires, "m": max}),
    )
    .await
}

/// A link made: its id and passcode.
async fn made(
    app: &TestApp,
    token: &str,
    records: &[&str],
    hours: i64,
    max: Option<i32>,
) -> (String, String) {
    let answer = create(app, token, records, hours, max).await;
    let new = &answer.ok()["createShareLink"];
    (
        new["link"]["id"].as_str().unwrap().to_owned(),
        new["passcode"].as_str().unwrap().to_owned(),
    )
}

/// `POST /api/links/{id}/open`: status and body.
async fn open(app: &TestApp, link: &str, passcode: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(&format!("/api/links/{link}/open")))
        .json(&json!({"passcode": passcode}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// `GET /api/links/{id}/records/{record}/content` with the token: status and body.
async fn read(app: &TestApp, link: &str, record: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = app
        .http
        .get(app.url(&format!("/api/links/{link}/records/{record}/content")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

async fn links_that_could_read(
    app: &TestApp,
    admin: &str,
    record: &str,
    at: domain::Timestamp,
) -> Vec<String> {
    let answer = app
        .gql(
            Cred::Bearer(admin),
            "query($r: UUID!, $at: DateTime!) { linksThatCouldRead(recordId: $r, at: $at) }",
            json!({"r": record, "at": at.to_string()}),
        )
        .await;
    answer.ok()["linksThatCouldRead"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_without_an_account_opens_a_link_and_downloads_through_it() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let scan = pdf("knee scan", 3_000);
    let shared = upload_ok(&app, &c.patient.token, "Knee MRI", scan.clone()).await;
    let kept = upload_ok(&app, &c.patient.token, "Diary", pdf("diary", 1_000)).await;
    app.clock.advance(Duration::from_secs(1));
    let before = app.clock.now();
    app.clock.advance(Duration::from_secs(1));

    // Only a patient links, only their own records, for a while.
    create(&app, &c.doctor.token, &[&shared], 24, None)
        .await
        .expect_code("FORBIDDEN");
    create(&app, &c.patient.token, &[], 24, None)
        .await
        .expect_code("BAD_USER_INPUT");
    create(&app, &c.patient.token, &[&shared], 24 * 91, None)
        .await
        .expect_code("BAD_USER_INPUT");
    create(&app, &c.patient.token, &[&shared], 24, Some(0))
        .await
        .expect_code("BAD_USER_INPUT");
    let answer = create(&app, &c.patient.token, &[&shared], 24, Some(2)).await;
    let new = &answer.ok()["createShareLink"];
    let link = new["link"]["id"].as_str().unwrap().to_owned();
    let passcode = new["passcode"].as_str().unwrap().to_owned();
    assert!(
        new["link"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/l/{link}"))
    );
    assert!(!new["link"]["url"].as_str().unwrap().contains(&passcode));
    assert!(new["qrSvg"].as_str().unwrap().starts_with("<svg"));
    assert_eq!(new["link"]["records"][0]["title"], "Knee MRI");
    assert_eq!(passcode.len(), 11, "{passcode}");

    let mut live = common::ws::connect_and_init(app.addr, &c.patient.token).await;
    assert_eq!(
        common::ws::next(&mut live, 15).await.unwrap()["type"],
        "connection_ack"
    );
    common::ws::send(
        &mut live,
        json!({"id": "1", "type": "subscribe", "payload": {
            "query": "subscription { notifications { kind message } }"}}),
    )
    .await;
    app.clock.advance(Duration::from_secs(1));

    // A wrong passcode is refused; the right one, however typed, opens.
    let (status, body) = open(&app, &link, "AAAAA-AAAAA").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    let typed = passcode.to_lowercase().replace('-', " ");
    let (status, opened) = open(&app, &link, &typed).await;
    assert_eq!(status, 200, "{opened}");
    let token = opened["token"].as_str().unwrap().to_owned();
    assert_eq!(opened["records"][0]["title"], "Knee MRI");
    assert_eq!(opened["records"].as_array().unwrap().len(), 1);

    // The patient hears at once, with where it came from.
    let message = common::ws::next(&mut live, 10)
        .await
        .expect("a notice within 10 s");
    let notice = &message["payload"]["data"]["notifications"];
    assert_eq!(notice["kind"], "LINK_OPENED", "{message}");
    assert!(
        notice["message"].as_str().unwrap().contains("127.0.0.1"),
        "{notice}"
    );

    // The token reads the link's records, only under this link, only with the token.
    let (status, bytes) = read(&app, &link, &shared, Some(&token)).await;
    assert_eq!((status, bytes), (200, scan));
    assert_eq!(read(&app, &link, &shared, None).await.0, 401);
    assert_eq!(read(&app, &link, &kept, Some(&token)).await.0, 404);
    let other = uuid::Uuid::now_v7().to_string();
    assert_eq!(read(&app, &other, &shared, Some(&token)).await.0, 401);
    // A session token is not a link token.
    assert_eq!(
        read(&app, &link, &shared, Some(&c.patient.token)).await.0,
        401
    );

    // On the record's log: the opening and the download, by no account; a disclosure.
    let log = access_log(&app, &c.patient.token, &shared).await;
    assert_eq!(log[0].0, "DOWNLOADED");
    assert_eq!(log[0].1, None);
    assert_eq!(log[1].0, "LINK_OPENED");
    let disclosed = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "{ disclosures { edges { node { action detail actor { id } } } } }",
            json!({}),
        )
        .await;
    let first = &disclosed.ok()["disclosures"]["edges"][0]["node"];
    assert_eq!(first["actor"], Value::Null);
    assert_eq!(first["detail"], format!("through link {link}"));

    // maxOpens 2: one more opens, then none.
    assert_eq!(open(&app, &link, &passcode).await.0, 200);
    let (status, body) = open(&app, &link, &passcode).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("NOT_FOUND"))
    );
    // The tokens handed out still read until their 15 minutes end.
    assert_eq!(read(&app, &link, &shared, Some(&token)).await.0, 200);
    app.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(read(&app, &link, &shared, Some(&token)).await.0, 401);
    let during = app.clock.now();

    // Replay: the link could read the record once made, and while its grant lasted.
    app.view_settled("records").await;
    assert!(
        links_that_could_read(&app, &c.admin.token, &shared, before)
            .await
            .is_empty()
    );
    assert!(
        links_that_could_read(&app, &c.admin.token, &kept, during)
            .await
            .is_empty()
    );
    assert_eq!(
        links_that_could_read(
            &app,
            &c.admin.token,
            &shared,
            during.plus_micros(-60_000_000 * 10)
        )
        .await,
        vec![link.clone()]
    );

    // The CLI's replay says the same beside the users.
    let dir = tempfile::tempdir().unwrap();
    let then = during.plus_micros(-60_000_000 * 10).to_string();
    let (code, out, err) = common::cli::medchain(
        &app,
        dir.path(),
        &[
            "replay",
            "--at",
            &then,
            "who-could-read",
            "--record",
            &shared,
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["links"], json!([link]));
    assert_eq!(answer["users"][0]["id"], c.patient.id.as_str());

    // Nothing that names someone is in clear on the ledger: not the address, not the
    // passcode's hash.
    let clear: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload::text LIKE '%127.0.0.1%' OR payload::text LIKE '%argon2%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(clear, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passcodes_lock_a_link_and_revocation_and_expiry_end_live_tokens() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let record = upload_ok(&app, &c.patient.token, "Scan", pdf("s", 1_000)).await;

    // Five wrong ones lock it for good, the right one included; the patient is told.
    let (locked, passcode) = made(&app, &c.patient.token, &[&record], 24, None).await;
    for n in 1..=5 {
        let (status, _) = open(&app, &locked, "ZZZZZ-ZZZZZ").await;
        assert_eq!(status, if n < 5 { 403 } else { 429 }, "attempt {n}");
    }
    let (status, body) = open(&app, &locked, &passcode).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("RATE_LIMITED"))
    );
    app.view_settled("notifications").await;
    let kinds = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "{ notifications(first: 20) { edges { node { kind } } } }",
            json!({}),
        )
        .await;
    assert!(
        kinds.ok()["notifications"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["kind"] == "LINK_LOCKED")
    );
    assert_eq!(app.count_events("ShareLinkPasscodeRefused").await, 5);

    // Revoked: a live token reads no more, and the link opens no more.
    let (revoked, passcode) = made(&app, &c.patient.token, &[&record], 24, None).await;
    let token = open(&app, &revoked, &passcode).await.1["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        Cred::Bearer(&c.doctor.token),
        "mutation($id: UUID!) { revokeShareLink(id: $id) { id } }",
        json!({"id": revoked}),
    )
    .await
    .expect_code("NOT_FOUND");
    let answer = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "mutation($id: UUID!) { revokeShareLink(id: $id) { active revokedAt } }",
            json!({"id": revoked}),
        )
        .await;
    assert_eq!(answer.ok()["revokeShareLink"]["active"], false);
    assert_eq!(read(&app, &revoked, &record, Some(&token)).await.0, 410);
    assert_eq!(open(&app, &revoked, &passcode).await.0, 410);

    // Expired: from its time on, the same, even for a token opened just before.
    let (expiring, passcode) = made(&app, &c.patient.token, &[&record], 1, None).await;
    app.clock.advance(Duration::from_secs(50 * 60));
    let token = open(&app, &expiring, &passcode).await.1["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(read(&app, &expiring, &record, Some(&token)).await.0, 200);
    app.clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(read(&app, &expiring, &record, Some(&token)).await.0, 410);
    assert_eq!(open(&app, &expiring, &passcode).await.0, 410);

    // The patient's list says how each stands (signed in again: an hour went by).
    let patient = app.login("pat@example.org", common::app::STRONG).await;
    let listed = app
        .gql(
            Cred::Bearer(&patient),
            "{ shareLinks { id active opens } }",
            json!({}),
        )
        .await;
    let links = listed.ok()["shareLinks"].as_array().unwrap().clone();
    assert_eq!(links.len(), 3);
    assert!(links.iter().all(|l| l["active"] == false));
    // An unknown link is not found; a malformed id is bad input.
    assert_eq!(
        open(&app, &uuid::Uuid::now_v7().to_string(), &passcode)
            .await
            .0,
        404
    );
    assert_eq!(open(&app, "not-a-link", &passcode).await.0, 400);
}
