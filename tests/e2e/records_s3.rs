//! The same upload, share and download with `MEDCHAIN_BLOB_STORE=s3://…`, against a real
//! S3-compatible server process (`moto_server`, from PyPI's `moto[server]`, which
//! `.ci/run` installs) started by the test: the blob lands in the bucket, named by the
//! SHA-256 of its ciphertext, and nothing lands in the local data directory. Checkpoints
//! go to the same bucket under their own prefix (`MEDCHAIN_CHECKPOINT_DIR=s3://…`), and
//! verification finds them there.

use crate::common;

use common::serve::{admin_create, gql, login_at, master_key_file, start_serve};
use serde_json::json;
use std::time::Duration;

const PASSWORD: &str = "Tq9#vLm2!pXz7wRb";
const BUCKET: &str = "medchain-test";

async fn register(addr: &str, email: &str, name: &str, role: &str) {
    let answer = gql(
        addr,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({"i": {"email": email, "password": PASSWORD, "name": name, "role": role}}),
    )
    .await;
    assert!(answer["errors"].is_null(), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_live_in_an_s3_bucket_when_configured() {
    let moto = common::moto::Moto::start().await;
    moto.create_bucket(BUCKET).await;
    let s3 = moto.url.clone();
    let client = reqwest::Client::new();

    let db = common::test_db().await;
    let tmp = tempfile::tempdir().unwrap();
    let key = master_key_file(tmp.path());
    let data = tmp.path().join("data");
    let (_server, addr) = start_serve(
        &db.url,
        &key,
        &data,
        &[
            ("MEDCHAIN_BLOB_STORE", &format!("s3://{BUCKET}/medchain")),
            (
                "MEDCHAIN_CHECKPOINT_DIR",
                &format!("s3://{BUCKET}/checkpoints"),
            ),
            ("AWS_ENDPOINT", &s3),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    admin_create(
        &db.url,
        &key,
        &tmp.path().join("cli"),
        "chief@example.org",
        PASSWORD,
    )
    .await;
    register(&addr, "pat@example.org", "Pat Lee", "PATIENT").await;
    register(&addr, "dana@example.org", "Dana Doc", "DOCTOR").await;
    let admin = common::app::eventually(Duration::from_secs(10), "the admin in the view", || {
        let addr = addr.clone();
        async move {
            let answer = gql(
                &addr,
                None,
                "mutation { login(email: \"chief@example.org\", password: \"Tq9#vLm2!pXz7wRb\") { token } }",
                json!({}),
            )
            .await;
            answer["data"]["login"]["token"].as_str().map(str::to_owned)
        }
    })
    .await;
    let patient = login_at(&addr, "pat@example.org", PASSWORD).await;
    let pending = gql(
        &addr,
        Some(&admin),
        "{ users(role: DOCTOR) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    let doctor_id = pending["data"]["users"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gql(
        &addr,
        Some(&admin),
        "mutation($id: UUID!) { approveUser(userId: $id) { id } }",
        json!({"id": doctor_id}),
    )
    .await;
    let doctor = login_at(&addr, "dana@example.org", PASSWORD).await;

    // 12 MiB: more than one multipart part on S3.
    let mut file = b"%PDF-1.7\n".to_vec();
    file.extend((0..12 * 1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let (_, uploaded) = crate::common::serve::post_record(
        &client,
        &addr,
        &patient,
        "Echo",
        "echo.pdf",
        file.clone(),
    )
    .await;
    let id = uploaded["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{uploaded}"))
        .to_owned();
    let sha = uploaded["sha256"].as_str().unwrap().to_owned();

    let shared = gql(
        &addr,
        Some(&patient),
        "mutation($r: UUID!, $d: UUID!) { shareRecord(recordId: $r, doctorId: $d) { active } }",
        json!({"r": id, "d": doctor_id}),
    )
    .await;
    assert_eq!(shared["data"]["shareRecord"]["active"], true, "{shared}");
    let got = client
        .get(format!("http://{addr}/api/records/{id}/content"))
        .bearer_auth(&doctor)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), file);

    // A small file goes up in one PUT (no staging, no multipart) and comes back whole.
    let small = file[..100_000].to_vec();
    let small_id = common::serve::upload_at(&addr, &patient, "Small", small.clone()).await;
    assert_eq!(
        common::serve::download_at(&addr, &patient, &small_id).await,
        small
    );

    // In the bucket, under the prefix, by the ciphertext's hash; nothing staged is left,
    // and nothing of it is in the local data directory.
    let signed = gql(
        &addr,
        Some(&admin),
        "mutation { checkpointLedger { seq } }",
        json!({}),
    )
    .await;
    let seq = signed["data"]["checkpointLedger"]["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("{signed}"));
    let verified = gql(
        &addr,
        Some(&admin),
        "{ verifyLedger { ok checkpointSeq message } }",
        json!({}),
    )
    .await;
    assert_eq!(verified["data"]["verifyLedger"]["ok"], true, "{verified}");
    assert_eq!(
        verified["data"]["verifyLedger"]["checkpointSeq"], seq,
        "{verified}"
    );

    let keys = moto.keys(BUCKET, "").await;
    assert!(
        keys.contains(&format!("medchain/records/{sha}")),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|k| k.contains("staging")), "{keys:?}");
    assert!(
        keys.contains(&format!("checkpoints/{seq:020}.json")),
        "{keys:?}"
    );
    assert!(common::records::files_under(&data.join("checkpoints")).is_empty());
    assert!(common::records::files_under(&data.join("blobs").join("records")).is_empty());
}
