//! Administration: the dashboard's figures, browsing the ledger, verifying it against
//! signed checkpoints (manual and automatic) kept outside the database, the live tail
//! across server processes, and who may ask for any of it.

use crate::common;

use common::app::{Cred, TestApp, eventually};
use common::records::{cast, content, pdf, person, records_view_settled, share, upload_ok};
use common::tamper::{rewrite_chain_from, tamper};
use common::ws::{Socket, connect_and_init, send};
use futures::StreamExt as _;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const STATS: &str = "{ stats { users { patients doctors admins pending } records storedBytes \
    activeShares events checkpoints ledgerHead { seq hash at } } }";

async fn head_seq(app: &TestApp) -> i64 {
    app.count_all_events().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_what_the_views_hold() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    // One more doctor, left waiting.
    app.register(
        "wait@example.org",
        "Wade Waiting",
        "DOCTOR",
        common::app::STRONG,
    )
    .await;
    let a = upload_ok(&app, &c.patient.token, "Scan A", pdf("a", 3_000)).await;
    let b = upload_ok(&app, &c.patient.token, "Scan B", pdf("b", 5_000)).await;
    share(&app, &c.patient.token, &a, &c.doctor.id, None)
        .await
        .ok();
    let gone = upload_ok(&app, &c.patient.token, "Mistake", pdf("m", 2_000)).await;
    app.gql(
        Cred::Bearer(&c.patient.token),
        "mutation($id: UUID!) { eraseRecord(recordId: $id, reason: \"uploaded by mistake\") { id } }",
        json!({"id": gone}),
    )
    .await
    .ok();
    records_view_settled(&app).await;
    app.view_settled("users").await;

    let stats = app
        .gql(Cred::Bearer(&c.admin.token), STATS, json!({}))
        .await;
    let s = &stats.ok()["stats"];
    assert_eq!(
        s["users"],
        json!({"patients": 1, "doctors": 1, "admins": 1, "pending": 1})
    );
    assert_eq!(s["records"], 2);
    assert_eq!(s["activeShares"], 1);
    let stored: i64 =
        sqlx::query_scalar("SELECT sum(stored_size)::bigint FROM records WHERE id::text = ANY($1)")
            .bind(vec![a.clone(), b.clone()])
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        stored > 8_000,
        "ciphertext is at least the plaintext: {stored}"
    );
    assert_eq!(s["storedBytes"], stored);
    let head = head_seq(&app).await;
    assert_eq!(s["events"], head);
    assert_eq!(s["ledgerHead"]["seq"], head);
    assert_eq!(s["checkpoints"], 0);

    let signed = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "mutation { checkpointLedger { seq hash } }",
            json!({}),
        )
        .await;
    assert_eq!(signed.ok()["checkpointLedger"]["seq"], head);
    let stats = app
        .gql(Cred::Bearer(&c.admin.token), STATS, json!({}))
        .await;
    assert_eq!(stats.ok()["stats"]["checkpoints"], 1);
    assert_eq!(
        stats.ok()["stats"]["ledgerHead"]["hash"],
        signed.ok()["checkpointLedger"]["hash"]
    );
}

