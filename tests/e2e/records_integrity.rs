//! What is stored is ciphertext only, and what is refused or cut off leaves nothing:
//! a refused type or size, a client gone mid-upload, a tampered blob, and erasure.

use crate::common;

use commands::records::TransferLimits;
use common::app::{Cred, TestApp, eventually};
use common::records::{cast, content, files_under, pdf, upload, upload_ok};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt as _;

async fn nothing_stored(app: &TestApp) {
    assert_eq!(app.count_events("RecordUploaded").await, 0);
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM record_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(keys, 0);
    let blobs = files_under(&app.blobs.path().join("records"));
    assert!(blobs.is_empty(), "{blobs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executable_named_pdf_and_a_file_too_large_are_refused_and_nothing_is_kept() {
    let mut app = TestApp::start().await;
    let c = cast(&app).await;
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    exe.resize(50_000, 0x90);
    let (status, body) = upload(&app, &c.patient.token, "Scan", "scan.pdf", exe).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"]["code"], "BAD_USER_INPUT");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not accepted")
    );
    nothing_stored(&app).await;

    let (status, body) = upload(&app, &c.patient.token, "Empty", "e.pdf", Vec::new()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("BAD_USER_INPUT"))
    );
    let (status, body) = upload(&app, &c.patient.token, " ", "e.pdf", pdf("x", 100)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("BAD_USER_INPUT"))
    );

    app.uploads.max_bytes = 100_000;
    app.restart().await;
    let (status, body) = upload(&app, &c.patient.token, "Big", "big.pdf", pdf("x", 300_000)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "BAD_USER_INPUT");
    nothing_stored(&app).await;
    // At the limit exactly is fine.
    upload_ok(&app, &c.patient.token, "Fits", pdf("x", 100_000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_upload_leaves_no_blob_and_no_event() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let stream = start_an_upload(&app, &c.patient.token).await;
    // Let the server store some of it, then go.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);

    eventually(
        Duration::from_secs(10),
        "the staged blob removed",
        || async {
            files_under(&app.blobs.path().join("records"))
                .is_empty()
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    nothing_stored(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_store_that_cannot_write_fails_the_upload_at_once_and_keeps_nothing() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    // Where uploads are staged is taken by a file: nothing can be written there.
    let records = app.blobs.path().join("records");
    std::fs::create_dir_all(&records).unwrap();
    std::fs::write(records.join("staging"), b"in the way").unwrap();
    // Many blocks: the stages before the failed writer must stop, not wait for it.
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(30),
        upload(
            &app,
            &c.patient.token,
            "Scan",
            "scan.pdf",
            pdf("stuck", 8 << 20),
        ),
    )
    .await
    .expect("the upload fails instead of waiting");
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "INTERNAL");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("staging"), "no internals: {message}");

    std::fs::remove_file(records.join("staging")).unwrap();
    nothing_stored(&app).await;
    // The store works again once it can.
    upload_ok(&app, &c.patient.token, "Scan", pdf("fine", 100_000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_a_stopped_process_left_staged_is_removed_at_the_next_start() {
    let mut app = TestApp::start().await;
    let staging = app.blobs.path().join("records/staging");
    std::fs::create_dir_all(&staging).unwrap();
    let left = staging.join("0190f0a0-0000-7000-8000-000000000001");
    let live = staging.join("0190f0a0-0000-7000-8000-000000000002");
    std::fs::write(&left, b"ciphertext of an upload cut off by a crash").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 24 * 3600))
        .unwrap();
    std::fs::write(&live, b"an upload another process is writing").unwrap();

    app.restart().await;
    eventually(
        Duration::from_secs(10),
        "the stale staged upload removed",
        || async { (!left.exists()).then_some(()) },
    )
    .await;
    assert!(live.exists(), "an upload being written is left alone");
}

/// An upload that sends 3 MB of the 50 MB it announces, then waits: the connection
/// holds it open until dropped.
async fn start_an_upload(app: &TestApp, token: &str) -> tokio::net::TcpStream {
    let boundary = "medchain-test-boundary";
    let mut head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nCut off\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    head.extend_from_slice(&pdf("gone", 3_000_000));
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST /api/records HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 50000000\r\n\r\n",
        app.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&head).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_past_the_limit_are_told_to_come_back_and_leave_nothing() {
    let mut app = TestApp::start().await;
    app.uploads.transfers = TransferLimits {
        uploads: 1,
        downloads: 1,
        wait: Duration::from_millis(300),
    };
    app.restart().await;
    let c = cast(&app).await;
    let big = upload_ok(&app, &c.patient.token, "Big", pdf("big", 32 << 20)).await;

    // An upload under way holds the one upload turn.
    let stalled = start_an_upload(&app, &c.patient.token).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = || {
        upload(
            &app,
            &c.patient.token,
            "Second",
            "b.pdf",
            pdf("two", 100_000),
        )
    };
    let (status, body) = second().await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    assert_eq!(app.count_events("RecordUploaded").await, 1);
    drop(stalled);
    eventually(Duration::from_secs(10), "the turn given back", || async {
        (second().await.0 == 201).then_some(())
    })
    .await;

    // A download whose body is not read holds the one download turn (32 MiB is more
    // than the pipeline and the socket buffer), and a read refused for it is not
    // recorded as a read.
    let held = app
        .http
        .get(app.url(&format!("/api/records/{big}/content")))
        .bearer_auth(&c.patient.token)
        .send()
        .await
        .unwrap();
    assert_eq!(held.status().as_u16(), 200);
    let reads = app.count_events("RecordAccessed").await;
    let (status, _, _) = content(&app, Some(&c.patient.token), &big, false).await;
    assert_eq!(status, 429);
    assert_eq!(app.count_events("RecordAccessed").await, reads);
    drop(held);
    eventually(
        Duration::from_secs(10),
        "the download turn given back",
        || async {
            let (status, _, body) = content(&app, Some(&c.patient.token), &big, false).await;
            (status == 200 && body.is_ok_and(|b| b.len() == 32 << 20)).then_some(())
        },
    )
    .await;
}

/// Does any file under `dir` (modified since `since`, when given) hold `needle`?
pub(crate) fn holders(dir: &Path, needle: &[u8], since: Option<SystemTime>) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            since.is_none_or(|t| {
                std::fs::metadata(p)
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| m >= t)
            })
        })
        .filter(|p| {
            std::fs::read(p).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        })
        .map(|p| p.display().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_in_the_file_appears_nowhere_on_disk() {
    let started = SystemTime::now();
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let marker = format!("MARKER-{}", uuid::Uuid::new_v4().simple());
    let file = pdf(&marker, 300_000);
    let id = upload_ok(
        &app,
        &c.patient.token,
        &format!("title {marker}"),
        file.clone(),
    )
    .await;
    let (status, _, body) = content(&app, Some(&c.patient.token), &id, false).await;
    assert_eq!((status, body.unwrap()), (200, file));
    // Everything the server wrote is on disk by now (the WAL at commit).
    sqlx::query("CHECKPOINT").execute(&app.pool).await.ok();

    let needle = marker.as_bytes();
    assert_eq!(
        holders(app.blobs.path(), needle, None),
        Vec::<String>::new()
    );
    let data_dir: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    if Path::new(&data_dir).is_dir() {
        assert_eq!(
            holders(Path::new(&data_dir), needle, None),
            Vec::<String>::new()
        );
    }
    assert_eq!(
        holders(&std::env::temp_dir(), needle, Some(started)),
        Vec::<String>::new()
    );
}

/// The blob file of the only record.
fn the_blob(app: &TestApp) -> std::path::PathBuf {
    let blobs = files_under(&app.blobs.path().join("records"));
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    blobs.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_a_truncated_blob_and_swapped_segments_each_fail() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let file = pdf("tamper", 4 * 65_536 + 100);
    let id = upload_ok(&app, &c.patient.token, "Scan", file.clone()).await;
    let path = the_blob(&app);
    let original = std::fs::read(&path).unwrap();
    let segment = 65_536 + 16;

    let mut flipped = original.clone();
    flipped[16 + segment + 100] ^= 0x04;
    let truncated = original[..16 + 4 * segment].to_vec();
    let mut swapped = original[..16].to_vec();
    swapped.extend_from_slice(&original[16 + segment..16 + 2 * segment]);
    swapped.extend_from_slice(&original[16..16 + segment]);
    swapped.extend_from_slice(&original[16 + 2 * segment..]);

    for (what, bytes) in [
        ("flipped", flipped),
        ("truncated", truncated),
        ("swapped", swapped),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let (status, _, body) = content(&app, Some(&c.patient.token), &id, false).await;
        assert!(
            status != 200 || body.as_ref().is_err() || body.as_ref().unwrap() != &file,
            "{what}: the download looked fine"
        );
        assert!(
            body.is_err() || status != 200,
            "{what}: the response was not cut"
        );
    }
    std::fs::write(&path, &original).unwrap();
    let (status, _, body) = content(&app, Some(&c.patient.token), &id, false).await;
    assert_eq!((status, body.unwrap()), (200, file));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_record_or_its_patient_shreds_it_and_the_ledger_still_verifies() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let first = upload_ok(&app, &c.patient.token, "First", pdf("a", 10_000)).await;
    let second = upload_ok(&app, &c.patient.token, "Second", pdf("b", 10_000)).await;
    let third = upload_ok(&app, &c.patient.token, "Third", pdf("c", 10_000)).await;
    assert_eq!(files_under(&app.blobs.path().join("records")).len(), 3);

    // The owner erases one: the doctor cannot, an administrator could.
    let erase = "mutation($id: UUID!, $r: String!) { eraseRecord(recordId: $id, reason: $r) { id status title } }";
    app.gql(
        Cred::Bearer(&c.doctor.token),
        erase,
        json!({"id": first, "r": "mine now"}),
    )
    .await
    .expect_code("NOT_FOUND");
    let erased = app
        .gql(
            Cred::Bearer(&c.patient.token),
            erase,
            json!({"id": first, "r": "uploaded by mistake"}),
        )
        .await;
    assert_eq!(erased.ok()["eraseRecord"]["status"], "ERASED");
    assert_eq!(erased.ok()["eraseRecord"]["title"], serde_json::Value::Null);
    let (status, _, _) = content(&app, Some(&c.patient.token), &first, false).await;
    assert_eq!(status, 410);
    assert_eq!(files_under(&app.blobs.path().join("records")).len(), 2);
    // Administrators erase without seeing what they erase.
    let by_admin = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "mutation($id: UUID!) { eraseRecord(recordId: $id, reason: \"court order\") { status } }",
            json!({"id": second}),
        )
        .await;
    assert_eq!(by_admin.ok()["eraseRecord"]["status"], "ERASED");
    assert_eq!(files_under(&app.blobs.path().join("records")).len(), 1);

    // Erasing the patient erases what is left of theirs.
    app.gql(
        Cred::Bearer(&c.admin.token),
        "mutation($id: UUID!) { eraseUser(userId: $id, reason: \"asked to be forgotten\") { status } }",
        json!({"id": c.patient.id}),
    )
    .await
    .ok();
    assert!(files_under(&app.blobs.path().join("records")).is_empty());
    assert_eq!(app.count_events("RecordErased").await, 3);
    let live_keys: i64 =
        sqlx::query_scalar("SELECT count(*) FROM record_keys WHERE wrapped IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(live_keys, 0);
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM records ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(statuses, ["ERASED", "ERASED", "ERASED"]);
    let _ = third;

    // After a rebuild, the same; the chain verifies.
    projections::rebuild(&app.pool, &projections::records::RecordsProjector)
        .await
        .unwrap();
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM records ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(statuses, ["ERASED", "ERASED", "ERASED"]);
    let verification = commands::ledger::verify_ledger(&app.pool, None)
        .await
        .unwrap();
    assert!(
        verification.outcome.is_ok(),
        "{:?}",
        verification.outcome.err()
    );
}
