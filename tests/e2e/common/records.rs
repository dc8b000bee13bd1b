//! What the record tests share: a cast (an administrator, a patient, an approved doctor,
//! all signed in) and the file routes and GraphQL operations they use.

use super::app::{Cred, STRONG, TestApp};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub struct Person {
    pub id: String,
    pub token: String,
}

pub struct Cast {
    pub admin: Person,
    pub patient: Person,
    pub doctor: Person,
}

/// Registers `email` as `role` and signs them in (doctors are approved first).
pub async fn person(app: &TestApp, admin: &Person, email: &str, name: &str, role: &str) -> Person {
    let id = app.register(email, name, role, STRONG).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    if role == "DOCTOR" {
        app.gql(
            Cred::Bearer(&admin.token),
            "mutation($id: UUID!) { approveUser(userId: $id) { id } }",
            json!({"id": id}),
        )
        .await
        .ok();
    }
    let token = app.login(email, STRONG).await;
    Person { id, token }
}

pub async fn cast(app: &TestApp) -> Cast {
    let (id, token) = app.create_admin("root@example.org", "Ada Admin").await;
    let admin = Person { id, token };
    let patient = person(app, &admin, "pat@example.org", "Pat Lee", "PATIENT").await;
    let doctor = person(app, &admin, "dana@example.org", "Dana Doc", "DOCTOR").await;
    Cast {
        admin,
        patient,
        doctor,
    }
}

/// A small PDF-looking file holding `marker`, `len` bytes long.
pub fn pdf(marker: &str, len: usize) -> Vec<u8> {
    let mut file = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    file.extend_from_slice(marker.as_bytes());
    let mut i = 0u32;
    while file.len() < len {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        file.push(b'a' + (i >> 16) as u8 % 26);
    }
    file.truncate(len.max(20 + marker.len()));
    file
}

/// `POST /api/records`: the status and the JSON answer.
pub async fn upload(
    app: &TestApp,
    token: &str,
    title: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    upload_for(app, token, None, title, file_name, bytes).await
}

/// `POST /api/records`, by a doctor into `patient`'s file when one is named (the
/// `patient` field goes before the file).
pub async fn upload_for(
    app: &TestApp,
    token: &str,
    patient: Option<&str>,
    title: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new()
        .text("title", title.to_owned())
        .text("description", "from the lab");
    if let Some(patient) = patient {
        form = form.text("patient", patient.to_owned());
    }
    let form = form.part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
    );
    let response = app
        .http
        .post(app.url("/api/records"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("POST /api/records");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {status} {text}"));
    (status, body)
}

/// A doctor adds a record to `patient`'s file; returns the new record's id.
pub async fn added_ok(
    app: &TestApp,
    doctor_token: &str,
    patient: &str,
    title: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> String {
    let (status, body) =
        upload_for(app, doctor_token, Some(patient), title, file_name, bytes).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Uploads and returns the new record's id.
pub async fn upload_ok(app: &TestApp, token: &str, title: &str, bytes: Vec<u8>) -> String {
    let (status, body) = upload(app, token, title, "report.pdf", bytes).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// `GET /api/records/{id}/content`: status, headers, and the body (an error when the
/// server cut it; status 0 when it was cut before the headers).
pub async fn content(
    app: &TestApp,
    cred: Option<&str>,
    id: &str,
    inline: bool,
) -> (u16, HeaderMap, Result<Vec<u8>, String>) {
    let path = if inline {
        format!("/api/records/{id}/content?inline=1")
    } else {
        format!("/api/records/{id}/content")
    };
    let mut request = app.http.get(app.url(&path));
    if let Some(token) = cred {
        request = request.bearer_auth(token);
    }
    // A response cut before its headers (a blob that fails at once) is a failed read.
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return (0, HeaderMap::new(), Err(format!("{e:?}"))),
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| format!("{e:?}"));
    (status, headers, body)
}

pub async fn share(
    app: &TestApp,
    token: &str,
    record: &str,
    doctor: &str,
    expires: Option<&str>,
) -> super::app::Gql {
    app.gql(
        Cred::Bearer(token),
        "mutation($r: UUID!, $d: UUID!, $e: DateTime) { \
           shareRecord(recordId: $r, doctorId: $d, expiresAt: $e) { id active expiresAt doctor { id name } record { id title } } }",
        json!({"r": record, "d": doctor, "e": expires}),
    )
    .await
}

/// Waits until the records view has caught up with the ledger (reads through the file
/// routes are on the ledger when they answer, not yet in the view).
pub async fn records_view_settled(app: &TestApp) {
    app.view_settled("records").await;
}

/// The owner's access log of `record`, newest first: `(action, actor id, at)`.
pub async fn access_log(
    app: &TestApp,
    token: &str,
    record: &str,
) -> Vec<(String, Option<String>, String)> {
    records_view_settled(app).await;
    let answer = app
        .gql(
            Cred::Bearer(token),
            "query($id: UUID!) { record(id: $id) { accessLog(first: 100) { edges { node { \
               seq at action actor { id } recordId detail } } } } }",
            json!({"id": record}),
        )
        .await;
    answer.ok()["record"]["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["action"].as_str().unwrap().to_owned(),
                n["actor"]["id"].as_str().map(str::to_owned),
                n["at"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Every regular file under `dir` (recursively).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.extend(files_under(&path)),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    out
}
