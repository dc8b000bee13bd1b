//! FHIR R4 end to end (issue: export and FHIR; DESIGN.md §12): every resource the API
//! answers validates against FHIR R4 with an independent validator (PyPI's
//! fhir.resources 6.1, models of FHIR 4.0.1, run by `tests/fhir/validate.py`); searches
//! page; errors are OperationOutcome; the access matrix (patient, their doctor, another
//! doctor, an administrator, nobody) holds on every endpoint; `Binary` puts the read on
//! the ledger before its bytes; read tokens read through FHIR and do nothing else.

use crate::common;

use base64::Engine as _;
use commands::Clock as _;
use common::app::{Cred, STRONG, TestApp};
use common::records::{added_ok, cast, content, pdf, person, share, upload_ok};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The validator's Python: `MEDCHAIN_FHIR_PYTHON`, else the virtual environment `.ci/run`
/// makes (`target/fhir-venv`, fhir.resources 6.1 beside pydantic 1).
fn validator_python() -> PathBuf {
    std::env::var_os("MEDCHAIN_FHIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fhir-venv/bin/python")
        })
}

/// Runs the independent validator over every document; panics with its words if one
/// does not validate. Returns how many resources it checked.
pub(crate) fn validate(docs: &[Value]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let path = dir.path().join(format!("{i}.json"));
            std::fs::write(&path, serde_json::to_vec(d).unwrap()).unwrap();
            path
        })
        .collect();
    let python = validator_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fhir/validate.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .args(&files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the FHIR validator ({}: {e}); .ci/run makes it: python3 -m venv \
                 target/fhir-venv && target/fhir-venv/bin/pip install 'fhir.resources>=6,<6.2' 'pydantic[email]<2'",
                python.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "a resource is not valid FHIR R4:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().filter(|l| l.starts_with("ok ")).count()
}

struct Answer {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

async fn fhir_get(app: &TestApp, token: Option<&str>, path: &str, accept: Option<&str>) -> Answer {
    let mut request = app.http.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("GET /fhir/R4");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.bytes().await.unwrap().to_vec();
    Answer {
        status,
        content_type,
        headers,
        body,
    }
}

/// A FHIR JSON answer with `status`; returns its body.
async fn expect(app: &TestApp, token: Option<&str>, path: &str, status: u16) -> Value {
    let answer = fhir_get(app, token, path, None).await;
    assert_eq!(
        answer.status,
        status,
        "GET {path}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(
        answer.content_type.starts_with("application/fhir+json"),
        "GET {path}: {}",
        answer.content_type
    );
    let body = answer.json();
    if status >= 400 {
        assert_eq!(
            body["resourceType"], "OperationOutcome",
            "GET {path}: {body}"
        );
    }
    body
}

fn entries_of(bundle: &Value, kind: &str) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["resource"].clone())
                .filter(|r| r["resourceType"] == kind)
                .collect()
        })
        .unwrap_or_default()
}

fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| l["url"].as_str().unwrap().to_owned())
}

/// The path and query of an absolute link of this server.
fn local(app: &TestApp, url: &str) -> String {
    url.strip_prefix(&app.url("")).unwrap_or(url).to_owned()
}

