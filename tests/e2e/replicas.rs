//! Read replicas (issue 27): a `medchain serve` on a private primary with a real
//! streaming replica of it (`pg_basebackup -R`) in `MEDCHAIN_REPLICA_URLS`. Queries are
//! answered by the replica once it has replayed what the primary had committed, so an
//! upload is in the very next `myRecords`; with the replica's replay paused, a revoked
//! share is gone from the doctor's next query and an ended session is refused at once
//! (the primary answers), and once replay resumes the replica answers again.

use crate::common;

use common::serve::{admin_create, gql, login_at, master_key_file, upload_at};
use medchain::embedded::{PgBinaries, PrivateCluster};
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "Tq9#vLm2!pXz7wRb";

/// `medchain_replica_reads_total{outcome}` as scraped from `metrics`.
async fn replica_reads(metrics: &str, outcome: &str) -> u64 {
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("medchain_replica_reads_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |n| n.trim().parse().unwrap())
}

fn ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("a connection: {connection}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn my_records(addr: &str, token: &str) -> Vec<String> {
    let answer = gql(
        addr,
        Some(token),
        "{ myRecords(first: 100) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    ids(&answer["data"]["myRecords"])
}

async fn shared_with_me(addr: &str, token: &str) -> Vec<String> {
    let answer = gql(
        addr,
        Some(token),
        "{ sharedWithMe(first: 100) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    ids(&answer["data"]["sharedWithMe"])
}

async fn register(addr: &str, email: &str, role: &str) -> String {
    let answer = gql(
        addr,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({"i": {"email": email, "password": PASSWORD, "name": "Rep Lica", "role": role}}),
    )
    .await;
    answer["data"]["register"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_read_a_caught_up_replica_and_revocations_hold_on_a_paused_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (primary_dir, replica_dir) = (tmp.path().join("primary"), tmp.path().join("replica"));
    let (primary, replica) = tokio::task::spawn_blocking(move || {
        let primary = PrivateCluster::create(&PgBinaries::find().unwrap(), &primary_dir).unwrap();
        let replica = primary.replica(&replica_dir).unwrap();
        (primary, replica)
    })
    .await
    .unwrap();
    let key = master_key_file(tmp.path());
    let data = tmp.path().join("data");
    admin_create(&primary.url(), &key, &data, "root@example.org", PASSWORD).await;
    let replica_url = replica.url();
    let (_server, addr, metrics, _lines) = crate::operations_logs::start(
        &primary.url(),
        &key,
        &data,
        &[
            ("MEDCHAIN_REPLICA_URLS", replica_url.as_str()),
            ("MEDCHAIN_METRICS_LISTEN", "127.0.0.1:0"),
        ],
    );
    let metrics = metrics.unwrap();

    let _patient_id = register(&addr, "pat@example.org", "PATIENT").await;
    let doctor_id = register(&addr, "doc@example.org", "DOCTOR").await;
    let admin = login_at(&addr, "root@example.org", PASSWORD).await;
    let approved = gql(
        &addr,
        Some(&admin),
        "mutation($id: UUID!) { approveUser(userId: $id) { id } }",
        json!({"id": doctor_id}),
    )
    .await;
    assert!(approved["errors"].is_null(), "{approved}");
    let patient = login_at(&addr, "pat@example.org", PASSWORD).await;
    let doctor = login_at(&addr, "doc@example.org", PASSWORD).await;

    // Read-your-writes through the replica: each upload is in the next query.
    let before = replica_reads(&metrics, "replica").await;
    let mut uploaded = Vec::new();
    for n in 0..10 {
        let id = upload_at(
            &addr,
            &patient,
            &format!("Scan {n}"),
            common::records::pdf(&n.to_string(), 2_000),
        )
        .await;
        let listed = my_records(&addr, &patient).await;
        assert!(listed.contains(&id), "upload {n} is in the next myRecords");
        uploaded.push(id);
    }
    let through_replica = replica_reads(&metrics, "replica").await - before;
    assert!(
        through_replica >= 6,
        "the replica answered the queries ({through_replica} of 10)"
    );

    // A share the doctor sees…
    let record = &uploaded[0];
    let shared = gql(
        &addr,
        Some(&patient),
        "mutation($r: UUID!, $d: UUID!) { shareRecord(recordId: $r, doctorId: $d) { id } }",
        json!({"r": record, "d": doctor_id}),
    )
    .await;
    let share = shared["data"]["shareRecord"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{shared}"))
        .to_owned();
    assert_eq!(shared_with_me(&addr, &doctor).await, vec![record.clone()]);

    // The doctor's notifications subscription catches up on the share's notice, then
    // hears of the next one live: both read through the replica (the catch-up, and the
    // hub's read of new notices).
    let before = replica_reads(&metrics, "replica").await;
    let mut feed = common::ws::notifications(addr.parse().unwrap(), &doctor, Some(0)).await;
    // Caught up: the approval, then the share.
    loop {
        let caught = common::ws::next(&mut feed, 15)
            .await
            .expect("the caught-up notices");
        if caught["payload"]["data"]["notifications"]["kind"] == "RECORD_SHARED" {
            break;
        }
    }
    let second_share = gql(
        &addr,
        Some(&patient),
        "mutation($r: UUID!, $d: UUID!) { shareRecord(recordId: $r, doctorId: $d) { id } }",
        json!({"r": uploaded[1], "d": doctor_id}),
    )
    .await;
    assert!(second_share["errors"].is_null(), "{second_share}");
    let live = common::ws::next(&mut feed, 15)
        .await
        .expect("the live notice");
    assert_eq!(
        live["payload"]["data"]["notifications"]["kind"], "RECORD_SHARED",
        "{live}"
    );
    // The catch-up and at least one of the hub's reads (the test's own queries add none
    // in between but the share's read-back, which is a mutation on the primary).
    assert!(
        replica_reads(&metrics, "replica").await >= before + 2,
        "the subscription read through the replica"
    );
    drop(feed);
    let second_share = second_share["data"]["shareRecord"]["id"].as_str().unwrap();
    let revoked = gql(
        &addr,
        Some(&patient),
        "mutation($s: UUID!) { revokeShare(shareId: $s) { id } }",
        json!({"s": second_share}),
    )
    .await;
    assert!(revoked["errors"].is_null(), "{revoked}");

    // …is revoked while the replica's replay is paused: gone at once.
    let standby = sqlx::PgPool::connect(&replica_url).await.unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&standby)
        .await
        .unwrap();
    // A pause is requested, then takes effect: wait for it.
    while sqlx::query_scalar::<_, String>("SELECT pg_get_wal_replay_pause_state()")
        .fetch_one(&standby)
        .await
        .unwrap()
        != "paused"
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let replica_before = replica_reads(&metrics, "replica").await;
    let revoked = gql(
        &addr,
        Some(&patient),
        "mutation($s: UUID!) { revokeShare(shareId: $s) { id revokedAt } }",
        json!({"s": share}),
    )
    .await;
    assert!(revoked["errors"].is_null(), "{revoked}");
    assert_eq!(shared_with_me(&addr, &doctor).await, Vec::<String>::new());
    let read = gql(
        &addr,
        Some(&doctor),
        "query($id: UUID!) { record(id: $id) { id } }",
        json!({"id": record}),
    )
    .await;
    assert!(read["data"]["record"].is_null(), "{read}");
    // The replica really is behind: it still holds the share.
    let live_on_replica: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM shares WHERE id = $1::uuid AND revoked_at IS NULL",
    )
    .bind(&share)
    .fetch_one(&standby)
    .await
    .unwrap();
    assert_eq!(
        live_on_replica, 1,
        "the paused replica still has the share live"
    );
    // Nothing was answered by the paused replica (it was behind, then benched).
    assert_eq!(replica_reads(&metrics, "replica").await, replica_before);

    // An ended session is refused at once too (sessions are checked on the primary).
    let second = login_at(&addr, "pat@example.org", PASSWORD).await;
    let out = gql(&addr, Some(&second), "mutation { logout }", json!({})).await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    let refused = gql(&addr, Some(&second), "{ me { id } }", json!({})).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    // And a write is read back from the primary while the replica is paused.
    let id = upload_at(
        &addr,
        &patient,
        "While paused",
        common::records::pdf("p", 2_000),
    )
    .await;
    assert!(my_records(&addr, &patient).await.contains(&id));

    // Replay resumes: the replica answers again (after its second on the bench).
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&standby)
        .await
        .unwrap();
    // Once it has replayed and its second on the bench is over, within a few tries on a
    // busy machine.
    let before = replica_reads(&metrics, "replica").await;
    let mut answered = false;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        assert!(my_records(&addr, &patient).await.contains(&id));
        if replica_reads(&metrics, "replica").await > before {
            answered = true;
            break;
        }
    }
    assert!(answered, "the replica answers again once replay resumed");
    standby.close().await;
    drop(replica);
    drop(primary);
}