async fn ledger_page(
    app: &TestApp,
    token: &str,
    args: Value,
) -> (Vec<(i64, String, String)>, Value) {
    let answer = app
        .gql(
            Cred::Bearer(token),
            "query($from: Long, $type: String, $stream: String, $first: Int, $after: String) { \
               ledger(fromSeq: $from, type: $type, stream: $stream, first: $first, after: $after) { \
                 edges { cursor node { seq id stream version type actor at payload prevHash hash } } \
                 pageInfo { hasNextPage endCursor } } }",
            args,
        )
        .await;
    let ledger = answer.ok()["ledger"].clone();
    let rows = ledger["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["seq"].as_i64().unwrap(),
                n["type"].as_str().unwrap().to_owned(),
                n["stream"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (rows, ledger["pageInfo"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_pages_by_cursor_and_filters_by_type_stream_and_seq() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "Scan", pdf("s", 1_000)).await;
    for _ in 0..3 {
        assert_eq!(
            content(&app, Some(&c.patient.token), &id, false).await.0,
            200
        );
    }
    let head = head_seq(&app).await;

    // Every event, in pages of 4, none missed, none twice.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (rows, page) =
            ledger_page(&app, &c.admin.token, json!({"first": 4, "after": after})).await;
        seen.extend(rows.iter().map(|r| r.0));
        if !page["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, (1..=head).collect::<Vec<_>>());

    let (reads, _) = ledger_page(
        &app,
        &c.admin.token,
        json!({"type": "RecordAccessed", "first": 100}),
    )
    .await;
    assert_eq!(reads.len(), 3);
    assert!(reads.iter().all(|r| r.1 == "RecordAccessed"));

    let stream = format!("record-{id}");
    let (of_record, _) = ledger_page(
        &app,
        &c.admin.token,
        json!({"stream": stream, "first": 100}),
    )
    .await;
    assert_eq!(of_record.len(), 4, "uploaded and three reads");
    assert!(of_record.iter().all(|r| r.2 == stream));
    assert_eq!(of_record[0].1, "RecordUploaded");

    let (late, _) = ledger_page(
        &app,
        &c.admin.token,
        json!({"from": head - 1, "first": 100}),
    )
    .await;
    assert_eq!(
        late.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![head - 1, head]
    );

    // Sealed fields are ciphertext here, as on the ledger.
    let uploaded = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "query($s: String) { ledger(stream: $s, first: 1) { edges { node { payload } } } }",
            json!({"s": stream}),
        )
        .await;
    let payload = uploaded.ok()["ledger"]["edges"][0]["node"]["payload"].to_string();
    assert!(!payload.contains("Scan"), "{payload}");

    let bad = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "{ ledger(after: \"junk\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    bad.expect_code("BAD_USER_INPUT");
}

async fn verify(app: &TestApp, token: &str) -> Value {
    app.gql(
        Cred::Bearer(token),
        "{ verifyLedger { ok checkedEvents head { seq hash } firstBadSeq message checkpointSeq } }",
        json!({}),
    )
    .await
    .ok()["verifyLedger"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_holds_the_chain_to_the_newest_checkpoint() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let v = verify(&app, &c.admin.token).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["checkpointSeq"], Value::Null);
    assert_eq!(v["checkedEvents"], head_seq(&app).await);

    let id = upload_ok(&app, &c.patient.token, "Scan", pdf("s", 1_000)).await;
    let signed = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "mutation { checkpointLedger { seq } }",
            json!({}),
        )
        .await;
    let k = signed.ok()["checkpointLedger"]["seq"].as_i64().unwrap();
    let file = app.checkpoints.path().join(format!("{k:020}.json"));
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(kept["seq"], k);
    assert_eq!(kept["key"], app.ledger_key.public_hex());
    for _ in 0..3 {
        assert_eq!(
            content(&app, Some(&c.patient.token), &id, false).await.0,
            200
        );
    }
    let v = verify(&app, &c.admin.token).await;
    assert_eq!(
        (v["ok"].clone(), v["checkpointSeq"].clone()),
        (json!(true), json!(k)),
        "{v}"
    );
    let checked = v["checkedEvents"].as_i64().unwrap();

    // Re-hashed from seq K-1 on: the chain alone still links, the checkpoint does not.
    rewrite_chain_from(&app.pool, k - 1).await;
    let naive = commands::ledger::verify_ledger(&app.pool, None)
        .await
        .unwrap();
    assert!(
        naive.outcome.is_ok(),
        "a naive chain check passes: {naive:?}"
    );
    let v = verify(&app, &c.admin.token).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["firstBadSeq"], k, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("signed checkpoint"),
        "{v}"
    );
    assert_eq!(v["checkedEvents"], k - 1);
    assert!(checked > k);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_tail_fails_against_the_checkpoint_the_server_made_itself() {
    let mut app = TestApp::start().await;
    app.checkpoint_policy = medchain::checkpointer::Policy {
        every_events: 5,
        every: Duration::from_secs(1 << 30),
    };
    app.restart().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "Scan", pdf("s", 1_000)).await;
    let store = app.checkpoint_store();
    let mut kept = Vec::new();
    for _ in 0..2 {
        let last = kept.last().copied().unwrap_or(0);
        for _ in 0..6 {
            assert_eq!(
                content(&app, Some(&c.patient.token), &id, false).await.0,
                200
            );
        }
        let head = head_seq(&app).await;
        let newest = eventually(Duration::from_secs(15), "an automatic checkpoint", || {
            let store = store.clone();
            async move {
                let newest = store.newest().await.unwrap()?;
                (newest.checkpoint.seq > last && newest.checkpoint.seq + 5 > head).then_some(newest)
            }
        })
        .await;
        assert_eq!(newest.key, app.ledger_key.public());
        kept.push(newest.checkpoint.seq);
    }
    let seqs = store.seqs().await.unwrap();
    assert!(kept.iter().all(|k| seqs.contains(k)), "{seqs:?} {kept:?}");
    assert!(
        seqs.windows(2).all(|w| w[1] - w[0] >= 5),
        "one per stretch of 5 or more events: {seqs:?}"
    );

    // Time passes with something new: the interval also makes one.
    app.checkpoint_policy = medchain::checkpointer::Policy {
        every_events: 1_000,
        every: Duration::from_secs(600),
    };
    app.restart().await;
    assert_eq!(
        content(&app, Some(&c.patient.token), &id, false).await.0,
        200
    );
    let head = head_seq(&app).await;
    app.clock.advance(Duration::from_secs(601));
    eventually(
        Duration::from_secs(15),
        "a checkpoint after the interval",
        || {
            let store = store.clone();
            async move { (store.newest().await.unwrap()?.checkpoint.seq == head).then_some(()) }
        },
    )
    .await;
    assert!(verify(&app, &c.admin.token).await["ok"].as_bool().unwrap());

    // The tail cut off: a naive check passes, the newest checkpoint does not.
    let cut = format!("DELETE FROM events WHERE seq > {}", head - 3);
    tamper(&app.pool, &[&cut]).await;
    let naive = commands::ledger::verify_ledger(&app.pool, None)
        .await
        .unwrap();
    assert!(naive.outcome.is_ok(), "{naive:?}");
    let v = verify(&app, &c.admin.token).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["firstBadSeq"], head - 2, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("events were removed"),
        "{v}"
    );
}