#[tokio::test]
async fn fhir_answers_validate_page_and_keep_the_access_rules() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let other = person(&app, &c.admin, "otto@example.org", "Otto Other", "DOCTOR").await;
    let shared = upload_ok(&app, &c.patient.token, "Blood panel", pdf("one", 3000)).await;
    let private = upload_ok(&app, &c.patient.token, "Therapy notes", pdf("two", 2000)).await;
    let third = upload_ok(&app, &c.patient.token, "Vaccinations", pdf("three", 1000)).await;
    share(&app, &c.patient.token, &shared, &c.doctor.id, None)
        .await
        .ok();
    let added = added_ok(
        &app,
        &c.doctor.token,
        &c.patient.id,
        "Discharge letter",
        "letter.pdf",
        pdf("four", 1500),
    )
    .await;
    // A read, and a refusal, for the audit trail; a share link for the consents.
    assert_eq!(
        content(&app, Some(&c.doctor.token), &shared, false).await.0,
        200
    );
    assert_eq!(
        content(&app, Some(&other.token), &shared, false).await.0,
        404
    );
    let expires = app.clock.now().plus_micros(48 * 3_600_000_000).to_string();
    app.gql(
        Cred::Bearer(&c.patient.token),
        "mutation($r: [UUID!]!, $e: DateTime!) { createShareLink(recordIds: $r, expiresAt: $e) { passcode } }",
        json!({"r": [third], "e": expires}),
    )
    .await
    .ok();
    common::records::records_view_settled(&app).await;
    app.view_settled("links").await;

    let p = &c.patient.id;
    let pt = Some(c.patient.token.as_str());
    let mut documents = Vec::new();

    // metadata: public, and lists exactly what is served.
    let metadata = expect(&app, None, "/fhir/R4/metadata", 200).await;
    assert_eq!(metadata["resourceType"], "CapabilityStatement");
    assert_eq!(metadata["fhirVersion"], "4.0.1");
    let mut served: Vec<String> = metadata["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap().to_owned())
        .collect();
    served.sort();
    assert_eq!(
        served,
        [
            "AuditEvent",
            "Binary",
            "Consent",
            "DocumentReference",
            "Patient"
        ]
    );
    documents.push(metadata);

    // The patient: themself, their records page by page, one record, its content.
    let patient = expect(&app, pt, &format!("/fhir/R4/Patient/{p}"), 200).await;
    assert_eq!(patient["name"][0]["text"], "Pat Lee");
    assert_eq!(patient["telecom"][0]["value"], "pat@example.org");
    documents.push(patient);
    let first = expect(
        &app,
        pt,
        &format!("/fhir/R4/DocumentReference?patient={p}&_count=3"),
        200,
    )
    .await;
    assert_eq!(first["type"], "searchset");
    assert_eq!(first["total"], 4);
    assert_eq!(entries_of(&first, "DocumentReference").len(), 3);
    let next = next_link(&first).expect("a next link while more remain");
    let second = expect(&app, pt, &local(&app, &next), 200).await;
    assert_eq!(entries_of(&second, "DocumentReference").len(), 1);
    assert_eq!(next_link(&second), None);
    let mut ids: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|b| entries_of(b, "DocumentReference"))
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = vec![
        shared.clone(),
        private.clone(),
        third.clone(),
        added.clone(),
    ];
    expected.sort();
    assert_eq!(ids, expected, "every record once across the pages");
    documents.extend([first, second]);

    let letter = expect(
        &app,
        pt,
        &format!("/fhir/R4/DocumentReference/{added}"),
        200,
    )
    .await;
    assert_eq!(letter["description"], "Discharge letter");
    assert_eq!(letter["subject"]["reference"], format!("Patient/{p}"));
    assert_eq!(letter["author"][0]["display"], "Dana Doc");
    assert_eq!(letter["author"][0]["type"], "Practitioner");
    let attachment = &letter["content"][0]["attachment"];
    assert_eq!(
        attachment["url"],
        app.url(&format!("/fhir/R4/Binary/{added}"))
    );
    assert_eq!(attachment["size"], 1500);
    assert_eq!(attachment["title"], "letter.pdf");
    assert_eq!(attachment["contentType"], "application/pdf");
    documents.push(letter);

    // Binary as FHIR JSON: the read is on the ledger before the first byte.
    let reads_before = app.count_events("RecordAccessed").await;
    let response = app
        .http
        .get(app.url(&format!("/fhir/R4/Binary/{private}")))
        .bearer_auth(&c.patient.token)
        .header("accept", "application/fhir+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt = response.headers()["medchain-receipt"]
        .to_str()
        .unwrap()
        .to_owned();
    let seq: i64 = receipt
        .split(';')
        .find_map(|p| p.trim().strip_prefix("seq="))
        .unwrap()
        .parse()
        .unwrap();
    let event_type: String = sqlx::query_scalar("SELECT type FROM events WHERE seq = $1")
        .bind(seq)
        .fetch_one(&app.pool)
        .await
        .expect("the read's event is on the ledger when the headers arrive");
    assert_eq!(event_type, "RecordAccessed");
    let binary: Value = response.json().await.unwrap();
    assert_eq!(app.count_events("RecordAccessed").await, reads_before + 1);
    assert_eq!(binary["resourceType"], "Binary");
    assert_eq!(binary["contentType"], "application/pdf");
    let data = base64::engine::general_purpose::STANDARD
        .decode(binary["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, pdf("two", 2000));
    documents.push(binary);
    // And as the bytes themselves.
    let raw = fhir_get(&app, pt, &format!("/fhir/R4/Binary/{private}"), None).await;
    assert_eq!(raw.status, 200);
    assert!(raw.headers.contains_key("medchain-receipt"));
    assert_eq!(raw.body, pdf("two", 2000));

    // Consents: the doctor's two shares (theirs and the one adding made), the link.
    let consents = expect(&app, pt, &format!("/fhir/R4/Consent?patient={p}"), 200).await;
    let consent = entries_of(&consents, "Consent");
    assert_eq!(consent.len(), 3, "{consents}");
    assert!(consent.iter().all(|c| c["status"] == "active"));
    assert!(
        consent
            .iter()
            .any(|c| c["provision"]["actor"][0]["reference"]["display"] == "Dana Doc")
    );
    documents.push(consents);

    // The audit trail: the doctor's read, the other doctor's refusal, the patient's.
    let audit = expect(&app, pt, &format!("/fhir/R4/AuditEvent?patient={p}"), 200).await;
    let events = entries_of(&audit, "AuditEvent");
    assert!(
        events.iter().any(|e| e["outcome"] == "4"),
        "a refusal: {audit}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["agent"][0]["who"]["display"] == "Dana Doc")
    );
    documents.push(audit);

    let everything = expect(&app, pt, &format!("/fhir/R4/Patient/{p}/$everything"), 200).await;
    assert_eq!(entries_of(&everything, "Patient").len(), 1);
    assert_eq!(entries_of(&everything, "DocumentReference").len(), 4);
    assert_eq!(
        entries_of(&everything, "Provenance").len(),
        1,
        "the record the doctor added"
    );
    documents.push(everything);

    // The access matrix: each endpoint, each caller.
    let dt = Some(c.doctor.token.as_str());
    let ot = Some(other.token.as_str());
    let at = Some(c.admin.token.as_str());
    let matrix: Vec<(String, [u16; 5])> = vec![
        //                                                 patient doctor other admin nobody
        (format!("/fhir/R4/Patient/{p}"), [200, 200, 404, 200, 401]),
        (
            format!("/fhir/R4/DocumentReference?patient={p}"),
            [200, 200, 200, 403, 401],
        ),
        (
            format!("/fhir/R4/DocumentReference/{private}"),
            [200, 404, 404, 403, 401],
        ),
        (
            format!("/fhir/R4/DocumentReference/{shared}"),
            [200, 200, 404, 403, 401],
        ),
        (
            format!("/fhir/R4/Binary/{private}"),
            [200, 404, 404, 403, 401],
        ),
        (
            format!("/fhir/R4/Consent?patient={p}"),
            [200, 403, 403, 403, 401],
        ),
        (
            format!("/fhir/R4/AuditEvent?patient={p}"),
            [200, 403, 403, 200, 401],
        ),
        (
            format!("/fhir/R4/Patient/{p}/$everything"),
            [200, 200, 404, 200, 401],
        ),
    ];
    for (path, statuses) in &matrix {
        for (who, status) in [pt, dt, ot, at, None].into_iter().zip(statuses) {
            let answer = fhir_get(&app, who, path, Some("application/fhir+json")).await;
            assert_eq!(
                answer.status,
                *status,
                "GET {path} as caller #{:?}",
                who.map(|t| &t[..6])
            );
            let body = answer.json();
            if *status >= 400 {
                assert_eq!(body["resourceType"], "OperationOutcome");
                documents.push(body);
            }
        }
    }
    // What each may see within a search: the doctor their two records; another doctor none.
    let seen = |b: &Value| {
        let mut ids: Vec<String> = entries_of(b, "DocumentReference")
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let doctors = expect(
        &app,
        dt,
        &format!("/fhir/R4/DocumentReference?patient={p}"),
        200,
    )
    .await;
    let mut theirs = vec![shared.clone(), added.clone()];
    theirs.sort();
    assert_eq!(seen(&doctors), theirs);
    let others = expect(
        &app,
        ot,
        &format!("/fhir/R4/DocumentReference?patient={p}"),
        200,
    )
    .await;
    assert!(seen(&others).is_empty());
    // An administrator's everything: the patient and the audit trail, no title anywhere.
    let admins = expect(&app, at, &format!("/fhir/R4/Patient/{p}/$everything"), 200).await;
    assert!(entries_of(&admins, "DocumentReference").is_empty());
    assert!(!entries_of(&admins, "AuditEvent").is_empty());
    let text = admins.to_string();
    for title in [
        "Blood panel",
        "Therapy notes",
        "Vaccinations",
        "Discharge letter",
        "letter.pdf",
    ] {
        assert!(!text.contains(title), "an administrator saw {title:?}");
    }
    documents.push(doctors);

    // Refusals of another kind: writing, an unknown resource, a bad parameter.
    let post = app
        .http
        .post(app.url(&format!("/fhir/R4/Patient/{p}")))
        .bearer_auth(&c.patient.token)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    documents.push(post.json().await.unwrap());
    documents.push(expect(&app, pt, "/fhir/R4/Observation?patient=x", 404).await);
    documents.push(
        expect(
            &app,
            pt,
            &format!("/fhir/R4/DocumentReference?patient={p}&_count=many"),
            400,
        )
        .await,
    );
    documents.push(expect(&app, pt, "/fhir/R4/DocumentReference", 400).await);

    let checked = validate(&documents);
    assert!(checked >= documents.len(), "{checked} resources validated");
}

const CREATE_TOKEN: &str = "mutation($n: String!, $e: DateTime!) { createReadToken(name: $n, expiresAt: $e) { secret token { id name expiresAt lastUsedAt revokedAt } } }";
const TOKENS: &str = "{ readTokens { id name lastUsedAt revokedAt } }";

fn hours(app: &TestApp, h: i64) -> String {
    app.clock.now().plus_micros(h * 3_600_000_000).to_string()
}

#[tokio::test]
async fn a_read_token_reads_through_fhir_and_does_nothing_else() {
    let app = TestApp::start().await;
    let c = cast(&app).await;
    let record = upload_ok(&app, &c.patient.token, "Allergy list", pdf("allergy", 1200)).await;
    let pt = Cred::Bearer(&c.patient.token);

    // Minting one asks for a recent sign-in.
    app.clock.advance(Duration::from_secs(10 * 60));
    let stale = app
        .gql(
            pt,
            CREATE_TOKEN,
            json!({"n": "Health app", "e": hours(&app, 24)}),
        )
        .await;
    assert_eq!(stale.errors()[0]["extensions"]["reason"], "REAUTH_REQUIRED");
    app.gql(
        pt,
        "mutation($p: String!) { reauthenticate(password: $p) }",
        json!({"p": STRONG}),
    )
    .await
    .ok();
    // An expiry in the past or beyond a year is refused.
    app.gql(pt, CREATE_TOKEN, json!({"n": "x", "e": hours(&app, -1)}))
        .await
        .expect_code("BAD_USER_INPUT");
    app.gql(
        pt,
        CREATE_TOKEN,
        json!({"n": "x", "e": hours(&app, 24 * 367)}),
    )
    .await
    .expect_code("BAD_USER_INPUT");
    let made = app
        .gql(
            pt,
            CREATE_TOKEN,
            json!({"n": "Health app", "e": hours(&app, 24)}),
        )
        .await;
    let made = made.ok()["createReadToken"].clone();
    let secret = made["secret"].as_str().unwrap().to_owned();
    let id = made["token"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("mcr_"));
    assert_eq!(made["token"]["lastUsedAt"], Value::Null);

    // It reads through FHIR: the patient, their records, the content (a recorded read).
    let p = &c.patient.id;
    expect(&app, Some(&secret), &format!("/fhir/R4/Patient/{p}"), 200).await;
    let docs = expect(
        &app,
        Some(&secret),
        &format!("/fhir/R4/DocumentReference?patient={p}"),
        200,
    )
    .await;
    assert_eq!(entries_of(&docs, "DocumentReference").len(), 1);
    let bytes = fhir_get(
        &app,
        Some(&secret),
        &format!("/fhir/R4/Binary/{record}"),
        None,
    )
    .await;
    assert_eq!(bytes.status, 200);
    assert_eq!(bytes.body, pdf("allergy", 1200));
    let listed = app.gql(pt, TOKENS, json!({})).await;
    assert_ne!(listed.ok()["readTokens"][0]["lastUsedAt"], Value::Null);

    // And nothing else: GraphQL, the content route, uploads, writing to FHIR.
    app.gql(Cred::Bearer(&secret), "{ me { id } }", json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(
        Cred::Bearer(&secret),
        "mutation($r: UUID!, $d: UUID!) { shareRecord(recordId: $r, doctorId: $d) { id } }",
        json!({"r": record, "d": c.doctor.id}),
    )
    .await
    .expect_code("UNAUTHENTICATED");
    assert_eq!(content(&app, Some(&secret), &record, false).await.0, 401);
    let export = app
        .http
        .get(app.url("/api/me/export"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 401, "a read token never takes the export");
    let (status, _) = common::records::upload(&app, &secret, "x", "x.pdf", pdf("x", 100)).await;
    assert_eq!(status, 401);
    let put = app
        .http
        .delete(app.url(&format!("/fhir/R4/Binary/{record}")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);

    // Neither the secret nor the name is on the ledger in clear.
    let payloads: Vec<String> =
        sqlx::query_scalar("SELECT payload::text FROM events WHERE type LIKE 'ReadToken%'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(payloads.len(), 1);
    for payload in &payloads {
        assert!(!payload.contains(&secret) && !payload.contains(&secret[4..]));
        assert!(!payload.contains("Health app"), "{payload}");
    }

    // Revoked: refused at once; a second revocation is a conflict; an unknown id, none.
    let revoke = "mutation($id: UUID!) { revokeReadToken(id: $id) { id revokedAt } }";
    let revoked = app.gql(pt, revoke, json!({"id": id})).await;
    assert_ne!(revoked.ok()["revokeReadToken"]["revokedAt"], Value::Null);
    let refused = expect(&app, Some(&secret), &format!("/fhir/R4/Patient/{p}"), 401).await;
    assert_eq!(refused["issue"][0]["code"], "login");
    app.gql(pt, revoke, json!({"id": id}))
        .await
        .expect_code("CONFLICT");
    app.gql(pt, revoke, json!({"id": uuid::Uuid::new_v4()}))
        .await
        .expect_code("NOT_FOUND");

    // Another runs out: refused once its time is past.
    let short = app
        .gql(pt, CREATE_TOKEN, json!({"n": "Short", "e": hours(&app, 1)}))
        .await;
    let short = short.ok()["createReadToken"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    expect(&app, Some(&short), &format!("/fhir/R4/Patient/{p}"), 200).await;
    let listed = app.gql(pt, TOKENS, json!({})).await;
    assert_eq!(listed.ok()["readTokens"].as_array().unwrap().len(), 2);
    app.clock.advance(Duration::from_secs(2 * 3600));
    expect(&app, Some(&short), &format!("/fhir/R4/Patient/{p}"), 401).await;
    // A made-up token of the right shape is refused like a revoked one.
    let forged = format!("mcr_{}", "A".repeat(43));
    expect(&app, Some(&forged), &format!("/fhir/R4/Patient/{p}"), 401).await;

    // A suspended person's apps stop with their sessions.
    let again = app.login("pat@example.org", STRONG).await;
    let made = app
        .gql(
            Cred::Bearer(&again),
            CREATE_TOKEN,
            json!({"n": "Another app", "e": hours(&app, 24)}),
        )
        .await;
    let third = made.ok()["createReadToken"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    expect(&app, Some(&third), &format!("/fhir/R4/Patient/{p}"), 200).await;
    let admin = app.login("root@example.org", STRONG).await;
    app.gql(
        Cred::Bearer(&admin),
        "mutation($id: UUID!) { suspendUser(userId: $id, reason: \"a stolen laptop\") { status } }",
        json!({"id": p}),
    )
    .await
    .ok();
    expect(&app, Some(&third), &format!("/fhir/R4/Patient/{p}"), 401).await;
}
