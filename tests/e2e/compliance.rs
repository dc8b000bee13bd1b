//! Compliance questions answered from the ledger: who could read a record at six moments
//! of a scripted history (GraphQL and `medchain replay`, the same before and after a
//! rebuild), the accounting of disclosures (GraphQL and the signed `medchain report`),
//! and `medchain projections check` naming a view changed by hand.

use crate::common;

use common::cli::medchain;

use common::app::{Cred, TestApp, eventually};
use common::records::{Cast, cast, content, pdf, person, records_view_settled, share, upload_ok};
use domain::Timestamp;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde_json::{Value, json};
use std::time::Duration;

fn now(app: &TestApp) -> Timestamp {
    commands::Clock::now(&app.clock)
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

/// The ids `whoCouldRead` gives, sorted.
pub(crate) async fn who_could_read(
    app: &TestApp,
    c: &Cast,
    record: &str,
    at: Timestamp,
) -> Vec<String> {
    let answer = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "query($r: UUID!, $at: DateTime!) { whoCouldRead(recordId: $r, at: $at) { id role } }",
            json!({"r": record, "at": at.to_string()}),
        )
        .await;
    let mut ids: Vec<String> = answer.ok()["whoCouldRead"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

pub(crate) fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

async fn seq_of_last(app: &TestApp, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT max(seq) FROM events WHERE type = $1")
        .bind(event_type)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_could_read_follows_a_scripted_history_through_graphql_and_the_cli() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let other = person(&app, &c.admin, "olga@example.org", "Olga Other", "DOCTOR").await;
    let (p, d) = (c.patient.id.as_str(), c.doctor.id.as_str());

    app.clock.advance(minutes(1));
    let before_upload = now(&app);
    app.clock.advance(minutes(1));
    let id = upload_ok(&app, &c.patient.token, "Knee MRI", pdf("k", 2_000)).await;
    app.clock.advance(minutes(1));
    let after_upload = now(&app);
    app.clock.advance(minutes(1));
    let first = share(&app, &c.patient.token, &id, d, None).await;
    let first_share = first.ok()["shareRecord"]["id"].as_str().unwrap().to_owned();
    let shared_seq = seq_of_last(&app, "RecordShared").await;
    app.clock.advance(minutes(1));
    let after_share = now(&app);
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );
    app.clock.advance(minutes(1));
    app.gql(
        Cred::Bearer(&c.patient.token),
        "mutation($s: UUID!) { revokeShare(shareId: $s) { id } }",
        json!({"s": first_share}),
    )
    .await
    .ok();
    app.clock.advance(minutes(1));
    let after_revoke = now(&app);
    app.clock.advance(minutes(1));
    let expires = now(&app).plus_micros(10 * 60_000_000);
    share(&app, &c.patient.token, &id, d, Some(&expires.to_string()))
        .await
        .ok();
    app.clock.advance(minutes(1));
    let after_second_share = now(&app);
    app.clock.advance(minutes(11));
    let after_expiry = now(&app);
    eventually(Duration::from_secs(15), "ShareExpired recorded", || async {
        (app.count_events("ShareExpired").await == 1).then_some(())
    })
    .await;

    let expected = [
        (before_upload, vec![]),
        (after_upload, sorted(&[p])),
        (after_share, sorted(&[p, d])),
        (after_revoke, sorted(&[p])),
        (after_second_share, sorted(&[p, d])),
        (after_expiry, sorted(&[p])),
    ];
    for (at, readers) in &expected {
        assert_eq!(
            &who_could_read(&app, &c, &id, *at).await,
            readers,
            "at {at}"
        );
    }
    assert!(
        !who_could_read(&app, &c, &id, after_share)
            .await
            .contains(&other.id)
    );

    // The command line gives the same answers, at a time or at a seq.
    let dir = tempfile::tempdir().unwrap();
    for (at, readers) in &expected {
        let (code, out, err) = medchain(
            &app,
            dir.path(),
            &[
                "replay",
                "--at",
                &at.to_string(),
                "who-could-read",
                "--record",
                &id,
            ],
        )
        .await;
        assert_eq!(code, 0, "{err}");
        let answer: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(answer["record"], id.as_str());
        assert_eq!(answer["at"], at.to_string());
        let mut ids: Vec<String> = answer["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        assert_eq!(&ids, readers, "at {at}: {out}");
    }
    let (code, out, err) = medchain(
        &app,
        dir.path(),
        &[
            "replay",
            "--at",
            &shared_seq.to_string(),
            "who-could-read",
            "--record",
            &id,
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["seq"], shared_seq);
    let roles: Vec<(String, String)> = answer["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        roles.contains(&(p.to_owned(), "PATIENT".to_owned())),
        "{out}"
    );
    assert!(
        roles.contains(&(d.to_owned(), "DOCTOR".to_owned())),
        "{out}"
    );
    assert_eq!(roles.len(), 2, "{out}");
    let (code, _, err) = medchain(
        &app,
        dir.path(),
        &[
            "replay",
            "--at",
            "999999",
            "who-could-read",
            "--record",
            &id,
        ],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("the ledger ends at seq"), "{err}");

    // Today's tables rebuilt from scratch: the answers do not move.
    let (code, _, err) = medchain(&app, dir.path(), &["projections", "rebuild"]).await;
    assert_eq!(code, 0, "{err}");
    for (at, readers) in &expected {
        assert_eq!(
            &who_could_read(&app, &c, &id, *at).await,
            readers,
            "after rebuild, at {at}"
        );
    }

    let unknown = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "query($r: UUID!, $at: DateTime!) { whoCouldRead(recordId: $r, at: $at) { id } }",
            json!({"r": uuid::Uuid::new_v4(), "at": after_expiry.to_string()}),
        )
        .await;
    unknown.expect_code("NOT_FOUND");
}

async fn disclosures(app: &TestApp, token: &str, vars: Value) -> common::app::Gql {
    app.gql(
        Cred::Bearer(token),
        "query($p: UUID, $from: DateTime, $to: DateTime, $first: Int, $after: String) { \
           disclosures(patientId: $p, from: $from, to: $to, first: $first, after: $after) { \
             edges { cursor node { seq at action actor { id } recordId } } \
             pageInfo { hasNextPage endCursor } } }",
        vars,
    )
    .await
}

/// `(seq, action, actor, record)` of each disclosure.
fn rows(answer: &common::app::Gql) -> Vec<(i64, String, String, String)> {
    answer.ok()["disclosures"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["seq"].as_i64().unwrap(),
                n["action"].as_str().unwrap().to_owned(),
                n["actor"]["id"].as_str().unwrap_or_default().to_owned(),
                n["recordId"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disclosures_are_the_reads_by_others_and_the_signed_report_says_the_same() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let stranger = person(&app, &c.admin, "sam@example.org", "Sam Stranger", "DOCTOR").await;
    let other_patient = person(&app, &c.admin, "pia@example.org", "Pia Patient", "PATIENT").await;
    let a = upload_ok(&app, &c.patient.token, "Scan A", pdf("a", 1_000)).await;
    let b = upload_ok(&app, &c.patient.token, "Scan B", pdf("b", 1_000)).await;
    let theirs = upload_ok(&app, &other_patient.token, "Not hers", pdf("n", 1_000)).await;
    share(&app, &c.patient.token, &a, &c.doctor.id, None)
        .await
        .ok();
    share(&app, &c.patient.token, &b, &c.doctor.id, None)
        .await
        .ok();
    share(&app, &other_patient.token, &theirs, &c.doctor.id, None)
        .await
        .ok();

    // The owner's own reads are no disclosure; refused attempts are none either.
    assert_eq!(
        content(&app, Some(&c.patient.token), &a, false).await.0,
        200
    );
    app.clock.advance(minutes(1));
    assert_eq!(content(&app, Some(&c.doctor.token), &a, false).await.0, 200);
    app.clock.advance(minutes(1));
    let between = now(&app);
    app.clock.advance(minutes(1));
    assert_eq!(content(&app, Some(&c.doctor.token), &b, true).await.0, 200);
    assert_eq!(content(&app, Some(&stranger.token), &a, false).await.0, 404);
    assert_eq!(content(&app, Some(&c.admin.token), &a, false).await.0, 403);
    assert_eq!(
        content(&app, Some(&c.doctor.token), &theirs, false).await.0,
        200
    );
    records_view_settled(&app).await;

    let mine = disclosures(&app, &c.patient.token, json!({})).await;
    let found = rows(&mine);
    assert_eq!(
        found
            .iter()
            .map(|r| (r.1.as_str(), r.2.as_str(), r.3.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("DOWNLOADED", c.doctor.id.as_str(), a.as_str()),
            ("VIEWED", c.doctor.id.as_str(), b.as_str()),
        ]
    );
    let by_admin = disclosures(&app, &c.admin.token, json!({"p": c.patient.id})).await;
    assert_eq!(rows(&by_admin), found);
    let own_id = disclosures(&app, &c.patient.token, json!({"p": c.patient.id})).await;
    assert_eq!(rows(&own_id), found);

    // A window, and pages.
    let later = disclosures(&app, &c.patient.token, json!({"from": between.to_string()})).await;
    assert_eq!(rows(&later), found[1..].to_vec());
    let earlier = disclosures(&app, &c.patient.token, json!({"to": between.to_string()})).await;
    assert_eq!(rows(&earlier), found[..1].to_vec());
    let page = disclosures(&app, &c.patient.token, json!({"first": 1})).await;
    assert_eq!(rows(&page), found[..1].to_vec());
    let cursor = page.ok()["disclosures"]["pageInfo"]["endCursor"].clone();
    let next = disclosures(&app, &c.patient.token, json!({"first": 1, "after": cursor})).await;
    assert_eq!(rows(&next), found[1..].to_vec());

    // Who may ask.
    disclosures(&app, &c.doctor.token, json!({}))
        .await
        .expect_code("FORBIDDEN");
    disclosures(&app, &c.patient.token, json!({"p": other_patient.id}))
        .await
        .expect_code("FORBIDDEN");
    disclosures(&app, &c.admin.token, json!({}))
        .await
        .expect_code("BAD_USER_INPUT");
    disclosures(&app, &c.admin.token, json!({"p": c.doctor.id}))
        .await
        .expect_code("NOT_FOUND");
    disclosures(
        &app,
        &c.patient.token,
        json!({"from": between.to_string(), "to": "2000-01-01T00:00:00Z"}),
    )
    .await
    .expect_code("BAD_USER_INPUT");

    // The signed report, from the ledger itself: the same reads, bound to the head.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("disclosures.json");
    let (code, printed, err) = medchain(
        &app,
        dir.path(),
        &[
            "report",
            "disclosures",
            "--patient",
            &c.patient.id,
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(printed.trim(), out.to_str().unwrap());
    let text = std::fs::read_to_string(&out).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let reported: Vec<(i64, String, String, String)> = doc["report"]["disclosures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["seq"].as_i64().unwrap(),
                d["action"].as_str().unwrap().to_owned(),
                d["actor"].as_str().unwrap().to_owned(),
                d["record"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(reported, found);
    assert_eq!(doc["head"]["seq"], app.count_all_events().await);

    // Anyone with the public key can check it offline: sig over JCS({"report","head"}).
    let (_, pubkey, _) = medchain(&app, dir.path(), &["ledger", "pubkey"]).await;
    assert_eq!(doc["key"], pubkey.trim());
    let body =
        serde_json_canonicalizer::to_vec(&json!({"report": doc["report"], "head": doc["head"]}))
            .unwrap();
    let key_bytes: [u8; 32] = hex::decode(doc["key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let sig: [u8; 64] = hex::decode(doc["sig"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    VerifyingKey::from_bytes(&key_bytes)
        .unwrap()
        .verify(&body, &Signature::from_bytes(&sig))
        .expect("the signature verifies");
    let (code, said, _) = medchain(
        &app,
        dir.path(),
        &["report", "verify", out.to_str().unwrap()],
    )
    .await;
    assert_eq!((code, said.starts_with("OK")), (0, true), "{said}");

    // One action changed: the signature no longer holds.
    std::fs::write(&out, text.replacen("VIEWED", "DOWNLOADED", 1)).unwrap();
    let (code, said, _) = medchain(
        &app,
        dir.path(),
        &["report", "verify", out.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 1, "{said}");
    assert!(said.starts_with("FAILED"), "{said}");

    // A window on the command line too.
    let (code, _, err) = medchain(
        &app,
        dir.path(),
        &[
            "report",
            "disclosures",
            "--patient",
            &c.patient.id,
            "--from",
            &between.to_string(),
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["report"]["disclosures"].as_array().unwrap().len(), 1);
    assert_eq!(doc["report"]["from"], between.to_string());
}

/// A check never holds a live view still: with every projector's lock held elsewhere
/// (as a writer in the middle of its batch holds it), every check still completes, and
/// agrees. (It compares inside one snapshot instead of taking the lock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_check_runs_beside_the_live_views_without_holding_them() {
    use sqlx::Connection as _;
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "Scan", pdf("s", 1_000)).await;
    share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok();
    records_view_settled(&app).await;
    app.view_settled("notifications").await;
    let mut holder = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    for projector in projections::all() {
        sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
            .bind(projections::LOCK_CLASS)
            .bind(projector.name())
            .execute(&mut holder)
            .await
            .unwrap();
    }
    let all = projections::all();
    let checks = all
        .iter()
        .map(|projector| projections::check(&app.pool, projector.as_ref()));
    let checked = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(checks))
        .await
        .expect("a check waited for a projector's lock");
    for check in checked {
        let check = check.unwrap();
        assert!(check.same(), "{check:?}");
    }
    holder.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_check_names_a_row_changed_by_hand() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "Scan", pdf("s", 1_000)).await;
    share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok();
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );
    records_view_settled(&app).await;
    app.view_settled("notifications").await;
    let dir = tempfile::tempdir().unwrap();

    let (code, out, err) = medchain(&app, dir.path(), &["projections", "check"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let checked: Value = serde_json::from_str(&out).unwrap();
    for projector in checked.as_array().unwrap() {
        assert_eq!(projector["same"], true, "{projector}");
        assert!(!projector["tables"].as_array().unwrap().is_empty());
    }

    sqlx::query("UPDATE records SET size = size + 1 WHERE id = $1::uuid")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (code, out, err) = medchain(&app, dir.path(), &["projections", "check"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("records: table records differs"), "{err}");
    let checked: Value = serde_json::from_str(&out).unwrap();
    let records = checked
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "records")
        .unwrap();
    assert_eq!(records["same"], false);
    let table = records["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "records")
        .unwrap();
    assert_eq!(
        (table["onlyLive"].clone(), table["onlyReplayed"].clone()),
        (json!(1), json!(1))
    );
    let others_same = checked
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] != "records")
        .all(|p| p["same"] == true);
    assert!(others_same, "{out}");
}
