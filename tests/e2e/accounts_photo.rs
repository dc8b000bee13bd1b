//! Profile photos through `PUT /api/me/photo` and `GET /api/users/{id}/photo`: checked by
//! content, re-encoded without metadata, sealed at rest, gone with erasure.

use crate::common;

use common::app::{Cred, STRONG, TestApp};
use serde_json::json;
use std::io::Cursor;

const MARKER: &[u8] = b"PHOTO-MARKER-7f3a";

/// A PNG carrying `MARKER` in a text chunk.
fn png_with_marker() -> Vec<u8> {
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        16,
        16,
        image::Rgb([9, 99, 199]),
    ))
    .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
    .unwrap();
    let mut data = b"Comment\0".to_vec();
    data.extend_from_slice(MARKER);
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(&data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let iend = png.len() - 12;
    png.splice(iend..iend, chunk);
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn put(app: &TestApp, token: Option<&str>, body: Vec<u8>) -> (u16, serde_json::Value) {
    let mut request = app.http.put(app.url("/api/me/photo")).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get(app: &TestApp, token: &str, url: &str) -> (u16, Vec<u8>) {
    let response = app
        .http
        .get(app.url(url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(response.headers()["content-type"], "image/png");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    (status, response.bytes().await.unwrap().to_vec())
}

/// Every file under the blob store, read whole.
fn blob_files(app: &TestApp) -> Vec<Vec<u8>> {
    fn walk(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(std::fs::read(path).unwrap());
            }
        }
    }
    let mut out = Vec::new();
    walk(app.blobs.path(), &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_re_encoded_sealed_shown_to_whom_it_may_be_and_erased() {
    let app = TestApp::start().await;
    let (_, admin) = app.create_admin("root@example.org", "Ada Admin").await;
    let pat_id = app
        .register("pat@example.org", "Pat Lee", "PATIENT", STRONG)
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pat = app.login("pat@example.org", STRONG).await;
    app.register("other@example.org", "Oli Ver", "PATIENT", STRONG)
        .await;
    let other = app.login("other@example.org", STRONG).await;

    // Refused: no credentials, not an image (HTML, SVG), too large.
    assert_eq!(put(&app, None, png_with_marker()).await.0, 401);
    for fake in [
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>".to_vec(),
        b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
    ] {
        let (status, body) = put(&app, Some(&pat), fake).await;
        assert_eq!((status, &body["error"]["code"]), (415, &json!("BAD_USER_INPUT")), "{body}");
    }
    let (status, body) = put(&app, Some(&pat), vec![0u8; 2 * 1024 * 1024 + 1]).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (413, &json!("BAD_USER_INPUT")),
        "{body}"
    );
    assert!(
        blob_files(&app).is_empty(),
        "nothing stored for a refused photo"
    );

    let (status, body) = put(&app, Some(&pat), png_with_marker()).await;
    assert_eq!(status, 200, "{body}");
    let url = format!("/api/users/{pat_id}/photo");
    assert_eq!(body["photoUrl"], url.as_str());
    let me = app
        .gql(Cred::Bearer(&pat), "{ me { photoUrl } }", json!({}))
        .await;
    assert_eq!(me.ok()["me"]["photoUrl"], url.as_str());

    // The user and admins see it, re-encoded without the metadata; nobody else does.
    let (status, png) = get(&app, &pat, &url).await;
    assert_eq!(status, 200);
    assert!(!contains(&png, MARKER));
    assert_eq!(image::load_from_memory(&png).unwrap().width(), 16);
    assert_eq!(get(&app, &admin, &url).await.0, 200);
    assert_eq!(get(&app, &other, &url).await.0, 404);

    // At rest it is ciphertext: the stored blob holds neither the marker nor the PNG.
    let stored = blob_files(&app);
    assert_eq!(stored.len(), 1);
    assert!(!contains(&stored[0], MARKER) && !contains(&stored[0], b"PNG"));
    assert_eq!(app.count_events("ProfilePhotoChanged").await, 1);

    // Erasure: no photo, no blob, no URL.
    app.gql(
        Cred::Bearer(&admin),
        "mutation($id: UUID!) { eraseUser(userId: $id, reason: \"asked\") { photoUrl } }",
        json!({"id": pat_id}),
    )
    .await
    .ok();
    assert_eq!(get(&app, &admin, &url).await.0, 404);
    assert!(blob_files(&app).iter().all(|b| !contains(b, MARKER)));
    assert!(blob_files(&app).is_empty());
    let users = app
        .gql(
            Cred::Bearer(&admin),
            "{ users(status: ERASED) { edges { node { photoUrl name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        users.ok()["users"]["edges"][0]["node"]["photoUrl"],
        serde_json::Value::Null
    );
}