async fn next(socket: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(15), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).unwrap(),
            Ok(Some(Ok(_))) => {}
            other => panic!("no message within 15 s: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_tail_starts_at_a_seq_and_follows_another_process() {
    let app = TestApp::start().await;
    let b = app.another_server().await;
    let c = cast(&app).await;
    let from = head_seq(&app).await - 2;

    let mut socket = connect_and_init(b.addr, &c.admin.token).await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({"id": "t", "type": "subscribe", "payload": {
            "query": "subscription($f: Long) { ledgerEvents(fromSeq: $f) { seq type hash prevHash } }",
            "variables": {"f": from}}}),
    )
    .await;
    // Written through the first process while the tail runs on the second.
    let id = upload_ok(&app, &c.patient.token, "Scan", pdf("s", 1_000)).await;
    assert_eq!(
        content(&app, Some(&c.patient.token), &id, false).await.0,
        200
    );
    let head = head_seq(&app).await;

    let mut got = Vec::new();
    let mut prev_hash: Option<String> = None;
    while got.last().is_none_or(|&s| s < head) {
        let message = next(&mut socket).await;
        assert_eq!(message["type"], "next", "{message}");
        let e = &message["payload"]["data"]["ledgerEvents"];
        if let Some(prev) = &prev_hash {
            assert_eq!(e["prevHash"].as_str().unwrap(), prev, "linked: {e}");
        }
        prev_hash = e["hash"].as_str().map(str::to_owned);
        got.push(e["seq"].as_i64().unwrap());
    }
    assert_eq!(got, (from..=head).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_reach_admin_fields_and_they_never_read_medical_content() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "Private scan", pdf("p", 1_000)).await;
    share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok();
    let other = person(&app, &c.admin, "otto@example.org", "Otto Other", "PATIENT").await;
    let now = "2030-01-01T00:00:00Z";

    let admin_only = [
        STATS.to_owned(),
        "{ users { totalCount } }".to_owned(),
        "{ pendingProfileChanges { edges { cursor } } }".to_owned(),
        "{ ledger { edges { cursor } } }".to_owned(),
        "{ ledgerHead { seq } }".to_owned(),
        "{ verifyLedger { ok } }".to_owned(),
        format!("{{ whoCouldRead(recordId: \"{id}\", at: \"{now}\") {{ id }} }}"),
        "mutation { checkpointLedger { seq } }".to_owned(),
        format!(
            "mutation {{ approveUser(userId: \"{}\") {{ id }} }}",
            other.id
        ),
        format!(
            "mutation {{ suspendUser(userId: \"{}\", reason: \"no\") {{ id }} }}",
            other.id
        ),
    ];
    for query in &admin_only {
        for who in [&c.patient, &c.doctor, &other] {
            let answer = app.gql(Cred::Bearer(&who.token), query, json!({})).await;
            answer.expect_code("FORBIDDEN");
        }
        let answer = app.gql(Cred::None, query, json!({})).await;
        answer.expect_code("UNAUTHENTICATED");
    }

    // The live tail too.
    let mut socket = connect_and_init(app.addr, &c.doctor.token).await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({"id": "t", "type": "subscribe", "payload": {
            "query": "subscription { ledgerEvents(fromSeq: 1) { seq } }"}}),
    )
    .await;
    let refused = next(&mut socket).await;
    let errors = match refused["type"].as_str() {
        Some("error") => refused["payload"].clone(),
        _ => refused["payload"]["errors"].clone(),
    };
    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{refused}");
    assert!(
        refused["payload"]["data"]["ledgerEvents"].is_null(),
        "{refused}"
    );

    // Administrators: the record exists for them, its medical content does not.
    for field in ["title", "description", "fileName"] {
        let answer = app
            .gql(
                Cred::Bearer(&c.admin.token),
                &format!("query($id: UUID!) {{ record(id: $id) {{ id {field} }} }}"),
                json!({"id": id}),
            )
            .await;
        answer.expect_code("FORBIDDEN");
    }
    let (status, _, body) = content(&app, Some(&c.admin.token), &id, false).await;
    assert_eq!(status, 403);
    assert!(!String::from_utf8_lossy(&body.unwrap()).contains("Private scan"));
    // Nor through the accounting of disclosures.
    assert_eq!(
        content(&app, Some(&c.doctor.token), &id, false).await.0,
        200
    );
    records_view_settled(&app).await;
    let answer = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "query($p: UUID) { disclosures(patientId: $p) { edges { node { recordId record { title } } } } }",
            json!({"p": c.patient.id}),
        )
        .await;
    answer.expect_code("FORBIDDEN");
}
