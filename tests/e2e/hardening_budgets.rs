//! Every resource a budget: a pixel-flood photo is refused before it is decoded, and
//! decodes are bounded; Argon2id runs one hash per core behind a short queue; a
//! connection's complexity counts its rows; list arguments are capped; a patient's
//! storage has a quota. Memory is measured as the growth of this process's peak RSS
//! (the server runs in it; nextest runs each test in its own process), with the peak
//! reset first (`/proc/self/clear_refs`).

use crate::common;

use common::app::{Cred, STRONG, TestApp};
use common::records::{pdf, upload};
use serde_json::{Value, json};

/// Resets the peak RSS to the current RSS.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting VmHWM");
}

/// This process's peak and current RSS in KiB.
fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// An 8000×8000 grey PNG of zeros: about 250 KiB compressed, 61 MiB of pixels (243 MiB
/// as RGBA), written a row at a time.
fn pixel_flood() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, 8000, 8000);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().unwrap();
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![0u8; 8000];
        for _ in 0..8000 {
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pixel_flood_is_refused_before_decoding_and_four_at_once_stay_in_budget() {
    let app = TestApp::start().await;
    app.register("pix@example.org", "Pix Elle", "PATIENT", STRONG)
        .await;
    let token = app.login("pix@example.org", STRONG).await;
    let flood = pixel_flood();
    assert!(flood.len() < 2 * 1024 * 1024, "{} bytes", flood.len());
    reset_peak();
    let before = rss_kib("VmRSS:");
    let puts = (0..4).map(|_| {
        app.http
            .put(app.url("/api/me/photo"))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(flood.clone())
            .send()
    });
    for response in futures::future::join_all(puts).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("megapixels"),
            "{body}"
        );
    }
    let grown_mib = rss_kib("VmHWM:").saturating_sub(before) / 1024;
    eprintln!("peak RSS grew by {grown_mib} MiB during four floods");
    assert!(grown_mib <= 300, "peak RSS grew by {grown_mib} MiB");
    assert_eq!(app.count_events("ProfilePhotoChanged").await, 0);
}

/// 48 sign-ins at once at the production Argon2id parameters (19 MiB each), by twelve
/// people four times each (one account signing in 48 times at once races on its own
/// stream, which is not what this measures): at most one hash per core runs, the rest
/// wait in a short queue or are told to come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_eight_concurrent_sign_ins_stay_in_budget() {
    let mut app = TestApp::start().await;
    app.production_hasher = true;
    app.restart().await;
    let people: Vec<String> = (0..12).map(|i| format!("many{i}@example.org")).collect();
    for (i, email) in people.iter().enumerate() {
        app.register(email, &format!("Manny Logins{i}"), "PATIENT", STRONG)
            .await;
    }
    reset_peak();
    let before = rss_kib("VmRSS:");
    app.try_login(&people[0], STRONG).await;
    eprintln!(
        "one sign-in: peak RSS grew by {} MiB",
        rss_kib("VmHWM:").saturating_sub(before) / 1024
    );
    for email in &people[1..3] {
        app.try_login(email, STRONG).await;
    }
    eprintln!(
        "three sign-ins: peak RSS grew by {} MiB",
        rss_kib("VmHWM:").saturating_sub(before) / 1024
    );
    let logins = (0..48).map(|i| app.try_login(&people[i % people.len()], STRONG));
    let answers = futures::future::join_all(logins).await;
    let signed_in = answers.iter().filter(|a| a.errors().is_empty()).count();
    for answer in answers.iter().filter(|a| !a.errors().is_empty()) {
        assert_eq!(answer.code(), "RATE_LIMITED", "{}", answer.body);
    }
    let grown_mib = rss_kib("VmHWM:").saturating_sub(before) / 1024;
    eprintln!("{signed_in} of 48 signed in; peak RSS grew by {grown_mib} MiB");
    assert!(signed_in >= 8, "{signed_in} signed in");
    assert!(grown_mib <= 200, "peak RSS grew by {grown_mib} MiB");
}

/// A connection counts its children once per row it may return: 100 records of 100
/// access entries each is refused before anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expensive_query_is_refused_by_complexity() {
    let app = TestApp::start().await;
    app.register("cx@example.org", "Cx Plex", "PATIENT", STRONG)
        .await;
    let token = app.login("cx@example.org", STRONG).await;
    let expensive = "{ myRecords(first: 100) { edges { node { id title \
        accessLog(first: 100) { edges { node { at action } } } } } } }";
    let answer = app.gql(Cred::Bearer(&token), expensive, json!({})).await;
    answer.expect_code("BAD_USER_INPUT");
    assert!(
        answer.message().to_lowercase().contains("complex"),
        "{}",
        answer.body
    );
    let modest =
        "{ myRecords(first: 10) { edges { node { id title } } pageInfo { hasNextPage } } }";
    app.gql(Cred::Bearer(&token), modest, json!({})).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_list_argument_is_refused() {
    let app = TestApp::start().await;
    app.register("ls@example.org", "Lis Tan", "PATIENT", STRONG)
        .await;
    let token = app.login("ls@example.org", STRONG).await;
    let ids: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let before = app.count_all_events().await;
    let answer = app
        .gql(
            Cred::Bearer(&token),
            "mutation($ids: [UUID!]) { markNotificationsRead(ids: $ids) }",
            json!({"ids": ids}),
        )
        .await;
    let message = answer.expect_code("BAD_USER_INPUT");
    assert!(message.contains("at most 100"), "{message}");
    assert_eq!(app.count_all_events().await, before, "nothing recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_cannot_store_past_the_quota() {
    let mut app = TestApp::start().await;
    app.uploads.quota_bytes = 10_000;
    app.restart().await;
    app.register("q@example.org", "Quinn Quota", "PATIENT", STRONG)
        .await;
    let token = app.login("q@example.org", STRONG).await;
    let (status, body) = upload(&app, &token, "First", "a.pdf", pdf("Q1", 6_000)).await;
    assert_eq!(status, 201, "{body}");
    common::records::records_view_settled(&app).await;
    let (status, body) = upload(&app, &token, "Second", "b.pdf", pdf("Q2", 6_000)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "BAD_USER_INPUT");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("quota"),
        "{body}"
    );
    assert_eq!(app.count_events("RecordUploaded").await, 1);
    let (status, body) = upload(&app, &token, "Small", "c.pdf", pdf("Q3", 3_000)).await;
    assert_eq!(status, 201, "what fits still goes: {body}");
}
