//! Medical records end to end, through the real server and database: upload, share, the
//! doctor's download, the owner's access log, and who is refused what.

use crate::common;

use common::app::{Cred, TestApp};
use common::records::{access_log, cast, content, pdf, person, share, upload_ok};
use serde_json::json;
use sha2::{Digest as _, Sha256};

const RECORD: &str = "query($id: UUID!) { record(id: $id) { id title description fileName \
    contentType size sha256 status contentUrl owner { id name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_share_download_and_the_owner_sees_the_read() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let file = pdf("blood results", 200_000);
    let id = upload_ok(&app, &c.patient.token, "Blood test", file.clone()).await;

    // The record, as its owner sees it.
    let mine = app
        .gql(Cred::Bearer(&c.patient.token), RECORD, json!({"id": id}))
        .await;
    let record = &mine.ok()["record"];
    assert_eq!(record["title"], "Blood test");
    assert_eq!(record["description"], "from the lab");
    assert_eq!(record["fileName"], "report.pdf");
    assert_eq!(record["contentType"], "application/pdf");
    assert_eq!(record["size"], 200_000);
    assert_eq!(record["status"], "ACTIVE");
    assert_eq!(record["contentUrl"], format!("/api/records/{id}/content"));

    // The ledger commits to the ciphertext: the blob is named by its hash, which is
    // the event's, and nothing sealed is in clear.
    let sha = record["sha256"].as_str().unwrap();
    let blob = std::fs::read(app.blobs.path().join("records").join(sha)).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&blob)), sha);
    let payload: serde_json::Value =
        sqlx::query_scalar("SELECT payload FROM events WHERE type = 'RecordUploaded'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(payload["sha256"], sha);
    assert_eq!(payload["size"], 200_000);
    assert_eq!(payload["storedSize"], blob.len());
    let text = payload.to_string();
    for clear in ["Blood test", "from the lab", "report.pdf"] {
        assert!(!text.contains(clear), "{clear} in clear in {text}");
    }

    // Shared with the doctor, who downloads the same bytes, as an attachment.
    let shared = share(
        &app,
        &c.patient.token,
        &id,
        &c.doctor.id,
        Some("2099-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(shared.ok()["shareRecord"]["active"], true);
    assert_eq!(shared.ok()["shareRecord"]["doctor"]["name"], "Dana Doc");
    let (status, headers, body) = content(&app, Some(&c.doctor.token), &id, false).await;
    assert_eq!(status, 200);
    assert_eq!(body.unwrap(), file);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"report.pdf\"")
    );
    let (status, headers, _) = content(&app, Some(&c.doctor.token), &id, true).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );

    // The doctor sees it among what is shared with them, title included.
    let theirs = app
        .gql(
            Cred::Bearer(&c.doctor.token),
            "{ sharedWithMe { totalCount edges { node { id title owner { name email } } } } }",
            json!({}),
        )
        .await;
    let list = &theirs.ok()["sharedWithMe"];
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["edges"][0]["node"]["title"], "Blood test");
    assert_eq!(list["edges"][0]["node"]["owner"]["name"], "Pat Lee");
    assert_eq!(
        list["edges"][0]["node"]["owner"]["email"],
        serde_json::Value::Null
    );

    // The owner's access log: uploaded, shared, then the doctor's two reads, with times.
    let log = access_log(&app, &c.patient.token, &id).await;
    let actions: Vec<_> = log.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(actions, ["VIEWED", "DOWNLOADED", "SHARED", "UPLOADED"]);
    assert_eq!(log[1].1.as_deref(), Some(c.doctor.id.as_str()));
    assert!(log[1].2.ends_with('Z'));
    assert_eq!(app.count_events("RecordAccessed").await, 2);

    // The owner reads too, and lists their records.
    let (status, _, body) = content(&app, Some(&c.patient.token), &id, false).await;
    assert_eq!((status, body.unwrap()), (200, file));
    let listed = app
        .gql(
            Cred::Bearer(&c.patient.token),
            "{ myRecords { totalCount edges { node { id title shares { doctor { id } active } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed.ok()["myRecords"]["totalCount"], 1);
    assert_eq!(
        listed.ok()["myRecords"]["edges"][0]["node"]["shares"][0]["active"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_are_refused_and_learn_nothing() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let id = upload_ok(&app, &c.patient.token, "Secret diagnosis", pdf("x", 5_000)).await;
    let other_patient = person(&app, &c.admin, "olga@example.org", "Olga Other", "PATIENT").await;
    let other_doctor = person(&app, &c.admin, "otto@example.org", "Otto Other", "DOCTOR").await;
    share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .ok();

    // Content: strangers 404, the admin 403, nobody 401; none sees the title.
    for (who, expected) in [
        (Some(other_patient.token.as_str()), 404),
        (Some(other_doctor.token.as_str()), 404),
        (Some(c.admin.token.as_str()), 403),
        (None, 401),
    ] {
        let (status, _, body) = content(&app, who, &id, false).await;
        assert_eq!(status, expected);
        let body = String::from_utf8(body.unwrap()).unwrap();
        assert!(body.contains("\"code\""), "{body}");
        assert!(!body.contains("Secret"), "{body}");
    }
    // Every refused read by someone signed in is on the ledger, for the owner to see.
    assert_eq!(app.count_events("RecordAccessDenied").await, 3);
    let log = access_log(&app, &c.patient.token, &id).await;
    assert_eq!(log.iter().filter(|(a, _, _)| a == "DENIED").count(), 3);

    // GraphQL: strangers NOT_FOUND; the admin may see that it exists but not its title.
    for token in [&other_patient.token, &other_doctor.token] {
        let answer = app
            .gql(Cred::Bearer(token), RECORD, json!({"id": id}))
            .await;
        answer.expect_code("NOT_FOUND");
        assert!(!answer.body.to_string().contains("Secret"));
    }
    let admin = app
        .gql(
            Cred::Bearer(&c.admin.token),
            "query($id: UUID!) { record(id: $id) { id size status title } }",
            json!({"id": id}),
        )
        .await;
    admin.expect_code("FORBIDDEN");
    assert_eq!(admin.data()["record"]["status"], "ACTIVE");
    assert_eq!(admin.data()["record"]["title"], serde_json::Value::Null);
    assert!(!admin.body.to_string().contains("Secret"));
    // Owner-only fields are refused to the doctor the record is shared with.
    let doctor = app
        .gql(
            Cred::Bearer(&c.doctor.token),
            "query($id: UUID!) { record(id: $id) { title accessLog { edges { node { seq } } } } }",
            json!({"id": id}),
        )
        .await;
    doctor.expect_code("FORBIDDEN");
    // Only patients upload; only the owner shares.
    let (status, body) =
        common::records::upload(&app, &c.doctor.token, "Mine", "a.pdf", pdf("x", 100)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    share(&app, &c.doctor.token, &id, &other_doctor.id, None)
        .await
        .expect_code("FORBIDDEN");
    share(&app, &other_patient.token, &id, &other_doctor.id, None)
        .await
        .expect_code("NOT_FOUND");
    // Sharing asks for an active doctor, an expiry in the future, and no second live share.
    share(&app, &c.patient.token, &id, &other_patient.id, None)
        .await
        .expect_code("BAD_USER_INPUT");
    share(
        &app,
        &c.patient.token,
        &id,
        &other_doctor.id,
        Some("2001-01-01T00:00:00Z"),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    share(&app, &c.patient.token, &id, &c.doctor.id, None)
        .await
        .expect_code("CONFLICT");
}

/// An upload says where its time went in `Server-Timing` (what `bench records` reads and
/// browsers' developer tools show), a download the part before its first byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_and_downloads_say_where_their_time_went() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let phases = |header: Option<&reqwest::header::HeaderValue>| -> Vec<(String, f64)> {
        let header = header.expect("a Server-Timing header").to_str().unwrap();
        header
            .split(", ")
            .map(|part| {
                let (name, ms) = part.split_once(";dur=").expect("name;dur=ms");
                (name.to_owned(), ms.parse::<f64>().expect("milliseconds"))
            })
            .collect()
    };
    let form = reqwest::multipart::Form::new().text("title", "Timed").part(
        "file",
        reqwest::multipart::Part::bytes(pdf("timed", 300_000)).file_name("t.pdf"),
    );
    let uploaded = app
        .http
        .post(app.url("/api/records"))
        .bearer_auth(&c.patient.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status().as_u16(), 201);
    let up = phases(uploaded.headers().get("server-timing"));
    let names: Vec<&str> = up.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["checks", "receive", "seal", "blob", "append", "wait"]
    );
    assert!(up.iter().all(|(_, ms)| *ms >= 0.0), "{up:?}");
    let id = uploaded.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let downloaded = app
        .http
        .get(app.url(&format!("/api/records/{id}/content")))
        .bearer_auth(&c.patient.token)
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status().as_u16(), 200);
    let down = phases(downloaded.headers().get("server-timing"));
    let names: Vec<&str> = down.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["auth", "open"]);
}
